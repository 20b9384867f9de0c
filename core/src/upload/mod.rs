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
mod stream;
mod time;
mod wire;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use attribution::attribute;
pub use stream::StreamState;
pub use time::PacketClock;

use crate::codec::{CodecError, DEFAULT_MAX_VALUES, DecodeOptions, Method};
use crate::envelope::{Envelope, EnvelopeError, Keys, Nonce};
use crate::replay::{DeviceId, Freshness, NonceStore, ReplayError};
use stream::Fingerprint;

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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_packets: 64,
            max_values: DEFAULT_MAX_VALUES,
        }
    }
}

/// Why an upload was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadError {
    /// The envelope failed (structure, decryption or MAC).
    Envelope(EnvelopeError),
    /// The nonce was already used.
    Replay(ReplayError),
    /// The body or upload JSON does not have the expected shape.
    Malformed {
        /// The field at fault.
        field: &'static str,
    },
    /// A packet's base64 text is invalid.
    BadBase64,
    /// More packets (or values) than the limits allow.
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// How many were declared.
        declared: usize,
        /// The bound.
        limit: usize,
    },
    /// No packet could be decoded; the first packet's error.
    Codec(CodecError),
    /// The MAC-covered `device_id` is not the device the request names.
    DeviceMismatch,
}

impl UploadError {
    /// The stable error code shared by every host.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Envelope(e) => e.code(),
            Self::Replay(e) => e.code(),
            Self::Malformed { .. } => "malformed",
            Self::BadBase64 => "bad_base64",
            Self::TooLarge { .. } => "too_large",
            Self::Codec(e) => e.code(),
            Self::DeviceMismatch => "device_mismatch",
        }
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Envelope(e) => e.fmt(f),
            Self::Replay(e) => e.fmt(f),
            Self::Malformed { field } => write!(f, "malformed upload: {field}"),
            Self::BadBase64 => f.write_str("packet is not valid base64"),
            Self::TooLarge {
                what,
                declared,
                limit,
            } => write!(f, "upload declares {declared} {what}, limit {limit}"),
            Self::Codec(e) => e.fmt(f),
            Self::DeviceMismatch => f.write_str("the upload's device_id is not the path's device"),
        }
    }
}

impl core::error::Error for UploadError {}

impl From<EnvelopeError> for UploadError {
    fn from(e: EnvelopeError) -> Self {
        Self::Envelope(e)
    }
}

impl From<ReplayError> for UploadError {
    fn from(e: ReplayError) -> Self {
        Self::Replay(e)
    }
}

impl From<CodecError> for UploadError {
    fn from(e: CodecError) -> Self {
        Self::Codec(e)
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

/// What happened to one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketOutcome {
    /// Decoded into samples.
    Decoded,
    /// Sent before (F26): skipped, no samples.
    Duplicate,
    /// Could not be decoded; the upload's other packets still count.
    Failed(UploadError),
}

/// A per-packet report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketReport {
    /// Position in the upload.
    pub index: usize,
    /// The codec, when the marker was recognised.
    pub method: Option<Method>,
    /// The packet's length in bytes as received.
    pub size: usize,
    /// Raw size of the decoded values (`2 × values`), or the declared one.
    pub original_size: usize,
    /// Values decoded.
    pub values: usize,
    /// Samples produced.
    pub samples: usize,
    /// Decoded, duplicate or failed.
    pub outcome: PacketOutcome,
}

/// A decoded upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// All samples of all decoded packets, in packet order.
    pub samples: Vec<Sample>,
    /// One report per packet.
    pub packets: Vec<PacketReport>,
}

impl Upload {
    /// Parses the inner upload JSON of either format.
    ///
    /// # Errors
    /// `malformed` (wrong shape), `too_large` (more packets than allowed).
    pub fn parse(json: &[u8], limits: &Limits) -> Result<Self, UploadError> {
        wire::parse(json, limits)
    }

    /// Decodes every packet in order with the device's stream state.
    ///
    /// Never fails as a whole: a packet that cannot be decoded is reported
    /// and still advances the temporal history, as it did on the device.
    /// `received_ms` anchors sample times when the device clock is unsynced.
    pub fn decode(
        &self,
        state: &mut StreamState,
        limits: &Limits,
        received_ms: Option<u64>,
    ) -> Decoded {
        let mut out = Decoded {
            samples: Vec::new(),
            packets: Vec::with_capacity(self.packets.len()),
        };
        for (index, packet) in self.packets.iter().enumerate() {
            let report =
                self.decode_packet(index, packet, state, limits, received_ms, &mut out.samples);
            out.packets.push(report);
        }
        out
    }

    fn decode_packet(
        &self,
        index: usize,
        packet: &Packet,
        state: &mut StreamState,
        limits: &Limits,
        received_ms: Option<u64>,
        samples: &mut Vec<Sample>,
    ) -> PacketReport {
        let bytes: &[u8] = match &packet.source {
            PacketSource::Bytes(b) => b,
            _ => &[],
        };
        let mut report = PacketReport {
            index,
            method: bytes.first().and_then(|&m| Method::from_marker(m).ok()),
            size: bytes.len(),
            original_size: 0,
            values: 0,
            samples: 0,
            outcome: PacketOutcome::Decoded,
        };
        let layout = match &packet.layout {
            Ok(layout) if !layout.is_empty() => layout.as_slice(),
            Ok(_) => {
                return failed(
                    report,
                    UploadError::Malformed {
                        field: "register_layout (empty)",
                    },
                );
            }
            Err(e) => return failed(report, e.clone()),
        };
        let fingerprint = packet.timestamp.map(|t| Fingerprint::of(t, bytes));
        if fingerprint
            .as_ref()
            .is_some_and(|fp| state.is_duplicate(fp))
        {
            report.outcome = PacketOutcome::Duplicate;
            return report;
        }
        let expected = match packet.sample_count.map(|s| s.checked_mul(layout.len())) {
            Some(Some(n)) if n <= limits.max_values => Some(n),
            Some(n) => {
                let declared = n.unwrap_or(usize::MAX);
                let e = UploadError::TooLarge {
                    what: "values",
                    declared,
                    limit: limits.max_values,
                };
                return failed(report, e);
            }
            None => None,
        };
        let ids: Option<Vec<u8>> = packet.sample_count.map(|s| {
            layout
                .iter()
                .copied()
                .cycle()
                .take(layout.len() * s)
                .collect()
        });
        if let Some(fp) = fingerprint {
            let span = packet
                .sample_count
                .zip(self.sampling_interval)
                .map(|(s, i)| s as u64 * u64::from(i) * 1000);
            state.admit(fp, span);
        }
        let decoded = match &packet.source {
            PacketSource::Invalid(e) => {
                state.temporal_mut().skip(ids.as_deref());
                return failed(report, e.clone());
            }
            PacketSource::Values(values) => Ok((values.clone(), None)),
            PacketSource::Bytes(bytes) => {
                if packet.declared_size.is_some_and(|d| d > bytes.len()) {
                    // F7: the device cut the base64 text of long packets.
                    state.temporal_mut().skip(ids.as_deref());
                    return failed(
                        report,
                        CodecError::Truncated {
                            field: "packet (shorter than compressed_size_bytes)",
                        }
                        .into(),
                    );
                }
                let opts = DecodeOptions {
                    expected_count: expected,
                    register_ids: ids.as_deref(),
                    max_values: limits.max_values,
                };
                state
                    .temporal_mut()
                    .decode(bytes, &opts)
                    .map(|d| (d.values, d.exact))
            }
        };
        let (values, exact) = match decoded {
            Ok(v) => v,
            Err(e) => return failed(report, e.into()),
        };
        report.values = values.len();
        report.original_size = 2 * values.len();
        if values.len() % layout.len() != 0 {
            return failed(
                report,
                CodecError::BadHeader {
                    field: "value count (not whole samples)",
                }
                .into(),
            );
        }
        let n = values.len() / layout.len();
        let clock = packet
            .timestamp
            .zip(self.timestamp)
            .zip(self.sampling_interval)
            .map(|((ts, up), iv)| PacketClock {
                last_sample_ms_mod32: ts,
                upload_s: up,
                interval_s: iv,
            });
        let last_ms = clock.and_then(|c| c.last_sample_ms(received_ms));
        for (j, chunk) in values.chunks_exact(layout.len()).enumerate() {
            let exact_chunk = exact
                .as_ref()
                .and_then(|e| e.get(j * layout.len()..(j + 1) * layout.len()));
            samples.push(Sample {
                t_ms: clock
                    .zip(last_ms)
                    .and_then(|(c, last)| c.sample_ms(last, j, n)),
                registers: layout.iter().copied().zip(chunk.iter().copied()).collect(),
                approximate: exact_chunk.is_some_and(|e| e.iter().any(|x| !x)),
                packet: index,
            });
        }
        report.samples = n;
        report
    }
}

fn failed(mut report: PacketReport, error: UploadError) -> PacketReport {
    report.outcome = PacketOutcome::Failed(error);
    report
}

/// What the caller knows about an upload request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Which endpoint received it.
    pub format: Format,
    /// The `{device_id}` path segment (current format).
    pub path_device_id: Option<&'a str>,
    /// The device's keys; `None` when the caller has none (then only an
    /// unsealed legacy body can pass).
    pub keys: Option<&'a Keys>,
    /// Bounds on packets and values.
    pub limits: Limits,
    /// The receive time (Unix ms), to date samples of unsynced devices.
    pub received_ms: Option<u64>,
}

/// A processed upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The device the upload is attributed to.
    pub device_id: DeviceId,
    /// The envelope's nonce and replay decision (`None` for a bare legacy body).
    pub envelope: Option<(Nonce, Freshness)>,
    /// The parsed upload.
    pub upload: Upload,
    /// Samples and per-packet reports (empty for a duplicate).
    pub decoded: Decoded,
}

/// Opens, parses, checks replay, and decodes an upload body.
///
/// Order: envelope structure, MAC, inner JSON structure, device binding,
/// replay, decode — so neither a forged, a malformed nor a misattributed
/// upload moves the nonce.
///
/// # Errors
/// Envelope codes, `malformed`, `too_large`, `device_mismatch`, `replay`; and, when no packet
/// decoded, the first packet's error.
pub fn process(
    body: &[u8],
    req: &Request<'_>,
    store: &mut impl NonceStore,
    state: &mut StreamState,
) -> Result<Processed, UploadError> {
    let (payload, verified) = match Envelope::parse(body) {
        Ok(envelope) => {
            let keys = req.keys.ok_or(EnvelopeError::MissingKey)?;
            let verified = envelope.open(keys)?;
            (verified.payload.clone(), Some(verified))
        }
        Err(e) if req.format.requires_envelope() || !is_bare_body(body) => return Err(e.into()),
        Err(_) => (body.to_vec(), None),
    };
    let upload = Upload::parse(&payload, &req.limits)?;
    let device_id = DeviceId::new(attribute(
        req.format,
        req.path_device_id,
        upload.device_id.as_deref(),
    )?);
    let envelope = match verified {
        Some(v) => Some((
            v.nonce,
            store.check_and_record(&device_id, v.nonce, &v.mac)?,
        )),
        None => None,
    };
    let decoded = if matches!(envelope, Some((_, Freshness::Duplicate))) {
        Decoded {
            samples: Vec::new(),
            packets: Vec::new(),
        }
    } else {
        upload.decode(state, &req.limits, req.received_ms)
    };
    if decoded.samples.is_empty() {
        let first_failure = decoded.packets.iter().find_map(|p| match &p.outcome {
            PacketOutcome::Failed(e) => Some(e.clone()),
            _ => None,
        });
        if let Some(e) = first_failure {
            return Err(e);
        }
    }
    Ok(Processed {
        device_id,
        envelope,
        upload,
        decoded,
    })
}

/// Whether `body` is an unsealed upload: a JSON object without any envelope
/// field (`nonce`, `payload`, `mac`). Hosts use it to tell a bare legacy body
/// (refused or accepted by policy) from a broken envelope (`malformed`).
pub fn is_bare_body(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        nonce: Option<serde::de::IgnoredAny>,
        payload: Option<serde::de::IgnoredAny>,
        mac: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(body)
        .is_ok_and(|p| p.nonce.is_none() && p.payload.is_none() && p.mac.is_none())
}

#[cfg(test)]
mod tests {
    use super::is_bare_body;

    #[test]
    fn bare_bodies_are_objects_without_envelope_fields() {
        assert!(is_bare_body(br#"{"device_id":"d","compressed_data":[]}"#));
        assert!(!is_bare_body(br#"{"nonce":1,"device_id":"d"}"#));
        assert!(!is_bare_body(br#"{"payload":"","mac":""}"#));
        assert!(!is_bare_body(b"[1,2]"));
        assert!(!is_bare_body(b"not json"));
    }
}
