//! Argon2id password hashes (PHC strings), computed on the blocking pool:
//! one hash costs tens of milliseconds of CPU, which would stall an async
//! worker on a two-core machine.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Shortest password accepted.
pub const MIN_LEN: usize = 10;
/// Longest password accepted (hashing cost grows with length).
pub const MAX_LEN: usize = 1024;

/// Checks a new password's length.
///
/// # Errors
/// A message for people.
pub fn check(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN || password.len() > MAX_LEN {
        return Err(format!(
            "a password is {MIN_LEN} to {MAX_LEN} characters long"
        ));
    }
    Ok(())
}

fn hash_now(password: &[u8]) -> Result<String, String> {
    Argon2::default()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Hashes a password with a fresh salt (argon2id, default parameters).
///
/// # Errors
/// When hashing fails or the blocking pool is gone.
pub async fn hash(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash_now(password.as_bytes()))
        .await
        .map_err(|e| format!("hashing task failed: {e}"))?
}

/// Hashes a password on the calling thread (the command line).
///
/// # Errors
/// When hashing fails.
pub fn hash_blocking(password: &str) -> Result<String, String> {
    hash_now(password.as_bytes())
}

/// A hash of a random password, verified against when the account does not
/// exist, so a login takes as long for an unknown name as for a wrong password.
static DECOY: LazyLock<Option<String>> = LazyLock::new(|| {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).ok()?;
    hash_now(&random).ok()
});

/// Whether `password` matches `phc` (`None`: the account does not exist).
pub async fn verify(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let Some(phc) = phc.or_else(|| DECOY.clone()) else {
            return false;
        };
        let matches = PasswordHash::new(&phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        known && matches
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let a = hash("correct horse battery".into()).await.unwrap();
        let b = hash("correct horse battery".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery".into(), Some(a.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(a)).await);
        assert!(!verify("anything at all".into(), None).await);
        assert!(check("short").is_err());
        assert!(check("long enough!").is_ok());
    }
}
