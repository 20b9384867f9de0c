//! Whole upload bodies: `parseUpload` and its fast form `parseUploadColumns`.

use js_sys::Reflect;
use serde::{Deserialize, Serialize};
use solarwire_core::codec::Method;
use solarwire_core::envelope::Nonce;
use solarwire_core::replay::{Freshness, LastAccepted};
use solarwire_core::upload::{
    Format, Limits, Outcome, PacketReport, Request, StreamState, process,
};
use wasm_bindgen::prelude::*;

use crate::args::{object_arg, optional_keys, text_or_bytes};
use crate::error::{JsError, error, type_error};
use crate::out::to_js;
use crate::registers::profile;
use crate::samples::{columns, samples};

/// `UploadRequest` in TypeScript.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadRequestArg {
    format: Option<Format>,
    path_device_id: Option<String>,
    /// Read by `optional_keys`, which checks its fields too.
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    keys: JsValue,
    last_nonce: Option<u32>,
    profile: Option<String>,
    received_ms: Option<u64>,
}

/// `ParsedUploadColumns` in TypeScript, but its `columns` (see [`samples`](crate::samples)).
#[derive(Serialize)]
struct ParsedUpload {
    device_id: String,
    nonce: Option<u32>,
    freshness: Option<Freshness>,
    packets: Vec<PacketJs>,
}

/// `PacketReport` in TypeScript.
#[derive(Serialize)]
struct PacketJs {
    index: usize,
    method: Option<Method>,
    size: usize,
    original_size: usize,
    values: usize,
    samples: usize,
    outcome: Outcome,
    error: Option<ErrorJs>,
}

/// `PacketError` in TypeScript: what would have been thrown.
#[derive(Serialize)]
struct ErrorJs {
    name: &'static str,
    code: &'static str,
    message: String,
}

impl From<&PacketReport> for PacketJs {
    fn from(report: &PacketReport) -> Self {
        let error = report.outcome.error().map(|e| ErrorJs {
            name: e.name(),
            code: JsError::code(e),
            message: e.to_string(),
        });
        Self {
            index: report.index,
            method: report.method,
            size: report.size,
            original_size: report.original_size,
            values: report.values,
            samples: report.samples,
            outcome: report.outcome.kind(),
            error,
        }
    }
}

/// Opens, checks and decodes a device's request body (`ParsedUpload`):
/// the device id, every sample converted to units (as `Sample` objects and
/// as typed-array `columns`), and a report per packet. A packet that fails
/// is reported while the others still count; the whole upload is refused
/// (thrown) only when the envelope, the body's shape or the replay check
/// fails, or no packet decodes.
#[wasm_bindgen(js_name = parseUpload, unchecked_return_type = "ParsedUpload")]
pub fn parse_upload(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
    #[wasm_bindgen(unchecked_param_type = "UploadRequest")] request: JsValue,
) -> Result<JsValue, JsValue> {
    parse(body, request, true)
}

/// `parseUpload` without the `Sample` objects (`ParsedUploadColumns`): the
/// samples only as typed-array `columns`, the fast form.
#[wasm_bindgen(js_name = parseUploadColumns, unchecked_return_type = "ParsedUploadColumns")]
pub fn parse_upload_columns(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
    #[wasm_bindgen(unchecked_param_type = "UploadRequest")] request: JsValue,
) -> Result<JsValue, JsValue> {
    parse(body, request, false)
}

/// Both forms of `parseUpload`: the columns always, the objects on request.
fn parse(body: JsValue, request: JsValue, objects: bool) -> Result<JsValue, JsValue> {
    let body = text_or_bytes(body, "body")?;
    let request = object_arg::<UploadRequestArg>(request, "request")?
        .ok_or_else(|| type_error("request", "required"))?;
    let keys = optional_keys(request.keys, "request.keys")?;
    let profile = profile(request.profile.as_deref())?;
    let mut last = request.last_nonce.map(|n| LastAccepted {
        nonce: Nonce(n),
        mac: None,
    });
    let core_request = Request {
        format: request.format.unwrap_or(Format::Aggregated),
        path_device_id: request.path_device_id.as_deref(),
        keys: keys.as_ref(),
        limits: Limits::default(),
        received_ms: request.received_ms,
        profile: Some(profile),
    };
    let processed =
        process(&body, &core_request, &mut last, &mut StreamState::new()).map_err(|e| error(&e))?;
    let (nonce, freshness) = processed.envelope.unzip();
    let result = to_js(&ParsedUpload {
        device_id: processed.device_id.0,
        nonce: nonce.map(|n| n.0),
        freshness,
        packets: processed
            .decoded
            .packets
            .iter()
            .map(PacketJs::from)
            .collect(),
    })?;
    let decoded = &processed.decoded.samples;
    let columns = columns(decoded, profile);
    if objects {
        Reflect::set(
            &result,
            &"samples".into(),
            &samples(decoded, profile, &columns)?,
        )?;
    }
    Reflect::set(&result, &"columns".into(), &columns)?;
    Ok(result)
}
