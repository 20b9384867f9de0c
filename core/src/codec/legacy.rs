//! Formats only the original server's own tools produced (spec §3.7).
//!
//! Kept so archives written by those tools can still be read; no device ever
//! sent them. Their values were floats; they are rounded to the nearest
//! register value and must lie in 0..=65535.

use alloc::vec::Vec;

use super::dictionary::u16_from_f32;
use super::reader::Reader;
use super::{CodecError, DecodeOptions, finish, value_count};

/// `[0xDE][n][base float32 LE][(n-1) × i16 LE deltas in hundredths, cumulative]`.
pub(crate) fn decode_temporal(
    r: &mut Reader<'_>,
    opts: &DecodeOptions<'_>,
) -> Result<Vec<u16>, CodecError> {
    let n = value_count(r.u8("value_count")?, opts)?;
    let base = f64::from(r.f32_le("base")?);
    if !base.is_finite() {
        return Err(CodecError::BadHeader { field: "base" });
    }
    let mut hundredths: i64 = 0;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 {
            hundredths += i64::from(r.i16_le("delta")?);
        }
        // One rounding, half away from zero, of the exact sum.
        let value = round_half_away(base + hundredths as f64 / 100.0);
        let value = u16::try_from(value).map_err(|_| CodecError::BadHeader {
            field: "value out of range",
        })?;
        out.push(value);
    }
    finish(r, opts)?;
    Ok(out)
}

/// `[0xAD][n][(float32 LE value, u8 run length)…]` until `n` values.
pub(crate) fn decode_rle(
    r: &mut Reader<'_>,
    opts: &DecodeOptions<'_>,
) -> Result<Vec<u16>, CodecError> {
    let n = value_count(r.u8("value_count")?, opts)?;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let value = u16_from_f32(r.f32_le("run value")?)?;
        let run = usize::from(r.u8("run length")?);
        if run == 0 || out.len() + run > n {
            return Err(CodecError::BadHeader {
                field: "run length",
            });
        }
        out.extend(core::iter::repeat_n(value, run));
    }
    finish(r, opts)?;
    Ok(out)
}

/// Rounds half away from zero, saturating far outside the u16 range.
fn round_half_away(f: f64) -> i64 {
    let bias = if f < 0.0 { -0.5 } else { 0.5 };
    (f + bias) as i64
}
