//! What happened to each packet of an upload.

use super::UploadError;
use crate::codec::Method;

/// What happened to one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketOutcome {
    /// Decoded into samples.
    Decoded,
    /// Sent before (F26): skipped, no samples.
    Duplicate,
    /// Could not be decoded; the upload's other packets still count.
    Failed(UploadError),
}

/// A per-packet report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketReport {
    /// Position in the upload.
    pub index: usize,
    /// The codec, when the marker was recognised.
    pub method: Option<Method>,
    /// The packet's length in bytes as received.
    pub size: usize,
    /// Raw size of the decoded values (`2 × values`), or the declared one.
    pub original_size: usize,
    /// Values decoded.
    pub values: usize,
    /// Samples produced.
    pub samples: usize,
    /// Decoded, duplicate or failed.
    pub outcome: PacketOutcome,
}

/// What happened to one packet, without the failure's details: the form
/// hosts store, count and show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Outcome {
    /// Decoded into samples.
    Decoded,
    /// Sent before: skipped.
    Duplicate,
    /// Could not be decoded.
    Failed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Self; 3] = [Self::Decoded, Self::Duplicate, Self::Failed];

    /// The stable snake_case name (`decoded`, `duplicate`, `failed`) every host shows.
    pub fn code(self) -> &'static str {
        match self {
            Self::Decoded => "decoded",
            Self::Duplicate => "duplicate",
            Self::Failed => "failed",
        }
    }

    /// Parses a name produced by [`Outcome::code`].
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == code)
    }
}

impl PacketOutcome {
    /// The outcome without the failure's details.
    pub fn kind(&self) -> Outcome {
        match self {
            Self::Decoded => Outcome::Decoded,
            Self::Duplicate => Outcome::Duplicate,
            Self::Failed(_) => Outcome::Failed,
        }
    }

    /// The stable name of the outcome (`decoded`, `duplicate`, `failed`).
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// The error of a failed packet.
    pub fn error(&self) -> Option<&UploadError> {
        match self {
            Self::Failed(e) => Some(e),
            _ => None,
        }
    }
}

impl PacketReport {
    /// The report of a packet not yet decoded: its codec and size.
    pub(super) fn new(index: usize, bytes: &[u8]) -> Self {
        Self {
            index,
            method: bytes.first().and_then(|&m| Method::from_marker(m).ok()),
            size: bytes.len(),
            original_size: 0,
            values: 0,
            samples: 0,
            outcome: PacketOutcome::Decoded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::from_code(o.code()), Some(o));
        }
        let failed = PacketOutcome::Failed(UploadError::BadBase64);
        assert_eq!((failed.kind(), failed.code()), (Outcome::Failed, "failed"));
    }
}
