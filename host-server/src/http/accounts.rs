//! `/api/v1/users` and `/api/v1/keys`: admins manage accounts and API keys.
//! A new key is shown once; only its digest is stored.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::guard::{gate, require};
use super::with_state;
use crate::app::AppState;
use crate::auth::{Access, Principal, check_user_name, opaque, password};
use crate::clock::now_ms;
use crate::store::access::{ApiKey, NewApiKey, Role, Scope, User};

/// Largest account request body.
const MAX_BODY: usize = 4096;
/// Longest API key lifetime.
const MAX_KEY_DAYS: u32 = 3650;
/// Longest API key name.
const MAX_KEY_NAME: usize = 128;

/// The account routes (admin only).
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let admin = || gate(state, Access::Admin);
    let users = warp::path!("api" / "v1" / "users");
    let list_users = users
        .and(warp::get())
        .and(admin())
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(list_users(&st).await) });
    let add_user = users
        .and(warp::post())
        .and(admin())
        .and(json_body::<NewUser>(state.body_timeout))
        .and(with_state(state))
        .then(|u: NewUser, st: Arc<AppState>| async move { respond(add_user(&st, u).await) });
    let remove_user = warp::path!("api" / "v1" / "users" / ..)
        .and(super::segment::text())
        .and(warp::path::end())
        .and(warp::delete())
        .and(admin())
        .and(with_state(state))
        .then(
            |name: String, st: Arc<AppState>| async move { respond(remove_user(&st, &name).await) },
        );
    let keys = warp::path!("api" / "v1" / "keys");
    let list_keys = keys
        .and(warp::get())
        .and(admin())
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(list_keys(&st).await) });
    let add_key = keys
        .and(warp::post())
        .and(require(state, Access::Admin))
        .and(json_body::<NewKey>(state.body_timeout))
        .and(with_state(state))
        .then(|p: Principal, k: NewKey, st: Arc<AppState>| async move {
            respond(add_key(&st, &p, k).await)
        });
    let revoke_key = warp::path!("api" / "v1" / "keys" / i64)
        .and(warp::delete())
        .and(admin())
        .and(with_state(state))
        .then(|id: i64, st: Arc<AppState>| async move { respond(revoke_key(&st, id).await) });
    list_users
        .or(add_user)
        .unify()
        .or(remove_user)
        .unify()
        .or(list_keys)
        .unify()
        .or(add_key)
        .unify()
        .or(revoke_key)
        .unify()
        .boxed()
}

/// A JSON body of at most [`MAX_BODY`] bytes, read within `timeout`. A
/// body that does not parse is our own 400, so it outranks other routes'
/// "method not allowed".
pub(super) fn json_body<T: serde::de::DeserializeOwned + Send>(
    timeout: Duration,
) -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    super::body::json_type()
        .and(super::body::bounded(MAX_BODY, timeout))
        .and_then(|body: bytes::Bytes| async move {
            serde_json::from_slice(&body).map_err(|e| {
                warp::reject::custom(ApiError::bad_request("malformed", format!("JSON: {e}")))
            })
        })
}

/// A change done to a numbered record.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Done {
    /// The record's id.
    pub(super) id: i64,
    /// What was done (`removed`, `revoked`).
    pub(super) done: &'static str,
}

/// Every user.
#[derive(Debug, Serialize, ToSchema)]
struct UsersReply {
    /// By name.
    users: Vec<User>,
}

/// Every user, by name.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    responses((status = 200, description = "The users", body = UsersReply)),
)]
async fn list_users(state: &AppState) -> Result<impl Reply, ApiError> {
    let users = state.store.users().await.map_err(ApiError::internal)?;
    Ok(warp::reply::json(&UsersReply { users }))
}

/// A user to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "operator", "role": "viewer", "password": "a long passphrase"}))]
struct NewUser {
    /// Login name: 1 to 64 characters of `A-Z a-z 0-9 _ . @ -`.
    name: String,
    /// `admin` or `viewer`.
    #[schema(value_type = Role)]
    role: String,
    /// The password: at least 10 characters, at most 1024 bytes.
    #[schema(min_length = 10)]
    password: String,
}

/// Adds a user.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = NewUser,
    responses(
        (status = 201, description = "The new user", body = User),
        (status = 400, description = "Malformed, or a bad name, role or password (`malformed`, `bad_user_name`, `bad_role`, `weak_password`)", body = ErrorBody),
        (status = 409, description = "The name is taken (`user_exists`)", body = ErrorBody),
    ),
)]
async fn add_user(state: &AppState, req: NewUser) -> Result<Response, ApiError> {
    check_user_name(&req.name).map_err(|m| ApiError::bad_request("bad_user_name", m))?;
    let role = Role::parse(&req.role)
        .ok_or_else(|| ApiError::bad_request("bad_role", "role is admin or viewer"))?;
    password::check(&req.password).map_err(|m| ApiError::bad_request("weak_password", m))?;
    let hash = password::hash(req.password)
        .await
        .map_err(ApiError::internal)?;
    let user = state
        .store
        .add_user(&req.name, role, hash)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "user_exists",
                format!("user {} already exists", req.name),
            )
        })?;
    tracing::info!(
        user = user.name,
        role = role.as_str(),
        "user added over the API"
    );
    Ok(warp::reply::with_status(warp::reply::json(&user), StatusCode::CREATED).into_response())
}

/// A user removed.
#[derive(Debug, Serialize, ToSchema)]
struct UserDone {
    /// The user's name.
    name: String,
    /// `removed`.
    done: &'static str,
}

/// Removes a user and ends their sessions.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{name}",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(("name" = String, Path, description = "The user's name", example = "operator")),
    responses(
        (status = 200, description = "Done: `removed`", body = UserDone),
        (status = 400, description = "A bad user name (`bad_user_name`)", body = ErrorBody),
        (status = 404, description = "No such user (`unknown_user`)", body = ErrorBody),
    ),
)]
async fn remove_user(state: &AppState, name: &str) -> Result<Response, ApiError> {
    check_user_name(name).map_err(|m| ApiError::bad_request("bad_user_name", m))?;
    if !state
        .store
        .remove_user(name)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_user",
            format!("no user {name}"),
        ));
    }
    tracing::info!(user = name, "user removed over the API");
    Ok(warp::reply::json(&UserDone {
        name: name.to_owned(),
        done: "removed",
    })
    .into_response())
}

/// Every API key (never the keys themselves).
#[derive(Debug, Serialize, ToSchema)]
struct KeysList {
    /// The keys' records.
    keys: Vec<ApiKey>,
}

/// Every API key's record, revoked and expired ones included.
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    responses((status = 200, description = "The keys' records", body = KeysList)),
)]
async fn list_keys(state: &AppState) -> Result<impl Reply, ApiError> {
    let keys = state.store.api_keys().await.map_err(ApiError::internal)?;
    Ok(warp::reply::json(&KeysList { keys }))
}

/// An API key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "grafana", "scope": "read", "expires_in_days": 365}))]
struct NewKey {
    /// What it is for (1 to 128 bytes).
    name: String,
    /// `read` or `admin`.
    #[schema(value_type = Scope)]
    scope: String,
    /// Lifetime, 1 to 3650 days (default: no expiry).
    expires_in_days: Option<u32>,
}

/// A new API key, shown once.
#[derive(Debug, Serialize, ToSchema)]
struct NewKeyReply {
    /// Its record.
    #[serde(flatten)]
    record: ApiKey,
    /// The key: send it as `X-API-Key`.
    key: String,
    /// A reminder that it is shown once.
    message: &'static str,
}

/// Creates an API key; the answer is the only place it is shown.
#[utoipa::path(
    post,
    path = "/api/v1/keys",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = NewKey,
    responses(
        (status = 201, description = "The key and its record", body = NewKeyReply),
        (status = 400, description = "Malformed, or a bad name, scope or expiry (`malformed`, `bad_key_name`, `bad_scope`, `bad_expiry`)", body = ErrorBody),
    ),
)]
async fn add_key(state: &AppState, by: &Principal, req: NewKey) -> Result<Response, ApiError> {
    if req.name.trim().is_empty() || req.name.len() > MAX_KEY_NAME {
        return Err(ApiError::bad_request(
            "bad_key_name",
            format!("a key name is 1 to {MAX_KEY_NAME} bytes"),
        ));
    }
    let scope = Scope::parse(&req.scope)
        .ok_or_else(|| ApiError::bad_request("bad_scope", "scope is read or admin"))?;
    let expires_ms = match req.expires_in_days {
        Some(days) if days == 0 || days > MAX_KEY_DAYS => {
            return Err(ApiError::bad_request(
                "bad_expiry",
                format!("expires_in_days is 1 to {MAX_KEY_DAYS}"),
            ));
        }
        Some(days) => Some(now_ms() + u64::from(days) * 86_400_000),
        None => None,
    };
    let (key, hash) = opaque::generate(opaque::API_KEY_PREFIX).map_err(ApiError::internal)?;
    let record = state
        .store
        .add_api_key(NewApiKey {
            name: req.name.trim().to_owned(),
            prefix: key.chars().take(10).collect(),
            hash,
            scope,
            created_by: by.label(),
            expires_ms,
        })
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(
        key = record.id,
        scope = scope.as_str(),
        by = by.label(),
        "API key created"
    );
    let body = NewKeyReply {
        record,
        key,
        message: "the key is shown once; send it as X-API-Key",
    };
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
}

/// Revokes an API key at once.
#[utoipa::path(
    delete,
    path = "/api/v1/keys/{id}",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(("id" = i64, Path, description = "The key's id", example = 1)),
    responses(
        (status = 200, description = "Done: `revoked`", body = Done),
        (status = 404, description = "No active key with this id (`unknown_key`)", body = ErrorBody),
    ),
)]
async fn revoke_key(state: &AppState, id: i64) -> Result<Response, ApiError> {
    if !state
        .store
        .revoke_api_key(id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_key",
            format!("no active API key {id}"),
        ));
    }
    tracing::info!(key = id, "API key revoked");
    Ok(warp::reply::json(&Done {
        id,
        done: "revoked",
    })
    .into_response())
}
