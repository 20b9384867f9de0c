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

extern crate alloc;

#[macro_use]
mod codes;

pub mod codec;
pub mod envelope;
pub mod envelope_v2;
pub mod inspect;
pub mod registers;
pub mod replay;
pub mod upload;

mod argument;
mod hex;
#[cfg(test)]
mod near_miss;
mod open;
mod text;

pub use argument::ArgumentError;
pub use codec::{CodecError, DecodeOptions, Decoded, Encoder, Method, TemporalState};
pub use codes::ALL_ERROR_CODES;
pub use envelope::{Envelope, EnvelopeError, Keys, Nonce, SealOptions, Sealed, Verified, seal};
pub use open::{OpenError, Opened, open};
pub use registers::{Catalog, Decimal, Profile, Reading, RegisterRef, UnitError};
pub use replay::{DeviceId, Freshness, MacTag, MemoryNonceStore, NonceStore, ReplayError};
pub use upload::{Format, Upload, UploadError};
