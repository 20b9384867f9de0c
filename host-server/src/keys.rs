//! Device keys: generation from OS randomness, parsing, and the cache the
//! ingest path looks keys up in.
//!
//! Keys are never logged (`Keys` and `DeviceKeys` print as `{ .. }`). The
//! cache is dropped whenever the store's device epoch changes, so an
//! operator's change made by another process (the CLI) takes effect within
//! one poll interval. A master key from the data directory's file is read
//! again when stored keys do not open with it (another process rotated it).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use solarwire_core::envelope::{FIRMWARE_IV, Keys};
use solarwire_core::envelope_v2::{KeyId, KeyRing as EnvelopeRing, KeysV2};

use crate::key_vault::{self, MasterKey};
use crate::store::envelope_keys::EnvelopeKeys;
use crate::store::{DeviceKeys, Store, StoreError};

/// Bytes of a generated HMAC key (the firmware's key size).
pub const HMAC_KEY_BYTES: usize = 32;
/// The shortest HMAC key accepted when one is imported.
pub const MIN_HMAC_KEY_BYTES: usize = 16;
/// Cached devices before the cache starts over.
const CACHE_LIMIT: usize = 100_000;

/// New random keys: a 32-byte HMAC key and, when asked, an AES-128 key.
///
/// # Errors
/// When the OS has no randomness to give.
pub fn generate(with_aes: bool) -> Result<DeviceKeys, getrandom::Error> {
    let mut hmac = vec![0u8; HMAC_KEY_BYTES];
    getrandom::fill(&mut hmac)?;
    let aes = if with_aes {
        let mut aes = [0u8; 16];
        getrandom::fill(&mut aes)?;
        Some(aes)
    } else {
        None
    };
    Ok(DeviceKeys {
        hmac: Some(hmac),
        aes,
    })
}

/// Parses an HMAC key given as hex (at least 16 bytes).
///
/// # Errors
/// A message saying what is wrong (never echoing the key).
pub fn parse_hmac_key(text: &str) -> Result<Vec<u8>, String> {
    let key = hex::decode(text.trim()).map_err(|_| "the HMAC key is not hex".to_owned())?;
    if key.len() < MIN_HMAC_KEY_BYTES {
        return Err(format!(
            "the HMAC key must be at least {MIN_HMAC_KEY_BYTES} bytes"
        ));
    }
    Ok(key)
}

/// Parses an AES-128 key given as hex (exactly 16 bytes).
///
/// # Errors
/// A message saying what is wrong (never echoing the key).
pub fn parse_aes_key(text: &str) -> Result<[u8; 16], String> {
    hex::decode(text.trim())
        .ok()
        .and_then(|k| <[u8; 16]>::try_from(k.as_slice()).ok())
        .ok_or_else(|| "the AES key must be 32 hex digits (16 bytes)".to_owned())
}

/// The core's key set for stored keys (static IV of the device-compatible mode).
pub fn core_keys(hmac: &[u8], aes: Option<[u8; 16]>) -> Keys {
    let keys = Keys::new(hmac);
    match aes {
        Some(aes) => keys.with_aes(aes, FIRMWARE_IV),
        None => keys,
    }
}

/// The compat-mode fleet key (`--compat-psk`) and the id recorded on the
/// devices it admits.
#[derive(Debug, Clone)]
pub struct FleetKey {
    /// The key set.
    pub keys: Keys,
    /// `fleet key ` and 16 hex digits of a hash of the HMAC key: tells fleet
    /// keys apart without revealing them.
    pub id: String,
}

impl FleetKey {
    /// The fleet key set of an HMAC key and an optional AES key.
    pub fn new(hmac: &[u8], aes: Option<[u8; 16]>) -> Self {
        let hash = Sha256::new()
            .chain_update(b"solarwire fleet key id")
            .chain_update(hmac)
            .finalize();
        Self {
            keys: core_keys(hmac, aes),
            id: format!(
                "fleet key {}",
                hex::encode(hash.get(..8).unwrap_or_default())
            ),
        }
    }
}

/// Gives `device` a new random envelope v2 secret under the next key id
/// (1 for its first), sealed under `master`; its current key stays valid
/// for `overlap_ms` after the store's time. The key id and the secret (to
/// hand to the device once), or `None` for an unknown or retired device.
///
/// # Errors
/// No OS randomness, or a store failure.
pub async fn rotate_envelope_key(
    store: &dyn Store,
    master: &MasterKey,
    device: &str,
    overlap_ms: u64,
) -> Result<Option<(u32, [u8; 32])>, String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| format!("no OS randomness: {e}"))?;
    let (master, id) = (master.clone(), device.to_owned());
    let rotated = store
        .update_envelope_keys(
            device,
            Box::new(move |stored, now| {
                let next = stored
                    .as_ref()
                    .map_or(1, |k| k.current.id.wrapping_add(1).max(1));
                let key = master.seal_envelope_key(&id, next, &secret)?;
                Ok(EnvelopeKeys::rotate(
                    stored,
                    key,
                    now.saturating_add(overlap_ms),
                ))
            }),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(rotated.map(|keys| (keys.current.id, secret)))
}

/// The keys that verify one device's uploads.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The firmware envelope's (v1) keys.
    pub keys: Keys,
    /// The device's envelope v2 keys (current and, during a rotation,
    /// previous), when it has any.
    pub envelope: Option<EnvelopeRing>,
    /// Unknown device in fleet-key mode: register it on its first valid
    /// upload, admitted by this key (the fleet key's id).
    pub auto_register: Option<String>,
}

/// Looks up device keys, with the fleet key as fallback in compat mode.
pub struct KeyRing {
    store: Arc<dyn Store>,
    master: RwLock<Arc<MasterKey>>,
    master_file: Option<PathBuf>,
    fleet: Option<FleetKey>,
    cache: RwLock<HashMap<String, Arc<Resolved>>>,
    epoch: AtomicU64,
}

impl KeyRing {
    /// A key ring over `store`, whose keys `master` opens (read again from
    /// `master_file`, when it came from one, after a rotation); `fleet` is
    /// the compat-mode key.
    pub fn new(
        store: Arc<dyn Store>,
        master: Arc<MasterKey>,
        master_file: Option<PathBuf>,
        fleet: Option<FleetKey>,
    ) -> Self {
        Self {
            store,
            master: RwLock::new(master),
            master_file,
            fleet,
            cache: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(u64::MAX),
        }
    }

    fn master(&self) -> Option<Arc<MasterKey>> {
        self.master.read().ok().map(|m| m.clone())
    }

    /// Reads the master key file again (another process may have rotated
    /// it); `None` without a file or when it cannot be read.
    fn reload_master(&self) -> Option<Arc<MasterKey>> {
        let path = self.master_file.as_ref()?;
        let key = Arc::new(key_vault::read_key_file(path).ok()?);
        *self.master.write().ok()? = key.clone();
        Some(key)
    }

    /// A stored key set opened with the master key, read again once when
    /// it does not open.
    fn open(&self, device: &str, stored: &DeviceKeys) -> Result<DeviceKeys, StoreError> {
        let current = self
            .master()
            .ok_or_else(|| StoreError::new("master key lock poisoned"))?;
        current.open(device, stored).or_else(|first| {
            self.reload_master()
                .map_or(Err(first), |newer| newer.open(device, stored))
                .map_err(StoreError::new)
        })
    }

    /// The keys for `device`, `None` when nothing can verify its uploads.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn resolve(&self, device: &str) -> Result<Option<Arc<Resolved>>, StoreError> {
        if let Some(hit) = self.cache.read().ok().and_then(|c| c.get(device).cloned()) {
            return Ok(Some(hit));
        }
        let stored = self.store.device_keys(device).await?;
        let opened = stored.map(|keys| self.open(device, &keys)).transpose()?;
        let resolved = match opened {
            Some(DeviceKeys {
                hmac: Some(hmac),
                aes,
            }) => Resolved {
                keys: core_keys(&hmac, aes),
                envelope: self.envelope_ring(device).await?,
                auto_register: None,
            },
            // Registered in fleet-key mode: verified with the fleet key while it is configured.
            Some(DeviceKeys { hmac: None, .. }) => match self.fleet() {
                Some(fleet) => Resolved {
                    envelope: self.envelope_ring(device).await?,
                    ..fleet
                },
                None => return Ok(None),
            },
            // Unknown devices are not cached: the next valid upload registers them.
            None => {
                return Ok(self.fleet.as_ref().map(|fleet| {
                    Arc::new(Resolved {
                        keys: fleet.keys.clone(),
                        envelope: None,
                        auto_register: Some(fleet.id.clone()),
                    })
                }));
            }
        };
        let resolved = Arc::new(resolved);
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(device.to_owned(), resolved.clone());
        }
        Ok(Some(resolved))
    }

    /// A device's envelope v2 keys, opened with the master key (read again
    /// once when a key does not open).
    async fn envelope_ring(&self, device: &str) -> Result<Option<EnvelopeRing>, StoreError> {
        let Some(stored) = self.store.envelope_keys(device).await? else {
            return Ok(None);
        };
        let master = self
            .master()
            .ok_or_else(|| StoreError::new("master key lock poisoned"))?;
        let open = |key| {
            master
                .open_envelope_key(device, key)
                .or_else(|first| {
                    self.reload_master()
                        .map_or(Err(first), |newer| newer.open_envelope_key(device, key))
                })
                .map(|secret| KeysV2::from_secret(&secret))
                .map_err(StoreError::new)
        };
        let mut ring = EnvelopeRing::new(KeyId(stored.current.id), open(&stored.current)?);
        if let Some(previous) = &stored.previous {
            ring = ring.with_previous(
                KeyId(previous.key.id),
                open(&previous.key)?,
                previous.until_ms,
            );
        }
        Ok(Some(ring))
    }

    /// `keys` as the store keeps them: sealed under the master key (the
    /// file's current one).
    ///
    /// # Errors
    /// When the OS has no randomness.
    pub fn seal(&self, device: &str, keys: &DeviceKeys) -> Result<DeviceKeys, String> {
        self.reload_master()
            .or_else(|| self.master())
            .ok_or_else(|| "master key lock poisoned".to_owned())?
            .seal(device, keys)
    }

    /// The fleet key set (compat mode), to open envelopes that name no device.
    pub fn fleet(&self) -> Option<Resolved> {
        self.fleet.as_ref().map(|fleet| Resolved {
            keys: fleet.keys.clone(),
            envelope: None,
            auto_register: None,
        })
    }

    /// Drops every cached key (after an operator change).
    pub fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }

    /// Polls the store's device epoch and drops the cache when it moved.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match self.store.device_epoch().await {
                Ok(epoch) if self.epoch.swap(epoch, Ordering::Relaxed) != epoch => {
                    self.invalidate();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the device epoch"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_random_and_sized() {
        let a = generate(true).unwrap();
        let b = generate(false).unwrap();
        assert_eq!(a.hmac.as_ref().unwrap().len(), HMAC_KEY_BYTES);
        assert_ne!(a.hmac, b.hmac);
        assert!(a.aes.is_some() && b.aes.is_none());
    }

    #[test]
    fn imported_keys_are_checked() {
        assert!(parse_hmac_key("zz").is_err());
        assert!(parse_hmac_key(&"ab".repeat(15)).is_err());
        assert_eq!(parse_hmac_key(&"ab".repeat(16)).unwrap().len(), 16);
        assert!(parse_aes_key(&"00".repeat(15)).is_err());
        assert!(parse_aes_key(&"00".repeat(16)).is_ok());
    }
}
