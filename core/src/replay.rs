//! Anti-replay decisions (spec §2).
//!
//! A device's nonces must strictly increase. The decision distinguishes three
//! outcomes: a fresh nonce; an identical resend of the last accepted envelope
//! (same nonce and MAC: a device retrying after a lost answer, to be answered
//! as a duplicate and never stored twice); and a replay. Stores record a nonce
//! only after its MAC has been verified — otherwise forged packets could move
//! the window and lock a device out.

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt;

pub use crate::envelope::MacTag;
use crate::envelope::Nonce;

/// A device's identifier (the `{device_id}` of the upload URL).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeviceId(pub String);

impl DeviceId {
    /// Wraps a device id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The last envelope accepted from a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LastAccepted {
    /// Its nonce.
    pub nonce: Nonce,
    /// Its MAC, when known (to recognise an identical resend).
    pub mac: Option<MacTag>,
}

/// The outcome of a replay check that lets the envelope through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Freshness {
    /// A nonce greater than any accepted before: process and store it.
    Fresh,
    /// The last accepted envelope again: answer as before, store nothing.
    Duplicate,
}

/// A nonce that is not greater than the last accepted one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// The nonce was already used (or is older).
    Replayed {
        /// The last accepted nonce.
        last: Nonce,
        /// The nonce received.
        got: Nonce,
    },
}

error_codes!(ReplayError {
    Self::Replayed { .. } => "replay",
});

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Replayed { last, got } => write!(
                f,
                "nonce {got} is not greater than the last accepted nonce {last}"
            ),
        }
    }
}

impl core::error::Error for ReplayError {}

/// Decides whether a verified envelope is fresh, a duplicate or a replay.
///
/// # Errors
/// `replay` when `nonce` is not greater than the last accepted one and the
/// envelope is not an identical resend of it.
pub fn decide(
    last: Option<&LastAccepted>,
    nonce: Nonce,
    mac: &MacTag,
) -> Result<Freshness, ReplayError> {
    match last {
        None => Ok(Freshness::Fresh),
        Some(last) if nonce > last.nonce => Ok(Freshness::Fresh),
        Some(last) if nonce == last.nonce && last.mac.as_ref() == Some(mac) => {
            Ok(Freshness::Duplicate)
        }
        Some(last) => Err(ReplayError::Replayed {
            last: last.nonce,
            got: nonce,
        }),
    }
}

/// Replay state of a set of devices.
///
/// The rule: a nonce must be strictly greater than the last one recorded for
/// that device; call this only after the envelope's MAC has been verified.
pub trait NonceStore {
    /// Decides on `nonce` and, when fresh, records it with its MAC.
    ///
    /// # Errors
    /// `replay` as [`decide`].
    fn check_and_record(
        &mut self,
        device: &DeviceId,
        nonce: Nonce,
        mac: &MacTag,
    ) -> Result<Freshness, ReplayError>;
}

/// An in-memory [`NonceStore`] (an ordered map, so its iteration is stable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MemoryNonceStore {
    devices: BTreeMap<DeviceId, LastAccepted>,
}

impl MemoryNonceStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last accepted envelope of `device`.
    pub fn last(&self, device: &DeviceId) -> Option<&LastAccepted> {
        self.devices.get(device)
    }

    /// Sets the last accepted nonce (e.g. restored state), without a MAC.
    pub fn set_last(&mut self, device: DeviceId, nonce: Nonce) {
        self.devices
            .insert(device, LastAccepted { nonce, mac: None });
    }

    /// Forgets a device (an operator's reset after its counter was wiped).
    pub fn reset(&mut self, device: &DeviceId) {
        self.devices.remove(device);
    }

    /// Every device and its last accepted envelope, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&DeviceId, &LastAccepted)> {
        self.devices.iter()
    }
}

impl NonceStore for MemoryNonceStore {
    fn check_and_record(
        &mut self,
        device: &DeviceId,
        nonce: Nonce,
        mac: &MacTag,
    ) -> Result<Freshness, ReplayError> {
        let freshness = decide(self.devices.get(device), nonce, mac)?;
        if freshness == Freshness::Fresh {
            self.devices.insert(
                device.clone(),
                LastAccepted {
                    nonce,
                    mac: Some(*mac),
                },
            );
        }
        Ok(freshness)
    }
}

/// One device's replay state as a plain value, for callers that track a
/// single device's last nonce themselves (a script passing `last_nonce`);
/// the device id is not consulted.
impl NonceStore for Option<LastAccepted> {
    fn check_and_record(
        &mut self,
        _: &DeviceId,
        nonce: Nonce,
        mac: &MacTag,
    ) -> Result<Freshness, ReplayError> {
        let freshness = decide(self.as_ref(), nonce, mac)?;
        if freshness == Freshness::Fresh {
            *self = Some(LastAccepted {
                nonce,
                mac: Some(*mac),
            });
        }
        Ok(freshness)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_duplicate_replay() {
        let mut store = MemoryNonceStore::new();
        let dev = DeviceId::new("d");
        let (a, b) = (MacTag([1; 32]), MacTag([2; 32]));
        assert_eq!(
            store.check_and_record(&dev, Nonce(5), &a),
            Ok(Freshness::Fresh)
        );
        assert_eq!(
            store.check_and_record(&dev, Nonce(5), &a),
            Ok(Freshness::Duplicate)
        );
        assert!(store.check_and_record(&dev, Nonce(5), &b).is_err());
        assert!(store.check_and_record(&dev, Nonce(4), &a).is_err());
        assert_eq!(
            store.check_and_record(&dev, Nonce(6), &b),
            Ok(Freshness::Fresh)
        );
        assert!(
            store.check_and_record(&dev, Nonce(5), &a).is_err(),
            "an older duplicate is a replay"
        );
    }

    #[test]
    fn a_single_last_accepted_is_a_store() {
        let dev = DeviceId::new("any");
        let tag = MacTag([3; 32]);
        let mut last: Option<LastAccepted> = None;
        assert_eq!(
            last.check_and_record(&dev, Nonce(7), &tag),
            Ok(Freshness::Fresh)
        );
        assert_eq!(last.map(|l| l.nonce), Some(Nonce(7)));
        assert_eq!(
            last.check_and_record(&dev, Nonce(7), &tag),
            Ok(Freshness::Duplicate)
        );
        let mut restored = Some(LastAccepted {
            nonce: Nonce(7),
            mac: None,
        });
        assert!(restored.check_and_record(&dev, Nonce(7), &tag).is_err());
        assert_eq!(restored.map(|l| l.nonce), Some(Nonce(7)));
    }
}
