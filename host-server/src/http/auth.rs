//! `/api/v1/auth`: log in (OAuth2 password form or JSON), refresh, who am I,
//! log out. Refresh tokens rotate on every use; presenting a spent one
//! revokes the whole login (it was copied).

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::guard::require;
use super::peer::{PeerAddr, peer};
use super::{body, with_state};
use crate::app::AppState;
use crate::auth::jwt::ACCESS_TTL_S;
use crate::auth::{Access, Principal, opaque, password};
use crate::clock::now_ms;
use crate::store::access::{NewRefresh, RefreshOutcome, Role, Scope, User};

/// Lifetime of a refresh token.
const REFRESH_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
/// Largest auth request body.
const MAX_BODY: usize = 8 * 1024;

/// The auth routes.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let form = || {
        warp::header::optional::<String>("content-type")
            .and(body::bounded(MAX_BODY, state.body_timeout))
            .and_then(|kind: Option<String>, body: Bytes| async move {
                parse_form(kind.as_deref(), &body).map_err(warp::reject::custom)
            })
    };
    // `/login/json` is the SolarHub API's name for the same JSON login.
    let login = warp::path!("api" / "v1" / "auth" / "login")
        .or(warp::path!("api" / "v1" / "auth" / "login" / "json"))
        .unify()
        .and(warp::post())
        .and(with_state(state))
        .and(peer())
        .and(form())
        .then(
            |st: Arc<AppState>, peer: Option<PeerAddr>, f: AuthForm| async move {
                respond(login(&st, peer, f).await)
            },
        );
    let refresh = warp::path!("api" / "v1" / "auth" / "refresh")
        .and(warp::post())
        .and(with_state(state))
        .and(form())
        .then(|st: Arc<AppState>, f: AuthForm| async move { respond(refresh(&st, f).await) });
    let logout = warp::path!("api" / "v1" / "auth" / "logout")
        .and(warp::post())
        .and(with_state(state))
        .and(form())
        .then(|st: Arc<AppState>, f: AuthForm| async move { respond(logout(&st, f).await) });
    let me = warp::path!("api" / "v1" / "auth" / "me")
        .and(warp::get())
        .and(require(state, Access::Read))
        .map(|p: Principal| me(&p));
    login
        .or(refresh)
        .unify()
        .or(logout)
        .unify()
        .or(me)
        .unify()
        .boxed()
}

/// The fields of every auth request (OAuth2 names), sent as a form
/// (`application/x-www-form-urlencoded`) or as JSON.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "password", "username": "admin", "password": "a long passphrase"}))]
struct AuthForm {
    /// `password` (login) or `refresh_token` (refresh); optional.
    grant_type: Option<String>,
    /// The user name (login).
    username: Option<String>,
    /// The password (login).
    password: Option<String>,
    /// The refresh token (refresh, logout).
    refresh_token: Option<String>,
}

/// A new access token and refresh token.
#[derive(Debug, Serialize, ToSchema)]
struct Tokens {
    /// The access token (HS256 JWT): send it as `Authorization: Bearer …`.
    access_token: String,
    /// `Bearer`.
    token_type: &'static str,
    /// Seconds the access token lasts.
    expires_in: u64,
    /// The refresh token: spent on use, replaced by the next one.
    refresh_token: String,
    /// Seconds the refresh token lasts.
    refresh_expires_in: u64,
    /// Who logged in.
    user: User,
}

/// Who is calling.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Me {
    /// A logged-in user.
    User {
        /// User id.
        id: i64,
        /// Login name.
        name: String,
        /// Role.
        role: Role,
    },
    /// An API key.
    ApiKey {
        /// Key id.
        id: i64,
        /// The key's name.
        name: String,
        /// Its scope.
        scope: Scope,
        /// The role its scope amounts to.
        role: Role,
    },
    /// A signed API client.
    Client {
        /// The public client id.
        client_id: String,
        /// Its name.
        name: String,
        /// `viewer`: clients only read.
        role: Role,
    },
    /// The break-glass admin token.
    AdminToken {
        /// `admin`.
        role: Role,
    },
}

/// A logout.
#[derive(Debug, Serialize, ToSchema)]
struct LoggedOut {
    /// Always `true`.
    logged_out: bool,
    /// Whether a live login was revoked.
    revoked: bool,
}

fn parse_form(kind: Option<&str>, body: &[u8]) -> Result<AuthForm, ApiError> {
    let kind = body::media_type(kind.unwrap_or(""));
    if kind == "application/x-www-form-urlencoded" {
        serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::bad_request("malformed", format!("form: {e}")))
    } else if body::is_json(&kind) {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request("malformed", format!("JSON: {e}")))
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/x-www-form-urlencoded or application/json",
        ))
    }
}

/// Who is calling: a user, an API key or the break-glass token.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    responses((status = 200, description = "The caller", body = Me)),
)]
fn me(p: &Principal) -> Response {
    let me = match p.clone() {
        Principal::User { id, name, role } => Me::User { id, name, role },
        Principal::ApiKey { id, name, scope } => Me::ApiKey {
            id,
            name,
            scope,
            role: if scope == Scope::Admin {
                Role::Admin
            } else {
                Role::Viewer
            },
        },
        Principal::Client { client_id, name } => Me::Client {
            client_id,
            name,
            role: Role::Viewer,
        },
        Principal::BreakGlass => Me::AdminToken { role: Role::Admin },
    };
    warp::reply::json(&me).into_response()
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong user name or password",
    )
}

/// Logs in with a user name and password (the OAuth2 password grant, as
/// a form or JSON): an access token and a refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    security(()),
    request_body(content(
        (AuthForm = "application/x-www-form-urlencoded"),
        (AuthForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Logged in", body = Tokens),
        (status = 400, description = "Missing fields or another grant type (`malformed`, `unsupported_grant_type`)", body = ErrorBody),
        (status = 401, description = "Wrong user name or password (`invalid_credentials`)", body = ErrorBody),
        (status = 415, description = "Neither a form nor JSON (`unsupported_media_type`)", body = ErrorBody),
        (status = 429, description = "Too many failed attempts for the account or address (`rate_limited`, with `Retry-After`); a successful login clears the account's count", body = ErrorBody),
    ),
)]
async fn login(
    state: &AppState,
    peer: Option<PeerAddr>,
    form: AuthForm,
) -> Result<Response, ApiError> {
    if form.grant_type.as_deref().is_some_and(|g| g != "password") {
        return Err(ApiError::bad_request(
            "unsupported_grant_type",
            "this endpoint takes grant_type=password",
        ));
    }
    let (Some(name), Some(password)) = (form.username, form.password) else {
        return Err(ApiError::bad_request(
            "malformed",
            "username and password are required",
        ));
    };
    if name.is_empty()
        || name.len() > crate::auth::MAX_USER_NAME
        || password.len() > password::MAX_LEN
    {
        return Err(invalid_credentials());
    }
    let client = peer.map(|p| p.0.ip());
    let started = std::time::Instant::now();
    if let Some(limiter) = &state.auth.logins
        && let Err(wait) = limiter.check(&name, client, started)
    {
        tracing::warn!(user = name, "login rate limited");
        return Err(ApiError::rate_limited(
            "too many login attempts; wait and try again",
            wait,
        ));
    }
    let found = state
        .store
        .user_login(&name)
        .await
        .map_err(ApiError::internal)?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let user = match (password::verify(password, hash).await, user) {
        (true, Some(user)) => user,
        _ => {
            tracing::warn!(user = name, "login failed");
            if let Some(limiter) = &state.auth.logins {
                limiter.failed(&name, client, started);
            }
            return Err(invalid_credentials());
        }
    };
    if let Some(limiter) = &state.auth.logins {
        limiter.succeeded(&name);
    }
    let family = opaque::random_id().map_err(ApiError::internal)?;
    let (refresh, hash) = opaque::generate(opaque::REFRESH_PREFIX).map_err(ApiError::internal)?;
    let now = now_ms();
    state
        .store
        .add_refresh(NewRefresh {
            user: user.id,
            family,
            hash,
            created_ms: now,
            expires_ms: now + REFRESH_TTL_MS,
        })
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(user = user.name, "logged in");
    tokens_reply(state, &user, &refresh)
}

fn tokens_reply(state: &AppState, user: &User, refresh: &str) -> Result<Response, ApiError> {
    let access = state
        .auth
        .signer
        .issue(user, now_ms() / 1000)
        .map_err(ApiError::internal)?;
    let mut response = warp::reply::json(&Tokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_S,
        refresh_token: refresh.to_owned(),
        refresh_expires_in: REFRESH_TTL_MS / 1000,
        user: user.clone(),
    })
    .into_response();
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        "no-store".parse().map_err(ApiError::internal)?,
    );
    Ok(response)
}

fn presented_refresh(form: &AuthForm) -> Result<&str, ApiError> {
    let token = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("malformed", "refresh_token is required"))?;
    if token.len() > opaque::MAX_LEN || !token.starts_with(opaque::REFRESH_PREFIX) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the refresh token is not valid",
        ));
    }
    Ok(token)
}

/// Trades a refresh token for new tokens; the presented one is spent, and
/// presenting a spent one revokes its whole login.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    security(()),
    request_body(content(
        (AuthForm = "application/x-www-form-urlencoded"),
        (AuthForm = "application/json"),
    )),
    responses(
        (status = 200, description = "New tokens", body = Tokens),
        (status = 400, description = "No refresh token or another grant type (`malformed`, `unsupported_grant_type`)", body = ErrorBody),
        (status = 401, description = "Not valid, or already used (`unauthorized`, `token_reused`)", body = ErrorBody),
        (status = 415, description = "Neither a form nor JSON (`unsupported_media_type`)", body = ErrorBody),
    ),
)]
async fn refresh(state: &AppState, form: AuthForm) -> Result<Response, ApiError> {
    if form
        .grant_type
        .as_deref()
        .is_some_and(|g| g != "refresh_token")
    {
        return Err(ApiError::bad_request(
            "unsupported_grant_type",
            "this endpoint takes grant_type=refresh_token",
        ));
    }
    let presented = presented_refresh(&form)?;
    let (next, hash) = opaque::generate(opaque::REFRESH_PREFIX).map_err(ApiError::internal)?;
    let now = now_ms();
    let outcome = state
        .store
        .rotate_refresh(
            opaque::digest(presented),
            NewRefresh {
                user: 0,
                family: String::new(),
                hash,
                created_ms: now,
                expires_ms: now + REFRESH_TTL_MS,
            },
        )
        .await
        .map_err(ApiError::internal)?;
    match outcome {
        RefreshOutcome::Rotated(user) => tokens_reply(state, &user, &next),
        RefreshOutcome::Reused => {
            tracing::warn!("a spent refresh token was presented again; its login is revoked");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_reused",
                "this refresh token was already used; log in again",
            ))
        }
        RefreshOutcome::Invalid => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the refresh token is not valid",
        )),
    }
}

/// Revokes the login a refresh token belongs to.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(()),
    request_body(content(
        (AuthForm = "application/x-www-form-urlencoded"),
        (AuthForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Logged out", body = LoggedOut),
        (status = 400, description = "No refresh token (`malformed`)", body = ErrorBody),
        (status = 401, description = "A token that is not a refresh token (`unauthorized`)", body = ErrorBody),
    ),
)]
async fn logout(state: &AppState, form: AuthForm) -> Result<Response, ApiError> {
    let presented = presented_refresh(&form)?;
    let revoked = state
        .store
        .revoke_refresh(opaque::digest(presented))
        .await
        .map_err(ApiError::internal)?;
    Ok(warp::reply::json(&LoggedOut {
        logged_out: true,
        revoked,
    })
    .into_response())
}
