//! LSB-first bit streams (`docs/codec-v2.md`, "Conventions"): fields of up
//! to 16 bits, zero padding to the next byte.

use core::slice::IterMut;

use crate::codec::CodecError;

/// Writes fields into a byte slice the caller has sized exactly.
pub(crate) struct BitWriter<'a> {
    out: IterMut<'a, u8>,
    acc: u32,
    held: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Self {
            out: out.iter_mut(),
            acc: 0,
            held: 0,
        }
    }

    /// Appends the low `width` (≤ 16) bits of `v`.
    pub(crate) fn put(&mut self, v: u16, width: u32) {
        self.acc |= u32::from(v) << self.held;
        self.held += width;
        while self.held >= 8 {
            self.emit();
            self.held -= 8;
        }
    }

    fn emit(&mut self) {
        let slot = self.out.next();
        debug_assert!(slot.is_some(), "bit stream longer than its slice");
        if let Some(slot) = slot {
            *slot = self.acc as u8;
        }
        self.acc >>= 8;
    }

    /// Writes the last partial byte, padded with zero bits.
    pub(crate) fn finish(mut self) {
        if self.held > 0 {
            self.emit();
        }
    }
}

/// Reads fields from the front of a byte slice.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, bit: 0 }
    }

    /// Reads `width` (≤ 16) bits.
    pub(crate) fn get(&mut self, width: u32, field: &'static str) -> Result<u16, CodecError> {
        let end = self.bit + width as usize;
        if end > self.bytes.len() * 8 {
            return Err(CodecError::Truncated { field });
        }
        let at = self.bit / 8;
        let word = match self.bytes.get(at..).and_then(<[u8]>::first_chunk::<4>) {
            Some(four) => u32::from_le_bytes(*four),
            None => self
                .bytes
                .iter()
                .skip(at)
                .take(3)
                .rev()
                .fold(0u32, |acc, &b| (acc << 8) | u32::from(b)),
        };
        let v = (word >> (self.bit % 8)) & ((1u32 << width) - 1);
        self.bit = end;
        Ok(v as u16)
    }

    /// The bytes used so far, after checking that the unused high bits of
    /// the last one are zero.
    pub(crate) fn finish(self) -> Result<usize, CodecError> {
        let used = self.bit.div_ceil(8);
        let tail = match self.bit % 8 {
            0 => 0,
            bits => self.bytes.get(used - 1).map_or(0, |&b| b >> bits),
        };
        if tail == 0 {
            Ok(used)
        } else {
            Err(CodecError::BadHeader {
                field: "padding bits",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_lsb_first() {
        let fields: [(u16, u32); 6] = [(5, 3), (0, 0), (0xFFFF, 16), (1, 1), (0x2A, 7), (9, 4)];
        let mut buf = [0u8; 4];
        let mut w = BitWriter::new(&mut buf);
        for (v, width) in fields {
            w.put(v, width);
        }
        w.finish();
        assert_eq!(buf[0] & 0b111, 5);
        let mut r = BitReader::new(&buf);
        for (v, width) in fields {
            assert_eq!(r.get(width, "f"), Ok(v));
        }
        assert_eq!(r.finish(), Ok(4));
    }

    #[test]
    fn reader_refuses_overruns_and_dirty_padding() {
        let mut r = BitReader::new(&[0xFF]);
        assert_eq!(r.get(4, "f"), Ok(15));
        assert_eq!(r.get(5, "f"), Err(CodecError::Truncated { field: "f" }));
        assert!(matches!(r.finish(), Err(CodecError::BadHeader { .. })));
    }
}
