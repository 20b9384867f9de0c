//! `GET /comm/client`: a signed request exchanged for a 24-hour token and
//! the client's MQTT details (see `crate::auth::signed`).

use std::sync::Arc;

use http::StatusCode;
use http::header::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::{data, topic};
use crate::app::AppState;
use crate::auth::clients::{ExchangeError, exchange};
use crate::auth::signed::{SignedError, SignedRequest};
use crate::clock::now_ms;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::with_state;

pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    warp::path!("comm" / "client")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(with_state(state))
        .then(|headers: HeaderMap, st: Arc<AppState>| async move {
            respond(client_token(&st, &headers).await)
        })
        .boxed()
}

/// A read-only grant on a topic.
#[derive(Debug, Serialize, ToSchema)]
struct Grant {
    /// The topic.
    topic: String,
    /// `read`: clients subscribe, never publish.
    access: &'static str,
}

/// A client's token and MQTT details (Elecnova's `TokenResponse`).
#[derive(Debug, Serialize, ToSchema)]
struct TokenReply {
    /// MQTT client id (the client id).
    id: String,
    /// MQTT user name (the client id).
    username: String,
    /// MQTT password (the token).
    password: String,
    /// Bearer token for every other call.
    token: String,
    /// `Bearer`.
    token_type: &'static str,
    /// Seconds the token is valid (86400).
    expires_in: u64,
    /// The live topics the client subscribed to, read-only.
    acl: Vec<Grant>,
}

/// Exchanges a signed request (`X-Client-Id`, `X-Timestamp`, `X-Nonce`,
/// `X-Signature`: HMAC-SHA256 over the canonical string in the README) for
/// a 24-hour token and the client's MQTT credentials and topics.
#[utoipa::path(
    get,
    path = "/comm/client",
    operation_id = "client_token",
    tag = "cloud",
    security(()),
    params(
        ("X-Client-Id" = String, Header, description = "The client id (`swc_…`)"),
        ("X-Timestamp" = u64, Header, description = "Unix seconds, within 300 s of the server's clock"),
        ("X-Nonce" = String, Header, description = "16 to 64 of `A-Z a-z 0-9 - _`, never reused"),
        ("X-Signature" = String, Header, description = "Base64 HMAC-SHA256 of the canonical string under SHA-256(secret)"),
    ),
    responses(
        (status = 200, description = "The token and MQTT details", body = inline(super::Data<TokenReply>)),
        (status = 400, description = "A missing or malformed signing header (`bad_signed_request`)", body = ErrorBody),
        (status = 401, description = "Unknown or revoked client, bad signature, stale timestamp or reused nonce (`unauthorized`, `stale_timestamp`, `nonce_reused`)", body = ErrorBody),
        (status = 429, description = "The client is over its rate (`rate_limited`)", body = ErrorBody),
    ),
)]
async fn client_token(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let request = SignedRequest::parse(|name| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(v), None) => v.to_str().ok(),
            _ => None,
        }
    })
    .map_err(refused)?;
    let issued = exchange(
        state.store.as_ref(),
        &state.auth,
        state.client_rate.as_ref(),
        &request,
        now_ms(),
    )
    .await
    .map_err(|e| match e {
        ExchangeError::Refused(e) => refused(e),
        ExchangeError::RateLimited(wait) => {
            ApiError::rate_limited("this client is over its request rate", wait)
        }
        ExchangeError::Unavailable(log) => ApiError::internal(log),
    })?;
    let devices = state
        .store
        .subscriptions(&issued.client.client_id)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(client = issued.client.client_id, "client token issued");
    Ok(data(TokenReply {
        id: issued.client.client_id.clone(),
        username: issued.client.client_id,
        password: issued.token.clone(),
        token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        acl: devices
            .iter()
            .map(|d| Grant {
                topic: topic(d),
                access: "read",
            })
            .collect(),
    })
    .into_response())
}

fn refused(e: SignedError) -> ApiError {
    let unauthorized = |code, message| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    match e {
        SignedError::Malformed(header) => ApiError::bad_request(
            "bad_signed_request",
            format!("{header} is missing, repeated or malformed"),
        ),
        SignedError::Unauthenticated => crate::http::credentials::invalid(),
        SignedError::Stale => unauthorized(
            "stale_timestamp",
            "X-Timestamp is more than 300 s from the server's clock",
        ),
        SignedError::Replayed => unauthorized("nonce_reused", "this nonce was used before"),
    }
}
