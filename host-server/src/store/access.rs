//! Users, refresh tokens and API keys: what the access layer stores.
//!
//! Secrets never reach the store in clear: passwords arrive as argon2id PHC
//! strings, refresh tokens and API keys as SHA-256 digests of 256-bit
//! random values (a fast hash is enough for values that cannot be guessed).

use futures_util::future::BoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users, keys and devices.
    Admin,
    /// Reading only.
    Viewer,
}

impl Role {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    /// Parses `admin` or `viewer`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Self::Admin),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    /// Row id (the token subject).
    pub id: i64,
    /// Login name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created, Unix ms.
    pub created_ms: u64,
}

/// A SHA-256 digest of a secret token.
pub type TokenHash = [u8; 32];

/// A refresh token to store.
#[derive(Debug, Clone)]
pub struct NewRefresh {
    /// The user it belongs to.
    pub user: i64,
    /// The login it descends from.
    pub family: String,
    /// Digest of the token.
    pub hash: TokenHash,
    /// Issue time, Unix ms.
    pub created_ms: u64,
    /// Expiry, Unix ms.
    pub expires_ms: u64,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Valid: it is now spent and its successor is stored.
    Rotated(User),
    /// It had been spent already: its whole family is now revoked.
    Reused,
    /// Unknown, revoked or expired.
    Invalid,
}

/// A stored refresh token as the reuse rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshState {
    /// Expiry, Unix ms.
    pub expires_ms: u64,
    /// Whether it was exchanged already.
    pub spent: bool,
    /// Whether its family was revoked.
    pub revoked: bool,
}

/// What presenting a refresh token leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// Spend it and issue its successor in the same family.
    Rotate,
    /// A spent token came back: someone holds a copy, so end the whole login.
    RevokeFamily,
    /// Unknown, revoked or expired: refuse, change nothing.
    Refuse,
}

/// The refresh-token rule, the same for every backend: a token is good once,
/// before it expires; presenting it again revokes its family.
pub fn judge_refresh(token: Option<&RefreshState>, now_ms: u64) -> RefreshVerdict {
    match token {
        None => RefreshVerdict::Refuse,
        Some(t) if t.spent => RefreshVerdict::RevokeFamily,
        Some(t) if t.revoked || t.expires_ms <= now_ms => RefreshVerdict::Refuse,
        Some(_) => RefreshVerdict::Rotate,
    }
}

/// Who may use an API key for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every read.
    Read,
    /// Reads and administration.
    Admin,
}

impl Scope {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }

    /// Parses `read` or `admin`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// An API key's record (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiKey {
    /// Row id.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scope: Scope,
    /// The admin who created it.
    pub created_by: String,
    /// Creation time, Unix ms.
    pub created_ms: u64,
    /// Expiry, Unix ms (`None`: never).
    pub expires_ms: Option<u64>,
    /// When it was revoked.
    pub revoked_ms: Option<u64>,
    /// Last use, Unix ms.
    pub last_used_ms: Option<u64>,
    /// Requests made with it.
    pub uses: u64,
}

/// An API key to store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// What it is for.
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    /// Digest of the key.
    pub hash: TokenHash,
    /// What it may do.
    pub scope: Scope,
    /// The admin creating it.
    pub created_by: String,
    /// Expiry, Unix ms.
    pub expires_ms: Option<u64>,
}

/// Uses of one API key since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse {
    /// The key.
    pub id: i64,
    /// Requests made.
    pub uses: u64,
    /// The latest, Unix ms.
    pub last_used_ms: u64,
}

/// Storage of accounts and credentials.
pub trait AccessStore: Send + Sync {
    /// Adds a user; `None` when the name is taken.
    fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: String,
    ) -> BoxFuture<'_, Result<Option<User>, StoreError>>;
    /// A user with its password hash, by name.
    fn user_login(&self, name: &str) -> BoxFuture<'_, Result<Option<(User, String)>, StoreError>>;
    /// A user by id.
    fn user(&self, id: i64) -> BoxFuture<'_, Result<Option<User>, StoreError>>;
    /// Every user, by name.
    fn users(&self) -> BoxFuture<'_, Result<Vec<User>, StoreError>>;
    /// Replaces a password and ends the user's sessions; `false` when unknown.
    fn set_password(
        &self,
        name: &str,
        password_hash: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Deletes a user and their sessions; `false` when unknown.
    fn remove_user(&self, name: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Stores a refresh token.
    fn add_refresh(&self, token: NewRefresh) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Spends `presented` and stores `next` in its family, atomically.
    fn rotate_refresh(
        &self,
        presented: TokenHash,
        next: NewRefresh,
    ) -> BoxFuture<'_, Result<RefreshOutcome, StoreError>>;
    /// Revokes the family of a refresh token (logout); `false` when unknown.
    fn revoke_refresh(&self, presented: TokenHash) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Stores a new API key.
    fn add_api_key(&self, key: NewApiKey) -> BoxFuture<'_, Result<ApiKey, StoreError>>;
    /// The key with this digest, if any (revoked and expired ones included).
    fn api_key(&self, hash: TokenHash) -> BoxFuture<'_, Result<Option<ApiKey>, StoreError>>;
    /// Every API key.
    fn api_keys(&self) -> BoxFuture<'_, Result<Vec<ApiKey>, StoreError>>;
    /// Revokes a key; `false` when unknown.
    fn revoke_api_key(&self, id: i64) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Adds up key uses counted in memory.
    fn record_key_uses(&self, uses: Vec<KeyUse>) -> BoxFuture<'_, Result<(), StoreError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_token_is_good_once_before_it_expires() {
        let fresh = RefreshState {
            expires_ms: 100,
            spent: false,
            revoked: false,
        };
        assert_eq!(judge_refresh(Some(&fresh), 99), RefreshVerdict::Rotate);
        assert_eq!(judge_refresh(Some(&fresh), 100), RefreshVerdict::Refuse);
        assert_eq!(judge_refresh(None, 0), RefreshVerdict::Refuse);
        let spent = RefreshState {
            spent: true,
            ..fresh
        };
        assert_eq!(judge_refresh(Some(&spent), 0), RefreshVerdict::RevokeFamily);
        // Reuse is reuse even after expiry or revocation: the copy is the alarm.
        let spent_revoked = RefreshState {
            revoked: true,
            ..spent
        };
        assert_eq!(
            judge_refresh(Some(&spent_revoked), 500),
            RefreshVerdict::RevokeFamily
        );
        let revoked = RefreshState {
            revoked: true,
            ..fresh
        };
        assert_eq!(judge_refresh(Some(&revoked), 0), RefreshVerdict::Refuse);
    }
}
