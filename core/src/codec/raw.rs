//! Raw values of pre-2025-11-26 firmware, marker `0x00` (spec §3.5, F10).
//!
//! `[0x00][N mod 256][N × u16 LE]`. Headerless packets of that firmware cannot
//! be told apart from other bytes and are refused by marker detection.

use alloc::vec::Vec;

use super::reader::Reader;
use super::{CodecError, DecodeOptions, finish, value_count};

/// Decodes the rest of a raw packet (after the marker).
pub(crate) fn decode(r: &mut Reader<'_>, opts: &DecodeOptions<'_>) -> Result<Vec<u16>, CodecError> {
    let n = value_count(r.u8("value_count")?, opts)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.u16_le("raw value")?);
    }
    finish(r, opts)?;
    Ok(out)
}
