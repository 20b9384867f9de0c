//! `/docs`: Swagger UI for `/openapi.json`, served from the copy the
//! `utoipa-swagger-ui` crate embeds at build time. Its `vendored` feature
//! takes that copy from a crates.io crate, so nothing is downloaded when
//! building and nothing is fetched when running.
//!
//! The page itself is ours (absolute asset paths, so `/docs` and `/docs/`
//! both work, and Swagger UI's plain layout without the bar that loads
//! other documents). Swagger UI runs under the server's default CSP: its
//! scripts and styles are same-origin files, its inline styles are set
//! through the DOM (which `style-src 'self'` allows), its icons are
//! `data:` images, and its online validator badge is turned off.

use std::sync::Arc;

use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use utoipa_swagger_ui::Config;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::ApiError;

/// The docs page.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>solarwire API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="stylesheet" href="/docs/index.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"#;

/// `GET /docs`, `GET /docs/` and `GET /docs/{file}`.
pub(super) fn routes() -> BoxedFilter<(Response,)> {
    let config = Arc::new(
        Config::new(["/openapi.json"])
            .validator_url("none")
            .use_base_layout(),
    );
    // `path!` also matches the trailing slash (`/docs/`).
    let page = warp::path!("docs").and(warp::get()).map(page);
    let file = warp::path!("docs" / String)
        .and(warp::get())
        .map(move |name: String| file(&name, &config));
    page.or(file).unify().boxed()
}

/// The docs UI.
#[utoipa::path(
    get,
    path = "/docs",
    operation_id = "docs",
    tag = "docs",
    security(()),
    responses((status = 200, description = "Swagger UI for this document", content_type = "text/html", body = String)),
)]
pub(super) fn page() -> Response {
    let mut r = PAGE.into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// A file of the docs UI (Swagger UI's scripts, styles and icons).
#[utoipa::path(
    get,
    path = "/docs/{file}",
    operation_id = "docs_file",
    tag = "docs",
    security(()),
    params(("file" = String, Path, description = "A file of Swagger UI", example = "swagger-ui.css")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript"),
            (String = "text/css"),
            (String = "text/html"),
            (Vec<u8> = "image/png"),
        )),
        (status = 404, description = "No such file (`not_found`)", body = super::error::ErrorBody),
    ),
)]
pub(super) fn file(name: &str, config: &Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(name, config.clone()) {
        Ok(Some(file)) => {
            let mut r = Response::new(file.bytes.into_owned().into());
            let h = r.headers_mut();
            if let Ok(kind) = HeaderValue::from_str(&file.content_type) {
                h.insert(CONTENT_TYPE, kind);
            }
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        Ok(None) => super::dashboard::not_found().into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
