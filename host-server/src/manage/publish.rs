//! Publishing an image: checks, preparation (see [`crate::fota`]) and the
//! stored form, shared by `solarwire firmware publish` and the admin API.

use crate::fota::{CHUNK_SIZE, FirmwareKeys, FotaError, prepare};
use crate::store::firmware::NewFirmware;

/// Longest version string.
pub const MAX_VERSION: usize = 32;
/// Longest release notes.
pub const MAX_NOTES: usize = 4096;

/// Why an image was not published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The version string is empty, too long or has other characters.
    BadVersion,
    /// The release notes are too long.
    NotesTooLong,
    /// The image itself.
    Image(FotaError),
    /// The OS gave no randomness for the IV.
    Random(String),
}

impl PublishError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadVersion => "bad_version",
            Self::NotesTooLong => "too_large",
            Self::Image(e) => e.code(),
            Self::Random(_) => "internal",
        }
    }
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadVersion => write!(
                f,
                "a version is 1–{MAX_VERSION} characters of A-Z a-z 0-9 . _ + -"
            ),
            Self::NotesTooLong => write!(f, "release notes are at most {MAX_NOTES} bytes"),
            Self::Image(e) => e.fmt(f),
            Self::Random(e) => write!(f, "no randomness for the IV: {e}"),
        }
    }
}

impl std::error::Error for PublishError {}

/// Checks a version string.
///
/// # Errors
/// `bad_version`.
pub fn check_version(version: &str) -> Result<(), PublishError> {
    let ok = !version.is_empty()
        && version.len() <= MAX_VERSION
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PublishError::BadVersion)
    }
}

/// Prepares `plain` under a fresh random IV, ready to store.
///
/// # Errors
/// `bad_version`, `too_large`, `empty_image`, `not_esp32_image`.
pub fn new_firmware(
    plain: &[u8],
    version: &str,
    notes: &str,
    keys: &FirmwareKeys,
    limit: usize,
) -> Result<NewFirmware, PublishError> {
    check_version(version)?;
    if notes.len() > MAX_NOTES {
        return Err(PublishError::NotesTooLong);
    }
    let mut iv = [0u8; 16];
    getrandom::fill(&mut iv).map_err(|e| PublishError::Random(e.to_string()))?;
    let prepared = prepare(plain, keys, iv, limit).map_err(PublishError::Image)?;
    Ok(NewFirmware {
        version: version.to_owned(),
        notes: notes.to_owned(),
        original_size: prepared.original_size as u64,
        sha256: hex::encode(prepared.sha256),
        signature: prepared.signature,
        iv: prepared.iv,
        chunks: prepared
            .encrypted
            .chunks(CHUNK_SIZE)
            .map(<[u8]>::to_vec)
            .collect(),
        chunk_size: CHUNK_SIZE as u32,
    })
}
