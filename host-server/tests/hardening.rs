//! The HTTP surface under the inputs a security suite sends: encoded path
//! segments, wrong methods, mixed credentials, odd bodies and framing.
//! Every bad input gets a 4xx JSON error with a stable code and changes
//! nothing.

mod common;

use common::raw::{self, Answer};
use common::{Server, next_upload};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Uploads, nonces and samples stored: what a refused request must not change.
fn footprint(server: &Server, device: &str) -> (i64, i64, Option<u32>) {
    (
        server.count("uploads"),
        server.count("samples"),
        server.last_nonce(device),
    )
}

fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(
        (a.status, a.code().as_str()),
        (status, code),
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    assert!(a.json()["message"].is_string());
}

#[tokio::test]
async fn device_ids_in_paths_are_percent_decoded() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    let (nonce, body) = next_upload(&mut device, 0);
    let (status, reply) = server.post("/aggregated/ESP32%5F001", body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["device_id"], "ESP32_001");
    assert_eq!(server.last_nonce("ESP32_001"), Some(nonce));

    let (status, reply) = server.get("/security/%45SP32_001/nonce").await;
    assert_eq!(
        (status, reply["last_valid_nonce"].as_u64()),
        (StatusCode::OK, Some(nonce.into()))
    );
    let (status, reply) = server.get("/api/v1/devices/ESP32%5f001").await;
    assert_eq!(
        (status, reply["device_id"].as_str()),
        (StatusCode::OK, Some("ESP32_001"))
    );
    let (status, reply) = server.get("/api/v1/devices/ESP32%5F001/latest").await;
    assert_eq!(
        (status, reply["device_id"].as_str()),
        (StatusCode::OK, Some("ESP32_001"))
    );
    let (_, next) = next_upload(&mut device, 1);
    let (status, reply) = server
        .post("/api/v1/devices/ESP32%5F001/uploads", next)
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // Not UTF-8, or not a device id once decoded: 400, nothing changes.
    let before = footprint(&server, "ESP32_001");
    let (_, fresh) = next_upload(&mut device, 2);
    let key = format!(
        "x-api-key: {}\r\ncontent-type: application/json\r\n",
        server.key
    );
    for path in [
        "/aggregated/ESP32%FF001",
        "/aggregated/ESP32%00001",
        "/aggregated/ESP32%0A001",
        "/aggregated/ESP32%2F001",
        "/aggregated/%2e%2e",
        "/aggregated/..",
        "/aggregated/%C3%A9",
        "/api/v1/devices/%FF/uploads",
        "/api/v1/devices/a%00b",
        "/api/v1/devices/%2E/latest",
        "/security/%FF/nonce",
    ] {
        let method =
            if path.ends_with("latest") || path.ends_with("nonce") || path.ends_with("a%00b") {
                "GET"
            } else {
                "POST"
            };
        let a = raw::request(&server.url, method, path.as_bytes(), &key, fresh.as_bytes()).await;
        assert_error(&a, 400, "bad_device_id");
    }
    let long = format!("/aggregated/{}", "A".repeat(65));
    let a = raw::request(&server.url, "POST", long.as_bytes(), &key, fresh.as_bytes()).await;
    assert_error(&a, 400, "bad_device_id");
    assert_eq!(footprint(&server, "ESP32_001"), before);
    server.stop().await;
}

/// The documented methods of each path, with example parameters filled in.
async fn documented(server: &Server) -> Vec<(String, Vec<String>)> {
    let (_, doc) = server.get("/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    paths
        .iter()
        .map(|(path, item)| {
            let url = path
                .replace("{device_id}", "ESP32_001")
                .replace("{file}", "x")
                .replace("{name}", "x")
                .replace("{id}", "1");
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(|k| k.to_ascii_uppercase())
                .collect();
            (url, methods)
        })
        .collect()
}

#[tokio::test]
async fn method_not_allowed_says_what_is_allowed() {
    let server = Server::start(&[]).await;
    server.add_device("ESP32_001");
    let mut seen = 0;
    for (url, methods) in documented(&server).await {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if methods.iter().any(|m| m == method) {
                continue;
            }
            let r = server
                .client
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}{url}", server.url),
                )
                .send()
                .await
                .unwrap();
            if r.status() != StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            seen += 1;
            let allow: Vec<String> = r
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {url}: 405 without Allow"))
                .to_str()
                .unwrap()
                .split(", ")
                .map(str::to_owned)
                .collect();
            let mut expected = methods.clone();
            if expected.iter().any(|m| m == "GET") {
                expected.push("HEAD".to_owned());
            }
            expected.sort();
            expected.dedup();
            let mut got = allow.clone();
            got.sort();
            assert_eq!(got, expected, "{method} {url}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "method_not_allowed");
        }
    }
    assert!(seen > 50, "only {seen} answers were 405");
    let r = server
        .client
        .put(format!("{}/aggregated/ESP32_001", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    let r = server
        .client
        .post(format!("{}/api/v1/devices/ESP32_001", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "GET, HEAD, PATCH, DELETE");
    server.stop().await;
}

#[tokio::test]
async fn head_answers_like_get_without_the_body() {
    let server = Server::start(&[]).await;
    server.add_device("ESP32_001");
    for path in ["/health", "/security/ESP32_001/nonce", "/openapi.json", "/"] {
        let url = format!("{}{path}", server.url);
        let get = server.client.get(&url).send().await.unwrap();
        let head = server.client.head(&url).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(!get.bytes().await.unwrap().is_empty(), "{path}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    // A route without GET still refuses HEAD, and says what it serves.
    let r = server
        .client
        .head(format!("{}/aggregated/ESP32_001", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    server.stop().await;
}

#[tokio::test]
async fn every_presented_credential_must_be_valid() {
    let server = Server::start(&["--admin-token", "break-glass-token-for-tests"]).await;
    let url = format!("{}/api/v1/devices", server.url);
    let ok = server
        .anon
        .get(&url)
        .header("x-api-key", &server.key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let ok = server
        .anon
        .get(&url)
        .header("authorization", "Bearer break-glass-token-for-tests")
        .header("x-api-key", &server.key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let bad: [&[(&str, &str)]; 6] = [
        &[("authorization", "Bearer not-a-token")],
        &[("authorization", "Basic YWRtaW46YWRtaW4=")],
        &[("authorization", "Bearer")],
        &[("x-api-key", "sw_key_forged")],
        &[
            ("authorization", "Bearer break-glass-token-for-tests"),
            ("x-api-key", "sw_key_forged"),
        ],
        &[
            ("authorization", "Bearer break-glass-token-for-tests"),
            ("authorization", "Bearer other"),
        ],
    ];
    for extra in bad {
        let mut request = server.anon.get(&url).header("x-api-key", &server.key);
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{extra:?}");
        assert!(r.headers().contains_key("www-authenticate"), "{extra:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{extra:?}");
    }
    // Not UTF-8 in a credential header: 401 too, not a 400 about headers.
    let a = raw::request(
        &server.url,
        "GET",
        b"/api/v1/devices",
        &format!(
            "x-api-key: {}\r\nauthorization: Bearer \u{e9}\r\n",
            server.key
        ),
        b"",
    )
    .await;
    assert_error(&a, 401, "unauthorized");
    // The WebSocket's query credentials count as well.
    let ws = format!("{}/ws?token=forged", server.url);
    let r = server
        .client
        .get(ws)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_query_outranks_another_routes_method() {
    let server = Server::start(&[]).await;
    for query in ["limit=-1", "offset=x", "limit=1&limit=2"] {
        let (status, reply) = server.get(&format!("/api/v1/devices?{query}")).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_query")),
            "{query}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn upload_bodies_declared_as_something_else_are_refused() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    let (_, body) = next_upload(&mut device, 0);
    for kind in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let header = format!("content-type: {kind}\r\n");
        for path in ["/aggregated/ESP32_001", "/process"] {
            let a = raw::request(
                &server.url,
                "POST",
                path.as_bytes(),
                &header,
                body.as_bytes(),
            )
            .await;
            assert_error(&a, 415, "unsupported_media_type");
        }
    }
    assert_eq!(footprint(&server, "ESP32_001"), (0, 0, None));
    // JSON with parameters, or no Content-Type at all, is read as JSON.
    let header = "content-type: application/json; charset=utf-8\r\n";
    let a = raw::request(
        &server.url,
        "POST",
        b"/aggregated/ESP32_001",
        header,
        body.as_bytes(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let (_, next) = next_upload(&mut device, 1);
    let a = raw::request(
        &server.url,
        "POST",
        b"/aggregated/ESP32_001",
        "",
        next.as_bytes(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    server.stop().await;
}

#[tokio::test]
async fn requests_without_a_path_are_answered() {
    let server = Server::start(&[]).await;
    // Authority-form (CONNECT) and asterisk-form (OPTIONS *) requests.
    for request in [
        &b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nhost: 127.0.0.1:22\r\n\r\n"[..],
        b"OPTIONS * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    ] {
        let bytes = raw::exchange(&server.url, request, std::time::Duration::from_secs(2)).await;
        let (a, _) = raw::parse(&bytes)
            .unwrap_or_else(|| panic!("no answer to {:?}", String::from_utf8_lossy(request)));
        assert!((400..500).contains(&a.status), "{a:?}");
        assert!(!a.code().is_empty(), "{a:?}");
    }
    assert_eq!(server.get("/health/live").await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_get_a_fast_503() {
    let server = Server::start(&["--max-connections", "1", "--header-timeout", "30s"]).await;
    // An idle connection holds the only slot.
    let idle = tokio::net::TcpStream::connect(raw::addr(&server.url))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let a = raw::request(&server.url, "GET", b"/health/live", "", b"").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_error(&a, 503, "busy");
    assert_eq!(a.header("retry-after"), Some("1"));
    // Once the slot is free, requests are served again.
    drop(idle);
    let mut served = false;
    for _ in 0..50 {
        if raw::request(&server.url, "GET", b"/health/live", "", b"")
            .await
            .status
            == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(served);
    server.stop().await;
}

#[tokio::test]
async fn a_full_write_queue_answers_503_at_once_and_stores_nothing_for_it() {
    let server = std::sync::Arc::new(
        Server::start(&[
            "--write-queue",
            "1",
            "--write-batch",
            "1",
            "--device-rate",
            "0",
        ])
        .await,
    );
    let mut requests = Vec::new();
    for d in 0..16 {
        let id = format!("D{d}");
        let mut device = server.add_device(&id);
        for cycle in 0..16 {
            let (nonce, body) = next_upload(&mut device, cycle);
            requests.push((id.clone(), nonce, body));
        }
    }
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(id, nonce, body)| {
            let server = server.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let r = server
                    .anon
                    .post(format!("{}/aggregated/{id}", server.url))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let retry = r.headers().contains_key("retry-after");
                let status = r.status();
                let reply: Value = r.json().await.unwrap();
                (id, nonce, status, retry, reply, started.elapsed())
            })
        })
        .collect();
    let mut busy = 0;
    let mut stored: std::collections::HashMap<String, (u32, i64)> = Default::default();
    for task in tasks {
        let (id, nonce, status, retry, reply, took) = task.await.unwrap();
        assert!(
            took < std::time::Duration::from_secs(20),
            "{id} {nonce}: {took:?}"
        );
        match status {
            StatusCode::OK => {
                let e = stored.entry(id).or_default();
                e.0 = e.0.max(nonce);
                e.1 += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(reply["error"], "busy");
                assert!(retry, "503 without Retry-After");
                busy += 1;
            }
            StatusCode::CONFLICT => assert_eq!(reply["error"], "replay"),
            other => panic!("{id} {nonce}: {other} {reply}"),
        }
    }
    assert!(busy > 0, "the queue never filled");
    // Only the accepted uploads were stored; refused ones moved no nonce.
    for d in 0..16 {
        let id = format!("D{d}");
        let (last, uploads) = stored.get(&id).copied().unwrap_or_default();
        assert_eq!(
            server.last_nonce(&id),
            (uploads > 0).then_some(last),
            "{id}"
        );
        let rows: i64 = server
            .sqlite()
            .query_row(
                "SELECT COUNT(*) FROM uploads u JOIN devices d ON u.device = d.id WHERE d.device_id = ?1",
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(rows, uploads, "{id}");
    }
}

#[tokio::test]
async fn admin_bodies_that_never_finish_time_out() {
    let server = Server::start(&["--body-timeout", "500ms"]).await;
    server.add_device("ESP32_001");
    let head = format!(
        "PATCH /api/v1/devices/ESP32_001 HTTP/1.1\r\nhost: x\r\nx-api-key: {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\":",
        server.key
    );
    let bytes = raw::exchange(
        &server.url,
        head.as_bytes(),
        std::time::Duration::from_secs(5),
    )
    .await;
    let (a, _) = raw::parse(&bytes).expect("no answer to a stalled body");
    assert_error(&a, 408, "timeout");
    // Chunked admin bodies are read too (no Content-Length needed).
    let body = br#"{"name":"roof"}"#;
    let chunked = format!(
        "PATCH /api/v1/devices/ESP32_001 HTTP/1.1\r\nhost: x\r\nx-api-key: {}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         {:x}\r\n{}\r\n0\r\n\r\n",
        server.key,
        body.len(),
        String::from_utf8_lossy(body)
    );
    let bytes = raw::exchange(
        &server.url,
        chunked.as_bytes(),
        std::time::Duration::from_secs(5),
    )
    .await;
    let (a, _) = raw::parse(&bytes).expect("no answer");
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    server.stop().await;
}
