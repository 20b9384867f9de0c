//! Signed API clients: creating one (id and secret, the secret shown once)
//! and exchanging a signed request for a 24-hour access token.

use super::opaque;
use super::signed::{
    CLIENT_ID_PREFIX, NONCE_KEEP_MS, SECRET_PREFIX, SignedError, SignedRequest, TOKEN_TTL_S,
};
use crate::store::Store;
use crate::store::clients::{ApiClient, NewApiClient};

/// Longest client name.
pub const MAX_NAME: usize = 128;

/// Why a client could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateError {
    /// The name is empty or too long.
    BadName,
    /// No randomness or a store failure (for the log).
    Failed(String),
}

/// A new client's record and its secret (shown once, never stored).
#[derive(Debug)]
pub struct Created {
    /// The record.
    pub client: ApiClient,
    /// The secret.
    pub secret: String,
}

/// Creates a client named `name` on behalf of `by`.
///
/// # Errors
/// See [`CreateError`].
pub async fn create(store: &dyn Store, name: &str, by: &str) -> Result<Created, CreateError> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(CreateError::BadName);
    }
    let failed = |e: &dyn std::fmt::Display| CreateError::Failed(e.to_string());
    let client_id = format!(
        "{CLIENT_ID_PREFIX}{}",
        opaque::random_id().map_err(|e| failed(&e))?
    );
    let (secret, key) = opaque::generate(SECRET_PREFIX).map_err(|e| failed(&e))?;
    let client = store
        .add_client(NewApiClient {
            client_id,
            name: name.to_owned(),
            key,
            created_by: by.to_owned(),
        })
        .await
        .map_err(|e| failed(&e))?;
    Ok(Created { client, secret })
}

/// Why a token request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeError {
    /// Refused: see [`SignedError`].
    Refused(SignedError),
    /// The client is over its rate: retry after this long.
    RateLimited(std::time::Duration),
    /// The store failed (for the log).
    Unavailable(String),
}

/// A token issued to a client.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The client.
    pub client: ApiClient,
    /// The access token.
    pub token: String,
    /// Its lifetime, seconds.
    pub expires_in: u64,
}

/// Checks a signed request (client, MAC, timestamp, then the client's rate
/// and its nonce, in that order) and issues a 24-hour token.
///
/// # Errors
/// See [`ExchangeError`]; nothing is stored unless the nonce is spent.
pub async fn exchange(
    store: &dyn Store,
    auth: &super::Auth,
    rate: Option<&crate::ratelimit::DeviceLimiter>,
    request: &SignedRequest,
    now_ms: u64,
) -> Result<Issued, ExchangeError> {
    let refused = ExchangeError::Refused;
    let unavailable = |e: crate::store::StoreError| ExchangeError::Unavailable(e.to_string());
    let (client, key) = store
        .client(&request.client_id)
        .await
        .map_err(unavailable)?
        .filter(|(c, _)| c.revoked_ms.is_none())
        .ok_or(refused(SignedError::Unauthenticated))?;
    request.verify(&key, now_ms / 1000).map_err(refused)?;
    if let Some(rate) = rate {
        rate.check(&client.client_id)
            .map_err(ExchangeError::RateLimited)?;
    }
    if !store
        .spend_nonce(&client.client_id, &request.nonce, NONCE_KEEP_MS)
        .await
        .map_err(unavailable)?
    {
        return Err(refused(SignedError::Replayed));
    }
    let token = auth
        .signer
        .issue_client(&client.client_id, &client.name, now_ms / 1000, TOKEN_TTL_S)
        .map_err(ExchangeError::Unavailable)?;
    Ok(Issued {
        client,
        token,
        expires_in: TOKEN_TTL_S,
    })
}
