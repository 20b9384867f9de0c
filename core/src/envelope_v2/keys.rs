//! Per-device keys: one 32-byte secret per key id, and rotation with overlap.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Which of a device's keys sealed an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

/// The HKDF-Expand label of the AES-128 key.
const ENC_LABEL: &[u8] = b"solarwire envelope v2 enc";
/// The HKDF-Expand label of the HMAC key.
const MAC_LABEL: &[u8] = b"solarwire envelope v2 mac";

/// The two keys derived from one device secret. `Debug` never prints them.
#[derive(Clone)]
pub struct KeysV2 {
    enc: [u8; 16],
    /// HMAC-SHA256 keyed with `K_mac`, ready to be cloned per message.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for KeysV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeysV2 { .. }")
    }
}

impl KeysV2 {
    /// Derives `K_enc` and `K_mac` from a device secret (HKDF-Expand, SHA-256).
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        let mut enc = [0; 16];
        enc.copy_from_slice(expand(secret, ENC_LABEL).get(..16).unwrap_or_default());
        let mac = keyed(&expand(secret, MAC_LABEL));
        Self { enc, mac }
    }

    pub(super) fn enc(&self) -> &[u8; 16] {
        &self.enc
    }

    /// A fresh HMAC state keyed with `K_mac`.
    pub(super) fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }
}

/// HKDF-Expand (RFC 5869) for one output block: `HMAC(prk, info ‖ 0x01)`.
fn expand(prk: &[u8; 32], info: &[u8]) -> [u8; 32] {
    let mut mac = keyed(prk);
    mac.update(info);
    mac.update(&[1]);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 keyed with a 32-byte key: RFC 2104 pads a key shorter than
/// the 64-byte block with zeros, so this is the padded block, infallibly.
fn keyed(key: &[u8; 32]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

/// Finds the key an envelope names, at the server's time `now_ms`.
pub trait KeyLookup {
    /// The valid key with id `id` at `now_ms`, if any.
    fn key(&self, id: KeyId, now_ms: u64) -> Option<&KeysV2>;
}

/// One key, valid at every time.
impl KeyLookup for (KeyId, KeysV2) {
    fn key(&self, id: KeyId, _now_ms: u64) -> Option<&KeysV2> {
        (self.0 == id).then_some(&self.1)
    }
}

/// A device's current key and, during a rotation, its previous one.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: (KeyId, KeysV2),
    previous: Option<Previous>,
}

#[derive(Debug, Clone)]
struct Previous {
    id: KeyId,
    keys: KeysV2,
    /// Server time (ms) from which the previous key is refused.
    until_ms: u64,
}

impl KeyRing {
    /// A ring with one key.
    pub fn new(id: KeyId, keys: KeysV2) -> Self {
        Self {
            current: (id, keys),
            previous: None,
        }
    }

    /// A ring in the middle of a rotation: `previous` stays valid while the
    /// server's time is before `until_ms`. A previous key with the current
    /// key's id is not kept (an id names one key).
    pub fn with_previous(mut self, id: KeyId, keys: KeysV2, until_ms: u64) -> Self {
        self.previous = (id != self.current.0).then_some(Previous { id, keys, until_ms });
        self
    }

    /// Makes `keys` current; the current key becomes the previous one, valid
    /// until `overlap_until_ms`, and any older key is dropped. Rotating to the
    /// current id replaces the key with no overlap.
    #[must_use]
    pub fn rotate(self, id: KeyId, keys: KeysV2, overlap_until_ms: u64) -> Self {
        let (old_id, old_keys) = self.current;
        Self::new(id, keys).with_previous(old_id, old_keys, overlap_until_ms)
    }

    /// The current key id (the one a device should seal with).
    pub fn current_id(&self) -> KeyId {
        self.current.0
    }
}

impl KeyLookup for KeyRing {
    fn key(&self, id: KeyId, now_ms: u64) -> Option<&KeysV2> {
        if id == self.current.0 {
            return Some(&self.current.1);
        }
        self.previous
            .as_ref()
            .filter(|p| p.id == id && now_ms < p.until_ms)
            .map(|p| &p.keys)
    }
}
