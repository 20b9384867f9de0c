//! Decoding an upload's packets, one stage at a time.
//!
//! A packet goes through: its layout, the resend check (F26), the value
//! count it declares, admission to the stream (which may drop the temporal
//! history), its values (codec or legacy list), and the split into dated
//! samples, which must not repeat a (time, register) the upload already
//! has ([`collision`](super::collision)). A stage that refuses fails only
//! its packet.

use alloc::vec::Vec;

use super::collision::Covered;
use super::stream::Fingerprint;
use super::{
    Decoded, Limits, Packet, PacketClock, PacketOutcome, PacketReport, PacketSource, Sample,
    StreamState, Upload, UploadError,
};
use crate::codec::{CodecError, DecodeOptions};

/// A packet's raw values, and which are exact when the codec is lossy.
type Values = (Vec<u16>, Option<Vec<bool>>);

impl Upload {
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
        let mut covered = Covered::default();
        for (index, packet) in self.packets.iter().enumerate() {
            let mut report = PacketReport::new(index, packet.bytes());
            let step = Step {
                upload: self,
                index,
                packet,
                limits,
                received_ms,
            };
            report.outcome = step
                .run(state, &mut report, &mut out.samples, &mut covered)
                .unwrap_or_else(PacketOutcome::Failed);
            out.packets.push(report);
        }
        out
    }
}

impl Packet {
    /// The compressed bytes (empty for a legacy value list or unreadable text).
    pub fn bytes(&self) -> &[u8] {
        match &self.source {
            PacketSource::Bytes(b) => b,
            _ => &[],
        }
    }

    /// Stage 1: the register layout, which must name at least one register.
    fn usable_layout(&self) -> Result<&[u8], UploadError> {
        match &self.layout {
            Ok(layout) if !layout.is_empty() => Ok(layout),
            Ok(_) => Err(UploadError::Malformed {
                field: "register_layout (empty)",
            }),
            Err(e) => Err(e.clone()),
        }
    }

    /// Stage 3: the value count the metadata declares, within the limit.
    fn expected_values(
        &self,
        registers: usize,
        limits: &Limits,
    ) -> Result<Option<usize>, UploadError> {
        match self.sample_count.map(|s| s.checked_mul(registers)) {
            Some(Some(n)) if n <= limits.max_values => Ok(Some(n)),
            Some(n) => Err(UploadError::TooLarge {
                what: "values",
                declared: n.unwrap_or(usize::MAX),
                limit: limits.max_values,
            }),
            None => Ok(None),
        }
    }
}

/// One packet on its way through the stages.
struct Step<'a> {
    upload: &'a Upload,
    index: usize,
    packet: &'a Packet,
    limits: &'a Limits,
    received_ms: Option<u64>,
}

impl Step<'_> {
    fn run(
        &self,
        state: &mut StreamState,
        report: &mut PacketReport,
        samples: &mut Vec<Sample>,
        covered: &mut Covered,
    ) -> Result<PacketOutcome, UploadError> {
        let packet = self.packet;
        let layout = packet.usable_layout()?;
        // Stage 2: a packet sent again after a lost answer (F26).
        let fingerprint = packet.timestamp.map(|t| Fingerprint::of(t, packet.bytes()));
        if fingerprint
            .as_ref()
            .is_some_and(|fp| state.is_duplicate(fp))
        {
            return Ok(PacketOutcome::Duplicate);
        }
        let expected = packet.expected_values(layout.len(), self.limits)?;
        let ids: Option<Vec<u8>> = packet.sample_count.map(|s| {
            let n = layout.len() * s;
            layout.iter().copied().cycle().take(n).collect()
        });
        if let Some(fp) = fingerprint {
            state.admit(fp, self.span_ms());
        }
        let (values, exact) = self.values(state, expected, ids.as_deref())?;
        report.values = values.len();
        report.original_size = 2 * values.len();
        if values.len() % layout.len() != 0 {
            return Err(CodecError::BadHeader {
                field: "value count (not whole samples)",
            }
            .into());
        }
        report.samples = self.push_samples(layout, &values, exact.as_deref(), samples, covered)?;
        Ok(PacketOutcome::Decoded)
    }

    /// Stage 4's input: the time the packet spans (`sample_count × interval`).
    fn span_ms(&self) -> Option<u64> {
        self.packet
            .sample_count
            .zip(self.upload.sampling_interval)
            .map(|(s, i)| s as u64 * u64::from(i) * 1000)
    }

    /// Stage 5: the packet's values. A packet that cannot be read still
    /// occupies its place in the temporal ring, as on the device.
    fn values(
        &self,
        state: &mut StreamState,
        expected: Option<usize>,
        ids: Option<&[u8]>,
    ) -> Result<Values, UploadError> {
        let bytes = match &self.packet.source {
            PacketSource::Values(values) => return Ok((values.clone(), None)),
            PacketSource::Invalid(e) => {
                state.temporal_mut().skip(ids);
                return Err(e.clone());
            }
            PacketSource::Bytes(bytes) => bytes,
        };
        if self.packet.declared_size.is_some_and(|d| d > bytes.len()) {
            // F7: the device cut the base64 text of long packets.
            state.temporal_mut().skip(ids);
            return Err(CodecError::Truncated {
                field: "packet (shorter than compressed_size_bytes)",
            }
            .into());
        }
        let opts = DecodeOptions {
            expected_count: expected,
            register_ids: ids,
            max_values: self.limits.max_values,
        };
        let decoded = state.temporal_mut().decode(bytes, &opts)?;
        Ok((decoded.values, decoded.exact))
    }

    /// Stage 6: whole samples, dated when the upload says enough (F13).
    /// A stamp in seconds, or (with a window and a synced clock) a time
    /// outside the window, or a (time, register) the upload already has,
    /// refuses the packet: none of its samples are kept.
    fn push_samples(
        &self,
        layout: &[u8],
        values: &[u16],
        exact: Option<&[bool]>,
        samples: &mut Vec<Sample>,
        covered: &mut Covered,
    ) -> Result<usize, UploadError> {
        let n = values.len() / layout.len();
        let clock = self
            .packet
            .timestamp
            .zip(self.upload.timestamp)
            .zip(self.upload.sampling_interval)
            .map(|((ts, up), iv)| PacketClock {
                last_sample_ms_mod32: ts,
                upload_s: up,
                interval_s: iv,
            });
        if clock.is_some_and(|c| c.stamped_in_seconds()) {
            return Err(UploadError::TimestampInSeconds);
        }
        let last_ms = clock.and_then(|c| c.last_sample_ms(self.received_ms));
        if let (Some(c), Some(last), Some(window), Some(now)) =
            (clock, last_ms, self.limits.window, self.received_ms)
            && c.synced()
        {
            window.check(c.sample_ms(last, 0, n).unwrap_or(last), last, now)?;
        }
        let times: Vec<Option<u64>> = (0..n)
            .map(|j| {
                clock
                    .zip(last_ms)
                    .and_then(|(c, last)| c.sample_ms(last, j, n))
            })
            .collect();
        covered.check(layout, &times, samples)?;
        let first = samples.len();
        samples.reserve(n);
        for ((j, chunk), &t_ms) in values.chunks_exact(layout.len()).enumerate().zip(&times) {
            let exact_chunk = exact.and_then(|e| e.get(j * layout.len()..(j + 1) * layout.len()));
            samples.push(Sample {
                t_ms,
                registers: layout.iter().copied().zip(chunk.iter().copied()).collect(),
                approximate: exact_chunk.is_some_and(|e| e.iter().any(|x| !x)),
                packet: self.index,
            });
        }
        covered.record(first..samples.len(), &times);
        Ok(n)
    }
}
