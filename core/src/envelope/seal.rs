//! Sealing: the device side of the envelope, byte-identical to the firmware.

use alloc::format;
use alloc::string::String;

use super::{EnvelopeError, Keys, Nonce};
use crate::{hex, text};

/// How to seal a payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealOptions {
    /// Encrypt with the AES key and its static IV (the firmware never does).
    pub encrypt: bool,
    /// Flag the payload as raw binary rather than UTF-8 text.
    pub compressed: bool,
}

/// A sealed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The envelope text exactly as the device posts it (compact, device field order).
    pub envelope: String,
    /// The MAC as 64 lowercase hex digits.
    pub mac_hex: String,
    /// The payload field: base64 of the plaintext or ciphertext.
    pub payload_b64: String,
}

/// Seals `payload` under `nonce` as the device does.
///
/// # Errors
/// `missing_key` when encryption is asked for without an AES key;
/// `malformed` when a text payload (`compressed` false) is not UTF-8.
pub fn seal(
    payload: &[u8],
    nonce: Nonce,
    keys: &Keys,
    opts: SealOptions,
) -> Result<Sealed, EnvelopeError> {
    if !opts.compressed && text::utf8(payload).is_none() {
        return Err(EnvelopeError::Malformed {
            field: "payload (not UTF-8 text)",
        });
    }
    let mac_hex = hex::encode(&keys.tag(nonce, payload).0);
    let payload_b64 = if opts.encrypt {
        text::base64_encode(&keys.encrypt(payload)?)
    } else {
        text::base64_encode(payload)
    };
    let envelope = format!(
        r#"{{"nonce":{},"payload":"{}","mac":"{}","encrypted":{},"compressed":{}}}"#,
        nonce.0, payload_b64, mac_hex, opts.encrypt, opts.compressed
    );
    Ok(Sealed {
        envelope,
        mac_hex,
        payload_b64,
    })
}
