//! Explains whatever a person pasted: an envelope, an upload body, or a
//! packet in hex or base64. Shared by the browser inspector, the Python
//! `inspect` and the `solarwire inspect` command, so all three say the same.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::codec::{self, DecodeOptions, Method};
use crate::envelope::{Envelope, Keys};
use crate::registers::{Profile, Reading};
use crate::upload::{Limits, Outcome, PacketOutcome, Sample, StreamState, Upload, UploadError};
use crate::{hex, text};

/// What the input was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum InputKind {
    /// A security envelope (`nonce`, `payload`, `mac`).
    Envelope,
    /// An upload JSON body without an envelope.
    UploadBody,
    /// One compressed packet (hex or base64).
    Packet,
    /// Nothing solarwire understands.
    Unrecognised,
}

/// The verdict of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Status {
    /// The stage succeeded.
    Pass,
    /// The stage failed; later stages did not run.
    Fail,
    /// The stage could not run (e.g. no key given).
    Skipped,
}

/// One step of the explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Stage {
    /// `detect`, `structure`, `mac`, `upload`, `packet N`.
    pub name: String,
    /// Pass, fail or skipped.
    pub status: Status,
    /// The stable error code when it failed.
    pub code: Option<&'static str>,
    /// A sentence for people.
    pub message: String,
}

/// The envelope's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EnvelopeInfo {
    /// The nonce.
    pub nonce: u32,
    /// Whether the payload is encrypted.
    pub encrypted: bool,
    /// Whether the payload is raw binary.
    pub compressed: bool,
    /// Whether the MAC was verified (false when no key was given).
    pub verified: bool,
    /// The payload as text, when it is readable.
    pub payload_text: Option<String>,
}

/// One packet's report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PacketInfo {
    /// Position in the upload.
    pub index: usize,
    /// The codec.
    pub method: Option<Method>,
    /// Bytes received.
    pub size: usize,
    /// Raw size of the values (2 bytes each).
    pub original_size: usize,
    /// `size / original_size`, in thousandths (smaller is better).
    pub ratio_permille: Option<u32>,
    /// Values decoded.
    pub values: Vec<u16>,
    /// Decoded, duplicate or failed.
    pub outcome: Outcome,
    /// The error code when it failed.
    pub error: Option<&'static str>,
    /// Some values are approximations (semantic RLE).
    pub approximate: bool,
    /// The packet in hex.
    pub hex: String,
}

/// One converted register value.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReadingInfo {
    /// Register id.
    pub id: u8,
    /// Device name (`Vac1`), or the id when the profile lacks it.
    pub name: String,
    /// Raw wire value.
    pub raw: u16,
    /// Value in `unit`.
    pub value: Option<f64>,
    /// Unit.
    pub unit: String,
    /// Display text (`230.4V`).
    pub text: String,
    /// A mode register's state name (`Charging`).
    pub state: Option<String>,
    /// A status word's set bits with their meaning.
    pub flags: Vec<crate::registers::Bit>,
}

/// One sample with its readings.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SampleInfo {
    /// Unix ms when known.
    pub t_ms: Option<u64>,
    /// The packet it came from.
    pub packet: usize,
    /// Some values are approximations.
    pub approximate: bool,
    /// The readings in layout order.
    pub readings: Vec<ReadingInfo>,
}

/// A complete explanation.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Inspection {
    /// What the input was.
    pub kind: InputKind,
    /// The stages, in order; the first failure ends the list.
    pub stages: Vec<Stage>,
    /// The envelope, when there was one.
    pub envelope: Option<EnvelopeInfo>,
    /// The device id inside the upload JSON.
    pub device_id: Option<String>,
    /// Every packet.
    pub packets: Vec<PacketInfo>,
    /// Every decoded sample.
    pub samples: Vec<SampleInfo>,
}

impl Inspection {
    fn new(kind: InputKind) -> Self {
        Self {
            kind,
            stages: Vec::new(),
            envelope: None,
            device_id: None,
            packets: Vec::new(),
            samples: Vec::new(),
        }
    }

    fn stage(
        &mut self,
        name: impl Into<String>,
        status: Status,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) {
        self.stages.push(Stage {
            name: name.into(),
            status,
            code,
            message: message.into(),
        });
    }

    /// Whether every stage that ran passed.
    pub fn ok(&self) -> bool {
        self.stages.iter().all(|s| s.status != Status::Fail)
    }
}

/// Explains `input`. `keys` verifies (and decrypts) an envelope; without
/// them the MAC stage is skipped and an unencrypted payload is shown unverified.
pub fn inspect(input: &str, keys: Option<&Keys>, profile: &Profile) -> Inspection {
    let text = input.trim();
    if text.starts_with('{') {
        return match Envelope::parse(text.as_bytes()) {
            Ok(envelope) => inspect_envelope(envelope, keys, profile),
            Err(e) if looks_enveloped(text) => {
                let mut out = Inspection::new(InputKind::Envelope);
                out.stage("structure", Status::Fail, Some(e.code()), e.to_string());
                out
            }
            Err(_) => {
                let mut out = Inspection::new(InputKind::UploadBody);
                inspect_upload(text.as_bytes(), profile, &mut out);
                out
            }
        };
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = if compact.chars().all(|c| c.is_ascii_hexdigit()) && !compact.is_empty() {
        hex::decode_lower(&compact.to_ascii_lowercase()).map(|b| (b, "hex"))
    } else {
        text::base64_decode(compact.as_bytes()).map(|b| (b, "base64"))
    };
    match bytes {
        Some((bytes, form)) if !bytes.is_empty() => {
            let mut out = Inspection::new(InputKind::Packet);
            out.stage(
                "detect",
                Status::Pass,
                None,
                format!("a {}-byte packet in {form}", bytes.len()),
            );
            inspect_packet(&bytes, &mut out);
            out
        }
        _ => {
            let mut out = Inspection::new(InputKind::Unrecognised);
            let message =
                "not recognised: paste an envelope or upload JSON, or one packet in hex or base64";
            out.stage("detect", Status::Fail, Some("malformed"), message);
            out
        }
    }
}

fn looks_enveloped(text: &str) -> bool {
    ["\"nonce\"", "\"payload\"", "\"mac\""]
        .iter()
        .any(|k| text.contains(k))
}

fn inspect_envelope(envelope: Envelope, keys: Option<&Keys>, profile: &Profile) -> Inspection {
    let mut out = Inspection::new(InputKind::Envelope);
    let (nonce, encrypted, compressed) = (
        envelope.nonce().0,
        envelope.encrypted(),
        envelope.compressed(),
    );
    out.stage(
        "structure",
        Status::Pass,
        None,
        format!("envelope with nonce {nonce}"),
    );
    let (payload, verified) = match keys {
        Some(keys) => match envelope.open(keys) {
            Ok(v) => {
                out.stage(
                    "mac",
                    Status::Pass,
                    None,
                    "HMAC-SHA256 verified over nonce and payload",
                );
                (Some(v.payload), true)
            }
            Err(e) => {
                out.stage("mac", Status::Fail, Some(e.code()), e.to_string());
                (None, false)
            }
        },
        None => {
            out.stage(
                "mac",
                Status::Skipped,
                None,
                "no key given: the MAC was not checked",
            );
            (envelope.unverified_plaintext().map(<[u8]>::to_vec), false)
        }
    };
    let payload_text = payload
        .as_deref()
        .and_then(|p| core::str::from_utf8(p).ok())
        .map(String::from);
    out.envelope = Some(EnvelopeInfo {
        nonce,
        encrypted,
        compressed,
        verified,
        payload_text,
    });
    if let Some(payload) = payload {
        inspect_upload(&payload, profile, &mut out);
    }
    out
}

fn inspect_upload(json: &[u8], profile: &Profile, out: &mut Inspection) {
    let limits = Limits::default();
    let upload = match Upload::parse(json, &limits) {
        Ok(u) => u,
        Err(e) => {
            out.stage("upload", Status::Fail, Some(e.code()), e.to_string());
            return;
        }
    };
    out.device_id.clone_from(&upload.device_id);
    let decoded = upload.decode(&mut StreamState::new(), &limits, None);
    out.stage(
        "upload",
        Status::Pass,
        None,
        format!("{} packet(s)", upload.packets.len()),
    );
    for (report, packet) in decoded.packets.iter().zip(&upload.packets) {
        let bytes = packet.bytes();
        let error = report.outcome.error().map(UploadError::code);
        let message = match &report.outcome {
            PacketOutcome::Decoded => format!("{} sample(s)", report.samples),
            PacketOutcome::Duplicate => "sent before in this upload".to_string(),
            PacketOutcome::Failed(e) => e.to_string(),
        };
        let status = if error.is_some() {
            Status::Fail
        } else {
            Status::Pass
        };
        out.stage(format!("packet {}", report.index), status, error, message);
        let samples = decoded.samples.iter().filter(|s| s.packet == report.index);
        out.packets.push(PacketInfo {
            index: report.index,
            method: report.method,
            size: report.size,
            original_size: report.original_size,
            ratio_permille: ratio(report.size, report.original_size),
            values: samples
                .clone()
                .flat_map(|s| s.registers.iter().map(|&(_, v)| v))
                .collect(),
            outcome: report.outcome.kind(),
            error,
            approximate: samples.clone().any(|s| s.approximate),
            hex: hex::encode(bytes),
        });
    }
    out.samples
        .extend(decoded.samples.iter().map(|s| SampleInfo::new(s, profile)));
}

fn inspect_packet(bytes: &[u8], out: &mut Inspection) {
    let result = codec::decode(bytes, &DecodeOptions::default());
    let (values, error, approximate) = match &result {
        Ok(d) => {
            // A v2 packet says how its values split into registers and samples.
            let shape = codec::v2::shape(bytes)
                .ok()
                .filter(|_| d.method == Method::CodecV2)
                .map(|s| format!(" ({} register(s) × {} sample(s))", s.channels, s.samples))
                .unwrap_or_default();
            out.stage(
                "packet 0",
                Status::Pass,
                None,
                format!("{} value(s), {}{shape}", d.values.len(), d.method.code()),
            );
            (d.values.clone(), None, d.is_approximate())
        }
        Err(e) => {
            out.stage("packet 0", Status::Fail, Some(e.code()), e.to_string());
            (Vec::new(), Some(e.code()), false)
        }
    };
    out.packets.push(PacketInfo {
        index: 0,
        method: bytes.first().and_then(|&m| Method::from_marker(m).ok()),
        size: bytes.len(),
        original_size: 2 * values.len(),
        ratio_permille: ratio(bytes.len(), 2 * values.len()),
        values,
        outcome: if error.is_some() {
            Outcome::Failed
        } else {
            Outcome::Decoded
        },
        error,
        approximate,
        hex: hex::encode(bytes),
    });
}

fn ratio(size: usize, original: usize) -> Option<u32> {
    (original > 0).then(|| u32::try_from(size * 1000 / original).unwrap_or(u32::MAX))
}

impl ReadingInfo {
    /// Converts the raw value of register `id` with `profile`; an id the
    /// profile lacks is shown by number, with no value or unit.
    pub fn new(profile: &Profile, id: u8, raw: u16) -> Self {
        match profile.by_id(id) {
            Some(register) => register.read(raw).into(),
            None => Self {
                id,
                name: format!("#{id}"),
                raw,
                value: None,
                unit: String::new(),
                text: raw.to_string(),
                state: None,
                flags: Vec::new(),
            },
        }
    }
}

impl From<Reading<'_>> for ReadingInfo {
    fn from(reading: Reading<'_>) -> Self {
        Self {
            id: reading.register.id,
            name: reading.register.name.clone(),
            raw: reading.raw,
            value: Some(reading.value.to_f64()),
            unit: reading.register.unit.clone(),
            text: reading.text(),
            state: reading.register.state(reading.raw).map(String::from),
            flags: reading.register.active_bits(reading.raw).cloned().collect(),
        }
    }
}

impl SampleInfo {
    /// A decoded sample with every value converted by `profile`.
    pub fn new(sample: &Sample, profile: &Profile) -> Self {
        Self {
            t_ms: sample.t_ms,
            packet: sample.packet,
            approximate: sample.approximate,
            readings: sample
                .registers
                .iter()
                .map(|&(id, raw)| ReadingInfo::new(profile, id, raw))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Nonce, SealOptions, seal};
    use crate::registers::Catalog;

    const UPLOAD: &str = r#"{"device_id":"ESP32_001","timestamp":1763884800,"data_type":"compressed_sensor_batch","total_samples":1,"sampling_interval":5,"register_mapping":{"0":"Vac1","1":"Iac1","2":"Ipv1","3":"Ipv2","4":"Temp","5":"Pac"},"compressed_data":[{"compressed_binary":"AQwSkAA0BHBFHES1kCA1BIBFHES8kBA1BIBGHFTE","decompression_metadata":{"method":"bitpack","register_count":6,"sample_count":3,"original_size_bytes":36,"compressed_size_bytes":30,"timestamp":2948203640,"register_layout":[0,1,5,6,7,9]}}]}"#;

    #[test]
    fn explains_a_codec_v2_packet() {
        let catalog = Catalog::builtin();
        let profile = catalog.default_profile().unwrap();
        let packet = codec::v2::encode_to_vec(&[2300, 52, 2301, 53, 2303, 52], 2).unwrap();
        let seen = inspect(&hex::encode(&packet), None, profile);
        assert!(seen.ok(), "{:?}", seen.stages);
        let stage = seen.stages.iter().find(|s| s.name == "packet 0").unwrap();
        assert_eq!(
            stage.message,
            "6 value(s), codec_v2 (2 register(s) × 3 sample(s))"
        );
        assert_eq!(seen.packets[0].method, Some(Method::CodecV2));
        assert_eq!(seen.packets[0].values, [2300, 52, 2301, 53, 2303, 52]);
        // Cut short: the strict decoder says so.
        let cut = inspect(&hex::encode(&packet[..packet.len() - 1]), None, profile);
        assert!(!cut.ok());
    }

    #[test]
    fn explains_a_sealed_upload_forgery_and_garbage() {
        let catalog = Catalog::builtin();
        let profile = catalog.default_profile().unwrap();
        let keys = Keys::new(b"k");
        let sealed = seal(
            UPLOAD.as_bytes(),
            Nonce(11002),
            &keys,
            SealOptions::default(),
        )
        .unwrap();

        let ok = inspect(&sealed.envelope, Some(&keys), profile);
        assert!(ok.ok(), "{:?}", ok.stages);
        assert_eq!(ok.samples.len(), 3);
        assert_eq!(ok.samples[0].readings[0].text, "230.4V");
        // F13: the last sample is 5 s before the upload, then one poll period apart.
        assert_eq!(ok.samples[2].t_ms, Some(1_763_884_795_000));
        assert_eq!(ok.samples[0].t_ms, Some(1_763_884_785_000));

        let forged = inspect(&sealed.envelope, Some(&Keys::new(b"other")), profile);
        assert_eq!(forged.stages[1].code, Some("mac_mismatch"));
        assert!(forged.samples.is_empty());

        let garbage = inspect("hello, world!", None, profile);
        assert_eq!(garbage.kind, InputKind::Unrecognised);

        let packet = inspect("01 0c 06 90 00 34 04 70 45 1c 44 b5", None, profile);
        assert_eq!(packet.packets[0].values, [2304, 52, 71, 69, 452, 1205]);
    }

    #[test]
    fn readings_of_known_and_unknown_registers() {
        let catalog = Catalog::builtin();
        let profile = catalog.default_profile().unwrap();
        let known = ReadingInfo::new(profile, 0, 2304);
        assert_eq!(
            (known.name.as_str(), known.value, known.text.as_str()),
            ("Vac1", Some(230.4), "230.4V")
        );
        let converted = profile.convert(crate::registers::RegisterRef::Id(0), 2304);
        assert_eq!(ReadingInfo::from(converted.unwrap()), known);
        let unknown = ReadingInfo::new(profile, 42, 7);
        assert_eq!(
            (unknown.name.as_str(), unknown.value, unknown.text.as_str()),
            ("#42", None, "7")
        );
    }
}
