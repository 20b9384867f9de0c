//! # solarwire-wasm
//!
//! The solarwire core for JavaScript (Node and browsers), through
//! wasm-bindgen. Every function converts its arguments, makes one core call
//! and converts the result; the rules live in `solarwire-core`.
//!
//! | JS | core |
//! |---|---|
//! | `openEnvelope`, `ReplayGuard`, `sealEnvelope` | `open`, `MemoryNonceStore`, `seal` |
//! | `decodePacket`, `decodePackets`, `TemporalState`, `encodePacket` | `codec` |
//! | `convertRegister`, `registers`, `profiles` | `registers` |
//! | `parseUpload`, `parseUploadColumns` | `upload::process` |
//! | `inspect` | `inspect::inspect` |
//!
//! Errors thrown are `Error`s whose `name` says the concern (`EnvelopeError`,
//! `ReplayError`, `CodecError`, `UnitError`, `UploadError`) and whose `code`
//! is the core's stable code; an argument of the wrong shape is a `TypeError`.
//! The TypeScript declarations of the objects are in `solarwire.d.ts`.

mod args;
mod codec;
mod envelope;
mod error;
mod inspect;
mod out;
mod registers;
mod samples;
mod upload;

pub use codec::{JsTemporalState, decode_packet, decode_packets, encode_packet};
pub use envelope::{ReplayGuard, open_envelope, seal_envelope};
pub use inspect::inspect;
pub use registers::{convert_register, profiles, registers};
pub use upload::{parse_upload, parse_upload_columns};

#[wasm_bindgen::prelude::wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("solarwire.d.ts");
