//! # solarwire-core
//!
//! The pure core of solarwire: everything needed to understand what an
//! EcoWatt device (firmware v1.3.4) uploads, with no files, sockets, clock or
//! randomness. Callers pass bytes, keys, times and state in; they get values
//! or decisions out.
//!
//! ```text
//!  body ──► Envelope::parse ──► Envelope::open ──► NonceStore ──► Upload::parse ──► Upload::decode ──► Profile::convert
//!           structure           decrypt + MAC      replay         inner JSON         codecs + history     units
//!           malformed           decrypt_failed     replay         malformed          truncated, …         unknown_register
//!           bad_base64          missing_key
//!           bad_mac_encoding    mac_mismatch
//! ```
//!
//! The order is part of the contract: structure, then MAC, then replay, so a
//! forged envelope can never move or probe the nonce window.
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

pub mod codec;
pub mod envelope;
pub mod inspect;
pub mod registers;
pub mod replay;
pub mod upload;

mod hex;
mod open;
mod text;

pub use codec::{CodecError, DecodeOptions, Decoded, Method, TemporalState};
pub use envelope::{Envelope, EnvelopeError, Keys, Nonce, SealOptions, Sealed, Verified, seal};
pub use open::{OpenError, Opened, open};
pub use registers::{Catalog, Decimal, Profile, Reading, RegisterRef, UnitError};
pub use replay::{DeviceId, Freshness, MacTag, MemoryNonceStore, NonceStore, ReplayError};
pub use upload::{Format, Upload, UploadError};

/// Every error code any operation of the core can report (the table of
/// `spec/vectors.md`). Hosts and vectors use exactly these strings.
pub const ALL_ERROR_CODES: [&str; 15] = [
    "malformed",
    "bad_base64",
    "bad_mac_encoding",
    "mac_mismatch",
    "replay",
    "decrypt_failed",
    "missing_key",
    "truncated",
    "unknown_marker",
    "bad_header",
    "missing_state",
    "too_large",
    "unknown_register",
    "out_of_range",
    "device_mismatch",
];
