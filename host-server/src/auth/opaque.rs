//! Opaque secrets (refresh tokens, API keys): 256 random bits, shown once,
//! stored only as a SHA-256 digest.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::store::access::TokenHash;

/// Prefix of API keys (`swk_…`), so leaked keys are easy to recognise.
pub const API_KEY_PREFIX: &str = "swk_";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "swr_";
/// Longest opaque token accepted as input.
pub const MAX_LEN: usize = 128;

/// A new secret with `prefix`, and its digest.
///
/// # Errors
/// When the OS has no randomness to give.
pub fn generate(prefix: &str) -> Result<(String, TokenHash), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = digest(&token);
    Ok((token, hash))
}

/// A random 128-bit identifier (hex), e.g. of a login's token family.
///
/// # Errors
/// When the OS has no randomness to give.
pub fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// The stored digest of a presented secret.
pub fn digest(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let (a, ha) = generate(API_KEY_PREFIX).unwrap();
        let (b, _) = generate(API_KEY_PREFIX).unwrap();
        assert!(a.starts_with("swk_") && a.len() == 4 + 43);
        assert_ne!(a, b);
        assert_eq!(digest(&a), ha);
    }
}
