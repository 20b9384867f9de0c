//! The replies upload endpoints answer with: the firmware's shapes (spec
//! §6.1 for `/aggregated`, §6.2 for `/process`) plus `duplicate`, the
//! stored upload's id and a per-packet report.

use serde_json::{Value, json};
use solarwire_core::codec::Method;

use crate::store::{IngestOutcome, UploadSummary};

/// The reply of `POST /aggregated/{id}` and `POST /api/v1/devices/{id}/uploads`.
pub fn aggregated(outcome: &IngestOutcome) -> Value {
    let (s, duplicate) = parts(outcome);
    let stats: Vec<Value> = s
        .packets
        .iter()
        .map(|p| {
            let method = p.method.as_deref().and_then(Method::from_code);
            json!({
                "success": p.outcome != "failed",
                "method": method.map_or("unknown", Method::firmware_label),
                "compressed_size": p.size,
                "original_size": p.original_size,
                "ratio": ratio(p.size, p.original_size),
                "value_count": p.values,
            })
        })
        .collect();
    json!({
        "success": true,
        "device_id": s.device_id,
        "message": message(s, duplicate),
        // As the original server: `samples_count` counts register values.
        "samples_count": s.values,
        "packets_processed": s.packets.len(),
        "stats": stats,
        "duplicate": duplicate,
        "upload_id": s.upload_id,
        "nonce": s.nonce,
        "samples": s.samples,
        "packets": s.packets,
    })
}

/// The reply of `POST /process` (legacy shape).
pub fn legacy(outcome: &IngestOutcome) -> Value {
    let (s, duplicate) = parts(outcome);
    let decoded = s.packets.iter().filter(|p| p.outcome == "decoded").count();
    let rate = if s.packets.is_empty() {
        0.0
    } else {
        100.0 * decoded as f64 / s.packets.len() as f64
    };
    json!({
        "status": "success",
        "device_id": s.device_id,
        "compression_system": "solarwire",
        "processed_entries": s.packets.len(),
        "total_samples_processed": s.samples,
        "decompression_successes": decoded,
        "success_rate_percent": rate,
        "message": message(s, duplicate),
        "duplicate": duplicate,
        "upload_id": s.upload_id,
        "nonce": s.nonce,
        "samples": s.samples,
        "packets": s.packets,
    })
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
    let failed = s.packets.iter().filter(|p| p.outcome == "failed").count();
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
