//! `/api/v1/clients`: admins create, list and revoke signed API clients.
//! A new client's secret is shown once; only its SHA-256 is stored.

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::accounts::json_body;
use super::error::{ApiError, ErrorBody, respond};
use super::guard::{gate, require};
use super::with_state;
use crate::app::AppState;
use crate::auth::clients::{CreateError, MAX_NAME, create};
use crate::auth::{Access, Principal};
use crate::store::clients::ApiClient;

/// The client routes (admin only).
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let clients = warp::path!("api" / "v1" / "clients");
    let list = clients
        .and(warp::get())
        .and(gate(state, Access::Admin))
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(list_clients(&st).await) });
    let add = clients
        .and(warp::post())
        .and(require(state, Access::Admin))
        .and(json_body::<NewClient>(state.body_timeout))
        .and(with_state(state))
        .then(|p: Principal, c: NewClient, st: Arc<AppState>| async move {
            respond(add_client(&st, &p, c).await)
        });
    let revoke = warp::path!("api" / "v1" / "clients" / ..)
        .and(super::segment::text())
        .and(warp::path::end())
        .and(warp::delete())
        .and(gate(state, Access::Admin))
        .and(with_state(state))
        .then(
            |id: String, st: Arc<AppState>| async move { respond(revoke_client(&st, &id).await) },
        );
    list.or(add).unify().or(revoke).unify().boxed()
}

/// Every client.
#[derive(Debug, Serialize, ToSchema)]
struct ClientsList {
    /// Oldest first, revoked ones included.
    clients: Vec<ApiClient>,
}

/// Every signed API client's record (never a secret).
#[utoipa::path(
    get,
    path = "/api/v1/clients",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    responses((status = 200, description = "The clients' records", body = ClientsList)),
)]
async fn list_clients(state: &AppState) -> Result<impl Reply, ApiError> {
    let clients = state.store.clients().await.map_err(ApiError::internal)?;
    Ok(warp::reply::json(&ClientsList { clients }))
}

/// A client to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "fleet report"}))]
struct NewClient {
    /// What it is for (1 to 128 bytes).
    name: String,
}

/// A new client, its secret shown once.
#[derive(Debug, Serialize, ToSchema)]
struct NewClientReply {
    /// Its record.
    #[serde(flatten)]
    record: ApiClient,
    /// The secret: sign token requests with its SHA-256 (see the README).
    client_secret: String,
    /// A reminder that it is shown once.
    message: &'static str,
}

/// Creates a signed API client; the answer is the only place its secret is shown.
#[utoipa::path(
    post,
    path = "/api/v1/clients",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = NewClient,
    responses(
        (status = 201, description = "The client and its secret", body = NewClientReply),
        (status = 400, description = "Malformed, or a bad name (`malformed`, `bad_client_name`)", body = ErrorBody),
    ),
)]
async fn add_client(
    state: &AppState,
    by: &Principal,
    req: NewClient,
) -> Result<Response, ApiError> {
    let created = create(state.store.as_ref(), &req.name, &by.label())
        .await
        .map_err(|e| match e {
            CreateError::BadName => ApiError::bad_request(
                "bad_client_name",
                format!("a client name is 1 to {MAX_NAME} bytes"),
            ),
            CreateError::Failed(log) => ApiError::internal(log),
        })?;
    tracing::info!(
        client = created.client.client_id,
        by = by.label(),
        "API client created"
    );
    let body = NewClientReply {
        record: created.client,
        client_secret: created.secret,
        message: "the secret is shown once; keep it with the client id",
    };
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
}

/// A client revoked.
#[derive(Debug, Serialize, ToSchema)]
struct ClientDone {
    /// The client id.
    client_id: String,
    /// `revoked`.
    done: &'static str,
}

/// Revokes a client at once: its tokens stop working and it cannot get new ones.
#[utoipa::path(
    delete,
    path = "/api/v1/clients/{client_id}",
    tag = "accounts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(("client_id" = String, Path, description = "The client id", example = "swc_0123456789abcdef0123456789abcdef")),
    responses(
        (status = 200, description = "Done: `revoked`", body = ClientDone),
        (status = 404, description = "No active client with this id (`unknown_client`)", body = ErrorBody),
    ),
)]
async fn revoke_client(state: &AppState, client_id: &str) -> Result<Response, ApiError> {
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_client",
            format!("no active client {client_id}"),
        )
    };
    if !crate::auth::signed::is_client_id(client_id) {
        return Err(unknown());
    }
    if !state
        .store
        .revoke_client(client_id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(unknown());
    }
    tracing::info!(client = client_id, "API client revoked");
    Ok(warp::reply::json(&ClientDone {
        client_id: client_id.to_owned(),
        done: "revoked",
    })
    .into_response())
}
