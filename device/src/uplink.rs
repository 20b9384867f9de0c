//! The device's side of an upload, with neither std nor alloc: samples are
//! kept in a fixed array, then compressed with codec v2, written into an
//! upload JSON and sealed in envelope v2, all in caller or stack buffers.

use core::fmt;

use solarwire_core::CodecError;
use solarwire_core::codec::v2::{self, MAX_CHANNELS, max_packet_len};
use solarwire_core::envelope_v2::{
    Content, EnvelopeV2Error, HeaderV2, IV_LEN, KeyId, KeysV2, seal_v2, sealed_len,
};

/// Samples per upload at most (the firmware's upload cycle holds 3 to 60).
pub(crate) const MAX_SAMPLES: usize = 60;

/// The longest codec v2 packet of one upload.
const MAX_PACKET: usize = max_packet_len(MAX_CHANNELS, MAX_SAMPLES);

/// Room for the upload JSON around the packet's base64 text.
const MAX_JSON: usize = MAX_PACKET.div_ceil(3) * 4 + 512;

/// The longest envelope [`Uplink::seal`] writes.
pub(crate) const MAX_ENVELOPE: usize = sealed_len(MAX_JSON);

/// Why an upload could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UplinkError {
    /// A sample of the wrong length, or the upload is full.
    Sample,
    /// Codec v2 refused the values (its code says why).
    Codec(CodecError),
    /// The upload JSON did not fit its buffer.
    Json,
    /// Sealing failed (the output buffer is too short).
    Seal(EnvelopeV2Error),
}

/// A device's upload state: its identity, key and counter, and the samples
/// of the current upload cycle.
pub(crate) struct Uplink<'a> {
    device_id: &'a str,
    layout: &'a [u8],
    key_id: KeyId,
    keys: KeysV2,
    /// The last counter sealed (persisted by the firmware before sending).
    counter: u64,
    /// Seconds between samples.
    interval_s: u32,
    values: [u16; MAX_CHANNELS * MAX_SAMPLES],
    samples: usize,
}

impl<'a> Uplink<'a> {
    /// A device sampling the registers `layout` (at most 16) every
    /// `interval_s` seconds, sealing with key `key_id` derived from
    /// `secret`, continuing after the persisted `counter`.
    pub(crate) fn new(
        device_id: &'a str,
        layout: &'a [u8],
        key_id: u32,
        secret: &[u8; 32],
        counter: u64,
        interval_s: u32,
    ) -> Self {
        Self {
            device_id,
            layout,
            key_id: KeyId(key_id),
            keys: KeysV2::from_secret(secret),
            counter,
            interval_s,
            values: [0; MAX_CHANNELS * MAX_SAMPLES],
            samples: 0,
        }
    }

    /// Keeps one sample: a value per register of the layout.
    ///
    /// # Errors
    /// [`UplinkError::Sample`] for a sample of the wrong length or a full upload.
    pub(crate) fn push(&mut self, sample: &[u16]) -> Result<(), UplinkError> {
        let channels = self.layout.len();
        let start = self.samples * channels;
        let slot = self
            .values
            .get_mut(start..start + channels)
            .filter(|_| sample.len() == channels && self.samples < MAX_SAMPLES)
            .ok_or(UplinkError::Sample)?;
        slot.copy_from_slice(sample);
        self.samples += 1;
        Ok(())
    }

    /// The counter of the last sealed envelope (to persist).
    pub(crate) fn counter(&self) -> u64 {
        self.counter
    }

    /// Encodes the kept samples, writes the upload JSON and seals it into
    /// `out` at device time `now_ms` (its last sample's time) with a fresh
    /// random `iv`; returns the envelope's length, the bytes to send. The
    /// samples are dropped only when it succeeds.
    ///
    /// # Errors
    /// Codec v2's refusal (no samples), a JSON or output buffer too short.
    pub(crate) fn seal(
        &mut self,
        now_ms: u64,
        iv: [u8; IV_LEN],
        out: &mut [u8],
    ) -> Result<usize, UplinkError> {
        let channels = self.layout.len();
        let values = self
            .values
            .get(..self.samples * channels)
            .ok_or(UplinkError::Sample)?;
        let mut packet = [0u8; MAX_PACKET];
        let packet = v2::encode(values, channels, &mut packet).map_err(UplinkError::Codec)?;
        let mut base64 = [0u8; MAX_PACKET.div_ceil(3) * 4];
        let base64 =
            base64_simd::STANDARD.encode_as_str(packet, base64_simd::Out::from_slice(&mut base64));
        let mut json = Buffer::<MAX_JSON>::new();
        self.write_json(&mut json, base64, packet.len(), now_ms)
            .map_err(|_| UplinkError::Json)?;
        let header = HeaderV2 {
            content: Content::Json,
            key_id: self.key_id,
            device_time_ms: now_ms,
            counter: self.counter + 1,
        };
        let len = seal_v2(&header, json.bytes(), &self.keys, iv, out).map_err(UplinkError::Seal)?;
        self.counter += 1;
        self.samples = 0;
        Ok(len)
    }

    /// The upload JSON of one codec v2 packet (the fields the server reads).
    fn write_json(
        &self,
        out: &mut impl fmt::Write,
        base64: &str,
        size: usize,
        now_ms: u64,
    ) -> fmt::Result {
        let (seconds, channels) = (now_ms / 1000, self.layout.len());
        write!(
            out,
            r#"{{"device_id":"{}","timestamp":{seconds},"data_type":"compressed_sensor_batch","#,
            self.device_id
        )?;
        write!(
            out,
            r#""total_samples":1,"sampling_interval":{},"compressed_data":[{{"#,
            self.interval_s
        )?;
        write!(
            out,
            r#""compressed_binary":"{base64}","decompression_metadata":{{"method":"codec_v2","#
        )?;
        write!(
            out,
            r#""register_count":{channels},"sample_count":{},"original_size_bytes":{},"#,
            self.samples,
            2 * channels * self.samples
        )?;
        write!(
            out,
            r#""compressed_size_bytes":{size},"timestamp":{},"register_layout":["#,
            now_ms & 0xFFFF_FFFF
        )?;
        for (i, id) in self.layout.iter().enumerate() {
            write!(out, "{}{id}", if i == 0 { "" } else { "," })?;
        }
        out.write_str("]}}]}")
    }
}

/// A fixed buffer that text is written into.
struct Buffer<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Buffer<N> {
    fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Write for Buffer<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
