//! The one-call pipeline for hosts that keep replay state in memory.

use core::fmt;

use crate::envelope::{Envelope, EnvelopeError, Keys, Verified};
use crate::replay::{DeviceId, Freshness, NonceStore, ReplayError};

/// An opened envelope and its replay decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The verified envelope.
    pub verified: Verified,
    /// Fresh, or an identical resend of the last accepted envelope.
    pub freshness: Freshness,
}

/// Why [`open`] refused an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// Structure, decryption or MAC.
    Envelope(EnvelopeError),
    /// The nonce was already used.
    Replay(ReplayError),
}

error_codes!(OpenError {} wraps Envelope, Replay);

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Envelope(e) => e.fmt(f),
            Self::Replay(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for OpenError {}

impl From<EnvelopeError> for OpenError {
    fn from(e: EnvelopeError) -> Self {
        Self::Envelope(e)
    }
}

impl From<ReplayError> for OpenError {
    fn from(e: ReplayError) -> Self {
        Self::Replay(e)
    }
}

/// Parses, decrypts, verifies, then checks and records the nonce — in that order.
///
/// # Errors
/// Every [`EnvelopeError`] code, then `replay`. Nothing is recorded unless
/// the MAC verified and the nonce is fresh.
pub fn open(
    body: &[u8],
    keys: &Keys,
    device: &DeviceId,
    store: &mut impl NonceStore,
) -> Result<Opened, OpenError> {
    let verified = Envelope::parse(body)?.open(keys)?;
    let freshness = store.check_and_record(device, verified.nonce, &verified.mac)?;
    Ok(Opened {
        verified,
        freshness,
    })
}
