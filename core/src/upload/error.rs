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
}

error_codes!(UploadError {
    Self::Malformed { .. } => "malformed",
    Self::BadBase64 => "bad_base64",
    Self::TooLarge { .. } => "too_large",
    Self::DeviceMismatch => "device_mismatch",
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
