//! Envelope v2 keys per device (`docs/envelope-v2.md`, "Key rotation"): a
//! current key and, during a rotation, the previous one with the server time
//! until which it stays valid. Secrets are opaque bytes here (sealed under
//! the master key above the store, like the v1 keys).
//!
//! The rules are backend-neutral ([`EnvelopeKeys::rotate`], the column
//! form); a backend runs an [`EnvelopeKeyUpdate`] on the stored keys inside
//! one transaction, so two operators rotating at once never lose a key.

use std::fmt;

use futures_util::future::BoxFuture;

use super::StoreError;

/// One envelope v2 key as stored: its id and its (sealed) secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key id envelopes name.
    pub id: u32,
    /// The secret, opaque to the store.
    pub secret: Vec<u8>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoredKey {{ id: {}, .. }}", self.id)
    }
}

/// The previous key during a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousKey {
    /// The key.
    pub key: StoredKey,
    /// Server time (Unix ms) from which it is refused.
    pub until_ms: u64,
}

/// A device's envelope v2 keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeKeys {
    /// The key the device seals with.
    pub current: StoredKey,
    /// The key it sealed with before the last rotation, while it overlaps.
    pub previous: Option<PreviousKey>,
}

/// The stored columns of [`EnvelopeKeys`]: key id, secret, previous key id,
/// previous secret, previous until (ids and times as signed 64-bit).
pub type KeyColumns = (
    Option<i64>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<Vec<u8>>,
    Option<i64>,
);

impl EnvelopeKeys {
    /// The keys after rotating to `key`: the current key stays valid until
    /// `overlap_until_ms`, an older previous key is dropped. Rotating to the
    /// current id replaces that key with no overlap (an id names one key).
    pub fn rotate(old: Option<Self>, key: StoredKey, overlap_until_ms: u64) -> Self {
        let previous = old
            .map(|old| old.current)
            .filter(|current| current.id != key.id)
            .map(|current| PreviousKey {
                key: current,
                until_ms: overlap_until_ms,
            });
        Self {
            current: key,
            previous,
        }
    }

    /// The keys in their stored columns.
    pub fn to_columns(&self) -> KeyColumns {
        let previous = self.previous.as_ref();
        (
            Some(i64::from(self.current.id)),
            Some(self.current.secret.clone()),
            previous.map(|p| i64::from(p.key.id)),
            previous.map(|p| p.key.secret.clone()),
            previous.map(|p| i64::try_from(p.until_ms).unwrap_or(i64::MAX)),
        )
    }

    /// Keys read back from their columns; `None` when the device has none.
    ///
    /// # Errors
    /// A key id outside `u32` or a half-written key (a broken row).
    pub fn from_columns(device: &str, columns: KeyColumns) -> Result<Option<Self>, StoreError> {
        let broken = || StoreError::new(format!("device {device}: envelope v2 keys are broken"));
        let key = |id: Option<i64>, secret: Option<Vec<u8>>| match (id, secret) {
            (Some(id), Some(secret)) => u32::try_from(id)
                .map(|id| Some(StoredKey { id, secret }))
                .map_err(|_| broken()),
            (None, None) => Ok(None),
            _ => Err(broken()),
        };
        let (id, secret, previous_id, previous_secret, until) = columns;
        let Some(current) = key(id, secret)? else {
            return Ok(None);
        };
        let previous = match (key(previous_id, previous_secret)?, until) {
            (Some(key), Some(until)) => Some(PreviousKey {
                key,
                until_ms: u64::try_from(until).unwrap_or(0),
            }),
            (None, None) => None,
            _ => return Err(broken()),
        };
        Ok(Some(Self { current, previous }))
    }
}

/// A change to a device's keys, run inside the backend's transaction with
/// the stored keys and the store's time (Unix ms); an `Err` message aborts
/// it with nothing written.
pub type EnvelopeKeyUpdate =
    Box<dyn FnOnce(Option<EnvelopeKeys>, u64) -> Result<EnvelopeKeys, String> + Send>;

/// Envelope v2 keys of devices.
pub trait EnvelopeKeyStore: Send + Sync {
    /// A device's envelope v2 keys (`None`: unknown device, or none set).
    fn envelope_keys(
        &self,
        device: &str,
    ) -> BoxFuture<'_, Result<Option<EnvelopeKeys>, StoreError>>;
    /// Applies `update` to a device's keys in one transaction and bumps the
    /// device epoch (running servers drop their cached keys); the new keys,
    /// or `None` for an unknown or retired device (nothing written).
    ///
    /// # Errors
    /// A store failure, or the update's own message.
    fn update_envelope_keys(
        &self,
        device: &str,
        update: EnvelopeKeyUpdate,
    ) -> BoxFuture<'_, Result<Option<EnvelopeKeys>, StoreError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> StoredKey {
        StoredKey {
            id,
            secret: vec![u8::try_from(id).unwrap_or(0); 4],
        }
    }

    #[test]
    fn rotation_keeps_one_previous_key_with_its_overlap() {
        let first = EnvelopeKeys::rotate(None, key(1), 99);
        assert_eq!(first.previous, None);
        let second = EnvelopeKeys::rotate(Some(first), key(2), 500);
        assert_eq!(second.current, key(2));
        assert_eq!(
            second.previous,
            Some(PreviousKey {
                key: key(1),
                until_ms: 500
            })
        );
        let third = EnvelopeKeys::rotate(Some(second), key(3), 900);
        assert_eq!(third.previous.as_ref().map(|p| p.key.id), Some(2));
        let same = EnvelopeKeys::rotate(Some(third), key(3), 1000);
        assert_eq!(same.previous, None);
    }

    #[test]
    fn columns_round_trip_and_broken_rows_are_errors() {
        let keys = EnvelopeKeys::rotate(Some(EnvelopeKeys::rotate(None, key(1), 0)), key(2), 7);
        assert_eq!(
            EnvelopeKeys::from_columns("D", keys.to_columns()).unwrap(),
            Some(keys)
        );
        assert_eq!(
            EnvelopeKeys::from_columns("D", (None, None, None, None, None)).unwrap(),
            None
        );
        assert!(EnvelopeKeys::from_columns("D", (Some(1), None, None, None, None)).is_err());
        assert!(
            EnvelopeKeys::from_columns("D", (Some(-1), Some(vec![1]), None, None, None)).is_err()
        );
        assert!(
            EnvelopeKeys::from_columns("D", (Some(1), Some(vec![1]), Some(2), Some(vec![2]), None))
                .is_err()
        );
    }
}
