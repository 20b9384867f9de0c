//! Filters that admit a request only with the credentials its route needs:
//! 401 when the caller is not authenticated, 403 when it may not do this.

use std::sync::Arc;

use http::StatusCode;
use warp::{Filter, Rejection};

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{Access, AuthError, Credentials, Principal};

/// Extracts the caller, who must be allowed `access`.
pub(super) fn require(
    state: &Arc<AppState>,
    access: Access,
) -> impl Filter<Extract = (Principal,), Error = Rejection> + Clone + use<> {
    let state = state.clone();
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>("x-api-key"))
        .and_then(move |authorization: Option<String>, key: Option<String>| {
            let state = state.clone();
            async move {
                let credentials = Credentials {
                    bearer: authorization.as_deref().and_then(bearer),
                    api_key: key.as_deref().map(str::trim),
                };
                admit(&state, credentials, access)
                    .await
                    .map_err(warp::reject::custom)
            }
        })
}

/// Like [`require`], for handlers that do not need to know who called.
pub(super) fn gate(
    state: &Arc<AppState>,
    access: Access,
) -> impl Filter<Extract = (), Error = Rejection> + Clone + use<> {
    require(state, access).map(|_| ()).untuple_one()
}

/// The token of an `Authorization: Bearer …` header.
pub(super) fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
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
            AuthError::Invalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the credentials are not valid",
            ),
            AuthError::Unavailable => {
                ApiError::unavailable("unavailable", "storage is unavailable", 5)
            }
        })?;
    if !principal.may(access) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this needs the admin role or an admin-scoped API key",
        ));
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bearer_tokens_are_parsed() {
        assert_eq!(super::bearer("Bearer abc"), Some("abc"));
        assert_eq!(super::bearer("bearer  abc "), Some("abc"));
        assert_eq!(super::bearer("Basic abc"), None);
        assert_eq!(super::bearer("Bearer "), None);
    }
}
