//! The dashboard at `/`: plain HTML, CSS and JavaScript embedded in the
//! binary (no build step), and the wasm inspector at `/inspector/` when its
//! build is present.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody};
use crate::app::AppState;

/// The embedded dashboard files: name, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/dashboard/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/api.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/chart.js"),
    ),
    (
        "views.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/views.js"),
    ),
    (
        "manage.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/manage.js"),
    ),
];
const INDEX: &str = include_str!("../../assets/dashboard/index.html");
/// The inspector runs WebAssembly: its pages may compile it, nothing more.
const INSPECTOR_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'";
/// Largest inspector file loaded.
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// The dashboard routes.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let index = warp::path::end().and(warp::get()).map(index);
    let assets = warp::path!("assets" / String)
        .and(warp::get())
        .map(|name: String| asset(&name));
    let files = Arc::new(Inspector::load(
        state
            .policy
            .inspector_dir
            .clone()
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../host-wasm")),
    ));
    let wasm = warp::path("inspector")
        .or(warp::path("pkg"))
        .unify()
        .or(warp::path("vectors"))
        .unify()
        .and(warp::path::full())
        .and(warp::get().or(warp::head()).unify())
        .map(move |path: warp::path::FullPath| inspector(&files, path.as_str()));
    index.or(assets).unify().or(wasm).unify().boxed()
}

/// The dashboard page.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "dashboard",
    tag = "dashboard",
    security(()),
    responses((status = 200, description = "The dashboard (it logs in itself)", content_type = "text/html", body = String)),
)]
fn index() -> Response {
    file(INDEX, "text/html; charset=utf-8")
}

/// A script or style of the dashboard.
#[utoipa::path(
    get,
    path = "/assets/{file}",
    operation_id = "dashboard_asset",
    tag = "dashboard",
    security(()),
    params(("file" = String, Path, description = "A dashboard file", example = "app.js")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript"),
            (String = "text/css"),
        )),
        (status = 404, description = "No such file (`not_found`)", body = ErrorBody),
    ),
)]
fn asset(name: &str) -> Response {
    ASSETS.iter().find(|(n, _, _)| *n == name).map_or_else(
        || not_found().into_response(),
        |(_, kind, body)| file(body, kind),
    )
}

/// A file of the wasm inspector: its page (`/inspector/`), its build
/// (`/pkg/web/…`) and the example vectors (`/vectors/…`); `{file}` may
/// name a nested file (`a/b.js`).
#[utoipa::path(
    method(get, head),
    path = "/inspector/{file}",
    tag = "dashboard",
    security(()),
    params(("file" = String, Path, description = "A file of the inspector", example = "index.html")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/html"),
            (String = "text/javascript"),
            (String = "text/css"),
            (Vec<u8> = "application/wasm"),
            (serde_json::Value = "application/json"),
            (String = "image/svg+xml"),
            (Vec<u8> = "application/octet-stream"),
        )),
        (status = 404, description = "No such file, or the inspector's build is absent (`not_found`)", body = ErrorBody),
    ),
)]
fn inspector(files: &Inspector, path: &str) -> Response {
    let Some((kind, body)) = files.files.get(path) else {
        return not_found().into_response();
    };
    let mut r = Response::new(body.clone().into());
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(INSPECTOR_CSP),
    );
    r
}

/// 404 `not_found` for a file that is not there.
pub(super) fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file")
}

fn file(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Where the inspector's files are mounted, as host-wasm's own server does:
/// the page, its wasm build, and the example vectors.
const MOUNTS: &[(&str, &str)] = &[
    ("www", "/inspector/"),
    ("pkg/web", "/pkg/web/"),
    ("../spec-tests/vectors", "/vectors/"),
];
/// Folder depth read below a mount (`pkg/web/snippets/<crate>/src/`).
const MAX_DEPTH: usize = 4;

/// The inspector's files, read once at start and served by exact name, so
/// no request path ever reaches the file system.
struct Inspector {
    files: HashMap<String, (&'static str, bytes::Bytes)>,
}

/// Reads the regular files below `dir` into `files` under `prefix`.
fn collect(
    dir: &Path,
    prefix: &str,
    depth: usize,
    files: &mut HashMap<String, (&'static str, bytes::Bytes)>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if name.starts_with('.') {
            continue;
        }
        if meta.is_dir() && depth < MAX_DEPTH {
            collect(&path, &format!("{prefix}{name}/"), depth + 1, files);
        } else if meta.is_file()
            && meta.len() <= MAX_FILE
            && let Ok(body) = std::fs::read(&path)
        {
            files.insert(format!("{prefix}{name}"), (content_type(name), body.into()));
        }
    }
}

impl Inspector {
    fn load(root: PathBuf) -> Self {
        let mut files = HashMap::new();
        for (dir, prefix) in MOUNTS {
            collect(&root.join(dir), prefix, 0, &mut files);
        }
        let index = files.get("/inspector/index.html").cloned();
        match index {
            Some(index) if files.keys().any(|k| k.ends_with(".wasm")) => {
                files.insert("/inspector/".into(), index);
                tracing::info!(root = %root.display(), "wasm inspector served at /inspector/");
            }
            _ => files.clear(),
        }
        Self { files }
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}
