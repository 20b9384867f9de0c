//! Signed API clients (the Elecnova-style cloud API): their records, the
//! nonces their token requests spent, and the live topics they subscribed.
//!
//! A client's secret never reaches the store: it arrives as the SHA-256
//! digest of the secret, which is also the key the client signs with (see
//! `crate::auth::signed`), so the database holds no secret in clear.

use futures_util::future::BoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use super::access::TokenHash;

/// A client's record (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiClient {
    /// Row id.
    #[serde(skip)]
    pub id: i64,
    /// The public client id (`swc_…`).
    pub client_id: String,
    /// What it is for.
    pub name: String,
    /// Who created it.
    pub created_by: String,
    /// Creation time, Unix ms.
    pub created_ms: u64,
    /// When it was revoked.
    pub revoked_ms: Option<u64>,
}

/// A client to store.
#[derive(Debug, Clone)]
pub struct NewApiClient {
    /// The public client id.
    pub client_id: String,
    /// What it is for.
    pub name: String,
    /// SHA-256 of the secret: the signing key.
    pub key: TokenHash,
    /// Who creates it.
    pub created_by: String,
}

/// Storage of signed API clients.
pub trait ClientStore: Send + Sync {
    /// Stores a new client.
    fn add_client(&self, client: NewApiClient) -> BoxFuture<'_, Result<ApiClient, StoreError>>;
    /// A client and its signing key, revoked ones included.
    fn client(
        &self,
        client_id: &str,
    ) -> BoxFuture<'_, Result<Option<(ApiClient, TokenHash)>, StoreError>>;
    /// Every client, oldest first.
    fn clients(&self) -> BoxFuture<'_, Result<Vec<ApiClient>, StoreError>>;
    /// Revokes a client; `false` when unknown or revoked already.
    fn revoke_client(&self, client_id: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Spends a token request's nonce, atomically: `true` when it was not
    /// spent before. It is remembered for `keep_ms` (longer than the
    /// timestamps accepted), and the client's expired nonces are forgotten.
    fn spend_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        keep_ms: u64,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Subscribes a client to a device's live topic (idempotent).
    fn subscribe(&self, client_id: &str, device: &str) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The devices a client subscribed to, by id.
    fn subscriptions(&self, client_id: &str) -> BoxFuture<'_, Result<Vec<String>, StoreError>>;
}
