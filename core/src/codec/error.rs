use core::fmt;

/// Why a packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The packet ends before a field it declares.
    Truncated {
        /// The field that was cut off.
        field: &'static str,
    },
    /// The first byte selects no known scheme.
    UnknownMarker(u8),
    /// A count, width, index or id is impossible.
    BadHeader {
        /// The offending field.
        field: &'static str,
    },
    /// A delta packet needs history this decoder does not have.
    MissingState {
        /// Why the history is missing or unusable.
        reason: &'static str,
    },
    /// The packet declares more values than the configured bound.
    TooLarge {
        /// The declared count.
        declared: usize,
        /// The bound.
        limit: usize,
    },
}

error_codes!(CodecError {
    Self::Truncated { .. } => "truncated",
    Self::UnknownMarker(_) => "unknown_marker",
    Self::BadHeader { .. } => "bad_header",
    Self::MissingState { .. } => "missing_state",
    Self::TooLarge { .. } => "too_large",
});

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { field } => write!(f, "packet truncated in {field}"),
            Self::UnknownMarker(b) => write!(f, "unknown codec marker 0x{b:02x}"),
            Self::BadHeader { field } => write!(f, "impossible value in {field}"),
            Self::MissingState { reason } => write!(f, "temporal history unavailable: {reason}"),
            Self::TooLarge { declared, limit } => {
                write!(
                    f,
                    "packet declares {declared} values, more than the limit of {limit}"
                )
            }
        }
    }
}

impl core::error::Error for CodecError {}
