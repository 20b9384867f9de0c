//! Access tokens: HS256 JWTs, 30 minutes, with issuer and audience checked.
//!
//! The signing secret comes from the configuration or is generated on first
//! start and kept in the data directory with owner-only permissions; there is
//! no built-in default.

use std::path::Path;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::store::access::{Role, User};

/// Lifetime of an access token.
pub const ACCESS_TTL_S: u64 = 30 * 60;
/// The `iss` and `aud` of our tokens.
const ISSUER: &str = "solarwire";
const AUDIENCE: &str = "solarwire-api";
/// Clock skew tolerated on `exp`.
const LEEWAY_S: u64 = 30;
/// Shortest configured secret.
const MIN_SECRET: usize = 32;
/// Longest token accepted as input.
pub const MAX_TOKEN_LEN: usize = 4096;
/// The `role` claim of tokens issued to signed API clients.
const CLIENT_ROLE: &str = "client";
/// File holding a generated secret.
const SECRET_FILE: &str = "jwt-secret";

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user name.
    pub name: String,
    /// The role when issued.
    pub role: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Valid once, now expired.
    Expired,
    /// Forged, malformed, wrong algorithm, issuer or audience.
    Invalid,
}

/// Signs and checks access tokens.
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    /// A signer over `secret`.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_S;
        // A token is not valid before its `nbf` (jsonwebtoken skips it by default).
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `user`, issued at `now_s`.
    ///
    /// # Errors
    /// When signing fails (it does not for HS256).
    pub fn issue(&self, user: &User, now_s: u64) -> Result<String, String> {
        let name = user.name.clone();
        let role = user.role.as_str();
        self.sign(user.id.to_string(), name, role, now_s, ACCESS_TTL_S)
    }

    /// A token for a signed API client, issued at `now_s`, valid `ttl_s`.
    ///
    /// # Errors
    /// When signing fails (it does not for HS256).
    pub fn issue_client(
        &self,
        client_id: &str,
        name: &str,
        now_s: u64,
        ttl_s: u64,
    ) -> Result<String, String> {
        self.sign(
            client_id.to_owned(),
            name.to_owned(),
            CLIENT_ROLE,
            now_s,
            ttl_s,
        )
    }

    fn sign(
        &self,
        sub: String,
        name: String,
        role: &str,
        now_s: u64,
        ttl_s: u64,
    ) -> Result<String, String> {
        let claims = Claims {
            sub,
            name,
            role: role.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now_s,
            exp: now_s + ttl_s,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("cannot sign a token: {e}"))
    }

    /// The claims of a valid token.
    ///
    /// # Errors
    /// [`TokenError::Expired`] or [`TokenError::Invalid`].
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

impl Claims {
    /// The user id and role the token was issued for.
    pub fn subject(&self) -> Option<(i64, Role)> {
        Some((self.sub.parse().ok()?, Role::parse(&self.role)?))
    }

    /// The client id, when the token was issued to a signed API client.
    pub fn client(&self) -> Option<&str> {
        (self.role == CLIENT_ROLE).then_some(self.sub.as_str())
    }
}

/// The configured secret, or the one kept in `data_dir` (created on first use).
///
/// # Errors
/// A message for people: a short secret, an unreadable or unwritable file.
pub fn load_secret(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, String> {
    if let Some(secret) = configured {
        if secret.len() < MIN_SECRET {
            return Err(format!(
                "--jwt-secret must be at least {MIN_SECRET} characters"
            ));
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret =
                hex::decode(text.trim()).map_err(|_| format!("{} is not hex", path.display()))?;
            if secret.len() < MIN_SECRET {
                return Err(format!(
                    "{} holds a secret that is too short",
                    path.display()
                ));
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_secret(&path),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn create_secret(path: &Path) -> Result<Vec<u8>, String> {
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| format!("no OS randomness: {e}"))?;
    crate::private_file::write_new(path, hex::encode(&secret).as_bytes())?;
    tracing::info!(path = %path.display(), "generated the token signing secret");
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: 7,
            name: "ada".into(),
            role: Role::Admin,
            created_ms: 0,
        }
    }

    #[test]
    fn tokens_round_trip_and_forgeries_fail() {
        let signer = Signer::new(&[1; 32]);
        let now = jsonwebtoken::get_current_timestamp();
        let token = signer.issue(&user(), now).unwrap();
        let claims = signer.verify(&token).unwrap();
        assert_eq!(claims.subject(), Some((7, Role::Admin)));
        assert_eq!(claims.exp - claims.iat, ACCESS_TTL_S);
        let other = Signer::new(&[2; 32]);
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
        let expired = signer.issue(&user(), now - ACCESS_TTL_S - 120).unwrap();
        assert_eq!(signer.verify(&expired), Err(TokenError::Expired));
        // Within the leeway an expired token still passes.
        let recent = signer.issue(&user(), now - ACCESS_TTL_S - 5).unwrap();
        assert!(signer.verify(&recent).is_ok());
        // alg=none and garbage are refused.
        let header = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"none","typ":"JWT"}"#,
        );
        let body = token.split('.').nth(1).unwrap();
        assert_eq!(
            signer.verify(&format!("{header}.{body}.")),
            Err(TokenError::Invalid)
        );
        assert_eq!(signer.verify("x.y.z"), Err(TokenError::Invalid));
    }

    #[test]
    fn secrets_are_generated_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_secret(None, dir.path()).unwrap();
        let b = load_secret(None, dir.path()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(load_secret(Some("short"), dir.path()).is_err());
        assert_eq!(
            load_secret(Some(&"k".repeat(32)), dir.path()).unwrap(),
            vec![b'k'; 32]
        );
    }
}
