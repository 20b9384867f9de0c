//! The 22-byte header: version, content, key id, device time, counter.

use super::{EnvelopeV2Error, KeyId};

/// The version byte of envelope v2 (a v1 envelope starts with `{` or whitespace).
pub const VERSION: u8 = 0x02;

/// The header's length in bytes.
pub const HEADER_LEN: usize = 22;

/// What the plaintext is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Content {
    /// An upload JSON text (`0x00`).
    Json,
    /// Binary, for example one codec v2 packet (`0x01`).
    Binary,
}

impl Content {
    /// The content byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Json => 0,
            Self::Binary => 1,
        }
    }

    /// The stable name hosts show (`json`, `binary`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Binary => "binary",
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Json),
            1 => Some(Self::Binary),
            _ => None,
        }
    }
}

/// The authenticated, unencrypted fields of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderV2 {
    /// What the plaintext is.
    pub content: Content,
    /// The key that seals it.
    pub key_id: KeyId,
    /// The device's clock when sealing, ms since the Unix epoch.
    pub device_time_ms: u64,
    /// The device's message counter, strictly increasing.
    pub counter: u64,
}

impl HeaderV2 {
    /// The header bytes (big-endian integers).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0; HEADER_LEN];
        let fields = [VERSION, self.content.byte()]
            .into_iter()
            .chain(self.key_id.0.to_be_bytes())
            .chain(self.device_time_ms.to_be_bytes())
            .chain(self.counter.to_be_bytes());
        for (dst, src) in out.iter_mut().zip(fields) {
            *dst = src;
        }
        out
    }

    /// Reads a header.
    ///
    /// # Errors
    /// `malformed` for another version or an unknown content byte.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Self, EnvelopeV2Error> {
        let (&[version, content], rest) = bytes.split_first_chunk::<2>().ok_or(SHORT)?;
        if version != VERSION {
            return Err(EnvelopeV2Error::Malformed { field: "version" });
        }
        let content =
            Content::from_byte(content).ok_or(EnvelopeV2Error::Malformed { field: "content" })?;
        let (key_id, rest) = rest.split_first_chunk::<4>().ok_or(SHORT)?;
        let (time, rest) = rest.split_first_chunk::<8>().ok_or(SHORT)?;
        let counter = rest.first_chunk::<8>().ok_or(SHORT)?;
        Ok(Self {
            content,
            key_id: KeyId(u32::from_be_bytes(*key_id)),
            device_time_ms: u64::from_be_bytes(*time),
            counter: u64::from_be_bytes(*counter),
        })
    }
}

/// Unreachable for a `[u8; HEADER_LEN]`; an error rather than a panic.
const SHORT: EnvelopeV2Error = EnvelopeV2Error::Malformed { field: "header" };
