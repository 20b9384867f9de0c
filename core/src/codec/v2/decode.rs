//! The decoder: header, seeds, then blocks of 8 samples.
//!
//! Full blocks take the fast path: a header without escapes is read as one
//! word, and a channel's 8 values of `w` bits (exactly `w` bytes) come from
//! two 64-bit loads. Only escapes, the last partial block and the seeds go
//! through the general bit reader.

use super::bits::BitReader;
use super::predict::{Predictor, unzigzag};
use super::{BLOCK, MARKER, MAX_CHANNELS, Shape};
use crate::codec::CodecError;

/// Reads the header's channel and sample counts.
///
/// # Errors
/// `unknown_marker`, `truncated`, `bad_header` (zero samples).
pub fn shape(packet: &[u8]) -> Result<Shape, CodecError> {
    let Some(&[marker, shape, samples]) = packet.first_chunk::<3>() else {
        return Err(match packet.first() {
            Some(&m) if m != MARKER => CodecError::UnknownMarker(m),
            _ => CodecError::Truncated { field: "header" },
        });
    };
    if marker != MARKER {
        return Err(CodecError::UnknownMarker(marker));
    }
    if samples == 0 {
        return Err(CodecError::BadHeader { field: "samples" });
    }
    Ok(Shape {
        channels: usize::from(shape & 0x0F) + 1,
        samples: usize::from(samples),
    })
}

/// One channel's decoding state.
#[derive(Clone, Copy, Default)]
struct Lane {
    a: u16,
    b: u16,
    predictor: Predictor,
    width: u32,
}

/// Decodes a packet into the front of `out` (sample-major) without
/// allocating, and returns its shape.
///
/// # Errors
/// `unknown_marker`, `truncated`, `bad_header`; `too_large` when `out` is
/// shorter than the packet's values.
pub fn decode_into(packet: &[u8], out: &mut [u16]) -> Result<Shape, CodecError> {
    let declared = shape(packet)?;
    let Shape { channels, samples } = declared;
    let limit = out.len();
    let out = out
        .get_mut(..declared.values())
        .ok_or(CodecError::TooLarge {
            declared: declared.values(),
            limit,
        })?;
    let mut lanes = [Lane::default(); MAX_CHANNELS];
    let lanes = lanes.get_mut(..channels).unwrap_or_default();
    let rest = packet.get(3..).unwrap_or_default();
    let (first, rows) = out.split_at_mut(channels);
    let mut pos = read_seeds(rest, packet.get(1).map_or(0, |s| s >> 4), first, lanes)?;

    let mut run = 0usize;
    for (index, block) in rows.chunks_mut(BLOCK * channels).enumerate() {
        let n = (samples - 1 - index * BLOCK).min(BLOCK);
        if run > 0 {
            run -= 1;
            zero_block(lanes, block);
            continue;
        }
        let tail = rest.get(pos..).unwrap_or_default();
        let header = match fast_header(word(tail), lanes) {
            Some(header) if header.len <= tail.len() => header,
            _ => read_header(tail, lanes)?,
        };
        pos += header.len;
        if n == BLOCK && !header.escaped && lanes.iter().all(|l| l.width == 0) {
            let r = rest
                .get(pos)
                .copied()
                .ok_or(CodecError::Truncated { field: "run" })?;
            pos += 1;
            run = usize::from(r);
            if (run + 1 + index) * BLOCK > samples - 1 {
                return Err(CodecError::BadHeader { field: "run" });
            }
            zero_block(lanes, block);
            continue;
        }
        let tail = rest.get(pos..).unwrap_or_default();
        pos += if n == BLOCK {
            full_block(tail, lanes, block)?
        } else {
            partial_block(tail, lanes, block, n)?
        };
    }
    if pos == rest.len() {
        Ok(declared)
    } else {
        Err(CodecError::BadHeader {
            field: "trailing bytes",
        })
    }
}

/// Sample 0: `C` values of the shape's seed width.
fn read_seeds(
    rest: &[u8],
    code: u8,
    first: &mut [u16],
    lanes: &mut [Lane],
) -> Result<usize, CodecError> {
    let width = if code == 15 { 16 } else { u32::from(code) };
    let mut bits = BitReader::new(rest);
    for (slot, lane) in first.iter_mut().zip(lanes.iter_mut()) {
        let v = bits.get(width, "seeds")?;
        *slot = v;
        (lane.a, lane.b) = (v, v);
    }
    bits.finish()
}

/// The first 8 bytes of `bytes` as a little-endian word, zero-padded.
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    match bytes.first_chunk::<8>() {
        Some(eight) => u64::from_le_bytes(*eight),
        None => bytes
            .iter()
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    }
}

/// What a block header told.
struct Header {
    /// Its length in bytes.
    len: usize,
    /// Whether some channel changed its predictor or width through an escape
    /// (such a block is never a zero block).
    escaped: bool,
}

/// A header that fits in one word (every header without escapes does):
/// sets the widths and predictors, or returns `None` for the general reader
/// to decide (a longer header, a bad escape, dirty padding).
#[inline(always)]
fn fast_header(word: u64, lanes: &mut [Lane]) -> Option<Header> {
    let mut bits = 0u32;
    let mut escaped = false;
    for lane in lanes.iter_mut() {
        if bits + 4 > 64 {
            return None;
        }
        let nibble = (word >> bits) & 0x0F;
        if nibble == 0x0F {
            if bits + 12 > 64 {
                return None;
            }
            let e = (word >> (bits + 4)) & 0xFF;
            if e & 0x80 != 0 || e & 0x1F > 16 {
                return None;
            }
            lane.width = (e & 0x1F) as u32;
            lane.predictor = Predictor::from_code((e >> 5) as u8);
            escaped = true;
            bits += 12;
        } else {
            lane.width = nibble as u32;
            bits += 4;
        }
    }
    if !bits.is_multiple_of(8) && (word >> bits) & 0x0F != 0 {
        return None;
    }
    Some(Header {
        len: bits.div_ceil(8) as usize,
        escaped,
    })
}

/// The general header reader (escapes, short tails).
fn read_header(tail: &[u8], lanes: &mut [Lane]) -> Result<Header, CodecError> {
    let mut bits = BitReader::new(tail);
    let mut escaped = false;
    for lane in lanes.iter_mut() {
        let nibble = bits.get(4, "block header")?;
        if nibble == 15 {
            escaped = true;
            let e = bits.get(8, "block header escape")?;
            if e & 0x80 != 0 || e & 0x1F > 16 {
                return Err(CodecError::BadHeader {
                    field: "block header escape",
                });
            }
            lane.width = u32::from(e & 0x1F);
            lane.predictor = Predictor::from_code((e >> 5) as u8);
        } else {
            lane.width = u32::from(nibble);
        }
    }
    Ok(Header {
        len: bits.finish()?,
        escaped,
    })
}

/// Every channel continues its prediction with zero error.
fn zero_block(lanes: &mut [Lane], block: &mut [u16]) {
    let channels = lanes.len();
    for (c, lane) in lanes.iter_mut().enumerate() {
        scatter(block, c, channels, &reconstruct(lane, &[0; BLOCK], BLOCK));
    }
}

/// A full block: channel `c`'s 8 values are its next `w_c` bytes.
fn full_block(tail: &[u8], lanes: &mut [Lane], block: &mut [u16]) -> Result<usize, CodecError> {
    let channels = lanes.len();
    let mut pos = 0;
    for (c, lane) in lanes.iter_mut().enumerate() {
        let w = lane.width as usize;
        let window = tail.get(pos..pos + w).ok_or(CodecError::Truncated {
            field: "block data",
        })?;
        // Reads past the channel's w bytes land in later data (or nowhere)
        // and are masked off.
        let z = unpack8(tail.get(pos..).unwrap_or(window), lane.width);
        pos += w;
        scatter(block, c, channels, &reconstruct(lane, &z, BLOCK));
    }
    Ok(pos)
}

/// Eight values of `width` bits from a 16-byte window: values 0–3 from the
/// word at byte 0, values 4–7 from the word at byte `width / 2` (bit offset
/// 0 or 4; `4·width + 4 ≤ 64` for odd widths ≤ 15).
#[inline(always)]
fn unpack8(window: &[u8], width: u32) -> [u16; BLOCK] {
    let lo = word(window);
    let hi = word(window.get(width as usize / 2..).unwrap_or_default()) >> ((width & 1) * 4);
    let mask = (1u64 << width) - 1;
    let mut z = [0u16; BLOCK];
    for (i, slot) in z.iter_mut().enumerate() {
        let (src, i) = if i < 4 { (lo, i) } else { (hi, i - 4) };
        *slot = ((src >> (i as u32 * width)) & mask) as u16;
    }
    z
}

/// The last block of `n < 8` samples: one bit stream, padded once.
fn partial_block(
    tail: &[u8],
    lanes: &mut [Lane],
    block: &mut [u16],
    n: usize,
) -> Result<usize, CodecError> {
    let channels = lanes.len();
    let mut bits = BitReader::new(tail);
    for (c, lane) in lanes.iter_mut().enumerate() {
        let mut z = [0u16; BLOCK];
        for slot in z.iter_mut().take(n) {
            *slot = bits.get(lane.width, "block data")?;
        }
        scatter(block, c, channels, &reconstruct(lane, &z, n));
    }
    bits.finish()
}

/// A channel's first `n` values from their zigzagged errors; advances the lane.
#[inline(always)]
fn reconstruct(lane: &mut Lane, errors: &[u16; BLOCK], n: usize) -> [u16; BLOCK] {
    let (mut a, mut b) = (lane.a, lane.b);
    let mut column = [0u16; BLOCK];
    macro_rules! run {
        ($p:expr) => {
            for (slot, &z) in column.iter_mut().zip(errors).take(n) {
                let x = unzigzag(z, $p.predict(a, b));
                *slot = x;
                (a, b) = (x, a);
            }
        };
    }
    match lane.predictor {
        Predictor::Delta => run!(Predictor::Delta),
        Predictor::DeltaOfDelta => run!(Predictor::DeltaOfDelta),
        Predictor::DampedTrend => run!(Predictor::DampedTrend),
        Predictor::None => run!(Predictor::None),
    }
    (lane.a, lane.b) = (a, b);
    column
}

/// Writes a channel's column into the block's rows (sample-major); a
/// partial block takes the first values.
#[inline(always)]
fn scatter(block: &mut [u16], channel: usize, channels: usize, column: &[u16; BLOCK]) {
    for (i, &x) in column.iter().enumerate() {
        if let Some(slot) = block.get_mut(i * channels + channel) {
            *slot = x;
        }
    }
}
