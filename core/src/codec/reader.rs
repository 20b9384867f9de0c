//! A bounds-checked cursor over packet bytes (the rustls `Reader` pattern).

use super::CodecError;

/// Reads a packet front to back; every read is checked and names its field.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Takes the next `n` bytes, or reports `truncated` naming `field`.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(CodecError::Truncated { field })?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(CodecError::Truncated { field })?;
        self.pos = end;
        Ok(bytes)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, CodecError> {
        let b = self.take(1, field)?;
        Ok(b.first().copied().unwrap_or_default())
    }

    pub(crate) fn u16_le(&mut self, field: &'static str) -> Result<u16, CodecError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([
            b.first().copied().unwrap_or_default(),
            b.get(1).copied().unwrap_or_default(),
        ]))
    }

    pub(crate) fn i16_le(&mut self, field: &'static str) -> Result<i16, CodecError> {
        self.u16_le(field).map(|v| v as i16)
    }

    pub(crate) fn f32_le(&mut self, field: &'static str) -> Result<f32, CodecError> {
        let b = self.take(4, field)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(f32::from_le_bytes(a))
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Rejects trailing bytes where the packet's length is fully determined.
    pub(crate) fn finish(&self, field: &'static str) -> Result<(), CodecError> {
        if self.rest().is_empty() {
            Ok(())
        } else {
            Err(CodecError::BadHeader { field })
        }
    }
}
