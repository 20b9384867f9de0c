//! Bit-packed values, marker `0x01` (spec §3.1).
//!
//! `[0x01][bits][N mod 256][values, MSB-first]`. The encoder uses
//! `bits = min(16, max(8, bit_length(max)))` exactly as the firmware does.

use alloc::vec::Vec;

use super::reader::Reader;
use super::{CodecError, DecodeOptions, bit_length, finish, value_count};

/// The packet's first byte.
pub(crate) const MARKER: u8 = 0x01;

/// Encodes `values` as the firmware's bit-packing encoder does.
pub fn encode(values: &[u16]) -> Vec<u8> {
    let max = values.iter().copied().max().unwrap_or(0);
    let bits = bit_length(u32::from(max)).clamp(8, 16);
    let mut out = Vec::with_capacity(3 + (values.len() * bits as usize).div_ceil(8));
    out.extend_from_slice(&[MARKER, bits as u8, values.len() as u8]);
    pack_msb_first(values, bits, &mut out);
    out
}

fn pack_msb_first(values: &[u16], bits: u32, out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut held = 0u32;
    for &v in values {
        acc = (acc << bits) | u64::from(v);
        held += bits;
        while held >= 8 {
            held -= 8;
            out.push((acc >> held) as u8);
        }
    }
    if held > 0 {
        out.push((acc << (8 - held)) as u8);
    }
}

/// Decodes the rest of a bit-packed packet (after the marker).
pub(crate) fn decode(r: &mut Reader<'_>, opts: &DecodeOptions<'_>) -> Result<Vec<u16>, CodecError> {
    let bits = r.u8("bits_per_value")?;
    if bits == 0 || bits > 16 {
        return Err(CodecError::BadHeader {
            field: "bits_per_value",
        });
    }
    let n = value_count(r.u8("value_count")?, opts)?;
    let bits = u32::from(bits);
    let data = r.take((n * bits as usize).div_ceil(8), "packed values")?;
    finish(r, opts)?;
    Ok(unpack_msb_first(data, n, bits))
}

/// Reads `n` values of `bits` bits; `data` holds at least `n * bits` bits.
///
/// A value of ≤ 16 bits starting at bit offset ≤ 7 lies inside the 64-bit
/// big-endian word at its first byte: one load, one shift, one mask per
/// value while eight bytes remain, then a three-byte window for the tail.
fn unpack_msb_first(data: &[u8], n: usize, bits: u32) -> Vec<u16> {
    let bits = bits as usize;
    let mask = (1u64 << bits) - 1;
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let bit = i * bits;
        let Some(word) = data.get(bit / 8..bit / 8 + 8) else {
            break;
        };
        let word = u64::from_be_bytes(word.try_into().unwrap_or([0; 8]));
        out.push(((word >> (64 - bits - bit % 8)) & mask) as u16);
        i += 1;
    }
    for i in i..n {
        let bit = i * bits;
        let byte = |k: usize| u64::from(data.get(bit / 8 + k).copied().unwrap_or(0));
        let word = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        out.push(((word >> (24 - bits - bit % 8)) & mask) as u16);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_round_trips() {
        let values = [2304, 52, 71, 69, 452, 1205];
        let packet = encode(&values);
        assert_eq!(
            packet,
            [
                0x01, 0x0c, 0x06, 0x90, 0x00, 0x34, 0x04, 0x70, 0x45, 0x1c, 0x44, 0xb5
            ]
        );
        let mut r = Reader::new(&packet[1..]);
        assert_eq!(decode(&mut r, &DecodeOptions::default()).unwrap(), values);
    }

    #[test]
    fn every_width_round_trips() {
        for bits in 1..=16u32 {
            let values: Vec<u16> = (0..37u32)
                .map(|i| ((i * 7919) & ((1 << bits) - 1)) as u16)
                .collect();
            let mut out = Vec::new();
            pack_msb_first(&values, bits, &mut out);
            assert_eq!(
                unpack_msb_first(&out, values.len(), bits),
                values,
                "bits {bits}"
            );
        }
    }
}
