//! Firmware images as the EcoWatt firmware verifies them (spec §7.1): the
//! fleet's signing and encryption keys, and the preparation of an image
//! (PKCS#7 pad, AES-256-CBC, SHA-256 of the plain image, RSA-2048
//! PKCS#1 v1.5 signature over that digest).

mod image;
mod keys;

pub use image::{CHUNK_SIZE, ESP32_MAGIC, FotaError, Prepared, prepare};
pub use keys::{AES_KEY_FILE, DeviceBuildKeys, FirmwareKeys, SIGNING_KEY_FILE};
