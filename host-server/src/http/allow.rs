//! The `Allow` header every 405 answer must carry (RFC 9110 §15.5.6): the
//! methods the API document lists for the request's path. The document and
//! the router agree (the `openapi` test holds them to it), so the document
//! is the one table of which methods each path serves.
//!
//! `HEAD` is allowed wherever `GET` is: the accept loop answers it as a
//! `GET` whose body hyper leaves out (RFC 9110 §9.3.2).
//!
//! Otherwise only the methods the document lists are named: a CORS preflight
//! (`OPTIONS` with `Access-Control-Request-Method`) is answered on every
//! path but is not a method of the resource.

use std::sync::LazyLock;

use http::StatusCode;
use http::header::{ALLOW, HeaderValue};
use warp::reply::Response;

use super::openapi::METHODS;

/// One documented path: its segments and methods.
struct Template {
    segments: Vec<String>,
    methods: Vec<&'static str>,
}

impl Template {
    /// Whether `path`'s segments fit: literals equal, a `{param}` any one
    /// segment; with `rest`, a final `{param}` also takes what follows
    /// (files in folders).
    fn fits(&self, path: &[&str], rest: bool) -> bool {
        let last = self.segments.len().checked_sub(1);
        for (i, expected) in self.segments.iter().enumerate() {
            let Some(got) = path.get(i) else {
                return false;
            };
            if is_param(expected) {
                if got.is_empty() {
                    return false;
                }
                if rest && Some(i) == last {
                    return true;
                }
            } else if expected != got {
                return false;
            }
        }
        path.len() == self.segments.len()
    }
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// A path's segments, without the leading and a trailing slash.
fn segments(path: &str) -> Vec<&str> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    }
}

static TEMPLATES: LazyLock<Vec<Template>> = LazyLock::new(|| {
    super::openapi::methods_by_path()
        .into_iter()
        .map(|(path, methods)| Template {
            segments: segments(&path).into_iter().map(str::to_owned).collect(),
            methods,
        })
        .collect()
});

/// The methods served at `path`, in the document's order (`GET, HEAD, POST`):
/// those of the templates it fits exactly, else of those it fits with a
/// final parameter taking the rest.
pub(super) fn allowed(path: &str) -> String {
    let path = segments(path);
    let fitting =
        |rest| -> Vec<&Template> { TEMPLATES.iter().filter(|t| t.fits(&path, rest)).collect() };
    let mut templates = fitting(false);
    if templates.is_empty() {
        templates = fitting(true);
    }
    let mut methods: Vec<&str> = templates
        .iter()
        .flat_map(|t| t.methods.iter().copied())
        .collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.sort_by_key(|m| METHODS.iter().position(|(_, name)| name == m));
    methods.dedup();
    methods.join(", ")
}

/// Adds `Allow` to a 405 answer for `path`. The accept loop calls this with
/// the request's path: warp's own path filters panic on a request without
/// one (`CONNECT host:port`).
pub fn on_405(mut response: Response, path: &str) -> Response {
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Ok(value) = HeaderValue::from_str(&allowed(path))
    {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn methods_follow_the_document() {
        assert_eq!(allowed("/aggregated/ESP32_001"), "POST");
        assert_eq!(allowed("/api/v1/devices"), "GET, HEAD, POST");
        assert_eq!(
            allowed("/api/v1/devices/ESP32_001"),
            "GET, HEAD, PATCH, DELETE"
        );
        assert_eq!(allowed("/api/v1/devices/ESP32_001/nonce"), "DELETE");
        assert_eq!(allowed("/security/ESP32_001/nonce"), "GET, HEAD");
        assert_eq!(allowed("/"), "GET, HEAD");
        assert_eq!(allowed("/docs/"), "GET, HEAD");
        assert_eq!(allowed("/inspector/a/b.js"), "GET, HEAD");
    }
}
