//! Envelope v2 (version byte `0x02`, `docs/envelope-v2.md`): solarwire's own
//! binary security envelope for devices that run the core.
//!
//! `header ‖ IV ‖ AES-128-CBC(plaintext) ‖ HMAC-SHA256-128(header ‖ IV ‖ ciphertext)`
//! with a 22-byte header (version, content, key id, device time, 64-bit
//! counter). Everything is pure: the IV, the time and the keys are passed in.
//!
//! - [`seal_v2`] writes into the caller's buffer and never allocates, so a
//!   device can use it.
//! - [`open_v2`] checks structure, then the key id, then the tag (constant
//!   time), only then decrypts, then the device time against a [`SkewWindow`].
//! - [`decide_counter`] is the replay decision, made by the caller after
//!   opening.
//! - [`KeyRing`] keeps a previous key valid for an overlap after a rotation.
//!
//! Without the `alloc` feature (a device) only sealing, the header and the
//! keys are built: opening and the replay decision are the server's.

mod error;
mod header;
mod keys;
#[cfg(feature = "alloc")]
mod open;
#[cfg(feature = "alloc")]
mod replay;
mod seal;
#[cfg(test)]
mod tests;

pub use error::EnvelopeV2Error;
pub use header::{Content, HEADER_LEN, HeaderV2, VERSION};
pub use keys::{KeyId, KeyLookup, KeyRing, KeysV2};
#[cfg(feature = "alloc")]
pub use open::{OpenedV2, SkewWindow, is_v2, open_v2, peek_v2};
#[cfg(feature = "alloc")]
pub use replay::{LastCounter, decide_counter};
pub use seal::{seal_v2, sealed_len};

/// The IV's length in bytes.
pub const IV_LEN: usize = 16;

/// The tag's length in bytes (HMAC-SHA256 truncated to 128 bits).
pub const TAG_LEN: usize = 16;

/// The largest plaintext an envelope may carry.
pub const MAX_PLAINTEXT: usize = 65_536;

/// The largest envelope: [`sealed_len`] of [`MAX_PLAINTEXT`].
pub const MAX_LEN: usize = sealed_len(MAX_PLAINTEXT);

/// The smallest envelope (an empty plaintext is one padding block).
pub const MIN_LEN: usize = sealed_len(0);

/// AES block size: the ciphertext is a whole number of these.
const BLOCK: usize = 16;

/// An envelope's tag (the first 16 bytes of its HMAC-SHA256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TagV2(pub [u8; TAG_LEN]);
