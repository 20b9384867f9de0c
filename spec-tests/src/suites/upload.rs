//! `upload`: a whole request body to normalized samples.

use serde_json::{Map, Value, json};
use solarwire_core::registers::Catalog;
use solarwire_core::upload::{Format, Limits, Request, StreamState, process};

use super::envelope::{keys, last_accepted};
use super::{Suite, Verdict};
use crate::FileError;
use crate::input::{Vector, opt_str, str_field};

pub(super) static SUITE: Suite = Suite { run, compare };

fn run(v: &Vector) -> Result<Verdict, FileError> {
    let format = Format::from_code(str_field(v, "format")?)
        .ok_or_else(|| FileError::new("unknown format"))?;
    let keys = if v.contains_key("hmac_key_hex") {
        Some(keys(v)?)
    } else {
        None
    };
    let catalog = Catalog::builtin();
    let profile = catalog
        .default_profile()
        .map_err(|e| FileError::new(e.to_string()))?;
    let request = Request {
        format,
        path_device_id: opt_str(v, "path_device_id")?,
        keys: keys.as_ref(),
        limits: Limits::default(),
        received_ms: None,
        profile: Some(profile),
    };
    // The vector's `last_nonce` applies to whichever device the body names.
    let mut store = last_accepted(v)?;
    let processed = match process(
        str_field(v, "body")?.as_bytes(),
        &request,
        &mut store,
        &mut StreamState::new(),
    ) {
        Ok(p) => p,
        Err(e) => return Ok(Verdict::Error(e.code())),
    };
    let samples: Vec<Value> = processed
        .decoded
        .samples
        .iter()
        .map(|s| {
            let registers: Map<String, Value> = s
                .registers
                .iter()
                .map(|&(id, raw)| {
                    (
                        profile
                            .by_id(id)
                            .map_or_else(|| format!("REG_{id}"), |r| r.key.clone()),
                        json!(raw),
                    )
                })
                .collect();
            json!({ "t": s.t_ms, "registers": registers })
        })
        .collect();
    Ok(Verdict::Ok(
        json!({ "device_id": processed.device_id.as_str(), "samples": samples }),
    ))
}

/// Sample times are compared only where the vector states one: the wire
/// does not carry exact times (F13), so vectors write `null`.
fn compare(want: &Value, got: &Value) -> Result<(), String> {
    let differ = || Err(format!("expected {want}, got {got}"));
    if want.get("device_id") != got.get("device_id") {
        return differ();
    }
    let (Some(w), Some(g)) = (
        want.get("samples").and_then(Value::as_array),
        got.get("samples").and_then(Value::as_array),
    ) else {
        return differ();
    };
    if w.len() != g.len() {
        return differ();
    }
    for (ws, gs) in w.iter().zip(g) {
        let t_ok = ws.get("t").is_none_or(Value::is_null) || ws.get("t") == gs.get("t");
        if !t_ok || ws.get("registers") != gs.get("registers") {
            return differ();
        }
    }
    Ok(())
}
