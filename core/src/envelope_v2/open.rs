//! Opening: structure, key, MAC, decryption, device time, in that order.

use alloc::vec::Vec;

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use hmac::Mac;

use super::{
    BLOCK, EnvelopeV2Error, HEADER_LEN, HeaderV2, IV_LEN, KeyLookup, MAX_LEN, MIN_LEN, TAG_LEN,
    TagV2, VERSION,
};

/// How far the device's clock may be from the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkewWindow {
    /// How far the device time may be behind the server's, in ms.
    pub past_ms: u64,
    /// How far the device time may be ahead of the server's, in ms.
    pub future_ms: u64,
}

impl SkewWindow {
    /// ±5 minutes.
    pub const DEFAULT: Self = Self {
        past_ms: 300_000,
        future_ms: 300_000,
    };

    /// Whether `device_ms` is within the window around `now_ms`.
    pub fn contains(self, device_ms: u64, now_ms: u64) -> bool {
        device_ms >= now_ms.saturating_sub(self.past_ms)
            && device_ms <= now_ms.saturating_add(self.future_ms)
    }
}

impl Default for SkewWindow {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An envelope whose tag verified and whose device time is in the window.
/// The replay decision ([`super::decide_counter`]) is still to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedV2 {
    /// The authenticated header.
    pub header: HeaderV2,
    /// The verified tag (to recognise an identical resend).
    pub tag: TagV2,
    /// The decrypted plaintext.
    pub plaintext: Vec<u8>,
}

/// Whether `bytes` claims to be an envelope v2 (its first byte is the
/// version byte); a v1 envelope is JSON text.
pub fn is_v2(bytes: &[u8]) -> bool {
    bytes.first() == Some(&VERSION)
}

/// An envelope cut into its parts; nothing is authenticated yet.
struct Parts<'a> {
    header: HeaderV2,
    iv: &'a [u8; IV_LEN],
    ciphertext: &'a [u8],
    /// header ‖ IV ‖ ciphertext: what the tag covers.
    covered: &'a [u8],
    tag: &'a [u8; TAG_LEN],
}

impl<'a> Parts<'a> {
    fn split(bytes: &'a [u8]) -> Result<Self, EnvelopeV2Error> {
        let malformed = |field| EnvelopeV2Error::Malformed { field };
        if !is_v2(bytes) {
            return Err(malformed("version"));
        }
        if bytes.len() > MAX_LEN {
            return Err(EnvelopeV2Error::TooLarge { len: bytes.len() });
        }
        if bytes.len() < MIN_LEN {
            return Err(malformed("length"));
        }
        if !(bytes.len() - MIN_LEN).is_multiple_of(BLOCK) {
            return Err(malformed("ciphertext length"));
        }
        let (covered, tag) = bytes
            .split_last_chunk::<TAG_LEN>()
            .ok_or(malformed("length"))?;
        let (head, rest) = covered
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(malformed("length"))?;
        let (iv, ciphertext) = rest
            .split_first_chunk::<IV_LEN>()
            .ok_or(malformed("length"))?;
        Ok(Self {
            header: HeaderV2::parse(head)?,
            iv,
            ciphertext,
            covered,
            tag,
        })
    }
}

/// Reads the header after checking the structure, without a key: for
/// inspectors and for finding the device's keys. Nothing is authenticated.
///
/// # Errors
/// As the structure step of [`open_v2`]: `malformed`, `too_large`.
pub fn peek_v2(bytes: &[u8]) -> Result<HeaderV2, EnvelopeV2Error> {
    Parts::split(bytes).map(|p| p.header)
}

/// Opens an envelope at the server's time `now_ms`.
///
/// The checks run in a fixed order and the first failure is reported:
/// structure, the key id (`keys` at `now_ms`), the tag in constant time,
/// PKCS#7 after decryption, the device time against `window`.
///
/// # Errors
/// `too_large` (over [`super::MAX_LEN`]), `malformed` (version, length,
/// ciphertext not whole blocks, content byte), `missing_key`,
/// `mac_mismatch`, `decrypt_failed`, `clock_skew`.
pub fn open_v2(
    bytes: &[u8],
    keys: &impl KeyLookup,
    now_ms: u64,
    window: SkewWindow,
) -> Result<OpenedV2, EnvelopeV2Error> {
    let parts = Parts::split(bytes)?;
    let keys = keys
        .key(parts.header.key_id, now_ms)
        .ok_or(EnvelopeV2Error::MissingKey)?;
    let mut mac = keys.mac();
    mac.update(parts.covered);
    mac.verify_truncated_left(parts.tag)
        .map_err(|_| EnvelopeV2Error::MacMismatch)?;
    let plaintext = cbc::Decryptor::<Aes128>::new(keys.enc().into(), parts.iv.into())
        .decrypt_padded_vec::<Pkcs7>(parts.ciphertext)
        .map_err(|_| EnvelopeV2Error::DecryptFailed)?;
    if !window.contains(parts.header.device_time_ms, now_ms) {
        return Err(EnvelopeV2Error::ClockSkew);
    }
    Ok(OpenedV2 {
        header: parts.header,
        tag: TagV2(*parts.tag),
        plaintext,
    })
}
