//! Device keys encrypted at rest under a master key.
//!
//! The store keeps opaque key bytes; sealing happens here, above it. A
//! sealed key set is the `hmac_key` blob `swkey1:` ‖ IV ‖ envelope, where
//! the envelope is the core's own (AES-128-CBC with a random IV, HMAC-SHA256
//! over the plaintext), whose plaintext names the device, so a blob copied
//! onto another device's row does not open. Clear keys (written before this
//! existed, or by tools that bypass it) still verify and are sealed at the
//! next server start.
//!
//! The master key is 32 random bytes, from `SOLARWIRE_MASTER_KEY` (hex) or
//! the file `master-key` (mode 0600) in the data directory, created on first
//! use like the JWT secret. `solarwire device rotate-master-key` re-seals
//! every device under a new one in one store transaction, so every stored
//! key opens under exactly one master key whatever happens. With the file,
//! the new key is written to `master-key.next` before that transaction
//! commits and replaces `master-key` after it; a crash in between is settled
//! at the next start by the stored keys themselves ([`settle_rotation`]).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use solarwire_core::envelope::{Envelope, Keys, Nonce, SealOptions, seal};

use crate::store::envelope_keys::{EnvelopeKeys, PreviousKey, StoredKey};
use crate::store::{DeviceKeys, Store};

/// The master key file in the data directory.
pub const MASTER_KEY_FILE: &str = "master-key";
/// The new master key while a rotation is under way.
pub const NEXT_KEY_FILE: &str = "master-key.next";
/// Bytes of a master key.
pub const MASTER_KEY_BYTES: usize = 32;
/// What a sealed key blob starts with.
const MAGIC: &[u8] = b"swkey1:";

/// The key that seals device keys at rest.
#[derive(Clone)]
pub struct MasterKey {
    mac: [u8; 32],
    enc: [u8; 16],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey { .. }")
    }
}

impl MasterKey {
    /// A master key from its secret bytes (separate MAC and AES keys are derived).
    pub fn from_secret(secret: &[u8]) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            Sha256::new()
                .chain_update(label)
                .chain_update(secret)
                .finalize()
                .into()
        };
        let enc = derive(b"solarwire key-at-rest aes");
        let mut aes = [0u8; 16];
        aes.copy_from_slice(enc.get(..16).unwrap_or(&[0; 16]));
        Self {
            mac: derive(b"solarwire key-at-rest mac"),
            enc: aes,
        }
    }

    /// The configured master key (hex), or the one in `data_dir` (created on
    /// first use, mode 0600).
    ///
    /// # Errors
    /// A message for people: bad hex, too short, unreadable file.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, String> {
        match configured {
            Some(hex_text) => Ok(Self::from_secret(&parse_secret(
                hex_text,
                "SOLARWIRE_MASTER_KEY",
            )?)),
            None => Ok(Self::from_secret(&read_or_create(&key_path(data_dir))?)),
        }
    }

    /// `keys` as they are stored: sealed (fleet-key devices have none to seal).
    ///
    /// # Errors
    /// When the OS has no randomness.
    pub fn seal(&self, device: &str, keys: &DeviceKeys) -> Result<DeviceKeys, String> {
        let Some(hmac) = &keys.hmac else {
            return Ok(keys.clone());
        };
        let mut plain = Vec::new();
        let id = device.as_bytes();
        plain.push(u8::try_from(id.len()).map_err(|_| "device id too long".to_owned())?);
        plain.extend_from_slice(id);
        match keys.aes {
            Some(aes) => {
                plain.push(1);
                plain.extend_from_slice(&aes);
            }
            None => plain.push(0),
        }
        plain.extend_from_slice(hmac);
        let mut iv = [0u8; 16];
        getrandom::fill(&mut iv).map_err(|e| format!("no OS randomness: {e}"))?;
        let sealed = seal(
            &plain,
            Nonce(1),
            &self.core_keys(iv),
            SealOptions {
                encrypt: true,
                compressed: true,
            },
        )
        .map_err(|e| format!("cannot seal the keys: {e}"))?;
        let mut blob = MAGIC.to_vec();
        blob.extend_from_slice(&iv);
        blob.extend_from_slice(sealed.envelope.as_bytes());
        Ok(DeviceKeys {
            hmac: Some(blob),
            aes: None,
        })
    }

    /// The usable keys of a stored key set; clear keys pass through.
    ///
    /// # Errors
    /// When a sealed set does not open (another master key, another device,
    /// or tampering).
    pub fn open(&self, device: &str, stored: &DeviceKeys) -> Result<DeviceKeys, String> {
        let Some(blob) = stored.hmac.as_deref().and_then(|b| b.strip_prefix(MAGIC)) else {
            return Ok(stored.clone());
        };
        let fail = || format!("device {device}: its stored keys do not open with this master key");
        let (iv, envelope) = blob.split_at_checked(16).ok_or_else(fail)?;
        let iv = <[u8; 16]>::try_from(iv).map_err(|_| fail())?;
        let plain = Envelope::parse(envelope)
            .and_then(|e| e.open(&self.core_keys(iv)))
            .map_err(|_| fail())?
            .payload;
        let (&id_len, rest) = plain.split_first().ok_or_else(fail)?;
        let (id, rest) = rest
            .split_at_checked(usize::from(id_len))
            .ok_or_else(fail)?;
        if id != device.as_bytes() {
            return Err(fail());
        }
        let (aes, hmac) = match rest.split_first() {
            Some((0, hmac)) => (None, hmac),
            Some((1, rest)) => {
                let (aes, hmac) = rest.split_at_checked(16).ok_or_else(fail)?;
                (Some(<[u8; 16]>::try_from(aes).map_err(|_| fail())?), hmac)
            }
            _ => return Err(fail()),
        };
        Ok(DeviceKeys {
            hmac: Some(hmac.to_vec()),
            aes,
        })
    }

    /// An envelope v2 secret as it is stored: sealed under a name that
    /// holds the device and the key id, so a blob moved to another device
    /// or key id does not open.
    ///
    /// # Errors
    /// When the OS has no randomness.
    pub fn seal_envelope_key(
        &self,
        device: &str,
        id: u32,
        secret: &[u8; 32],
    ) -> Result<StoredKey, String> {
        let sealed = self.seal(
            &envelope_label(device, id),
            &DeviceKeys {
                hmac: Some(secret.to_vec()),
                aes: None,
            },
        )?;
        Ok(StoredKey {
            id,
            secret: sealed.hmac.unwrap_or_default(),
        })
    }

    /// The secret of a stored envelope v2 key.
    ///
    /// # Errors
    /// When it does not open (another master key, device or key id) or is
    /// not 32 bytes.
    pub fn open_envelope_key(&self, device: &str, key: &StoredKey) -> Result<[u8; 32], String> {
        let stored = DeviceKeys {
            hmac: Some(key.secret.clone()),
            aes: None,
        };
        if !is_sealed(&stored) {
            return Err(format!(
                "device {device}: envelope key {} is not sealed",
                key.id
            ));
        }
        self.open(&envelope_label(device, key.id), &stored)?
            .hmac
            .and_then(|secret| <[u8; 32]>::try_from(secret.as_slice()).ok())
            .ok_or_else(|| format!("device {device}: envelope key {} is not 32 bytes", key.id))
    }

    fn core_keys(&self, iv: [u8; 16]) -> Keys {
        Keys::new(&self.mac).with_aes(self.enc, iv)
    }
}

/// The name an envelope v2 secret is sealed under.
fn envelope_label(device: &str, id: u32) -> String {
    format!("{device}/envelope-v2/{id}")
}

/// The environment variable holding the master key (hex).
pub const MASTER_KEY_ENV: &str = "SOLARWIRE_MASTER_KEY";

/// The master key for commands run beside the server: the environment
/// variable, else the data directory's file (after settling a rotation a
/// crash interrupted).
///
/// # Errors
/// As [`MasterKey::load`], or a store failure.
pub async fn for_command(data_dir: &Path, store: &dyn Store) -> Result<MasterKey, String> {
    let configured = std::env::var(MASTER_KEY_ENV).ok();
    if configured.is_none() {
        settle_rotation(data_dir, store).await?;
    }
    MasterKey::load(configured.as_deref(), data_dir)
}

/// Whether a stored key set is sealed.
pub fn is_sealed(stored: &DeviceKeys) -> bool {
    stored.hmac.as_deref().is_some_and(|b| b.starts_with(MAGIC))
}

/// Seals every device key still stored in clear; how many were sealed.
///
/// # Errors
/// A store failure.
pub async fn seal_clear_keys(store: &dyn Store, master: &MasterKey) -> Result<usize, String> {
    reseal(store, master, master, |keys| !is_sealed(keys)).await
}

/// Re-seals every device's keys under `new` (clear ones too); how many.
///
/// # Errors
/// A store failure, or keys that do not open with `old`.
pub async fn reseal_all(
    store: &dyn Store,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<usize, String> {
    let count = reseal(store, old, new, |keys| keys.hmac.is_some()).await?;
    Ok(count + reseal_envelope_keys(store, old, new).await?)
}

/// Re-seals every device's envelope v2 keys under `new`; how many devices.
/// A device whose keys changed meanwhile (a rotation) is refused with
/// nothing written: run the command again.
async fn reseal_envelope_keys(
    store: &dyn Store,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<usize, String> {
    let mut count = 0;
    for device in store.devices().await.map_err(|e| e.to_string())? {
        let id = &device.device_id;
        let Some(before) = store.envelope_keys(id).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let reseal =
            |key: &StoredKey| new.seal_envelope_key(id, key.id, &old.open_envelope_key(id, key)?);
        let after = EnvelopeKeys {
            current: reseal(&before.current)?,
            previous: match &before.previous {
                Some(p) => Some(PreviousKey {
                    key: reseal(&p.key)?,
                    until_ms: p.until_ms,
                }),
                None => None,
            },
        };
        store
            .update_envelope_keys(
                id,
                Box::new(move |stored, _| {
                    if stored.as_ref() == Some(&before) {
                        Ok(after)
                    } else {
                        Err("envelope keys changed during the re-seal: run it again".into())
                    }
                }),
            )
            .await
            .map_err(|e| e.to_string())?;
        count += 1;
    }
    Ok(count)
}

/// Re-seals the `wanted` key sets in one store transaction: when one does
/// not open, none changes.
async fn reseal(
    store: &dyn Store,
    old: &MasterKey,
    new: &MasterKey,
    wanted: fn(&DeviceKeys) -> bool,
) -> Result<usize, String> {
    let (old, new) = (old.clone(), new.clone());
    store
        .reseal_keys(Box::new(move |id, stored| {
            if !wanted(stored) {
                return Ok(None);
            }
            new.seal(id, &old.open(id, stored)?).map(Some)
        }))
        .await
        .map_err(|e| e.to_string())
}

/// Rotates the data directory's master key; how many devices were
/// re-sealed. The new key goes to `master-key.next` first, every device is
/// re-sealed in one transaction, then the new key replaces `master-key`.
/// On failure nothing changed and the old key stays.
///
/// # Errors
/// A file that cannot be written, a store failure, or stored keys that do
/// not open with the current master key.
pub async fn rotate_file(data_dir: &Path, store: &dyn Store) -> Result<usize, String> {
    settle_rotation(data_dir, store).await?;
    let old = MasterKey::load(None, data_dir)?;
    let secret = generate()?;
    let next = data_dir.join(NEXT_KEY_FILE);
    write_key_file(&next, &secret)?;
    match reseal_all(store, &old, &MasterKey::from_secret(&secret)).await {
        Ok(count) => {
            replace(&next, &key_path(data_dir))?;
            Ok(count)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&next);
            Err(format!("{e}; nothing changed, the master key stays"))
        }
    }
}

/// Finishes or undoes a file rotation a crash interrupted: when
/// `master-key.next` exists, it replaces `master-key` if the stored keys
/// are sealed under it (the transaction committed), else it is removed.
///
/// # Errors
/// A store failure, or a file that cannot be renamed or removed.
pub async fn settle_rotation(data_dir: &Path, store: &dyn Store) -> Result<(), String> {
    let next = data_dir.join(NEXT_KEY_FILE);
    let Ok(text) = std::fs::read_to_string(&next) else {
        return Ok(());
    };
    let committed = match parse_secret(&text, NEXT_KEY_FILE) {
        Ok(secret) => match first_sealed(store).await? {
            Some((id, keys)) => MasterKey::from_secret(&secret).open(&id, &keys).is_ok(),
            None => false,
        },
        Err(_) => false,
    };
    if committed {
        replace(&next, &key_path(data_dir))?;
        tracing::warn!("finished a master key rotation that was interrupted");
    } else {
        std::fs::remove_file(&next)
            .map_err(|e| format!("cannot remove {}: {e}", next.display()))?;
        tracing::warn!("undid a master key rotation that was interrupted before it committed");
    }
    Ok(())
}

/// The first device whose stored keys are sealed.
async fn first_sealed(store: &dyn Store) -> Result<Option<(String, DeviceKeys)>, String> {
    for device in store.devices().await.map_err(|e| e.to_string())? {
        let id = device.device_id;
        if let Some(keys) = store.device_keys(&id).await.map_err(|e| e.to_string())?
            && is_sealed(&keys)
        {
            return Ok(Some((id, keys)));
        }
    }
    Ok(None)
}

/// Renames `from` over `to` and makes the rename durable.
fn replace(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::rename(from, to).map_err(|e| format!("cannot replace {}: {e}", to.display()))?;
    if let Some(dir) = to.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// `data_dir/master-key`.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(MASTER_KEY_FILE)
}

/// The master key in `path` (never created here).
///
/// # Errors
/// A file that cannot be read or holds no key.
pub fn read_key_file(path: &Path) -> Result<MasterKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(MasterKey::from_secret(&parse_secret(
        &text,
        &path.display().to_string(),
    )?))
}

/// New random master key bytes.
///
/// # Errors
/// When the OS has no randomness.
pub fn generate() -> Result<Vec<u8>, String> {
    let mut secret = vec![0u8; MASTER_KEY_BYTES];
    getrandom::fill(&mut secret).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(secret)
}

/// Writes `secret` (hex) to `path` with mode 0600, replacing it atomically.
///
/// # Errors
/// When the file cannot be written.
pub fn write_key_file(path: &Path, secret: &[u8]) -> Result<(), String> {
    let temp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temp);
    crate::private_file::write_new(&temp, hex::encode(secret).as_bytes())?;
    replace(&temp, path)
}

fn parse_secret(text: &str, source: &str) -> Result<Vec<u8>, String> {
    let secret = hex::decode(text.trim()).map_err(|_| format!("{source} is not hex"))?;
    if secret.len() < MASTER_KEY_BYTES {
        return Err(format!(
            "{source} must be at least {MASTER_KEY_BYTES} bytes"
        ));
    }
    Ok(secret)
}

fn read_or_create(path: &Path) -> Result<Vec<u8>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_secret(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                crate::private_file::create_dir(dir)?;
            }
            let secret = generate()?;
            write_key_file(path, &secret)?;
            tracing::info!(path = %path.display(), "generated the master key for device keys");
            Ok(secret)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(aes: bool) -> DeviceKeys {
        DeviceKeys {
            hmac: Some(vec![7; 32]),
            aes: aes.then_some([9; 16]),
        }
    }

    #[test]
    fn sealed_keys_open_only_for_their_device_and_master() {
        let master = MasterKey::from_secret(&[1; 32]);
        for aes in [false, true] {
            let sealed = master.seal("D1", &keys(aes)).unwrap();
            assert!(is_sealed(&sealed) && sealed.aes.is_none());
            assert!(
                !sealed
                    .hmac
                    .as_ref()
                    .unwrap()
                    .windows(32)
                    .any(|w| w == [7; 32])
            );
            assert_eq!(master.open("D1", &sealed).unwrap(), keys(aes));
            assert!(
                master.open("D2", &sealed).is_err(),
                "moved to another device"
            );
            let other = MasterKey::from_secret(&[2; 32]);
            assert!(other.open("D1", &sealed).is_err(), "another master key");
        }
        assert_eq!(
            master.open("D1", &keys(true)).unwrap(),
            keys(true),
            "clear passes"
        );
        let fleet = DeviceKeys {
            hmac: None,
            aes: None,
        };
        assert_eq!(master.seal("D1", &fleet).unwrap(), fleet);
    }
}
