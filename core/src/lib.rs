//! # solarwire-core
//!
//! The pure core of solarwire: everything needed to understand what an
//! EcoWatt device (firmware v1.3.4) uploads, with no files, sockets, clock or
//! randomness. Callers pass bytes, keys, times and state in; they get values
//! or decisions out.
//!
//! ```text
//!  body ──► Envelope::parse ──► Envelope::open ──► Upload::parse ──► NonceStore ──► Upload::decode ──► Profile::convert
//!           structure           decrypt + MAC      inner JSON        replay         codecs + history     units
//!           malformed           decrypt_failed     malformed         replay         truncated, …         unknown_register
//!           bad_base64          missing_key        too_large                        (per packet)         out_of_range
//!           bad_mac_encoding    mac_mismatch
//! ```
//!
//! [`upload::process`] runs these stages in this order (the server calls
//! them itself, with replay in its database). The order is part of the
//! contract: structure, then MAC, then replay, so a forged envelope can
//! never move or probe the nonce window; and the inner JSON is read before
//! the nonce is recorded, so a malformed upload does not use one up.
//!
//! Every error has a stable snake_case [code](ALL_ERROR_CODES) shared by all
//! hosts (Rust, wasm, Python, HTTP).
//!
//! The `alloc` feature (on by default) is everything above. Without it the
//! core is the device's part only, with neither `std` nor `alloc`: the codec
//! v2 encoder and decoder ([`codec::v2`]) and envelope v2 sealing
//! ([`envelope_v2::seal_v2`]), as `just check-device` builds them for the
//! ESP32-C3 (`riscv32imc-unknown-none-elf`).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[macro_use]
mod codes;

// Without `alloc`: only codec v2 and the codec's errors (`codec/device.rs`).
#[cfg_attr(not(feature = "alloc"), path = "codec/device.rs")]
pub mod codec;
#[cfg(feature = "alloc")]
pub mod envelope;
pub mod envelope_v2;
#[cfg(feature = "alloc")]
pub mod inspect;
#[cfg(feature = "alloc")]
pub mod registers;
#[cfg(feature = "alloc")]
pub mod replay;
#[cfg(feature = "alloc")]
pub mod upload;

#[cfg(feature = "alloc")]
mod argument;
#[cfg(feature = "alloc")]
mod hex;
#[cfg(test)]
mod near_miss;
#[cfg(feature = "alloc")]
mod open;
#[cfg(feature = "alloc")]
mod text;

#[cfg(feature = "alloc")]
pub use argument::ArgumentError;
pub use codec::CodecError;
#[cfg(feature = "alloc")]
pub use codec::{DecodeOptions, Decoded, Encoder, Method, TemporalState};
pub use codes::ALL_ERROR_CODES;
#[cfg(feature = "alloc")]
pub use envelope::{Envelope, EnvelopeError, Keys, Nonce, SealOptions, Sealed, Verified, seal};
#[cfg(feature = "alloc")]
pub use open::{OpenError, Opened, open};
#[cfg(feature = "alloc")]
pub use registers::{Catalog, Decimal, Profile, Reading, RegisterRef, UnitError};
#[cfg(feature = "alloc")]
pub use replay::{DeviceId, Freshness, MacTag, MemoryNonceStore, NonceStore, ReplayError};
#[cfg(feature = "alloc")]
pub use upload::{Format, Upload, UploadError};
