//! Semantic run-length encoding, marker `0x50` (spec §3.4; F1, F2).
//!
//! Values are grouped by register *type*; each group is run-length encoded
//! with a per-type tolerance, and current/frequency types keep only the low
//! byte. The device's encoder is therefore lossy: decoding yields what the
//! bytes say, and [`super::Decoded::exact`] marks which values are certain.

use alloc::vec;
use alloc::vec::Vec;

use super::reader::Reader;
use super::{CodecError, DecodeOptions, finish, value_count};

/// The packet's first byte.
pub(crate) const MARKER: u8 = 0x50;

/// How the device treats one register type.
#[derive(Clone, Copy)]
struct Kind {
    id: u8,
    tolerance: u16,
    /// Run values are written as one byte (`value mod 256`) instead of two.
    one_byte: bool,
}

const KINDS: [Kind; 8] = [
    Kind {
        id: 0,
        tolerance: 0,
        one_byte: false,
    },
    Kind {
        id: 1,
        tolerance: 10,
        one_byte: false,
    },
    Kind {
        id: 2,
        tolerance: 5,
        one_byte: true,
    },
    Kind {
        id: 3,
        tolerance: 1,
        one_byte: true,
    },
    Kind {
        id: 4,
        tolerance: 15,
        one_byte: false,
    },
    Kind {
        id: 5,
        tolerance: 3,
        one_byte: true,
    },
    Kind {
        id: 6,
        tolerance: 5,
        one_byte: false,
    },
    Kind {
        id: 7,
        tolerance: 50,
        one_byte: false,
    },
];

/// The device's type of register `id` (Vac1 → 1 … Pow/Pac → 7, others 0).
fn kind_of(register_id: u8) -> Kind {
    let id = match register_id {
        0 => 1,
        1 => 2,
        2 => 3,
        3 | 4 => 4,
        5 | 6 => 5,
        7 => 6,
        8 | 9 => 7,
        _ => 0,
    };
    KINDS.get(id).copied().unwrap_or(KINDS[0])
}

/// Encodes as the device does (lossy). `register_ids` gives every value's id.
pub fn encode(values: &[u16], register_ids: &[u8]) -> Vec<u8> {
    // Groups in order of first appearance: (kind, positions).
    let mut groups: Vec<(Kind, Vec<usize>)> = Vec::new();
    for (i, &id) in register_ids.iter().enumerate().take(values.len()) {
        let kind = kind_of(id);
        match groups.iter_mut().find(|(k, _)| k.id == kind.id) {
            Some((_, positions)) => positions.push(i),
            None => groups.push((kind, vec![i])),
        }
    }
    let mut out = vec![MARKER, values.len() as u8, groups.len() as u8];
    for (kind, positions) in &groups {
        out.extend_from_slice(&[kind.id, positions.len() as u8]);
        out.extend(positions.iter().map(|&p| p as u8));
        let group: Vec<u16> = positions
            .iter()
            .filter_map(|&p| values.get(p).copied())
            .collect();
        let mut start = 0;
        while let Some(&first) = group.get(start) {
            let run = group
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take(255)
                .take_while(|&&v| v.abs_diff(first) <= kind.tolerance)
                .count();
            if kind.one_byte {
                out.push(first as u8);
            } else {
                out.extend_from_slice(&first.to_le_bytes());
            }
            out.push(run as u8);
            start += run;
        }
    }
    out
}

/// Decodes the rest of a semantic packet: the values and which are exact.
pub(crate) fn decode(
    r: &mut Reader<'_>,
    opts: &DecodeOptions<'_>,
) -> Result<(Vec<u16>, Vec<bool>), CodecError> {
    const BAD: fn(&'static str) -> CodecError = |field| CodecError::BadHeader { field };
    let n = value_count(r.u8("value_count")?, opts)?;
    let group_count = r.u8("group_count")?;
    let mut values = vec![0u16; n];
    let mut exact = vec![false; n];
    let mut filled = vec![false; n];
    for _ in 0..group_count {
        let kind = *KINDS
            .get(usize::from(r.u8("group type")?))
            .ok_or(BAD("group type"))?;
        let size = usize::from(r.u8("group size")?);
        let positions = unwrap_positions(r.take(size, "group positions")?);
        let mut done = 0;
        while done < size {
            let value = if kind.one_byte {
                u16::from(r.u8("run value")?)
            } else {
                r.u16_le("run value")?
            };
            let run = usize::from(r.u8("run length")?);
            if run == 0 || done + run > size {
                return Err(BAD("run length"));
            }
            for (j, &pos) in positions.iter().enumerate().skip(done).take(run) {
                let slot = filled.get_mut(pos).ok_or(BAD("position (beyond count)"))?;
                if *slot {
                    return Err(BAD("position (listed twice)"));
                }
                *slot = true;
                if opts
                    .register_ids
                    .is_some_and(|ids| ids.get(pos).map(|&id| kind_of(id).id) != Some(kind.id))
                {
                    return Err(BAD("group type (disagrees with the layout)"));
                }
                if let (Some(v), Some(e)) = (values.get_mut(pos), exact.get_mut(pos)) {
                    *v = value;
                    // A run's first value is the device's reading unless only
                    // its low byte was kept; later ones are within tolerance.
                    *e = !kind.one_byte && (j == done || kind.tolerance == 0);
                }
            }
            done += run;
        }
    }
    if filled.iter().any(|f| !f) {
        return Err(BAD("positions (a value is missing)"));
    }
    finish(r, opts)?;
    Ok((values, exact))
}

/// Positions are single bytes (F6); within a group they increase, so a drop
/// means the true index passed another multiple of 256.
fn unwrap_positions(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut prev: Option<usize> = None;
    for &b in bytes {
        let pos = match prev {
            None => usize::from(b),
            Some(p) => {
                let candidate = (p & !0xFF) | usize::from(b);
                if candidate <= p {
                    candidate + 256
                } else {
                    candidate
                }
            }
        };
        out.push(pos);
        prev = Some(pos);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let packet = encode(&[2304, 52, 71, 69, 452, 1205], &[0, 1, 5, 6, 7, 9]);
        let expect = [
            0x50, 0x06, 0x05, 0x01, 0x01, 0x00, 0x00, 0x09, 0x01, 0x02, 0x01, 0x01, 0x34, 0x01,
            0x05, 0x02, 0x02, 0x03, 0x47, 0x02, 0x06, 0x01, 0x04, 0xc4, 0x01, 0x01, 0x07, 0x01,
            0x05, 0xb5, 0x04, 0x01,
        ];
        assert_eq!(packet, expect);
        let (values, exact) =
            decode(&mut Reader::new(&packet[1..]), &DecodeOptions::default()).unwrap();
        assert_eq!(values, [2304, 52, 71, 71, 452, 1205]);
        assert_eq!(exact, [true, false, false, false, true, true]);
    }

    #[test]
    fn positions_unwrap_past_256() {
        assert_eq!(
            unwrap_positions(&[5, 200, 10, 255, 3]),
            [5, 200, 266, 511, 515]
        );
    }
}
