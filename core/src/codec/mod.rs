//! Compression codecs of the EcoWatt firmware (spec §3).
//!
//! A packet's first byte selects the scheme ([`Method::from_marker`]). Every
//! scheme has its own module with a `decode` and, where the firmware produces
//! it, an `encode` that is byte-identical to the device's encoder.
//!
//! Decoders are strict where the original server was lenient:
//! - counts: the header carries `N mod 256` (F6); when the caller knows the
//!   real count (upload metadata) it passes [`DecodeOptions::expected_count`],
//!   which must agree with the header and is decoded in full;
//! - every read is bounds-checked (`truncated`, F7, F9), widths and indices are
//!   validated (`bad_header`, F8, F9), and declared sizes are bounded
//!   (`too_large`);
//! - invalid temporal tags are rejected (F5) and short temporal packets are
//!   judged by their content, not a minimum length (F4).

mod batch;
mod bitpack;
mod dictionary;
mod encoder;
mod error;
mod legacy;
mod raw;
mod reader;
mod semantic;
mod smart;
mod temporal;
pub mod v2;

use alloc::vec::Vec;

pub use batch::{Batch, decode_batch};
pub use bitpack::encode as encode_bit_packed;
pub use dictionary::encode as encode_dictionary;
pub use encoder::Encoder;
pub use error::CodecError;
pub use semantic::encode as encode_semantic_rle;
pub use smart::encode as encode_smart;
pub use temporal::{RING_REGISTERS, RING_SLOTS, TemporalState};

use reader::Reader;

/// The default bound on the number of values one packet may declare.
///
/// The firmware's largest packet holds 50 samples of 10 registers (500 values).
pub const DEFAULT_MAX_VALUES: usize = 4096;

/// The compression scheme of a packet, chosen by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Method {
    /// `0x01` (and the server-only alias `0xBF`): fixed-width values, MSB-first.
    BitPacked,
    /// `0xD0`: distinct values as float32 plus LSB-first indices (v2 form).
    Dictionary,
    /// `0x70`: temporal base, register ids and raw values.
    TemporalBase,
    /// `0x71`: temporal delta against the device's prediction ring.
    TemporalDelta,
    /// `0x50`: semantic run-length encoding, lossy on the device.
    SemanticRle,
    /// `0x00`: raw u16 values of pre-2025-11-26 firmware.
    Raw,
    /// `0xDE`: the original server's own temporal format.
    LegacyTemporal,
    /// `0xAD`: the original server's own run-length format.
    LegacySemanticRle,
    /// `0xC2`: solarwire's predictive codec v2 (`docs/codec-v2.md`).
    CodecV2,
}

impl Method {
    /// Every method, in marker order.
    pub const ALL: [Self; 9] = [
        Self::Raw,
        Self::BitPacked,
        Self::SemanticRle,
        Self::TemporalBase,
        Self::TemporalDelta,
        Self::LegacySemanticRle,
        Self::CodecV2,
        Self::Dictionary,
        Self::LegacyTemporal,
    ];

    /// Selects the method from a packet's first byte.
    ///
    /// # Errors
    /// `unknown_marker` for a byte no firmware or server ever produced.
    pub fn from_marker(marker: u8) -> Result<Self, CodecError> {
        Ok(match marker {
            0x01 | 0xBF => Self::BitPacked,
            0xD0 => Self::Dictionary,
            0x70 => Self::TemporalBase,
            0x71 => Self::TemporalDelta,
            0x50 => Self::SemanticRle,
            0x00 => Self::Raw,
            0xDE => Self::LegacyTemporal,
            0xAD => Self::LegacySemanticRle,
            v2::MARKER => Self::CodecV2,
            other => return Err(CodecError::UnknownMarker(other)),
        })
    }

    /// The stable snake_case name used by vectors and every host.
    pub fn code(self) -> &'static str {
        match self {
            Self::BitPacked => "bit_packed",
            Self::Dictionary => "dictionary",
            Self::TemporalBase => "temporal_base",
            Self::TemporalDelta => "temporal_delta",
            Self::SemanticRle => "semantic_rle",
            Self::Raw => "raw",
            Self::LegacyTemporal => "legacy_temporal",
            Self::LegacySemanticRle => "legacy_semantic_rle",
            Self::CodecV2 => "codec_v2",
        }
    }

    /// Parses a name produced by [`Method::code`].
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code)
    }

    /// The label the firmware writes in `decompression_metadata.method` (spec §3.6).
    pub fn firmware_label(self) -> &'static str {
        match self {
            Self::Dictionary => "dictionary",
            Self::TemporalBase | Self::TemporalDelta => "temporal",
            Self::SemanticRle => "semantic",
            Self::CodecV2 => "codec_v2",
            _ => "bitpack",
        }
    }

    /// Whether decoding reproduces the encoder's input exactly.
    pub fn is_lossless(self) -> bool {
        !matches!(self, Self::SemanticRle)
    }
}

impl TryFrom<u8> for Method {
    type Error = CodecError;
    fn try_from(marker: u8) -> Result<Self, CodecError> {
        Self::from_marker(marker)
    }
}

/// What the caller knows about a packet besides its bytes.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions<'a> {
    /// The true value count (`register_count × sample_count` from the upload
    /// metadata). The header's count byte must equal it modulo 256 (F6).
    pub expected_count: Option<usize>,
    /// The register id of every value (the layout repeated per sample). Needed
    /// to feed the temporal ring from packets that do not carry ids.
    pub register_ids: Option<&'a [u8]>,
    /// Upper bound on the values a packet may declare (`too_large` above it).
    pub max_values: usize,
}

impl Default for DecodeOptions<'_> {
    fn default() -> Self {
        Self {
            expected_count: None,
            register_ids: None,
            max_values: DEFAULT_MAX_VALUES,
        }
    }
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Decoded {
    /// The scheme the packet used.
    pub method: Method,
    /// The register values, sample-major, exactly as the bytes say.
    pub values: Vec<u16>,
    /// The register ids the packet itself carries (temporal base only).
    pub register_ids: Option<Vec<u8>>,
    /// For lossy packets, which values are known to equal the device's reading;
    /// `None` when every value is exact.
    pub exact: Option<Vec<bool>>,
}

impl Decoded {
    /// Whether some values are approximations of the device's readings (F2).
    pub fn is_approximate(&self) -> bool {
        self.exact.as_ref().is_some_and(|e| e.iter().any(|x| !x))
    }
}

/// Decodes one packet without temporal history.
///
/// A `0x71` delta packet needs the device's history; use
/// [`TemporalState::decode`] for streams.
///
/// # Errors
/// `truncated`, `unknown_marker`, `bad_header`, `missing_state`, `too_large`.
pub fn decode(packet: &[u8], opts: &DecodeOptions<'_>) -> Result<Decoded, CodecError> {
    decode_with(packet, opts, None)
}

pub(crate) fn decode_with(
    packet: &[u8],
    opts: &DecodeOptions<'_>,
    history: Option<&TemporalState>,
) -> Result<Decoded, CodecError> {
    let mut r = Reader::new(packet);
    let method = Method::from_marker(r.u8("marker")?)?;
    let mut decoded = Decoded {
        method,
        values: Vec::new(),
        register_ids: None,
        exact: None,
    };
    match method {
        Method::BitPacked => decoded.values = bitpack::decode(&mut r, opts)?,
        Method::Dictionary => decoded.values = dictionary::decode(&mut r, opts)?,
        Method::TemporalBase => {
            let (ids, values) = temporal::decode_base(&mut r, opts)?;
            decoded.register_ids = Some(ids);
            decoded.values = values;
        }
        Method::TemporalDelta => {
            let state = history.ok_or(CodecError::MissingState {
                reason: "no history for a delta packet",
            })?;
            decoded.values = state.decode_delta(&mut r, opts)?;
        }
        Method::SemanticRle => {
            let (values, exact) = semantic::decode(&mut r, opts)?;
            decoded.values = values;
            decoded.exact = Some(exact);
        }
        Method::Raw => decoded.values = raw::decode(&mut r, opts)?,
        Method::LegacyTemporal => decoded.values = legacy::decode_temporal(&mut r, opts)?,
        Method::LegacySemanticRle => decoded.values = legacy::decode_rle(&mut r, opts)?,
        Method::CodecV2 => {
            let packet = v2::decode(packet, opts)?;
            check_v2_layout(packet.channels, opts.register_ids)?;
            decoded.values = packet.values;
        }
    }
    Ok(decoded)
}

/// A v2 packet's channels must line up with the register layout: the ids
/// of its values repeat every `channels` values (a channel count that is a
/// whole number of layouts is fine; anything else would shift registers).
fn check_v2_layout(channels: usize, register_ids: Option<&[u8]>) -> Result<(), CodecError> {
    let Some(ids) = register_ids else {
        return Ok(());
    };
    let periodic = ids
        .iter()
        .zip(ids.iter().skip(channels))
        .all(|(a, b)| a == b);
    if periodic && ids.len().is_multiple_of(channels) {
        Ok(())
    } else {
        Err(CodecError::BadHeader {
            field: "channels (disagree with the register layout)",
        })
    }
}

/// Resolves the value count from the header byte and the caller's knowledge (F6).
pub(crate) fn value_count(header: u8, opts: &DecodeOptions<'_>) -> Result<usize, CodecError> {
    let n = match opts.expected_count {
        Some(n) if n % 256 != usize::from(header) => {
            return Err(CodecError::BadHeader {
                field: "count (header disagrees with metadata)",
            });
        }
        Some(n) => n,
        None => usize::from(header),
    };
    if n > opts.max_values {
        return Err(CodecError::TooLarge {
            declared: n,
            limit: opts.max_values,
        });
    }
    Ok(n)
}

/// Trailing bytes are an error only when the caller fixed the count: without
/// it the header count may have wrapped (F6) and the firmware then emits more
/// bytes than the header announces.
pub(crate) fn finish(r: &Reader<'_>, opts: &DecodeOptions<'_>) -> Result<(), CodecError> {
    if opts.expected_count.is_some() {
        r.finish("trailing bytes")
    } else {
        Ok(())
    }
}

/// The number of bits needed to write `v` (1 for 0 and 1).
pub(crate) fn bit_length(v: u32) -> u32 {
    (32 - v.leading_zeros()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_code(m.code()), Some(m));
        }
        assert_eq!(Method::from_marker(0xBF), Ok(Method::BitPacked));
        assert_eq!(Method::from_marker(v2::MARKER), Ok(Method::CodecV2));
    }

    #[test]
    fn v2_packets_decode_through_the_dispatch() {
        let values = [230, 52, 231, 53, 233, 52];
        let packet = v2::encode_to_vec(&values, 2).unwrap();
        let ids = [0, 1, 0, 1, 0, 1];
        let opts = DecodeOptions {
            expected_count: Some(6),
            register_ids: Some(&ids),
            ..DecodeOptions::default()
        };
        let decoded = decode(&packet, &opts).unwrap();
        assert_eq!(
            (decoded.method, decoded.values),
            (Method::CodecV2, values.to_vec())
        );
        // Three channels cannot carry a two-register layout.
        let three = v2::encode_to_vec(&values, 3).unwrap();
        assert_eq!(decode(&three, &opts).unwrap_err().code(), "bad_header");
        // Another count than the metadata's: refused.
        let opts = DecodeOptions {
            expected_count: Some(4),
            ..DecodeOptions::default()
        };
        assert!(decode(&packet, &opts).is_err());
    }
}
