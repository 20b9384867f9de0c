//! Dictionary + bitmask, marker `0xD0` (spec §3.2, the v2 form since 2025-10-28).
//!
//! `[0xD0][N mod 256][k][k × float32 LE][indices, w bits each, LSB-first]`
//! with `w = bit_length(k)` (not of `k - 1`, F8). The encoder returns the
//! bit-packed packet instead when the dictionary form is not smaller than the
//! raw values, as the firmware does.

use alloc::vec::Vec;

use super::reader::Reader;
use super::{CodecError, DecodeOptions, bit_length, bitpack, finish, value_count};

/// The packet's first byte.
pub(crate) const MARKER: u8 = 0xD0;

/// Encodes `values` as the firmware's dictionary encoder does (may yield `0x01`).
pub fn encode(values: &[u16]) -> Vec<u8> {
    let mut entries: Vec<u16> = Vec::new();
    let mut indices: Vec<u8> = Vec::with_capacity(values.len());
    for &v in values {
        let index = match entries.iter().position(|&e| e == v) {
            Some(i) => i,
            None => {
                entries.push(v);
                entries.len() - 1
            }
        };
        // More than 255 entries cannot be written in the one-byte `k`; the
        // firmware never gets there (at most 500 values, which bit-pack smaller).
        let Ok(index) = u8::try_from(index) else {
            return bitpack::encode(values);
        };
        indices.push(index);
    }
    let k = entries.len();
    let width = bit_length(k as u32);
    let size = 3 + 4 * k + (values.len() * width as usize).div_ceil(8);
    if size >= 2 * values.len() {
        return bitpack::encode(values);
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&[MARKER, values.len() as u8, k as u8]);
    for e in &entries {
        out.extend_from_slice(&f32::from(*e).to_le_bytes());
    }
    let mut acc: u32 = 0;
    let mut held = 0u32;
    for &i in &indices {
        acc |= u32::from(i) << held;
        held += width;
        while held >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            held -= 8;
        }
    }
    if held > 0 {
        out.push(acc as u8);
    }
    out
}

/// Decodes the rest of a dictionary packet (after the marker).
pub(crate) fn decode(r: &mut Reader<'_>, opts: &DecodeOptions<'_>) -> Result<Vec<u16>, CodecError> {
    let n = value_count(r.u8("value_count")?, opts)?;
    let k = r.u8("dictionary_size")?;
    if k == 0 && n > 0 {
        return Err(CodecError::BadHeader {
            field: "dictionary_size",
        });
    }
    let mut entries = Vec::with_capacity(usize::from(k));
    for _ in 0..k {
        entries.push(u16_from_f32(r.f32_le("dictionary entry")?)?);
    }
    let width = bit_length(u32::from(k));
    let data = r.take((n * width as usize).div_ceil(8), "indices")?;
    finish(r, opts)?;
    let mut out = Vec::with_capacity(n);
    let mask = (1u32 << width) - 1;
    let mut acc: u32 = 0;
    let mut held = 0u32;
    let mut bytes = data.iter();
    for _ in 0..n {
        if held < width {
            acc |= u32::from(bytes.next().copied().unwrap_or(0)) << held;
            held += 8;
        }
        let index = (acc & mask) as usize;
        acc >>= width;
        held -= width;
        let value = entries.get(index).ok_or(CodecError::BadHeader {
            field: "index (beyond dictionary)",
        })?;
        out.push(*value);
    }
    Ok(out)
}

/// A dictionary entry must be an integral float in 0..=65535.
pub(crate) fn u16_from_f32(f: f32) -> Result<u16, CodecError> {
    let v = f as u16;
    if f32::from(v) == f {
        Ok(v)
    } else {
        Err(CodecError::BadHeader {
            field: "dictionary entry (not a u16)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let values = [100, 100, 200, 100, 200, 200, 100, 100];
        let packet = encode(&values);
        let expect = [
            0xd0, 0x08, 0x02, 0, 0, 0xc8, 0x42, 0, 0, 0x48, 0x43, 0x10, 0x05,
        ];
        assert_eq!(packet, expect);
        assert_eq!(
            decode(&mut Reader::new(&packet[1..]), &DecodeOptions::default()).unwrap(),
            values
        );
    }

    #[test]
    fn rejects_fractional_and_negative_entries() {
        assert!(u16_from_f32(1.5).is_err());
        assert!(u16_from_f32(-1.0).is_err());
        assert!(u16_from_f32(65536.0).is_err());
        assert!(u16_from_f32(f32::NAN).is_err());
        assert_eq!(u16_from_f32(65535.0), Ok(65535));
    }
}
