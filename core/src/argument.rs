//! Arguments a host passes on from its caller that the core refuses: the
//! same checks, and the same code (`invalid_argument`), on every host.

use core::fmt;

/// An argument of the right type but an impossible value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgumentError {
    /// No encoder has this name.
    UnknownMethod,
    /// The encoder needs one register id per value.
    RegisterIds {
        /// Values given.
        values: usize,
        /// Register ids given.
        ids: usize,
    },
    /// A temporal state was given to an encoder that keeps none.
    UnusedState,
    /// An AES IV was given without an AES key.
    IvWithoutKey,
    /// Values codec v2 cannot hold; the codec's code says why.
    CodecV2(&'static str),
    /// An AES key or IV that is not one 16-byte block.
    BlockLength {
        /// `aes_key` or `aes_iv`.
        field: &'static str,
        /// Its length.
        len: usize,
    },
}

error_codes!(ArgumentError {
    Self::UnknownMethod
    | Self::RegisterIds { .. }
    | Self::UnusedState
    | Self::IvWithoutKey
    | Self::CodecV2(_)
    | Self::BlockLength { .. } => "invalid_argument",
});

impl fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownMethod => f.write_str(
                "unknown method: smart, temporal, bit_packed, dictionary, semantic_rle or codec_v2",
            ),
            Self::RegisterIds { values, ids } => write!(
                f,
                "the method needs one register id per value ({values} values, {ids} ids)"
            ),
            Self::UnusedState => f.write_str("the method does not use a temporal state"),
            Self::IvWithoutKey => f.write_str("an AES IV needs an AES key"),
            Self::CodecV2(code) => write!(
                f,
                "codec v2 cannot hold these values ({code}): 1 to 16 registers, 1 to 255 samples"
            ),
            Self::BlockLength { field, len } => write!(f, "{field} must be 16 bytes, not {len}"),
        }
    }
}

impl core::error::Error for ArgumentError {}
