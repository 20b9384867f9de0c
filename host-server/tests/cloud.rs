//! Signed client credentials and the Elecnova-style cloud API, over HTTP
//! against a real server and SQLite file.

mod common;

use common::{Server, next_upload, on_store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use solarwire_server::auth::signed::{key_of, sign};
use solarwire_server::clock::now_ms;

/// Creates a client through the admin API: `(client_id, client_secret)`.
async fn add_client(server: &Server, name: &str) -> (String, String) {
    let (status, body) = server
        .post("/api/v1/clients", json!({ "name": name }).to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// A signed `GET /comm/client` at `timestamp` with `nonce`.
async fn token_request(
    server: &Server,
    (id, secret): (&str, &str),
    timestamp: u64,
    nonce: &str,
) -> (StatusCode, Value) {
    let signature = sign(&key_of(secret), id, timestamp, nonce);
    let r = server
        .anon
        .get(format!("{}/comm/client", server.url))
        .header("x-client-id", id)
        .header("x-timestamp", timestamp.to_string())
        .header("x-nonce", nonce)
        .header("x-signature", signature)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn now_s() -> u64 {
    now_ms() / 1000
}

async fn get_with(server: &Server, token: &str, path: &str) -> reqwest::Response {
    server
        .anon
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_requests_get_a_day_long_token_once_per_nonce() {
    let server = Server::start(&[]).await;
    let (id, secret) = add_client(&server, "report").await;
    let client = (id.as_str(), secret.as_str());
    // The secret is not stored: only its digest, which is the signing key.
    let stored = server
        .db()
        .bytes("SELECT key_hash FROM api_clients")
        .unwrap();
    assert_eq!(stored, key_of(&secret));
    let (_, list) = server.get("/api/v1/clients").await;
    assert!(!list.to_string().contains(&secret));
    assert_eq!(list["clients"][0]["client_id"], id.as_str());

    let (status, body) = token_request(&server, client, now_s(), "nonce-0000000001").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    assert_eq!(data["expires_in"], 86_400);
    assert_eq!(data["id"], id.as_str());
    assert_eq!(data["password"], data["token"]);
    let token = data["token"].as_str().unwrap().to_owned();
    let me = get_with(&server, &token, "/api/v1/auth/me").await;
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["kind"].as_str(), me["role"].as_str()),
        (Some("client"), Some("viewer"))
    );
    // Clients read; they do not administer.
    assert_eq!(
        get_with(&server, &token, "/api/v1/keys").await.status(),
        403
    );

    let nonces = || server.count("client_nonces");
    let before = nonces();
    for (timestamp, nonce, signer, code) in [
        (now_s(), "nonce-0000000001", secret.as_str(), "nonce_reused"),
        (
            now_s() - 301,
            "nonce-0000000002",
            secret.as_str(),
            "stale_timestamp",
        ),
        (now_s(), "nonce-0000000003", "sws_wrong", "unauthorized"),
    ] {
        let (status, body) = token_request(&server, (&id, signer), timestamp, nonce).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some(code))
        );
    }
    assert_eq!(nonces(), before, "refused requests spend no nonce");
    let (status, body) = token_request(&server, client, now_s(), "short").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_signed_request"))
    );
    let (status, _) = token_request(
        &server,
        ("swc_unknown", &secret),
        now_s(),
        "nonce-0000000004",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Revoking ends the token and refuses new ones.
    let r = server
        .client
        .delete(format!("{}/api/v1/clients/{id}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(get_with(&server, &token, "/api/v1/dev").await.status(), 401);
    let (status, _) = token_request(&server, client, now_s(), "nonce-0000000005").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = server
        .client
        .delete(format!("{}/api/v1/clients/{id}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_client_over_its_rate_is_told_when_to_retry() {
    let server = Server::start(&["--client-rate", "1"]).await;
    let (id, secret) = add_client(&server, "busy").await;
    let (status, body) = token_request(&server, (&id, &secret), now_s(), "nonce-rate-000001").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    let r = get_with(&server, &token, "/api/v1/dev").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Other callers are not limited by the client's rate.
    assert_eq!(server.get("/api/v1/dev").await.0, StatusCode::OK);
}

#[tokio::test]
async fn nonces_are_spent_once_under_concurrency() {
    let server = Server::start(&[]).await;
    let (id, _) = add_client(&server, "race").await;
    let wins = on_store(server.dir.path(), move |store| async move {
        let tries = (0..8).map(|_| store.spend_nonce(&id, "same-nonce-000001", 60_000));
        futures_util::future::join_all(tries)
            .await
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count()
    });
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn cabinets_components_topics_and_the_same_energy() {
    let server = Server::start(&["--device-rate", "0"]).await;
    for (id, location) in [("D1", Some("Roof A")), ("D2", Some("Roof A")), ("D3", None)] {
        let mut device = server.add_device(id);
        for cycle in 0..40 {
            let (_, body) = next_upload(&mut device, cycle * 7);
            let (status, reply) = server.post(&format!("/aggregated/{id}"), body).await;
            assert_eq!(status, StatusCode::OK, "{reply}");
        }
        if let Some(location) = location {
            let r = server
                .client
                .patch(format!("{}/api/v1/devices/{id}", server.url))
                .json(&json!({ "location": location }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    let (status, page) = server.get("/api/v1/dev?page=1&page_size=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (page["total"].as_u64(), page["data"][0]["sn"].as_str()),
        (Some(2), Some("D3"))
    );
    let (_, page) = server.get("/api/v1/dev?page=2&page_size=1").await;
    assert_eq!(page["data"][0]["sn"], "Roof A");
    assert_eq!(page["data"][0]["components"], 2);
    assert_eq!(
        server.get("/api/v1/dev?page=0").await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, parts) = server.get("/api/v1/dev/Roof%20A").await;
    let sns: Vec<&str> = parts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sn"].as_str().unwrap())
        .collect();
    assert_eq!(sns, ["D1", "D2"]);
    assert_eq!(parts["data"][0]["component"], "pv.inv");
    assert_eq!(parts["data"][0]["type"], "inverter");
    let (status, body) = server.get("/api/v1/dev/Nowhere").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_cabinet"))
    );

    // PV numbers are solarwire's own.
    let (_, month) = server
        .get("/api/v1/dev/pv/power-gen/monthly/D1?month=2025-11")
        .await;
    let (_, energy) = server
        .get("/api/v1/devices/D1/energy?period=month&at=2025-11&tz=UTC")
        .await;
    let ours: Vec<f64> = energy["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["energy_wh"].as_f64().unwrap() / 1000.0)
        .collect();
    let cloud: Vec<f64> = month["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(cloud, ours);
    assert!(cloud.iter().sum::<f64>() > 0.0);
    assert_eq!(month["data"][22]["time"], "2025-11-23T00:00:00Z");
    let (_, year) = server
        .get("/api/v1/dev/pv/power-gen/yearly/D1?year=2025")
        .await;
    let (_, energy) = server
        .get("/api/v1/devices/D1/energy?period=year&at=2025&tz=UTC")
        .await;
    assert_eq!(
        year["data"][10]["value"].as_f64().unwrap(),
        energy["buckets"][10]["energy_wh"].as_f64().unwrap() / 1000.0
    );
    let (_, week) = server.get("/api/v1/dev/pv/power-gen/daily/D1").await;
    assert_eq!(week["data"].as_array().unwrap().len(), 7);
    let (from, to) = (1_763_856_000_000_u64, 1_763_856_000_000_u64 + 86_400_000);
    let (_, cap) = server
        .get("/api/v1/dev/pv/power-cap/D1?begin=2025-11-23T00:00:00Z&end=2025-11-24T00:00:00Z")
        .await;
    let (_, series) = server
        .get(&format!(
            "/api/v1/devices/D1/series?from={from}&to={to}&step=5m"
        ))
        .await;
    let cap: Vec<Value> = cap["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].clone())
        .collect();
    let series: Vec<Value> = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].clone())
        .collect();
    assert_eq!(cap.len(), 288);
    assert_eq!(cap, series);
    assert!(cap[96].is_f64(), "08:00 has data");
    for (path, code) in [
        ("/api/v1/dev/pv/power-cap/D1?begin=yesterday", "bad_time"),
        (
            "/api/v1/dev/pv/power-cap/D1?begin=2025-11-24T00:00:00Z&end=2025-11-23T00:00:00Z",
            "bad_range",
        ),
        ("/api/v1/dev/pv/power-gen/monthly/D1?month=2025", "bad_at"),
        ("/api/v1/dev/pv/power-gen/yearly/D1?year=20x5", "bad_at"),
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{path}"
        );
    }
    assert_eq!(
        server.get("/api/v1/dev/pv/power-gen/hourly/D1").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/api/v1/dev/pv/power-cap/D9").await.1["error"],
        "unknown_device"
    );

    // A client subscribes to a device's topic; its next token lists it.
    let (id, secret) = add_client(&server, "live").await;
    let (_, body) = token_request(&server, (&id, &secret), now_s(), "nonce-topic-00001").await;
    assert_eq!(body["data"]["acl"], json!([]));
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    let post = |path: String| {
        server
            .anon
            .post(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .send()
    };
    let r = post("/api/v1/dev/topic/D1/Roof%20A".into()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = post("/api/v1/dev/topic/D3/Roof%20A".into()).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, body) = token_request(&server, (&id, &secret), now_s(), "nonce-topic-00002").await;
    assert_eq!(
        body["data"]["acl"],
        json!([{"topic": "solarwire/D1/samples", "access": "read"}])
    );
    // Users and keys have no topics to subscribe.
    let (status, body) = server.post("/api/v1/dev/topic/D1/Roof%20A", "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("client_only"))
    );
}
