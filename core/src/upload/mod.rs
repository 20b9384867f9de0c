//! Device upload bodies to normalized samples (spec §6).
//!
//! [`Upload::parse`] reads the inner upload JSON (after the envelope is
//! open); [`Upload::decode`] decodes every packet with the device's
//! [`StreamState`] and dates the samples. [`process`] runs the whole
//! pipeline (envelope, replay, parse, decode) for in-memory hosts.
//!
//! Server-side findings of spec §4 fixed here: F1/F2 (semantic RLE decoded,
//! approximate samples marked), F3 (temporal history fed by every packet),
//! F6 (value count from the metadata, checked against the header byte), F7
//! (packets shorter than `compressed_size_bytes` are `truncated`), F12 (each
//! packet split with its own layout), F13 (sample times), F14 (samples are
//! counted, not packets), F19 (the current format requires the envelope),
//! F20 (legacy nonces are kept per device id), F26 (re-sent packets are
//! recognised; reordering drops the temporal history).

mod attribution;
mod collision;
mod decode;
mod error;
mod process;
mod report;
mod scan;
mod stream;
mod time;
mod wire;

use alloc::string::String;
use alloc::vec::Vec;

pub use attribution::attribute;
pub use error::UploadError;
pub use process::{Processed, Request, is_bare_body, process};
pub use report::{Outcome, PacketOutcome, PacketReport};
pub use stream::StreamState;
pub use time::{PacketClock, TimeWindow};

use crate::codec::DEFAULT_MAX_VALUES;
use crate::registers::Profile;

/// Which endpoint's body this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Format {
    /// `POST /aggregated/{device_id}` of the current firmware.
    Aggregated,
    /// `POST /process` of the legacy firmware (device id inside the JSON).
    LegacyProcess,
}

impl Format {
    /// Parses `aggregated` or `legacy_process`.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "aggregated" => Some(Self::Aggregated),
            "legacy_process" => Some(Self::LegacyProcess),
            _ => None,
        }
    }

    /// Whether the body must be enveloped. The current firmware always seals
    /// its uploads, so an unsealed one is refused (F19); legacy devices sent
    /// bare bodies before 2025-10-16.
    pub fn requires_envelope(self) -> bool {
        matches!(self, Self::Aggregated)
    }
}

/// Bounds on what one upload may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Packets per upload (the firmware sends at most 8).
    pub max_packets: usize,
    /// Values per packet (the firmware's largest is 500).
    pub max_values: usize,
    /// Accepted sample times around the receive time (synced clocks only);
    /// `None` accepts any time (hosts without a trusted clock).
    pub window: Option<TimeWindow>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_packets: 64,
            max_values: DEFAULT_MAX_VALUES,
            window: None,
        }
    }
}

/// A parsed upload (the inner JSON), not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The `device_id` inside the JSON (for the current format it must equal
    /// the path's id: [`attribute`]).
    pub device_id: Option<String>,
    /// The top-level `timestamp` (Unix seconds; ms since boot for legacy).
    pub timestamp: Option<u64>,
    /// The poll period in seconds.
    pub sampling_interval: Option<u32>,
    /// The packets, oldest first.
    pub packets: Vec<Packet>,
}

/// One packet of an upload with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The packet bytes (or what was wrong with them).
    pub source: PacketSource,
    /// One copy of the register layout (ids), or why it is unusable.
    pub layout: Result<Vec<u8>, UploadError>,
    /// Samples in the packet (absent in legacy bodies).
    pub sample_count: Option<usize>,
    /// `compressed_size_bytes`: the length before any truncation (F7).
    pub declared_size: Option<usize>,
    /// The last sample's Unix ms modulo 2^32 (F13).
    pub timestamp: Option<u32>,
    /// The `method` label the device wrote.
    pub method_label: Option<String>,
}

/// Where a packet's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketSource {
    /// Compressed bytes (the normal case).
    Bytes(Vec<u8>),
    /// A legacy list of raw values.
    Values(Vec<u16>),
    /// The packet text could not be read.
    Invalid(UploadError),
}

/// One normalized sample.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Sample {
    /// Unix milliseconds, when the upload carries enough to date it.
    pub t_ms: Option<u64>,
    /// `(register id, raw value)` in layout order.
    pub registers: Vec<(u8, u16)>,
    /// Some values are approximations (semantic RLE, F2).
    pub approximate: bool,
    /// The index of the packet it came from.
    pub packet: usize,
}

/// A decoded upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// All samples of all decoded packets, in packet order.
    pub samples: Vec<Sample>,
    /// One report per packet.
    pub packets: Vec<PacketReport>,
}

impl Decoded {
    /// Drops the raw values `profile` marks as sentinels (catalog field
    /// `sentinels`, the inverter's "not available"): they become missing
    /// values, so a sample keeps only its measurements (perhaps none).
    /// Every host stores, shows and sums samples after this.
    pub fn drop_sentinels(&mut self, profile: &Profile) {
        for sample in &mut self.samples {
            sample.registers = profile.measured(&sample.registers);
        }
    }
}

impl Upload {
    /// Parses the inner upload JSON of either format.
    ///
    /// # Errors
    /// `malformed` (wrong shape), `too_large` (more packets than allowed).
    pub fn parse(json: &[u8], limits: &Limits) -> Result<Self, UploadError> {
        wire::parse(json, limits)
    }
}
