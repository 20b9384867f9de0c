//! Preparing an image for the firmware's update path.

use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeEncrypt as _, KeyIvInit as _};
use sha2::{Digest as _, Sha256};

use super::FirmwareKeys;

/// Bytes per chunk the firmware downloads.
pub const CHUNK_SIZE: usize = 2048;
/// The first byte of every ESP32 application image; the firmware checks it
/// in the first decrypted block.
pub const ESP32_MAGIC: u8 = 0xE9;

/// Why an image cannot be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FotaError {
    /// No bytes.
    Empty,
    /// Not an ESP32 image: every device would reject it.
    NotAnImage,
    /// Over the configured size.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The signature could not be made.
    Sign(String),
}

impl FotaError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_image",
            Self::NotAnImage => "not_esp32_image",
            Self::TooLarge { .. } => "too_large",
            Self::Sign(_) => "internal",
        }
    }
}

impl std::fmt::Display for FotaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("the image is empty"),
            Self::NotAnImage => write!(
                f,
                "not an ESP32 image: the first byte must be 0x{ESP32_MAGIC:02X}"
            ),
            Self::TooLarge { limit } => write!(f, "the image is over {limit} bytes"),
            Self::Sign(e) => write!(f, "cannot sign the image: {e}"),
        }
    }
}

impl std::error::Error for FotaError {}

/// An image ready to store and serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Size of the plain image.
    pub original_size: usize,
    /// SHA-256 of the plain image.
    pub sha256: [u8; 32],
    /// RSA-2048 PKCS#1 v1.5 signature over `sha256`.
    pub signature: Vec<u8>,
    /// The IV the image was encrypted under.
    pub iv: [u8; 16],
    /// The PKCS#7-padded, AES-256-CBC-encrypted image.
    pub encrypted: Vec<u8>,
}

/// Pads, encrypts, hashes and signs `plain`; the IV is the caller's
/// randomness.
///
/// # Errors
/// `empty_image`, `not_esp32_image`, `too_large`.
pub fn prepare(
    plain: &[u8],
    keys: &FirmwareKeys,
    iv: [u8; 16],
    limit: usize,
) -> Result<Prepared, FotaError> {
    match plain.first() {
        None => return Err(FotaError::Empty),
        Some(&b) if b != ESP32_MAGIC => return Err(FotaError::NotAnImage),
        Some(_) => {}
    }
    if plain.len() > limit {
        return Err(FotaError::TooLarge { limit });
    }
    let sha256: [u8; 32] = Sha256::digest(plain).into();
    let signature = keys
        .signing
        .pkcs1v15_sign_prehash::<Sha256>(&sha256)
        .map_err(|e| FotaError::Sign(e.to_string()))?;
    let encrypted = cbc::Encryptor::<Aes256>::new((&keys.aes).into(), (&iv).into())
        .encrypt_padded_vec::<Pkcs7>(plain);
    Ok(Prepared {
        original_size: plain.len(),
        sha256,
        signature,
        iv,
        encrypted,
    })
}
