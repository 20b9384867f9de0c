//! A device that uploads exactly as firmware v1.3.4 does: each upload cycle
//! compresses the pending samples into one packet with the device's smart
//! selection and temporal ring (`solarwire-core`'s encoder), writes the
//! upload JSON in the device's field order (spec §6.1), and seals it with
//! the next nonce (first envelope after a wiped NVS: 11001). A device given
//! an envelope v2 key and `--format v2` is one that runs solarwire's core:
//! codec v2 packets sealed in envelope v2 (`docs/envelope-v2.md`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use solarwire_core::codec::{Method, TemporalState, encode_smart, v2};
use solarwire_core::envelope::{EnvelopeError, Keys, Nonce, SealOptions, seal};
use solarwire_core::envelope_v2::{
    Content, EnvelopeV2Error, HeaderV2, IV_LEN, KeyId, KeysV2, seal_v2, sealed_len,
};

use solarwire_core::registers::Profile;

use crate::readings::profile;

/// The nonce a device with a wiped NVS starts from (its first envelope carries 11001).
pub const FIRST_NONCE: u32 = 11_000;

/// One simulated device's firmware state.
#[derive(Debug, Clone)]
pub struct FirmwareDevice {
    /// The device id (URL path and `device_id`).
    pub id: String,
    /// The register ids sampled, in layout order.
    pub layout: Vec<u8>,
    /// The last nonce used.
    pub nonce: u32,
    /// Which codec compresses its packets.
    pub format: PacketFormat,
    /// The register profile that names its registers in uploads.
    pub profile: &'static Profile,
    keys: Keys,
    temporal: TemporalState,
    envelope: Option<EnvelopeV2Keys>,
}

/// A device's envelope v2 key and its counter.
#[derive(Debug, Clone)]
struct EnvelopeV2Keys {
    id: KeyId,
    keys: KeysV2,
    /// The last counter used.
    counter: u64,
}

/// The packet codec a simulated device uses (`simulate --format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PacketFormat {
    /// The firmware's smart selection and temporal ring (v1 markers).
    #[default]
    V1,
    /// solarwire's codec v2 (marker `0xC2`, `docs/codec-v2.md`), as a
    /// device running the core sends it.
    V2,
}

/// One compressed packet as its `compressed_data` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The element's JSON text.
    pub json: String,
    /// Raw size of its values.
    pub original: usize,
    /// Compressed size.
    pub compressed: usize,
}

/// `compressed / original` and the savings in percent, as the device prints them.
fn ratios(compressed: usize, original: usize) -> (f32, f32) {
    let ratio = compressed as f32 / original.max(1) as f32;
    (ratio, (1.0 - ratio) * 100.0)
}

/// One upload sealed in envelope v2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedV2 {
    /// Its counter.
    pub counter: u64,
    /// The envelope, the HTTP body (`application/octet-stream`).
    pub body: Vec<u8>,
}

/// One sealed upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedUpload {
    /// Its nonce.
    pub nonce: u32,
    /// The envelope text, the HTTP body.
    pub body: String,
}

impl FirmwareDevice {
    /// A freshly booted device.
    pub fn new(id: impl Into<String>, keys: Keys, layout: Vec<u8>) -> Self {
        Self {
            id: id.into(),
            layout,
            nonce: FIRST_NONCE,
            format: PacketFormat::V1,
            profile: profile(),
            keys,
            temporal: TemporalState::new(),
            envelope: None,
        }
    }

    /// The device with an envelope v2 key (`key_id`, its 32-byte secret):
    /// with `--format v2` it seals in envelope v2.
    #[must_use]
    pub fn with_envelope_v2(mut self, key_id: u32, secret: &[u8; 32]) -> Self {
        self.envelope = Some(EnvelopeV2Keys {
            id: KeyId(key_id),
            keys: KeysV2::from_secret(secret),
            counter: 0,
        });
        self
    }

    /// Whether its uploads are sealed in envelope v2 (format v2 and a key).
    pub fn seals_v2(&self) -> bool {
        self.format == PacketFormat::V2 && self.envelope.is_some()
    }

    /// Compresses one upload cycle's `samples` (one row of raw values per
    /// poll, in layout order) into a packet; `last_sample_ms` dates the newest.
    pub fn compress(&mut self, samples: &[Vec<u16>], last_sample_ms: u64) -> Packet {
        let values: Vec<u16> = samples.iter().flatten().copied().collect();
        let ids: Vec<u8> = self
            .layout
            .iter()
            .copied()
            .cycle()
            .take(values.len())
            .collect();
        let bytes = match self.format {
            PacketFormat::V1 => encode_smart(&values, &ids, &mut self.temporal),
            // Beyond v2's 16 registers or 255 samples a device falls back to
            // the firmware's selection.
            PacketFormat::V2 => v2::encode_to_vec(&values, self.layout.len())
                .unwrap_or_else(|_| encode_smart(&values, &ids, &mut self.temporal)),
        };
        let method = bytes
            .first()
            .and_then(|&m| Method::from_marker(m).ok())
            .map_or("bitpack", Method::firmware_label);
        let original = 2 * values.len();
        let (ratio, savings) = ratios(bytes.len(), original);
        let json = format!(
            concat!(
                r#"{{"compressed_binary":"{}","decompression_metadata":{{"method":"{}","#,
                r#""register_count":{},"sample_count":{},"original_size_bytes":{},"#,
                r#""compressed_size_bytes":{},"timestamp":{},"register_layout":{}}},"#,
                r#""performance_metrics":{{"academic_ratio":{},"traditional_ratio":{},"#,
                r#""compression_time_us":0,"savings_percent":{},"lossless_verified":false}}}}"#
            ),
            STANDARD.encode(&bytes),
            method,
            self.layout.len(),
            samples.len(),
            original,
            bytes.len(),
            last_sample_ms & 0xFFFF_FFFF,
            json!(self.layout),
            ratio,
            1.0 / ratio.max(f32::MIN_POSITIVE),
            savings,
        );
        Packet {
            json,
            original,
            compressed: bytes.len(),
        }
    }

    /// The upload JSON around queued packets (oldest first), in the device's
    /// field order; `upload_s` is the device clock, `interval_s` the poll period.
    pub fn upload_json(&self, packets: &[Packet], upload_s: u64, interval_s: u32) -> String {
        let mapping: Map<String, Value> = self
            .layout
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let name = self.profile.by_id(*id).map_or("?", |r| r.name.as_str());
                (i.to_string(), json!(name))
            })
            .collect();
        let original: usize = packets.iter().map(|p| p.original).sum();
        let compressed: usize = packets.iter().map(|p| p.compressed).sum();
        let (ratio, savings) = ratios(compressed, original);
        let data: Vec<&str> = packets.iter().map(|p| p.json.as_str()).collect();
        // serde_json keeps insertion order only with `preserve_order`; the
        // device's order is written by hand instead.
        format!(
            concat!(
                r#"{{"device_id":{},"timestamp":{},"data_type":"compressed_sensor_batch","#,
                r#""total_samples":{},"sampling_interval":{},"register_mapping":{},"#,
                r#""compressed_data":[{}],"session_summary":{{"total_original_bytes":{},"#,
                r#""total_compressed_bytes":{},"overall_academic_ratio":{},"#,
                r#""overall_savings_percent":{}}}}}"#
            ),
            json!(self.id),
            upload_s,
            packets.len(),
            interval_s,
            Value::Object(mapping),
            data.join(","),
            original,
            compressed,
            ratio,
            savings,
        )
    }

    /// Seals an upload JSON in envelope v2 at device time `now_ms` with a
    /// fresh `iv` from the caller's random source. The counter is the next
    /// one, and never below `now_ms`: the simulator keeps no counter across
    /// runs, so its clock stands in for a device's persisted counter.
    ///
    /// # Errors
    /// `missing_key` when the device has no envelope v2 key; `too_large`
    /// for a payload over the envelope's limit.
    pub fn seal_v2(
        &mut self,
        payload: &str,
        now_ms: u64,
        iv: [u8; IV_LEN],
    ) -> Result<SealedV2, EnvelopeV2Error> {
        let envelope = self.envelope.as_mut().ok_or(EnvelopeV2Error::MissingKey)?;
        envelope.counter = envelope.counter.saturating_add(1).max(now_ms);
        let header = HeaderV2 {
            content: Content::Json,
            key_id: envelope.id,
            device_time_ms: now_ms,
            counter: envelope.counter,
        };
        let mut body = vec![0; sealed_len(payload.len())];
        let len = seal_v2(&header, payload.as_bytes(), &envelope.keys, iv, &mut body)?;
        body.truncate(len);
        Ok(SealedV2 {
            counter: envelope.counter,
            body,
        })
    }

    /// Seals an upload JSON under the next nonce, as the device does before
    /// every HTTP attempt.
    ///
    /// # Errors
    /// Only if the JSON were not UTF-8 (it always is).
    pub fn seal(&mut self, payload: &str) -> Result<SealedUpload, EnvelopeError> {
        self.nonce = self.nonce.wrapping_add(1);
        let sealed = seal(
            payload.as_bytes(),
            Nonce(self.nonce),
            &self.keys,
            SealOptions::default(),
        )?;
        Ok(SealedUpload {
            nonce: self.nonce,
            body: sealed.envelope,
        })
    }
}

#[cfg(test)]
mod tests {
    use solarwire_core::envelope::Envelope;
    use solarwire_core::upload::{Limits, StreamState, Upload};

    use super::*;

    #[test]
    fn uploads_decode_back_to_the_samples() {
        let keys = Keys::new(&[7; 32]);
        let mut device = FirmwareDevice::new("SIM_1", keys.clone(), vec![0, 1, 5, 6, 7, 9]);
        let mut server_state = StreamState::after_boot();
        for cycle in 0..6u16 {
            let rows: Vec<Vec<u16>> = (0..3)
                .map(|j| vec![2300 + cycle + j, 52, 71, 69, 452, 1205 + 3 * cycle])
                .collect();
            let t = 1_763_884_800_000 + u64::from(cycle) * 15_000;
            let packet = device.compress(&rows, t);
            let json = device.upload_json(&[packet], t / 1000, 5);
            let sealed = device.seal(&json).unwrap();
            assert_eq!(sealed.nonce, 11_001 + u32::from(cycle));
            let verified = Envelope::parse(sealed.body.as_bytes())
                .unwrap()
                .open(&keys)
                .unwrap();
            let upload = Upload::parse(&verified.payload, &Limits::default()).unwrap();
            let decoded = upload.decode(&mut server_state, &Limits::default(), None);
            let got: Vec<Vec<u16>> = decoded
                .samples
                .iter()
                .map(|s| s.registers.iter().map(|&(_, v)| v).collect())
                .collect();
            assert_eq!(got, rows, "cycle {cycle}: {:?}", decoded.packets);
        }
    }
}
