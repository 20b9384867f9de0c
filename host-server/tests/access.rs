//! Users, tokens and API keys over HTTP: login (form and JSON), 401 vs 403,
//! expired and forged tokens, refresh rotation and reuse, logout, key scope
//! and expiry, login rate limits, security headers and CORS.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{PASSWORD, Server, add_api_key, add_user, login_json};
use reqwest::StatusCode;
use serde_json::{Value, json};
use solarwire_server::auth::jwt::{ACCESS_TTL_S, Signer};
use solarwire_server::store::access::{Role, Scope, User};

async fn form(server: &Server, path: &str, body: &str) -> (StatusCode, Value) {
    let r = server
        .anon
        .post(format!("{}{path}", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn get_as(server: &Server, path: &str, token: &str) -> (StatusCode, Value) {
    let r = server
        .anon
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn users_log_in_and_roles_decide_what_they_may_do() {
    let server = Server::start(&[]).await;
    add_user(&server, "ada", "admin").await;
    add_user(&server, "vic", "viewer").await;

    // The OAuth2 password form.
    let (status, tokens) = form(
        &server,
        "/api/v1/auth/login",
        &format!(
            "grant_type=password&username=vic&password={}",
            PASSWORD.replace(' ', "+")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], ACCESS_TTL_S);
    let viewer = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, me) = get_as(&server, "/api/v1/auth/me", &viewer).await;
    assert_eq!(
        (status, me["name"].as_str(), me["role"].as_str()),
        (StatusCode::OK, Some("vic"), Some("viewer"))
    );

    // A viewer reads; managing devices, users and keys is 403.
    assert_eq!(
        get_as(&server, "/api/v1/devices", &viewer).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get_as(&server, "/api/v1/stats", &viewer).await.0,
        StatusCode::OK
    );
    let (status, e) = get_as(&server, "/api/v1/users", &viewer).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let r = server
        .anon
        .post(format!("{}/api/v1/devices", server.url))
        .bearer_auth(&viewer)
        .json(&json!({ "device_id": "X1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // JSON login; an admin manages.
    let (status, tokens) = login_json(&server, "ada", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let admin = tokens["access_token"].as_str().unwrap();
    let (status, users) = get_as(&server, "/api/v1/users", admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    assert!(
        users.to_string().find("argon2").is_none(),
        "hashes never leave the server"
    );

    // Wrong password, unknown user: the same 401.
    for (name, password) in [("ada", "wrong password!"), ("nobody", PASSWORD)] {
        let (status, e) = login_json(&server, name, password).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
        );
    }
    // No credentials: 401 with a challenge; garbage: 401.
    let r = server
        .anon
        .get(format!("{}/api/v1/devices", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(
        get_as(&server, "/api/v1/devices", "not.a.jwt").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Users: duplicates, weak passwords and bad roles are refused; removal
    // ends access at once, even with a token that has not expired.
    let r = server
        .client
        .post(format!("{}/api/v1/users", server.url))
        .json(&json!({ "name": "vic", "role": "viewer", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    for body in [
        json!({ "name": "w", "role": "viewer", "password": "short" }),
        json!({ "name": "w", "role": "root", "password": PASSWORD }),
        json!({ "name": "a/b", "role": "viewer", "password": PASSWORD }),
    ] {
        let r = server
            .client
            .post(format!("{}/api/v1/users", server.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let r = server
        .client
        .delete(format!("{}/api/v1/users/vic", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        get_as(&server, "/api/v1/devices", &viewer).await.0,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}

#[tokio::test]
async fn forged_and_expired_tokens_are_refused() {
    let server = Server::start(&[]).await;
    add_user(&server, "ada", "admin").await;
    let secret = hex::decode(
        std::fs::read_to_string(server.dir.path().join("jwt-secret"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let ada = User {
        id: 1,
        name: "ada".into(),
        role: Role::Admin,
        created_ms: 0,
    };
    let now = jsonwebtoken::get_current_timestamp();

    let genuine = Signer::new(&secret).issue(&ada, now).unwrap();
    assert_eq!(
        get_as(&server, "/api/v1/users", &genuine).await.0,
        StatusCode::OK
    );
    let expired = Signer::new(&secret)
        .issue(&ada, now - ACCESS_TTL_S - 120)
        .unwrap();
    let (status, e) = get_as(&server, "/api/v1/users", &expired).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );
    let forged = Signer::new(&[7; 32]).issue(&ada, now).unwrap();
    let (status, e) = get_as(&server, "/api/v1/users", &forged).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    // A token naming a user that does not exist.
    let ghost = User { id: 99, ..ada };
    let token = Signer::new(&secret).issue(&ghost, now).unwrap();
    assert_eq!(
        get_as(&server, "/api/v1/users", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The secret file is readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(server.dir.path().join("jwt-secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }
    server.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_login() {
    let server = Server::start(&[]).await;
    add_user(&server, "ada", "admin").await;
    let (_, first) = login_json(&server, "ada", PASSWORD).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(r1.starts_with("swr_"));

    let (status, second) = form(
        &server,
        "/api/v1/auth/refresh",
        &format!("grant_type=refresh_token&refresh_token={r1}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    assert_eq!(
        get_as(
            &server,
            "/api/v1/auth/me",
            second["access_token"].as_str().unwrap()
        )
        .await
        .0,
        StatusCode::OK
    );

    // The spent token again: refused, and the whole login is revoked.
    let refresh = |t: &str| {
        server
            .anon
            .post(format!("{}/api/v1/auth/refresh", server.url))
            .json(&json!({ "refresh_token": t }))
            .send()
    };
    let r = refresh(&r1).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "token_reused");
    assert_eq!(
        refresh(&r2).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Logout revokes a fresh login's refresh token.
    let (_, third) = login_json(&server, "ada", PASSWORD).await;
    let r3 = third["refresh_token"].as_str().unwrap();
    let (status, out) = form(
        &server,
        "/api/v1/auth/logout",
        &format!("refresh_token={r3}"),
    )
    .await;
    assert_eq!(
        (status, out["revoked"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    assert_eq!(
        refresh(r3).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh("swr_made_up").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Wrong content type and missing fields.
    let r = server
        .anon
        .post(format!("{}/api/v1/auth/login", server.url))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = form(&server, "/api/v1/auth/login", "username=ada").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test]
async fn api_keys_have_a_scope_an_expiry_and_a_use_count() {
    let server = Server::start(&[]).await;
    let r = server
        .client
        .post(format!("{}/api/v1/keys", server.url))
        .json(&json!({ "name": "grafana", "scope": "read", "expires_in_days": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("swk_"));
    let with_key = |path: &str, key: &str| {
        server
            .anon
            .get(format!("{}{path}", server.url))
            .header("x-api-key", key)
            .send()
    };
    assert_eq!(
        with_key("/api/v1/devices", &key).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        with_key("/api/v1/keys", &key).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // The key is shown once: the list has no key and no hash, but counts uses.
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = server.get("/api/v1/keys").await.1;
        if listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "grafana" && k["uses"] == 2)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let grafana = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "grafana")
        .unwrap()
        .clone();
    assert_eq!(
        grafana["uses"], 2,
        "both requests count, the refused one too: {listed}"
    );
    assert!(grafana["last_used_ms"].as_u64().is_some());
    assert!(!listed.to_string().contains(&key));

    // Revoked, expired and unknown keys: 401.
    let id = grafana["id"].as_i64().unwrap();
    let r = server
        .client
        .delete(format!("{}/api/v1/keys/{id}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        with_key("/api/v1/devices", &key).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let expired = add_api_key(server.dir.path(), Scope::Admin, Some(1));
    assert_eq!(
        with_key("/api/v1/devices", &expired)
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with_key("/api/v1/devices", "swk_unknown")
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Bad requests.
    for body in [
        json!({ "name": "x", "scope": "root" }),
        json!({ "name": "", "scope": "read" }),
        json!({ "name": "x", "scope": "read", "expires_in_days": 0 }),
    ] {
        let r = server
            .client
            .post(format!("{}/api/v1/keys", server.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn logins_are_rate_limited_per_account() {
    let server = Server::start(&["--login-rate", "2"]).await;
    add_user(&server, "ada", "admin").await;
    assert_eq!(
        login_json(&server, "ada", "wrong password!").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_json(&server, "ada", "wrong password!").await.0,
        StatusCode::UNAUTHORIZED
    );
    let r = server
        .anon
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({ "username": "ada", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(r.headers().contains_key("retry-after"));
    server.stop().await;
}

#[tokio::test]
async fn security_headers_and_cors() {
    let server = Server::start(&["--cors-origin", "https://grafana.example"]).await;
    let r = server
        .anon
        .get(format!("{}/health/live", server.url))
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(!h.contains_key("access-control-allow-origin"));

    let preflight = |origin: &str| {
        server
            .anon
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/devices", server.url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let r = preflight("https://grafana.example").await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://grafana.example"
    );
    assert!(
        r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-api-key")
    );
    assert_eq!(
        preflight("https://evil.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let r = server
        .client
        .get(format!("{}/api/v1/devices", server.url))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    server.stop().await;

    // Same origin only by default.
    let plain = Server::start(&[]).await;
    let r = plain
        .anon
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/devices", plain.url),
        )
        .header("origin", "https://grafana.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    plain.stop().await;
}

#[tokio::test]
async fn the_first_admin_is_made_with_the_cli() {
    let server = Server::start(&[]).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .arg("--data-dir")
        .arg(server.dir.path())
        .envs(common::database_env(server.dir.path()))
        .args(["user", "add", "root", "--role", "admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let (status, tokens) = login_json(&server, "root", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tokens["user"]["role"], "admin");
    // A short password is refused, and nothing is echoed.
    let out = Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .arg("--data-dir")
        .arg(server.dir.path())
        .envs(common::database_env(server.dir.path()))
        .args(["user", "add", "shorty", "--password-stdin"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    server.stop().await;
}
