//! Security headers on every response, and CORS for configured origins
//! only (by default the API is same-origin: no CORS headers at all).

use std::convert::Infallible;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::ApiError;

/// The dashboard's policy: only our own scripts, styles and connections.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Origins allowed to call the API cross-origin.
#[derive(Debug, Clone, Default)]
pub(super) struct Cors {
    origins: Arc<[String]>,
}

impl Cors {
    /// Allows exactly `origins` (`scheme://host[:port]`, trailing slashes ignored).
    pub(super) fn new(origins: &[String]) -> Self {
        Self {
            origins: origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}

/// The request's `Origin`, when present and readable.
pub(super) fn origin() -> impl Filter<Extract = (Option<String>,), Error = Infallible> + Clone {
    warp::header::optional::<String>("origin")
        .or(warp::any().map(|| None))
        .unify()
}

/// Answers CORS preflight requests (`OPTIONS` with `Access-Control-Request-Method`).
pub(super) fn preflight(
    cors: Cors,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    // Anything but a preflight is "not found" here, so this route never
    // outranks another route's more telling rejection.
    warp::method()
        .and(warp::header::optional::<String>(
            "access-control-request-method",
        ))
        .and_then(|method: Method, asked: Option<String>| async move {
            if method == Method::OPTIONS && asked.is_some() {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
        .and(origin())
        .map(
            move |origin: Option<String>| match origin.filter(|o| cors.allows(o)) {
                Some(_) => {
                    let mut r = warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT)
                        .into_response();
                    let h = r.headers_mut();
                    h.insert(
                        header::ACCESS_CONTROL_ALLOW_METHODS,
                        HeaderValue::from_static("GET, POST, PATCH, DELETE"),
                    );
                    h.insert(
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        HeaderValue::from_static("authorization, content-type, x-api-key"),
                    );
                    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(600));
                    r
                }
                None => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "cors_forbidden",
                    "this origin may not call the API",
                )
                .into_response(),
            },
        )
}

/// Adds the security headers, and CORS headers for an allowed origin.
pub(super) fn secure(mut response: Response, origin: Option<&str>, cors: &Cors) -> Response {
    let status = response.status();
    let h: &mut HeaderMap = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"solarwire\""),
        );
    }
    if let Some(origin) = origin.filter(|o| cors.allows(o))
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
    response
}
