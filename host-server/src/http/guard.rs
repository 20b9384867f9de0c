//! Filters that admit a request only with the credentials its route needs:
//! 401 when the caller is not authenticated, 403 when it may not do this.

use std::sync::Arc;

use http::StatusCode;
use http::header::HeaderMap;
use warp::{Filter, Rejection};

use super::credentials::{Presented, invalid};
use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{Access, AuthError, Credentials, Principal};

/// Extracts the caller, who must be allowed `access`.
pub(super) fn require(
    state: &Arc<AppState>,
    access: Access,
) -> impl Filter<Extract = (Principal,), Error = Rejection> + Clone + use<> {
    let state = state.clone();
    warp::header::headers_cloned().and_then(move |headers: HeaderMap| {
        let state = state.clone();
        async move {
            admit_headers(&state, &headers, access)
                .await
                .map_err(warp::reject::custom)
        }
    })
}

/// [`admit`] with the credentials of `headers`: for a handler that answers
/// the refusal itself instead of rejecting (another route may match).
///
/// # Errors
/// 401, 403 or 503 in the server's error shape.
pub(super) async fn admit_headers(
    state: &AppState,
    headers: &HeaderMap,
    access: Access,
) -> Result<Principal, ApiError> {
    let presented = Presented::from_headers(headers)?;
    admit(state, presented.credentials(), access).await
}

/// Like [`require`], for handlers that do not need to know who called.
pub(super) fn gate(
    state: &Arc<AppState>,
    access: Access,
) -> impl Filter<Extract = (), Error = Rejection> + Clone + use<> {
    require(state, access).map(|_| ()).untuple_one()
}

/// Authenticates and authorises one request.
///
/// # Errors
/// 401, 403 or 503 in the server's error shape.
pub(super) async fn admit(
    state: &AppState,
    credentials: Credentials<'_>,
    access: Access,
) -> Result<Principal, ApiError> {
    let principal = state
        .auth
        .authenticate(state.store.as_ref(), credentials)
        .await
        .map_err(|e| match e {
            AuthError::Missing => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "log in (Authorization: Bearer …) or send an API key (X-API-Key)",
            ),
            AuthError::Expired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "the access token expired; refresh it",
            ),
            AuthError::Invalid => invalid(),
            AuthError::Unavailable => {
                ApiError::unavailable("unavailable", "storage is unavailable", 5)
            }
        })?;
    if let (Principal::Client { client_id, .. }, Some(rate)) = (&principal, &state.client_rate) {
        rate.check(client_id)
            .map_err(|wait| ApiError::rate_limited("this client is over its request rate", wait))?;
    }
    if !principal.may(access) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this needs the admin role or an admin-scoped API key",
        ));
    }
    Ok(principal)
}
