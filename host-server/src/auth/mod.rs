//! Who is calling: users (access tokens), machine clients (API keys) and the
//! break-glass admin token, and what each may do.
//!
//! The break-glass token (`--admin-token`) predates users: it still grants
//! admin rights, for recovery when no admin can log in. Prefer users and API
//! keys; its every use is logged.

pub mod clients;
pub mod jwt;
pub mod login_limit;
pub mod opaque;
pub mod password;
pub mod signed;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::now_ms;
use crate::store::Store;
use crate::store::access::{KeyUse, Role, Scope};

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any read of `/api/v1`.
    Read,
    /// Device, user, key and rule management.
    Admin,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A logged-in user.
    User {
        /// User id.
        id: i64,
        /// Login name.
        name: String,
        /// Current role.
        role: Role,
    },
    /// A machine client.
    ApiKey {
        /// Key id.
        id: i64,
        /// The key's name.
        name: String,
        /// Its scope.
        scope: Scope,
    },
    /// A signed API client (its 24-hour token).
    Client {
        /// The public client id.
        client_id: String,
        /// The client's name.
        name: String,
    },
    /// The `--admin-token` holder.
    BreakGlass,
}

impl Principal {
    /// Whether this caller may do what `access` needs.
    pub fn may(&self, access: Access) -> bool {
        match (self, access) {
            (_, Access::Read) | (Self::BreakGlass, _) => true,
            (Self::User { role, .. }, Access::Admin) => *role == Role::Admin,
            (Self::ApiKey { scope, .. }, Access::Admin) => *scope == Scope::Admin,
            (Self::Client { .. }, Access::Admin) => false,
        }
    }

    /// Who this is, for logs and records.
    pub fn label(&self) -> String {
        match self {
            Self::User { name, .. } => format!("user:{name}"),
            Self::ApiKey { name, id, .. } => format!("key:{id}:{name}"),
            Self::Client { client_id, .. } => format!("client:{client_id}"),
            Self::BreakGlass => "admin-token".into(),
        }
    }
}

/// Why a caller is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials.
    Missing,
    /// An access token that expired: refresh it.
    Expired,
    /// Bad, forged, revoked or expired credentials.
    Invalid,
    /// The store could not be read.
    Unavailable,
}

/// Credentials taken from a request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Credentials<'a> {
    /// `Authorization: Bearer …` (or a WebSocket `token` parameter).
    pub bearer: Option<&'a str>,
    /// `X-API-Key: …`.
    pub api_key: Option<&'a str>,
}

/// The access layer's state.
pub struct Auth {
    /// Signs and checks access tokens.
    pub signer: jwt::Signer,
    /// Login attempt limits (`None`: off).
    pub logins: Option<login_limit::LoginLimiter>,
    break_glass: Option<String>,
    key_uses: Mutex<HashMap<i64, KeyUse>>,
}

impl Auth {
    /// The access layer with a signing secret, login limits and an optional
    /// break-glass token.
    pub fn new(secret: &[u8], login_rate: u32, break_glass: Option<String>) -> Self {
        Self {
            signer: jwt::Signer::new(secret),
            logins: login_limit::LoginLimiter::new(login_rate),
            break_glass: break_glass.filter(|t| !t.is_empty()),
            key_uses: Mutex::new(HashMap::new()),
        }
    }

    /// Identifies the caller. Every credential presented must be valid: a
    /// bad access token is refused even next to a good API key (and the
    /// other way round). When both are valid, the API key names the caller.
    ///
    /// # Errors
    /// See [`AuthError`].
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        credentials: Credentials<'_>,
    ) -> Result<Principal, AuthError> {
        let by_token = match credentials.bearer {
            Some(token) => Some(self.token(store, token).await?),
            None => None,
        };
        let by_key = match credentials.api_key {
            Some(key) => Some(self.api_key(store, key).await?),
            None => None,
        };
        by_key.or(by_token).ok_or(AuthError::Missing)
    }

    async fn token(&self, store: &dyn Store, token: &str) -> Result<Principal, AuthError> {
        if let Some(admin) = &self.break_glass
            && constant_time_eq(token.as_bytes(), admin.as_bytes())
        {
            tracing::warn!("admin API used with the break-glass --admin-token");
            return Ok(Principal::BreakGlass);
        }
        let claims = self.signer.verify(token).map_err(|e| match e {
            jwt::TokenError::Expired => AuthError::Expired,
            jwt::TokenError::Invalid => AuthError::Invalid,
        })?;
        if let Some(client_id) = claims.client() {
            return client(store, client_id).await;
        }
        let (id, _) = claims.subject().ok_or(AuthError::Invalid)?;
        // The user is read each time, so deleting a user or changing a role
        // takes effect at once rather than when the token expires.
        let user = store
            .user(id)
            .await
            .map_err(|_| AuthError::Unavailable)?
            .ok_or(AuthError::Invalid)?;
        Ok(Principal::User {
            id: user.id,
            name: user.name,
            role: user.role,
        })
    }

    async fn api_key(&self, store: &dyn Store, key: &str) -> Result<Principal, AuthError> {
        if key.len() > opaque::MAX_LEN || !key.starts_with(opaque::API_KEY_PREFIX) {
            return Err(AuthError::Invalid);
        }
        let record = store
            .api_key(opaque::digest(key))
            .await
            .map_err(|_| AuthError::Unavailable)?
            .ok_or(AuthError::Invalid)?;
        let now = now_ms();
        if record.revoked_ms.is_some() || record.expires_ms.is_some_and(|e| e <= now) {
            return Err(AuthError::Invalid);
        }
        if let Ok(mut uses) = self.key_uses.lock() {
            let entry = uses.entry(record.id).or_insert(KeyUse {
                id: record.id,
                uses: 0,
                last_used_ms: now,
            });
            entry.uses += 1;
            entry.last_used_ms = now;
        }
        Ok(Principal::ApiKey {
            id: record.id,
            name: record.name,
            scope: record.scope,
        })
    }

    /// Writes the API key uses counted since the last call.
    pub async fn flush_key_uses(&self, store: &dyn Store) {
        let uses: Vec<KeyUse> = match self.key_uses.lock() {
            Ok(mut uses) => uses.drain().map(|(_, u)| u).collect(),
            Err(_) => return,
        };
        if !uses.is_empty()
            && let Err(e) = store.record_key_uses(uses).await
        {
            tracing::warn!(error = %e, "API key use counts not saved");
        }
    }
}

/// The signed client a token names, read each time so a revocation takes
/// effect at once.
async fn client(store: &dyn Store, client_id: &str) -> Result<Principal, AuthError> {
    let (record, _) = store
        .client(client_id)
        .await
        .map_err(|_| AuthError::Unavailable)?
        .ok_or(AuthError::Invalid)?;
    if record.revoked_ms.is_some() {
        return Err(AuthError::Invalid);
    }
    Ok(Principal::Client {
        client_id: record.client_id,
        name: record.name,
    })
}

/// Saves API key use counts every few seconds and trims the login limiters.
pub async fn upkeep(auth: Arc<Auth>, store: Arc<dyn Store>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    for round in 0u64.. {
        ticker.tick().await;
        auth.flush_key_uses(store.as_ref()).await;
        if round % 12 == 0
            && let Some(logins) = &auth.logins
        {
            logins.prune(std::time::Instant::now());
        }
    }
}

/// Longest user name.
pub const MAX_USER_NAME: usize = 64;

/// Checks a user name: 1–64 characters of `A–Z a–z 0–9 _ . @ -`.
///
/// # Errors
/// A message for people.
pub fn check_user_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-');
    if name.is_empty() || name.len() > MAX_USER_NAME || !name.chars().all(allowed) {
        return Err(format!(
            "a user name is 1 to {MAX_USER_NAME} characters of A-Z a-z 0-9 _ . @ -"
        ));
    }
    Ok(())
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_scopes_decide_access() {
        let viewer = Principal::User {
            id: 1,
            name: "v".into(),
            role: Role::Viewer,
        };
        let reader = Principal::ApiKey {
            id: 1,
            name: "k".into(),
            scope: Scope::Read,
        };
        let admin_key = Principal::ApiKey {
            id: 2,
            name: "k".into(),
            scope: Scope::Admin,
        };
        assert!(viewer.may(Access::Read) && !viewer.may(Access::Admin));
        assert!(reader.may(Access::Read) && !reader.may(Access::Admin));
        assert!(admin_key.may(Access::Admin));
        assert!(Principal::BreakGlass.may(Access::Admin));
        let client = Principal::Client {
            client_id: "swc_a".into(),
            name: "c".into(),
        };
        assert!(client.may(Access::Read) && !client.may(Access::Admin));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc"));
    }
}
