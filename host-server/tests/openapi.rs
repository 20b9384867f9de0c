//! `/openapi.json` and the router agree: every documented operation is
//! routed (its path parameters filled from the document's examples), its
//! documented access is enforced (401 without credentials, 403 for admin
//! routes with a read-scoped key), every known route is documented, and
//! `/docs` serves the viewer from the vendored Swagger UI.

mod common;

use common::{Server, add_api_key};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use solarwire_server::http::error::NO_ROUTE;
use solarwire_server::store::access::Scope;

/// The routes the server serves, by the issues and the handlers: each must
/// be documented.
const KNOWN: &[(&str, &str)] = &[
    ("post", "/aggregated/{device_id}"),
    ("post", "/process"),
    ("post", "/devices"),
    ("get", "/security/{device_id}/nonce"),
    ("post", "/api/v1/devices/{device_id}/uploads"),
    ("get", "/api/v1/devices"),
    ("post", "/api/v1/devices"),
    ("get", "/api/v1/devices/{device_id}"),
    ("patch", "/api/v1/devices/{device_id}"),
    ("delete", "/api/v1/devices/{device_id}"),
    ("post", "/api/v1/devices/{device_id}/rotate-key"),
    ("delete", "/api/v1/devices/{device_id}/nonce"),
    ("get", "/api/v1/devices/{device_id}/latest"),
    ("get", "/api/v1/devices/{device_id}/history"),
    ("get", "/api/v1/devices/{device_id}/series"),
    ("get", "/api/v1/devices/{device_id}/energy"),
    ("get", "/api/v1/devices/{device_id}/stats"),
    ("get", "/api/v1/stats"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("delete", "/api/v1/users/{name}"),
    ("get", "/api/v1/keys"),
    ("post", "/api/v1/keys"),
    ("delete", "/api/v1/keys/{id}"),
    ("get", "/api/v1/alerts"),
    ("get", "/api/v1/alerts/rules"),
    ("post", "/api/v1/alerts/rules"),
    ("delete", "/api/v1/alerts/rules/{id}"),
    ("get", "/ota/check/{device_id}"),
    ("post", "/ota/initiate/{device_id}"),
    ("get", "/ota/chunk/{device_id}"),
    ("post", "/ota/{device_id}/progress"),
    ("post", "/ota/{device_id}/complete"),
    ("get", "/ota/status"),
    ("get", "/ota/test/status"),
    ("post", "/ota/test/enable"),
    ("post", "/ota/test/disable"),
    ("get", "/api/v1/firmware"),
    ("post", "/api/v1/firmware"),
    ("get", "/api/v1/firmware/{version}"),
    ("delete", "/api/v1/firmware/{version}"),
    ("post", "/api/v1/firmware/{version}/rollout"),
    ("post", "/api/v1/firmware/{version}/rollout/{action}"),
    ("get", "/api/v1/rollouts"),
    ("get", "/api/v1/devices/{device_id}/firmware"),
    ("get", "/config/{device_id}"),
    ("put", "/config/{device_id}"),
    ("post", "/config/{device_id}/acknowledge"),
    ("post", "/config/{device_id}/current"),
    ("get", "/config/{device_id}/history"),
    ("post", "/changes"),
    ("post", "/device_settings"),
    ("post", "/commands/{device_id}"),
    ("get", "/commands/{device_id}/poll"),
    ("post", "/commands/{device_id}/result"),
    ("get", "/commands/status/{command_id}"),
    ("get", "/commands/{device_id}/history"),
    ("post", "/fault/recovery"),
    ("get", "/fault/recovery/{device_id}"),
    ("post", "/power/energy/{device_id}"),
    ("get", "/power/energy/{device_id}"),
    ("post", "/diagnostics/{device_id}"),
    ("get", "/diagnostics/{device_id}"),
    ("get", "/ws"),
    ("get", "/health"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/status"),
    ("get", "/metrics"),
    ("get", "/"),
    ("get", "/assets/{file}"),
    ("get", "/inspector/"),
    ("get", "/inspector/{file}"),
    ("get", "/pkg/web/{file}"),
    ("get", "/vectors/{file}"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/docs/{file}"),
];

/// One documented operation.
struct Operation {
    method: Method,
    path: String,
    /// The URL path with every parameter replaced by its example.
    url: String,
    /// Any credential is needed.
    credentials: bool,
    /// The admin role or scope is needed.
    admin: bool,
    /// It answers 101 (a WebSocket upgrade).
    upgrade: bool,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let default_security = &doc["security"];
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !op.is_object() || method == Method::OPTIONS {
                continue;
            }
            let security = match &op["security"] {
                Value::Null => default_security,
                s => s,
            };
            let requirements = security.as_array().cloned().unwrap_or_default();
            let credentials = !requirements.is_empty()
                && requirements
                    .iter()
                    .all(|r| r.as_object().is_some_and(|r| !r.is_empty()));
            let admin = requirements
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|r| r.values())
                .any(|scopes| {
                    scopes
                        .as_array()
                        .is_some_and(|s| s.contains(&"admin".into()))
                });
            let mut url = path.clone();
            let parameters = [&item["parameters"], &op["parameters"]];
            for p in parameters.iter().filter_map(|p| p.as_array()).flatten() {
                if p["in"] == "path" {
                    let example = [&p["example"], &p["schema"]["example"]]
                        .into_iter()
                        .find(|e| !e.is_null())
                        .unwrap_or_else(|| panic!("{method} {path}: no example for {p}"));
                    let value = example
                        .as_str()
                        .map_or_else(|| example.to_string(), str::to_owned);
                    url = url.replace(&format!("{{{}}}", p["name"].as_str().unwrap()), &value);
                }
            }
            assert!(
                !url.contains('{'),
                "{method} {path}: a path parameter is undocumented"
            );
            ops.push(Operation {
                upgrade: op["responses"]["101"].is_object(),
                method,
                path: path.clone(),
                url,
                credentials,
                admin,
            });
        }
    }
    // What removes things goes last, revoking an API key (maybe the one
    // this test sends) very last, so the other requests get past access.
    ops.sort_by_key(|o| (o.method == Method::DELETE, o.path.contains("/keys/")));
    ops
}

/// Sends `op` with `client`: a JSON `{}` body where one may be read, and
/// the upgrade headers where the route is a WebSocket.
async fn send(server: &Server, client: &reqwest::Client, op: &Operation) -> (StatusCode, Value) {
    let mut request = client.request(op.method.clone(), format!("{}{}", server.url, op.url));
    if op.method == Method::POST || op.method == Method::PATCH {
        request = request
            .header("content-type", "application/json")
            .body("{}");
    }
    if op.upgrade {
        request = request
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A fake wasm inspector build, so its routes answer 200.
fn inspector_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, body) in [
        ("www/index.html", "<!doctype html><title>inspector</title>"),
        ("pkg/web/inspector_bg.wasm", "\0asm"),
    ] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

#[tokio::test]
async fn every_documented_route_is_served_and_every_route_documented() {
    let inspector = inspector_dir();
    let server = Server::start(&["--inspector-dir", inspector.path().to_str().unwrap()]).await;
    server.add_device("ESP32_001");
    let reader = {
        let key = add_api_key(server.dir.path(), Scope::Read, None);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-api-key", key.parse().unwrap());
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap()
    };

    let (status, doc) = server.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    let error = &doc["components"]["schemas"]["ErrorBody"]["properties"]["error"];
    let codes: Vec<&str> = error["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum of error codes: {error}"))
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let listed: Vec<&str> = solarwire_server::http::error_codes::ERROR_CODES
        .iter()
        .map(|(code, _, _)| *code)
        .collect();
    assert_eq!(codes, listed, "ErrorBody.error lists every code");
    for (code, status, _) in solarwire_server::http::error_codes::ERROR_CODES {
        assert_eq!(error["x-status"][code], *status, "{code}");
    }

    let ops = operations(&doc);
    for (method, path) in KNOWN {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is served but not documented"
        );
    }
    assert!(ops.len() >= KNOWN.len(), "{} operations", ops.len());
    for op in &ops {
        let (status, body) = send(&server, &server.client, op).await;
        let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
            || (status == StatusCode::NOT_FOUND && body["message"] == NO_ROUTE);
        assert!(
            !unrouted,
            "{} {} ({}): {status} {body}",
            op.method, op.path, op.url
        );
        if op.credentials {
            let (status, body) = send(&server, &server.anon, op).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {}: {body}",
                op.method,
                op.path
            );
        }
        if op.admin {
            let (status, body) = send(&server, &reader, op).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{} {}: {body}",
                op.method,
                op.path
            );
        }
    }
}

#[tokio::test]
async fn docs_are_served_from_the_vendored_swagger_ui() {
    let server = Server::start(&[]).await;
    let get = |path: &'static str| server.anon.get(format!("{}{path}", server.url)).send();
    for path in ["/docs", "/docs/"] {
        let page = get(path).await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let kind = page.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/html"), "{kind}");
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        let html = page.text().await.unwrap();
        assert!(html.contains("/docs/swagger-ui-bundle.js"), "{html}");
    }
    for (file, kind) in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui-standalone-preset.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("index.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ] {
        let r = server
            .anon
            .get(format!("{}/docs/{file}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        let got = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(got.contains(kind), "{file}: {got}");
    }
    let init = get("/docs/swagger-initializer.js").await.unwrap();
    assert_eq!(init.status(), StatusCode::OK);
    let init = init.text().await.unwrap();
    assert!(init.contains("\"/openapi.json\""), "{init}");
    assert!(!init.contains("petstore"), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    let missing = get("/docs/nope.js").await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
