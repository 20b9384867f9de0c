//! Codec v2, marker `0xC2`: solarwire's own predictive packet format
//! (`docs/codec-v2.md` is the byte-level specification).
//!
//! Per channel (register) a prediction from the two previous values, chosen
//! per block of 8 samples from four fixed [predictors](Predictor); the
//! zigzagged errors are bit-packed with a 4-bit width per channel and block;
//! all-zero blocks collapse into runs. Packets are self-contained.
//!
//! - [`Encoder`] is streaming and allocation-free: it writes into the
//!   caller's buffer (size it with [`max_packet_len`]) and keeps 22 bytes of
//!   state per channel.
//! - [`decode_into`] fills the caller's buffer without allocating;
//!   [`decode`] returns a [`Packet`].
//!
//! Decoding is strict: a packet must end exactly where its header says.

mod bits;
mod decode;
mod encode;
mod predict;
#[cfg(test)]
mod tests;

#[cfg(feature = "alloc")]
use alloc::vec;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

use super::CodecError;
#[cfg(feature = "alloc")]
use super::DecodeOptions;

pub use decode::{decode_into, shape};
pub use encode::Encoder;
pub use predict::Predictor;

/// The packet's first byte (distinct from every v1 marker).
pub const MARKER: u8 = 0xC2;

/// The most channels (registers per sample) a packet can carry.
pub const MAX_CHANNELS: usize = 16;

/// The most samples a packet can carry.
pub const MAX_SAMPLES: usize = 255;

/// Samples per block.
pub(crate) const BLOCK: usize = 8;

/// The channel and sample counts a packet's header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Registers per sample, 1 ..= [`MAX_CHANNELS`].
    pub channels: usize,
    /// Samples, 1 ..= [`MAX_SAMPLES`].
    pub samples: usize,
}

impl Shape {
    /// The number of values the packet decodes to.
    pub fn values(self) -> usize {
        self.channels * self.samples
    }
}

/// A decoded v2 packet.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Registers per sample.
    pub channels: usize,
    /// The values, sample-major (`channels` values of sample 0, then sample 1, …).
    pub values: Vec<u16>,
}

/// The longest packet `channels × samples` values can produce: every channel
/// escaped at width 16 in every block. A buffer this long never makes the
/// [`Encoder`] report `too_large`.
pub const fn max_packet_len(channels: usize, samples: usize) -> usize {
    if samples == 0 {
        return 0;
    }
    let rest = samples - 1;
    let blocks = rest.div_ceil(BLOCK);
    3 + 2 * channels + blocks * (3 * channels).div_ceil(2) + 2 * rest * channels
}

/// Decodes a packet, checking its size against `opts` (`expected_count`,
/// `max_values`; `register_ids` is not used).
#[cfg(feature = "alloc")]
///
/// # Errors
/// `unknown_marker`, `truncated`, `bad_header`, `too_large`
/// (see `docs/codec-v2.md`, "Strictness").
pub fn decode(packet: &[u8], opts: &DecodeOptions<'_>) -> Result<Packet, CodecError> {
    let declared = shape(packet)?;
    let n = declared.values();
    if opts.expected_count.is_some_and(|want| want != n) {
        return Err(CodecError::BadHeader {
            field: "count (header disagrees with metadata)",
        });
    }
    if n > opts.max_values {
        return Err(CodecError::TooLarge {
            declared: n,
            limit: opts.max_values,
        });
    }
    let mut values = vec![0; n];
    decode_into(packet, &mut values)?;
    Ok(Packet {
        channels: declared.channels,
        values,
    })
}

/// Encodes sample-major `values` of `channels` registers into a new vector.
#[cfg(feature = "alloc")]
///
/// # Errors
/// `bad_header` when `channels` is 0 or above [`MAX_CHANNELS`], or `values`
/// is empty or not a whole number of samples; `too_large` above
/// [`MAX_SAMPLES`] samples.
pub fn encode_to_vec(values: &[u16], channels: usize) -> Result<Vec<u8>, CodecError> {
    let samples = values.len() / channels.max(1);
    let mut out = vec![0; max_packet_len(channels, samples)];
    let len = encode(values, channels, &mut out)?.len();
    out.truncate(len);
    Ok(out)
}

/// Encodes sample-major `values` of `channels` registers into `out` and
/// returns the packet (a prefix of `out`).
///
/// # Errors
/// As [`encode_to_vec`], and `too_large` when `out` is too short.
pub fn encode<'o>(
    values: &[u16],
    channels: usize,
    out: &'o mut [u8],
) -> Result<&'o [u8], CodecError> {
    let mut encoder = Encoder::new(channels, out)?;
    if !values.len().is_multiple_of(channels) {
        return Err(CodecError::BadHeader {
            field: "values (not a whole number of samples)",
        });
    }
    for sample in values.chunks_exact(channels) {
        encoder.push(sample)?;
    }
    encoder.finish()
}
