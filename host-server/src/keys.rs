//! Device keys: generation from OS randomness, parsing, and the cache the
//! ingest path looks keys up in.
//!
//! Keys are never logged (`Keys` and `DeviceKeys` print as `{ .. }`). The
//! cache is dropped whenever the store's device epoch changes, so an
//! operator's change made by another process (the CLI) takes effect within
//! one poll interval.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use solarwire_core::envelope::{FIRMWARE_IV, Keys};
use solarwire_core::envelope_v2::{KeyId, KeyRing as EnvelopeRing, KeysV2};

use crate::key_vault::MasterKey;
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
    /// Unknown device in fleet-key mode: register it on its first valid upload.
    pub auto_register: bool,
}

/// Looks up device keys, with the fleet key as fallback in compat mode.
pub struct KeyRing {
    store: Arc<dyn Store>,
    master: Arc<MasterKey>,
    fleet: Option<Keys>,
    cache: RwLock<HashMap<String, Arc<Resolved>>>,
    epoch: AtomicU64,
}

impl KeyRing {
    /// A key ring over `store`, whose keys `master` opens; `fleet` is the
    /// compat-mode key set.
    pub fn new(store: Arc<dyn Store>, master: Arc<MasterKey>, fleet: Option<Keys>) -> Self {
        Self {
            store,
            master,
            fleet,
            cache: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(u64::MAX),
        }
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
        let opened = stored
            .map(|keys| self.master.open(device, &keys))
            .transpose()
            .map_err(StoreError::new)?;
        let resolved = match opened {
            Some(DeviceKeys {
                hmac: Some(hmac),
                aes,
            }) => Resolved {
                keys: core_keys(&hmac, aes),
                envelope: self.envelope_ring(device).await?,
                auto_register: false,
            },
            // Registered in fleet-key mode: verified with the fleet key while it is configured.
            Some(DeviceKeys { hmac: None, .. }) => match &self.fleet {
                Some(fleet) => Resolved {
                    keys: fleet.clone(),
                    envelope: self.envelope_ring(device).await?,
                    auto_register: false,
                },
                None => return Ok(None),
            },
            // Unknown devices are not cached: the next valid upload registers them.
            None => {
                return Ok(self.fleet.as_ref().map(|fleet| {
                    Arc::new(Resolved {
                        keys: fleet.clone(),
                        envelope: None,
                        auto_register: true,
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

    /// A device's envelope v2 keys, opened with the master key.
    async fn envelope_ring(&self, device: &str) -> Result<Option<EnvelopeRing>, StoreError> {
        let Some(stored) = self.store.envelope_keys(device).await? else {
            return Ok(None);
        };
        let open = |key| {
            self.master
                .open_envelope_key(device, key)
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

    /// `keys` as the store keeps them: sealed under the master key.
    ///
    /// # Errors
    /// When the OS has no randomness.
    pub fn seal(&self, device: &str, keys: &DeviceKeys) -> Result<DeviceKeys, String> {
        self.master.seal(device, keys)
    }

    /// The fleet key set (compat mode), to open envelopes that name no device.
    pub fn fleet(&self) -> Option<Resolved> {
        self.fleet.as_ref().map(|keys| Resolved {
            keys: keys.clone(),
            envelope: None,
            auto_register: false,
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
