//! The security envelope of device uploads (spec §1).
//!
//! `{"nonce":N,"payload":"<base64>","mac":"<64 lowercase hex>","encrypted":false,"compressed":false}`
//! with `mac = HMAC-SHA256(K, nonce_be32 ‖ plaintext)`. Opening is staged so
//! the order of checks is fixed: [`Envelope::parse`] (structure only), then
//! [`Envelope::open`] (decrypt if flagged, then the MAC in constant time).
//! The replay decision comes after, in [`crate::replay`].

mod crypto;
mod error;
mod scan;
mod seal;

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;

pub use crypto::{FIRMWARE_IV, Keys};
pub use error::EnvelopeError;
pub use seal::{SealOptions, Sealed, seal};

use crate::{hex, text};

/// An HMAC-SHA256 tag.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MacTag(pub [u8; 32]);

impl fmt::Debug for MacTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacTag(")?;
        for b in self.0.iter().take(4) {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

/// The per-device message counter (u32, strictly increasing, spec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Nonce(pub u32);

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A structurally valid envelope; nothing in it is authenticated yet.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    nonce: Nonce,
    /// The base64-decoded payload: ciphertext when `encrypted`.
    body: Vec<u8>,
    mac: MacTag,
    encrypted: bool,
    compressed: bool,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("nonce", &self.nonce)
            .field("body_len", &self.body.len())
            .field("encrypted", &self.encrypted)
            .field("compressed", &self.compressed)
            .finish_non_exhaustive()
    }
}

/// The envelope's JSON fields; unknown fields are ignored (the MAC does not
/// cover them either), duplicate fields are rejected by serde.
#[derive(Deserialize)]
struct Wire<'a> {
    nonce: Option<u32>,
    #[serde(borrow)]
    payload: Option<Cow<'a, str>>,
    #[serde(borrow)]
    mac: Option<Cow<'a, str>>,
    encrypted: Option<bool>,
    compressed: Option<bool>,
}

/// An envelope whose MAC has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The envelope's nonce.
    pub nonce: Nonce,
    /// The verified tag (kept to recognise an identical resend).
    pub mac: MacTag,
    /// The plaintext payload bytes (the upload JSON for device uploads).
    pub payload: Vec<u8>,
    /// Whether the payload travelled encrypted.
    pub encrypted: bool,
    /// Whether the payload is raw binary rather than UTF-8 text.
    pub compressed: bool,
}

impl Envelope {
    /// Parses the envelope's structure: JSON shape, base64, MAC text.
    ///
    /// # Errors
    /// `malformed` (not a JSON object, a field missing or of the wrong type,
    /// a nonce outside u32, a plaintext payload that is not UTF-8 while
    /// `compressed` is false), `bad_base64` (not strict padded RFC 4648),
    /// `bad_mac_encoding` (not exactly 64 lowercase hex digits).
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        match scan::device_form(bytes).and_then(Self::from_device_form) {
            Some(envelope) => envelope.checked(),
            None => Self::from_json(bytes)?.checked(),
        }
    }

    /// Refuses a plaintext payload that is not the text it claims to be.
    fn checked(self) -> Result<Self, EnvelopeError> {
        let envelope = self;
        if !envelope.encrypted && !envelope.compressed && text::utf8(&envelope.body).is_none() {
            return Err(EnvelopeError::Malformed {
                field: "payload (not UTF-8 text)",
            });
        }
        Ok(envelope)
    }

    /// The device's form, when its base64 and MAC text are valid too;
    /// `None` leaves the input (and the choice of error) to [`Self::from_json`].
    fn from_device_form(form: scan::DeviceForm<'_>) -> Option<Self> {
        Some(Self {
            nonce: Nonce(form.nonce),
            body: text::base64_decode(form.payload)?,
            mac: parse_mac(core::str::from_utf8(form.mac).ok()?).ok()?,
            encrypted: form.encrypted,
            compressed: form.compressed,
        })
    }

    /// Any JSON form of the envelope (fields in any order, whitespace,
    /// escapes, unknown fields), through serde.
    fn from_json(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        // Validated once here, so serde reads every string without re-checking.
        let wire: Wire<'_> = text::utf8(bytes)
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or(EnvelopeError::Malformed { field: "json" })?;
        let nonce = Nonce(
            wire.nonce
                .ok_or(EnvelopeError::Malformed { field: "nonce" })?,
        );
        let payload = wire
            .payload
            .ok_or(EnvelopeError::Malformed { field: "payload" })?;
        let mac = wire.mac.ok_or(EnvelopeError::Malformed { field: "mac" })?;
        let encrypted = wire.encrypted.unwrap_or(false);
        let compressed = wire.compressed.unwrap_or(false);
        let body = text::base64_decode(payload.as_bytes()).ok_or(EnvelopeError::BadBase64)?;
        let mac = parse_mac(&mac)?;
        Ok(Self {
            nonce,
            body,
            mac,
            encrypted,
            compressed,
        })
    }

    /// The nonce as sent (not yet authenticated).
    pub fn nonce(&self) -> Nonce {
        self.nonce
    }

    /// Whether the payload is flagged as encrypted.
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }

    /// Whether the payload is flagged as raw binary.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// The payload as sent when it is not encrypted. Not authenticated: for
    /// display only (the inspector without a key).
    pub fn unverified_plaintext(&self) -> Option<&[u8]> {
        (!self.encrypted).then_some(self.body.as_slice())
    }

    /// The tag as sent (not yet verified).
    pub fn mac(&self) -> &MacTag {
        &self.mac
    }

    /// Decrypts if flagged, then verifies the MAC in constant time.
    ///
    /// The firmware's MAC covers the plaintext (MAC-then-encrypt), so an
    /// encrypted payload must be decrypted first; hosts should report a
    /// padding failure and a MAC failure alike to the outside.
    ///
    /// # Errors
    /// `missing_key` (encrypted but no AES key), `decrypt_failed` (not whole
    /// blocks, or bad PKCS#7 padding), `mac_mismatch`, and `malformed` when a
    /// decrypted text payload is not UTF-8.
    pub fn open(self, keys: &Keys) -> Result<Verified, EnvelopeError> {
        let payload = if self.encrypted {
            keys.decrypt(&self.body)?
        } else {
            self.body
        };
        keys.verify(self.nonce, &payload, &self.mac)?;
        if self.encrypted && !self.compressed && text::utf8(&payload).is_none() {
            return Err(EnvelopeError::Malformed {
                field: "payload (not UTF-8 text)",
            });
        }
        Ok(Verified {
            nonce: self.nonce,
            mac: self.mac,
            payload,
            encrypted: self.encrypted,
            compressed: self.compressed,
        })
    }
}

fn parse_mac(text: &str) -> Result<MacTag, EnvelopeError> {
    let bytes = hex::decode_lower(text).ok_or(EnvelopeError::BadMacEncoding)?;
    let tag: [u8; 32] = bytes
        .try_into()
        .map_err(|_| EnvelopeError::BadMacEncoding)?;
    Ok(MacTag(tag))
}
