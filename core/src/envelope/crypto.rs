//! HMAC-SHA256 and AES-128-CBC as the firmware and its server use them.

use alloc::vec::Vec;
use core::fmt;

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::MacTag;
use super::{EnvelopeError, Nonce};
use crate::argument::ArgumentError;

/// The fixed IV of the original server's decrypt path (`00 01 … 0f`).
pub const FIRMWARE_IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// A device's secrets: the HMAC key (any length) and an optional AES-128 key
/// with the static IV of the device-compatible mode. `Debug` never prints them.
///
/// The HMAC state after the key block is computed once here, so a host that
/// keeps a device's `Keys` saves two SHA-256 blocks per message.
#[derive(Clone)]
pub struct Keys {
    mac: Vec<u8>,
    keyed: Hmac<Sha256>,
    aes: Option<([u8; 16], [u8; 16])>,
}

impl PartialEq for Keys {
    fn eq(&self, other: &Self) -> bool {
        self.mac == other.mac && self.aes == other.aes
    }
}

impl Eq for Keys {}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys { .. }")
    }
}

impl Keys {
    /// Keys with only an HMAC key (the firmware's configuration).
    pub fn new(mac_key: &[u8]) -> Self {
        // HMAC accepts keys of every length (long keys are hashed), so this
        // constructor cannot fail for SHA-256.
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(mac_key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        Self {
            mac: mac_key.to_vec(),
            keyed,
            aes: None,
        }
    }

    /// Keys from the parts a caller hands a host: the HMAC key, and an
    /// optional AES key with an optional IV (the firmware's static
    /// [`FIRMWARE_IV`] when absent, because the envelope carries none).
    ///
    /// # Errors
    /// `invalid_argument`: an IV without a key, or a key or IV that is not
    /// 16 bytes.
    pub fn from_parts(
        mac_key: &[u8],
        aes_key: Option<&[u8]>,
        aes_iv: Option<&[u8]>,
    ) -> Result<Self, ArgumentError> {
        let block = |bytes: &[u8], field| {
            <[u8; 16]>::try_from(bytes).map_err(|_| ArgumentError::BlockLength {
                field,
                len: bytes.len(),
            })
        };
        let keys = Self::new(mac_key);
        match (aes_key, aes_iv) {
            (None, None) => Ok(keys),
            (None, Some(_)) => Err(ArgumentError::IvWithoutKey),
            (Some(key), iv) => {
                let iv = iv.map_or(Ok(FIRMWARE_IV), |iv| block(iv, "aes_iv"))?;
                Ok(keys.with_aes(block(key, "aes_key")?, iv))
            }
        }
    }

    /// Adds the AES-128 key and the static IV used for every message.
    #[must_use]
    pub fn with_aes(mut self, key: [u8; 16], iv: [u8; 16]) -> Self {
        self.aes = Some((key, iv));
        self
    }

    /// Whether an AES key is configured.
    pub fn has_aes(&self) -> bool {
        self.aes.is_some()
    }

    /// `HMAC-SHA256(K, nonce_be32 ‖ payload)`.
    pub fn tag(&self, nonce: Nonce, payload: &[u8]) -> MacTag {
        MacTag(self.hmac(nonce, payload).finalize().into_bytes().into())
    }

    /// Verifies `tag` in constant time (through `hmac`'s `verify_slice`).
    pub(crate) fn verify(
        &self,
        nonce: Nonce,
        payload: &[u8],
        tag: &MacTag,
    ) -> Result<(), EnvelopeError> {
        self.hmac(nonce, payload)
            .verify_slice(&tag.0)
            .map_err(|_| EnvelopeError::MacMismatch)
    }

    fn hmac(&self, nonce: Nonce, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(&nonce.0.to_be_bytes());
        mac.update(payload);
        mac
    }

    /// AES-128-CBC with strict PKCS#7 (the original server never checked it).
    pub(crate) fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let (key, iv) = self.aes.as_ref().ok_or(EnvelopeError::MissingKey)?;
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
            return Err(EnvelopeError::DecryptFailed);
        }
        cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
            .decrypt_padded_vec::<Pkcs7>(ciphertext)
            .map_err(|_| EnvelopeError::DecryptFailed)
    }

    pub(crate) fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let (key, iv) = self.aes.as_ref().ok_or(EnvelopeError::MissingKey)?;
        Ok(cbc::Encryptor::<Aes128>::new(key.into(), iv.into())
            .encrypt_padded_vec::<Pkcs7>(plaintext))
    }
}
