//! A database held by another writer answers 503 `busy` with `Retry-After`,
//! never 500, and the same request succeeds once the lock is gone.

mod common;

use common::Server;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_locked_database_is_busy_not_an_internal_error() {
    let server = Server::start(&[]).await;
    let add = || {
        server
            .client
            .post(format!("{}/api/v1/devices", server.url))
            .json(&json!({ "device_id": "D1" }))
            .send()
    };
    // Another process holds the write lock for longer than the busy timeout.
    let holder = server.sqlite();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let r = add().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "busy");
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(add().await.unwrap().status(), StatusCode::CREATED);
    server.stop().await;
}
