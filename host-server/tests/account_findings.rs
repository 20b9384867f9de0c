//! Findings on accounts and live streams: every login attempt (successful
//! ones too) counted toward the per-account limit, so anyone could keep a
//! named account locked out; a JWT whose `nbf` is in the future was
//! accepted; a WebSocket upgrade from a foreign `Origin` was accepted; an
//! oversized WebSocket frame dropped the connection without close code 1009.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{PASSWORD, Server, add_user, login_json};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn successful_logins_do_not_lock_an_account_and_reset_its_count() {
    let server = Server::start(&["--login-rate", "3"]).await;
    add_user(&server, "ada", "admin").await;
    // Many successful logins: never limited.
    for _ in 0..6 {
        assert_eq!(login_json(&server, "ada", PASSWORD).await.0, StatusCode::OK);
    }
    // Two failures, a success, two more failures: the success reset the count.
    for _ in 0..2 {
        assert_eq!(
            login_json(&server, "ada", "wrong password!").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(login_json(&server, "ada", PASSWORD).await.0, StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(
            login_json(&server, "ada", "wrong password!").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(login_json(&server, "ada", PASSWORD).await.0, StatusCode::OK);
    // Three failures in a row still lock it.
    for _ in 0..3 {
        login_json(&server, "ada", "wrong password!").await;
    }
    let (status, e) = login_json(&server, "ada", PASSWORD).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let server = Server::start(&[]).await;
    add_user(&server, "ada", "admin").await;
    let (_, tokens) = login_json(&server, "ada", PASSWORD).await;
    let genuine = tokens["access_token"].as_str().unwrap();
    let secret = hex::decode(
        std::fs::read_to_string(server.dir.path().join("jwt-secret"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let payload = genuine.split('.').nth(1).unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let sign = |claims: &Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap()
    };
    let now = jsonwebtoken::get_current_timestamp();
    claims["nbf"] = json!(now - 10);
    let valid_now = sign(&claims);
    claims["nbf"] = json!(now + 3600);
    let later = sign(&claims);
    let get = |token: String| {
        let server = &server;
        async move {
            let r = server
                .anon
                .get(format!("{}/api/v1/devices", server.url))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            r.status()
        }
    };
    assert_eq!(get(valid_now).await, StatusCode::OK);
    assert_eq!(get(later).await, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

fn ws_request(server: &Server, origin: Option<&str>) -> http::Request<()> {
    let url = format!(
        "{}/ws?api_key={}",
        server.url.replace("http://", "ws://"),
        server.key
    );
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    request
}

#[tokio::test]
async fn websocket_upgrades_from_foreign_origins_are_refused() {
    let server = Server::start(&["--cors-origin", "https://grafana.example"]).await;
    let host = server.url.trim_start_matches("http://").to_owned();
    let refused =
        tokio_tungstenite::connect_async(ws_request(&server, Some("https://evil.example"))).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
        }
        other => panic!("a foreign origin was let in: {:?}", other.map(|_| ())),
    }
    for origin in [
        Some(format!("http://{host}")),
        Some("https://grafana.example".to_owned()),
        None,
    ] {
        let r = tokio_tungstenite::connect_async(ws_request(&server, origin.as_deref())).await;
        assert!(r.is_ok(), "{origin:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_websocket_frame_closes_with_1009() {
    let server = Server::start(&[]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_request(&server, None))
        .await
        .unwrap();
    let hello = ws.next().await.unwrap().unwrap();
    assert!(hello.is_text());
    ws.send(Message::text("x".repeat(64 * 1024))).await.unwrap();
    let mut code = None;
    while let Some(Ok(message)) = ws.next().await {
        if let Message::Close(frame) = message {
            code = frame.map(|f| u16::from(f.code));
            break;
        }
    }
    assert_eq!(code, Some(1009));
    server.stop().await;
}
