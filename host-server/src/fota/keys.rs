//! The fleet firmware keys: an RSA-2048 signing key and a 32-byte AES-256
//! key, kept in the data directory (files 0600, never served or logged).

use std::fmt;
use std::path::Path;

use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::{PrivateKey, PublicKey};
use serde::Serialize;
use utoipa::ToSchema;

/// The signing key's file in the data directory (PKCS#8 PEM).
pub const SIGNING_KEY_FILE: &str = "firmware-signing.pem";
/// The AES-256 key's file in the data directory (64 hex digits).
pub const AES_KEY_FILE: &str = "firmware-aes.key";
/// The firmware verifies RSA-2048 signatures.
const RSA_BITS: usize = 2048;

/// The keys every image is encrypted and signed with.
pub struct FirmwareKeys {
    pub(super) signing: PrivateKey,
    pub(super) aes: [u8; 32],
}

impl fmt::Debug for FirmwareKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FirmwareKeys { .. }")
    }
}

/// What a device build embeds: `solarwire firmware device-keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceBuildKeys {
    /// The public half of the signing key (SPKI PEM).
    pub public_key_pem: String,
    /// The AES-256 firmware key, hex.
    pub aes_key_hex: String,
}

impl FirmwareKeys {
    /// Creates the keys in `data_dir` when missing; `true` when created.
    ///
    /// # Errors
    /// A message when a file cannot be written or the OS gives no randomness.
    pub fn create_if_missing(data_dir: &Path) -> Result<bool, String> {
        let signing = data_dir.join(SIGNING_KEY_FILE);
        let aes = data_dir.join(AES_KEY_FILE);
        match (signing.exists(), aes.exists()) {
            (true, true) => return Ok(false),
            (false, false) => {}
            _ => {
                return Err(format!(
                    "only one of {SIGNING_KEY_FILE} and {AES_KEY_FILE} exists in {}: \
                     restore the other (images published with them need both)",
                    data_dir.display()
                ));
            }
        }
        crate::private_file::create_dir(data_dir)?;
        let key = PrivateKey::new(&mut getrandom::SysRng, RSA_BITS)
            .map_err(|e| format!("cannot generate the signing key: {e}"))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| format!("cannot encode the signing key: {e}"))?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
        crate::private_file::write_new(&aes, hex::encode(secret).as_bytes())?;
        crate::private_file::write_new(&signing, pem.as_bytes())?;
        Ok(true)
    }

    /// Reads the keys from `data_dir`.
    ///
    /// # Errors
    /// A message naming the missing or unreadable file (never its content).
    pub fn load(data_dir: &Path) -> Result<Self, String> {
        let read = |name: &str| {
            std::fs::read_to_string(data_dir.join(name)).map_err(|e| {
                format!(
                    "cannot read {name} in {} ({e}); run `solarwire firmware keygen`",
                    data_dir.display()
                )
            })
        };
        let signing = PrivateKey::from_pkcs8_pem(&read(SIGNING_KEY_FILE)?)
            .map_err(|_| format!("{SIGNING_KEY_FILE} is not a PKCS#8 RSA key"))?;
        let aes = hex::decode(read(AES_KEY_FILE)?.trim())
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
            .ok_or_else(|| format!("{AES_KEY_FILE} is not 64 hex digits"))?;
        Ok(Self { signing, aes })
    }

    /// The verifying key.
    pub fn public_key(&self) -> PublicKey {
        self.signing.to_public_key()
    }

    /// What a device build embeds.
    ///
    /// # Errors
    /// When the public key cannot be encoded.
    pub fn for_device_build(&self) -> Result<DeviceBuildKeys, String> {
        Ok(DeviceBuildKeys {
            public_key_pem: self
                .public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| format!("cannot encode the public key: {e}"))?,
            aes_key_hex: hex::encode(self.aes),
        })
    }
}
