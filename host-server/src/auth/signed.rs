//! Signed client credentials: a client proves it holds its secret by an
//! HMAC-SHA256 over a canonical string of its id, a timestamp and a nonce,
//! and gets a 24-hour access token for it (`GET /comm/client`).
//!
//! ```text
//! key       = SHA-256(client_secret)                      (32 bytes; what the store keeps)
//! canonical = "solarwire-client-v1\n" client_id "\n" timestamp "\n" nonce
//! signature = base64(HMAC-SHA256(key, canonical))          (standard alphabet, padded)
//! ```
//!
//! sent as `X-Client-Id`, `X-Timestamp` (Unix seconds), `X-Nonce` (16 to 64
//! of `A-Z a-z 0-9 - _`) and `X-Signature`. The server checks the shape of
//! every header, then the MAC (constant time), then that the timestamp is
//! within [`WINDOW_S`] of its clock, then spends the nonce (once per client,
//! atomically in the store).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::store::access::TokenHash;

/// Prefix of client ids (`swc_…`), so they are easy to recognise.
pub const CLIENT_ID_PREFIX: &str = "swc_";
/// Prefix of client secrets (`sws_…`).
pub const SECRET_PREFIX: &str = "sws_";
/// Timestamps further than this from the server's clock are stale, seconds.
pub const WINDOW_S: u64 = 300;
/// How long a spent nonce is remembered: longer than any timestamp is accepted.
pub const NONCE_KEEP_MS: u64 = (2 * WINDOW_S + 60) * 1000;
/// Lifetime of a client's access token, seconds.
pub const TOKEN_TTL_S: u64 = 24 * 3600;
/// The version tag that starts every canonical string.
const TAG: &str = "solarwire-client-v1";
/// Longest client id accepted.
const MAX_CLIENT_ID: usize = 64;
/// Nonce length bounds.
const NONCE_LEN: std::ops::RangeInclusive<usize> = 16..=64;
/// Length of a base64 HMAC-SHA256.
const SIGNATURE_LEN: usize = 44;

/// A token request's headers, checked for shape only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The client.
    pub client_id: String,
    /// Unix seconds.
    pub timestamp: u64,
    /// Single-use value.
    pub nonce: String,
    /// The MAC.
    signature: [u8; 32],
}

/// Why a token request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedError {
    /// A header is missing or malformed.
    Malformed(&'static str),
    /// Unknown or revoked client, or a wrong signature.
    Unauthenticated,
    /// The timestamp is outside the window.
    Stale,
    /// The nonce was used before.
    Replayed,
}

/// The string a client signs.
pub fn canonical(client_id: &str, timestamp: u64, nonce: &str) -> String {
    format!("{TAG}\n{client_id}\n{timestamp}\n{nonce}")
}

/// The signing key of a secret: its SHA-256.
pub fn key_of(secret: &str) -> TokenHash {
    super::opaque::digest(secret)
}

/// The base64 signature of a request (what a client sends).
pub fn sign(key: &TokenHash, client_id: &str, timestamp: u64, nonce: &str) -> String {
    STANDARD.encode(
        mac(key, client_id, timestamp, nonce)
            .finalize()
            .into_bytes(),
    )
}

fn mac(key: &TokenHash, client_id: &str, timestamp: u64, nonce: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(canonical(client_id, timestamp, nonce).as_bytes());
    mac
}

/// Whether a client id has the shape of one.
pub fn is_client_id(text: &str) -> bool {
    text.len() <= MAX_CLIENT_ID
        && text.starts_with(CLIENT_ID_PREFIX)
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl SignedRequest {
    /// Reads the four headers (by name, via `header`), checking their shape.
    ///
    /// # Errors
    /// [`SignedError::Malformed`] naming the header.
    pub fn parse<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Result<Self, SignedError> {
        let client_id = header("x-client-id")
            .filter(|v| is_client_id(v))
            .ok_or(SignedError::Malformed("X-Client-Id"))?;
        let timestamp = header("x-timestamp")
            .filter(|v| (1..=12).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .ok_or(SignedError::Malformed("X-Timestamp"))?;
        let nonce = header("x-nonce")
            .filter(|v| {
                NONCE_LEN.contains(&v.len())
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
            .ok_or(SignedError::Malformed("X-Nonce"))?;
        let signature = header("x-signature")
            .filter(|v| v.len() == SIGNATURE_LEN)
            .and_then(|v| STANDARD.decode(v).ok())
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or(SignedError::Malformed("X-Signature"))?;
        Ok(Self {
            client_id: client_id.to_owned(),
            timestamp,
            nonce: nonce.to_owned(),
            signature,
        })
    }

    /// Checks the MAC under `key` (constant time), then the timestamp against `now_s`.
    ///
    /// # Errors
    /// [`SignedError::Unauthenticated`] or [`SignedError::Stale`].
    pub fn verify(&self, key: &TokenHash, now_s: u64) -> Result<(), SignedError> {
        mac(key, &self.client_id, self.timestamp, &self.nonce)
            .verify_slice(&self.signature)
            .map_err(|_| SignedError::Unauthenticated)?;
        if self.timestamp.abs_diff(now_s) > WINDOW_S {
            return Err(SignedError::Stale);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn signed_requests_verify_and_forgeries_fail() {
        let key = key_of("sws_secret");
        let (id, nonce) = ("swc_abc", "0123456789abcdef");
        let sig = sign(&key, id, 1000, nonce);
        let ts = "1000".to_owned();
        let good = [
            ("x-client-id", id),
            ("x-timestamp", ts.as_str()),
            ("x-nonce", nonce),
            ("x-signature", sig.as_str()),
        ];
        let request = SignedRequest::parse(headers(&good)).unwrap();
        assert_eq!(request.verify(&key, 1000 + WINDOW_S), Ok(()));
        assert_eq!(
            request.verify(&key, 1001 + WINDOW_S),
            Err(SignedError::Stale)
        );
        assert_eq!(
            request.verify(&key_of("sws_other"), 1000),
            Err(SignedError::Unauthenticated)
        );
        // Each header's shape is checked, and named.
        for (at, value, named) in [
            (0, "abc", "X-Client-Id"),
            (1, "-5", "X-Timestamp"),
            (2, "short", "X-Nonce"),
            (2, "0123456789abcde!", "X-Nonce"),
            (3, "AAAA", "X-Signature"),
        ] {
            let mut bad = good;
            bad[at].1 = value;
            assert_eq!(
                SignedRequest::parse(headers(&bad)),
                Err(SignedError::Malformed(named))
            );
        }
        // A signature over another nonce does not verify.
        let other = sign(&key, id, 1000, "fedcba9876543210");
        let mut swapped = good;
        swapped[3].1 = &other;
        let request = SignedRequest::parse(headers(&swapped)).unwrap();
        assert_eq!(
            request.verify(&key, 1000),
            Err(SignedError::Unauthenticated)
        );
    }

    #[test]
    fn the_canonical_string_is_documented() {
        assert_eq!(
            canonical("swc_a", 17, "n"),
            "solarwire-client-v1\nswc_a\n17\nn"
        );
    }
}
