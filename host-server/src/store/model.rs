//! The values exchanged with a storage backend.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use solarwire_core::codec::Method;
use solarwire_core::envelope::Nonce;
use solarwire_core::envelope_v2::{EnvelopeV2Error, TagV2};
use solarwire_core::replay::{MacTag, ReplayError};
use solarwire_core::upload::{Decoded, Format, Outcome, Sample, Upload};
use utoipa::ToSchema;

/// A verified upload on its way to storage.
#[derive(Debug)]
pub struct IngestJob {
    /// The device it is attributed to (validated id).
    pub device: String,
    /// Create the device on this first valid upload (fleet-key mode),
    /// recording this as the key that admitted it (the fleet key's id).
    pub auto_register: Option<String>,
    /// What authenticated it (the replay identity); `None` for an unsigned legacy body.
    pub seal: Option<Seal>,
    /// Which endpoint received it.
    pub format: Format,
    /// The parsed upload JSON.
    pub upload: Upload,
    /// The request body exactly as received, kept for re-decoding.
    pub raw: Bytes,
    /// Server receive time, Unix ms.
    pub received_ms: u64,
}

/// The replay identity of a verified envelope: each envelope version has its
/// own counter, recorded in its own ledger columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seal {
    /// A firmware envelope (v1): its 32-bit nonce and MAC.
    V1 {
        /// The nonce.
        nonce: Nonce,
        /// The MAC.
        mac: MacTag,
    },
    /// An envelope v2: its 64-bit counter and tag.
    V2 {
        /// The counter.
        counter: u64,
        /// The tag.
        tag: TagV2,
    },
}

/// A counter that is not greater than the device's last accepted one, as
/// the core decided for the envelope's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// A firmware envelope's nonce.
    V1(ReplayError),
    /// An envelope v2's counter.
    V2(EnvelopeV2Error),
}

impl Replayed {
    /// The stable code (`replay`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::V1(e) => e.code(),
            Self::V2(e) => e.code(),
        }
    }
}

impl fmt::Display for Replayed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V1(e) => e.fmt(f),
            Self::V2(e) => e.fmt(f),
        }
    }
}

/// A stored upload: fresh, or the earlier answer to an identical resend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Committed now.
    Stored(UploadSummary),
    /// The last accepted envelope again: nothing new was stored.
    Duplicate(UploadSummary),
}

/// Why an upload was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestError {
    /// No such device (and not in fleet-key mode).
    UnknownDevice,
    /// The nonce or counter is not greater than the last accepted one.
    Replay(Replayed),
    /// The write queue is full: retry shortly.
    Busy,
    /// The database cannot commit.
    Unavailable(String),
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.message)
    }
}

/// A database failure (the message is for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    message: String,
    busy: bool,
}

impl StoreError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            busy: false,
        }
    }

    /// The database is busy (locked by another writer): retrying shortly works.
    pub fn busy(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            busy: true,
        }
    }

    /// Whether retrying shortly should work (HTTP 503 with `Retry-After`).
    pub fn is_busy(&self) -> bool {
        self.busy
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// What was stored for one upload; also the body of its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadSummary {
    /// Row id of the stored upload.
    pub upload_id: i64,
    /// The device.
    pub device_id: String,
    /// The firmware envelope's nonce (absent for unsigned legacy bodies and envelope v2).
    pub nonce: Option<u32>,
    /// The envelope v2's counter (absent for other envelopes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// Samples stored.
    pub samples: usize,
    /// Register values stored.
    pub values: usize,
    /// One entry per packet.
    pub packets: Vec<PacketSummary>,
}

/// The outcome of one packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PacketSummary {
    /// Position in the upload.
    pub index: usize,
    /// The codec (core method code), when the marker was recognised.
    #[schema(value_type = Option<String>)]
    pub method: Option<Method>,
    /// Bytes received.
    pub size: usize,
    /// Raw size of the decoded values (2 bytes each).
    pub original_size: usize,
    /// Values decoded.
    pub values: usize,
    /// Samples produced.
    pub samples: usize,
    /// `decoded`, `duplicate` or `failed`.
    #[schema(value_type = String)]
    pub outcome: Outcome,
    /// The error code of a failed packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error message of a failed packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl UploadSummary {
    /// Summarises a decoded upload.
    pub fn new(upload_id: i64, device_id: &str, seal: Option<&Seal>, decoded: &Decoded) -> Self {
        let packets = decoded
            .packets
            .iter()
            .map(|p| {
                let error = p.outcome.error();
                PacketSummary {
                    index: p.index,
                    method: p.method,
                    size: p.size,
                    original_size: p.original_size,
                    values: p.values,
                    samples: p.samples,
                    outcome: p.outcome.kind(),
                    error: error.map(|e| e.code().to_owned()),
                    message: error.map(ToString::to_string),
                }
            })
            .collect::<Vec<_>>();
        Self {
            upload_id,
            device_id: device_id.to_owned(),
            nonce: match seal {
                Some(Seal::V1 { nonce, .. }) => Some(nonce.0),
                _ => None,
            },
            counter: match seal {
                Some(Seal::V2 { counter, .. }) => Some(*counter),
                _ => None,
            },
            samples: decoded.samples.len(),
            values: packets.iter().map(|p| p.values).sum(),
            packets,
        }
    }
}

/// An upload just committed, for the live outputs (WebSocket, MQTT).
#[derive(Debug, Clone)]
pub struct Committed {
    /// Server receive time, Unix ms.
    pub received_ms: u64,
    /// What was stored.
    pub summary: UploadSummary,
    /// The samples stored.
    pub samples: Vec<Sample>,
    /// The register profile they were read with (the device's).
    pub profile: &'static solarwire_core::registers::Profile,
}

/// A device's secrets. `hmac: None` means the fleet key applies.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKeys {
    /// The HMAC key.
    pub hmac: Option<Vec<u8>>,
    /// The optional AES-128 key.
    pub aes: Option<[u8; 16]>,
}

impl fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKeys { .. }")
    }
}

/// The metadata a device posts at boot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct Registration {
    /// The device id.
    #[schema(schema_with = crate::device_id::schema)]
    pub device_id: String,
    /// A display name.
    #[serde(default)]
    pub device_name: Option<String>,
    /// The firmware version string.
    #[serde(default)]
    pub firmware_version: Option<String>,
    /// Where it is installed.
    #[serde(default)]
    pub location: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// What a registration changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// Known device, firmware version (or other metadata) updated.
    Updated,
    /// Known device, nothing changed.
    Unchanged,
    /// No such device.
    Unknown,
}

/// One line of the device list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeviceSummary {
    /// The device id.
    pub device_id: String,
    /// Display name from its registration.
    pub name: Option<String>,
    /// Firmware version from its registration.
    pub firmware_version: Option<String>,
    /// Last accepted upload, Unix ms.
    pub last_seen_ms: Option<u64>,
    /// Highest accepted nonce.
    pub last_nonce: Option<u32>,
    /// Uploads stored.
    pub uploads: u64,
    /// Samples stored.
    pub samples: u64,
    /// `own` (per-device key) or `fleet` (the compat key).
    pub key: &'static str,
    /// The key that admitted a device registered on its first valid upload
    /// in fleet-key mode (`fleet key 1a2b3c4d5e6f7a8b`, kept when it later
    /// gets its own key); `null` for a device an operator added.
    pub admitted_by: Option<String>,
}

/// Per-codec counters of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CodecStats {
    /// Core method code (`unknown` when the marker was not recognised).
    pub method: String,
    /// Packets received.
    pub packets: u64,
    /// Packets that failed to decode.
    pub failed: u64,
    /// Compressed bytes received.
    pub bytes: u64,
    /// Raw size of the values decoded.
    pub original_bytes: u64,
}

/// One device with its statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeviceDetail {
    /// The list fields.
    #[serde(flatten)]
    pub summary: DeviceSummary,
    /// Location from its registration.
    pub location: Option<String>,
    /// Description from its registration.
    pub description: Option<String>,
    /// When it was added, Unix ms.
    pub created_ms: u64,
    /// Identical resends answered as duplicates.
    pub duplicates: u64,
    /// Whether an AES key is configured.
    pub has_aes_key: bool,
    /// Packets per codec.
    pub codecs: Vec<CodecStats>,
}

/// A time range of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Inclusive start, Unix ms.
    pub from_ms: u64,
    /// Exclusive end, Unix ms.
    pub to_ms: u64,
    /// At most this many samples.
    pub limit: usize,
}

/// A stored sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSample {
    /// Unix ms (the device's clock, or the receive time when it had none).
    pub t_ms: u64,
    /// Whether `t_ms` comes from the device's clock.
    pub device_time: bool,
    /// The upload it came from.
    pub upload_id: i64,
    /// The packet index within that upload.
    pub packet: usize,
    /// Some values are approximations (semantic RLE).
    pub approximate: bool,
    /// `(register id, raw value)` in layout order.
    pub registers: Vec<(u8, u16)>,
}

/// Totals over the whole store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct StoreCounts {
    /// Devices known.
    pub devices: u64,
    /// Uploads stored.
    pub uploads: u64,
    /// Samples stored.
    pub samples: u64,
}
