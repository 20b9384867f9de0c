//! The replies upload endpoints answer with: the firmware's shapes (spec
//! §6.1 for `/aggregated`, §6.2 for `/process`) plus `duplicate`, the
//! stored upload's id and a per-packet report.

use serde::Serialize;
use solarwire_core::codec::Method;
use solarwire_core::upload::Outcome;
use utoipa::ToSchema;

use crate::store::{IngestOutcome, PacketSummary, UploadSummary};

/// The reply of `POST /aggregated/{id}` and `POST /api/v1/devices/{id}/uploads`:
/// the firmware's fields (spec §6.1) and the stored upload's report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AggregatedReply {
    /// Always `true` (failures answer in the error shape).
    pub success: bool,
    /// Register values stored (the original server's name: it counts values).
    pub samples_count: usize,
    /// Packets in the upload.
    pub packets_processed: usize,
    /// One line per packet, as the firmware reads them.
    pub stats: Vec<PacketStat>,
    /// What was stored.
    #[serde(flatten)]
    pub report: UploadReport,
}

/// A packet as the firmware's reply lists it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PacketStat {
    /// Whether it decoded.
    pub success: bool,
    /// The codec's firmware label (`dictionary`, `temporal` …, `unknown`).
    pub method: &'static str,
    /// Bytes received.
    pub compressed_size: usize,
    /// Raw size of the decoded values.
    pub original_size: usize,
    /// `compressed_size / original_size` (`null` when nothing decoded).
    pub ratio: Option<f64>,
    /// Values decoded.
    pub value_count: usize,
}

/// The reply of `POST /process` (legacy shape, spec §6.2) and the stored
/// upload's report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LegacyReply {
    /// Always `success`.
    pub status: &'static str,
    /// Always `solarwire`.
    pub compression_system: &'static str,
    /// Packets in the upload.
    pub processed_entries: usize,
    /// Samples stored.
    pub total_samples_processed: usize,
    /// Packets decoded.
    pub decompression_successes: usize,
    /// Decoded packets, percent.
    pub success_rate_percent: f64,
    /// What was stored.
    #[serde(flatten)]
    pub report: UploadReport,
}

/// What both upload replies say about the stored upload.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UploadReport {
    /// The device.
    pub device_id: String,
    /// A sentence for people.
    pub message: String,
    /// An identical resend of the last accepted envelope: nothing new stored.
    pub duplicate: bool,
    /// Row id of the stored upload.
    pub upload_id: i64,
    /// The firmware envelope's nonce (absent for unsigned legacy bodies and envelope v2).
    pub nonce: Option<u32>,
    /// The envelope v2's counter (only for envelope v2 uploads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// Samples stored.
    pub samples: usize,
    /// One entry per packet.
    pub packets: Vec<PacketSummary>,
}

/// The reply of `POST /aggregated/{id}` and `POST /api/v1/devices/{id}/uploads`.
pub fn aggregated(outcome: &IngestOutcome) -> AggregatedReply {
    let (s, duplicate) = parts(outcome);
    let stats = s
        .packets
        .iter()
        .map(|p| PacketStat {
            success: p.outcome != Outcome::Failed,
            method: p.method.map_or("unknown", Method::firmware_label),
            compressed_size: p.size,
            original_size: p.original_size,
            ratio: ratio(p.size, p.original_size),
            value_count: p.values,
        })
        .collect();
    AggregatedReply {
        success: true,
        samples_count: s.values,
        packets_processed: s.packets.len(),
        stats,
        report: report(s, duplicate),
    }
}

/// The reply of `POST /process` (legacy shape).
pub fn legacy(outcome: &IngestOutcome) -> LegacyReply {
    let (s, duplicate) = parts(outcome);
    let decoded = s
        .packets
        .iter()
        .filter(|p| p.outcome == Outcome::Decoded)
        .count();
    let rate = if s.packets.is_empty() {
        0.0
    } else {
        100.0 * decoded as f64 / s.packets.len() as f64
    };
    LegacyReply {
        status: "success",
        compression_system: "solarwire",
        processed_entries: s.packets.len(),
        total_samples_processed: s.samples,
        decompression_successes: decoded,
        success_rate_percent: rate,
        report: report(s, duplicate),
    }
}

fn report(s: &UploadSummary, duplicate: bool) -> UploadReport {
    UploadReport {
        device_id: s.device_id.clone(),
        message: message(s, duplicate),
        duplicate,
        upload_id: s.upload_id,
        nonce: s.nonce,
        counter: s.counter,
        samples: s.samples,
        packets: s.packets.clone(),
    }
}

fn parts(outcome: &IngestOutcome) -> (&UploadSummary, bool) {
    match outcome {
        IngestOutcome::Stored(s) => (s, false),
        IngestOutcome::Duplicate(s) => (s, true),
    }
}

fn ratio(size: usize, original: usize) -> Option<f64> {
    (original > 0).then(|| size as f64 / original as f64)
}

fn message(s: &UploadSummary, duplicate: bool) -> String {
    let failed = s
        .packets
        .iter()
        .filter(|p| p.outcome == Outcome::Failed)
        .count();
    if duplicate {
        format!("duplicate of upload {}; nothing new stored", s.upload_id)
    } else if s.samples == 0 && failed > 0 {
        "no packet could be decoded; the upload is kept raw".to_owned()
    } else if failed > 0 {
        format!(
            "stored {} samples; {failed} packet(s) could not be decoded and are kept raw",
            s.samples
        )
    } else {
        format!(
            "stored {} samples from {} packet(s)",
            s.samples,
            s.packets.len()
        )
    }
}
