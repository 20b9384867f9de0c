use core::fmt;

use crate::codec::CodecError;
use crate::envelope::EnvelopeError;
use crate::replay::ReplayError;

/// Why an upload was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadError {
    /// The envelope failed (structure, decryption or MAC).
    Envelope(EnvelopeError),
    /// The nonce was already used.
    Replay(ReplayError),
    /// The body or upload JSON does not have the expected shape.
    Malformed {
        /// The field at fault.
        field: &'static str,
    },
    /// A packet's base64 text is invalid.
    BadBase64,
    /// More packets (or values) than the limits allow.
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// How many were declared.
        declared: usize,
        /// The bound.
        limit: usize,
    },
    /// No packet could be decoded; the first packet's error.
    Codec(CodecError),
    /// The MAC-covered `device_id` is not the device the request names.
    DeviceMismatch,
    /// A packet's sample times lie outside the receiver's accepted window.
    TimeOutOfWindow {
        /// How far the newest sample lies ahead of the receive time (ms).
        ahead_ms: u64,
        /// How far the oldest sample lies before the receive time (ms).
        age_ms: u64,
    },
    /// A packet's millisecond timestamp was written in seconds.
    TimestampInSeconds,
    /// A packet gives a register a second value at a time the upload
    /// already has (the first value stands).
    DuplicateSample {
        /// The register found twice.
        register: u8,
    },
}

error_codes!(UploadError {
    Self::Malformed { .. } => "malformed",
    Self::BadBase64 => "bad_base64",
    Self::TooLarge { .. } => "too_large",
    Self::DeviceMismatch => "device_mismatch",
    Self::TimeOutOfWindow { .. } => "time_out_of_window",
    Self::TimestampInSeconds => "timestamp_in_seconds",
    Self::DuplicateSample { .. } => "duplicate_sample",
} wraps Envelope, Replay, Codec);

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Envelope(e) => e.fmt(f),
            Self::Replay(e) => e.fmt(f),
            Self::Malformed { field } => write!(f, "malformed upload: {field}"),
            Self::BadBase64 => f.write_str("packet is not valid base64"),
            Self::TooLarge {
                what,
                declared,
                limit,
            } => write!(f, "upload declares {declared} {what}, limit {limit}"),
            Self::Codec(e) => e.fmt(f),
            Self::DeviceMismatch => f.write_str("the upload's device_id is not the path's device"),
            Self::TimeOutOfWindow { ahead_ms, age_ms } => write!(
                f,
                "sample times outside the accepted window ({ahead_ms} ms ahead, {age_ms} ms old)"
            ),
            Self::TimestampInSeconds => {
                f.write_str("packet timestamp is in seconds; the format says milliseconds")
            }
            Self::DuplicateSample { register } => write!(
                f,
                "register {register} has a second value at a time the upload already has"
            ),
        }
    }
}

impl core::error::Error for UploadError {}

impl From<EnvelopeError> for UploadError {
    fn from(e: EnvelopeError) -> Self {
        Self::Envelope(e)
    }
}

impl From<ReplayError> for UploadError {
    fn from(e: ReplayError) -> Self {
        Self::Replay(e)
    }
}

impl From<CodecError> for UploadError {
    fn from(e: CodecError) -> Self {
        Self::Codec(e)
    }
}
