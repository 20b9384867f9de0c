//! Findings on request framing: `Content-Length` with `Transfer-Encoding`
//! was accepted, a `Content-Encoding` the server does not apply was ignored
//! (and the body stored), a 110 KB header was accepted, and the 4xx answers
//! hyper writes itself had no JSON body. Each is now refused in the JSON
//! error shape, and nothing is stored.

mod common;

use std::time::Duration;

use common::raw::{self, Answer};
use common::{Server, next_upload};

fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(
        (a.status, a.code().as_str()),
        (status, code),
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert!(a.json()["message"].is_string());
}

async fn send(server: &Server, request: &[u8]) -> Answer {
    let bytes = raw::exchange(&server.url, request, Duration::from_secs(10)).await;
    raw::parse(&bytes)
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&bytes)))
        .0
}

fn footprint(server: &Server) -> (i64, i64, Option<u32>) {
    (
        server.count("uploads"),
        server.count("samples"),
        server.last_nonce("ESP32_001"),
    )
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    let (_, body) = next_upload(&mut device, 0);
    let before = footprint(&server);
    for (first, second) in [
        (
            format!("content-length: {}", body.len()),
            "transfer-encoding: chunked".to_owned(),
        ),
        (
            "Transfer-Encoding: chunked".to_owned(),
            format!("Content-Length: {}", body.len()),
        ),
    ] {
        let request = format!(
            "POST /aggregated/ESP32_001 HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
             {first}\r\n{second}\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        let a = send(&server, request.as_bytes()).await;
        assert_error(&a, 400, "bad_framing");
        assert_eq!(footprint(&server), before);
    }
    // Chunked alone is fine.
    let request = format!(
        "POST /aggregated/ESP32_001 HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    assert_eq!(send(&server, request.as_bytes()).await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_content_encoding_the_server_does_not_apply_is_refused() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    let (_, body) = next_upload(&mut device, 0);
    let before = footprint(&server);
    for coding in ["br", "zstd", "gzip", "x-made-up"] {
        let headers = format!("content-type: application/json\r\ncontent-encoding: {coding}\r\n");
        let a = raw::request(
            &server.url,
            "POST",
            b"/aggregated/ESP32_001",
            &headers,
            body.as_bytes(),
        )
        .await;
        assert_error(&a, 415, "unsupported_encoding");
        assert_eq!(footprint(&server), before, "{coding}");
    }
    let headers = "content-type: application/json\r\ncontent-encoding: identity\r\n";
    let a = raw::request(
        &server.url,
        "POST",
        b"/aggregated/ESP32_001",
        headers,
        body.as_bytes(),
    )
    .await;
    assert_eq!(a.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn oversized_headers_get_431_in_the_json_shape() {
    let server = Server::start(&[]).await;
    let mut device = server.add_device("ESP32_001");
    let (_, body) = next_upload(&mut device, 0);
    let before = footprint(&server);
    for size in [20 * 1024, 110 * 1024] {
        let headers = format!(
            "content-type: application/json\r\nx-filler: {}\r\n",
            "a".repeat(size)
        );
        let request = format!(
            "POST /aggregated/ESP32_001 HTTP/1.1\r\nhost: t\r\n{headers}content-length: {}\r\n\r\n{body}",
            body.len()
        );
        let a = send(&server, request.as_bytes()).await;
        assert_error(&a, 431, "headers_too_large");
        assert_eq!(footprint(&server), before, "{size}");
    }
    server.stop().await;
}

#[tokio::test]
async fn hypers_own_answers_have_the_json_shape() {
    let server = Server::start(&[]).await;
    let a = send(&server, b"NOT A REQUEST\r\n\r\n").await;
    assert_error(&a, 400, "bad_request");
    let a = send(&server, b"GET / HTTP/1.1\r\nbad header line\r\n\r\n").await;
    assert_error(&a, 400, "bad_request");
    let long = format!("GET /{} HTTP/1.1\r\nhost: t\r\n\r\n", "a".repeat(70 * 1024));
    let a = send(&server, long.as_bytes()).await;
    assert!(a.status == 414 || a.status == 431, "{}", a.status);
    assert!(a.code() == "uri_too_long" || a.code() == "headers_too_large");
    server.stop().await;
}
