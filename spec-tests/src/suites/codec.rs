//! `codec`: decoding packets (single, with explicit state, or as a stream),
//! and re-encoding where a vector gives the encoder's input.

use serde_json::{Value, json};
use solarwire_core::codec::{DecodeOptions, Decoded, Encoder, TemporalState, encode_smart};

use super::{Suite, Verdict};
use crate::FileError;
use crate::input::{Vector, hex, opt_str, to_hex, u8_list, u16_list};

pub(super) static SUITE: Suite = Suite { run, compare };

fn run(v: &Vector) -> Result<Verdict, FileError> {
    let mut state = match v.get("state") {
        Some(s) => state_from(s)?,
        None => TemporalState::new(),
    };
    if let Some(sequence) = v.get("sequence") {
        return run_sequence(v, sequence, &mut state);
    }
    let packet =
        hex(opt_str(v, "packet_hex")?
            .ok_or_else(|| FileError::new("needs packet_hex or sequence"))?)
        .ok_or_else(|| FileError::new("packet_hex is not hex"))?;
    if let Some(encode) = v.get("encode") {
        let produced = encode_input(encode, v.get("state"))?;
        if produced != packet {
            return Ok(Verdict::Ok(json!({ "encoded_hex": to_hex(&produced) })));
        }
    }
    Ok(match state.decode(&packet, &DecodeOptions::default()) {
        Ok(d) => Verdict::Ok(decoded_json(&d)),
        Err(e) => Verdict::Error(e.code()),
    })
}

/// Decodes each packet in order with the state carried along; the verdict
/// is the list of per-packet results.
fn run_sequence(
    v: &Vector,
    sequence: &Value,
    state: &mut TemporalState,
) -> Result<Verdict, FileError> {
    let packets = sequence
        .as_array()
        .ok_or_else(|| FileError::new("sequence must be a list"))?;
    let ids = match v.get("sequence_register_ids") {
        Some(Value::Array(lists)) => Some(
            lists
                .iter()
                .map(|l| u8_list(l, "sequence_register_ids"))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(FileError::new("sequence_register_ids must be a list")),
        None => None,
    };
    let mut results = Vec::with_capacity(packets.len());
    let mut bytes = Vec::with_capacity(packets.len());
    for (i, p) in packets.iter().enumerate() {
        let packet = p
            .as_str()
            .and_then(hex)
            .ok_or_else(|| FileError::new("sequence items must be hex strings"))?;
        let opts = DecodeOptions {
            register_ids: ids.as_ref().and_then(|l| l.get(i)).map(Vec::as_slice),
            ..DecodeOptions::default()
        };
        results.push(match state.decode(&packet, &opts) {
            Ok(d) => decoded_json(&d),
            Err(e) => json!({ "error": e.code() }),
        });
        bytes.push(packet);
    }
    if let Some(inputs) = v.get("encode_sequence")
        && let Some(mismatch) = check_encode_sequence(inputs, &bytes)?
    {
        return Ok(Verdict::Ok(mismatch));
    }
    Ok(Verdict::Ok(Value::Array(results)))
}

/// Re-encodes a stream from a fresh encoder. A stream of only temporal
/// packets came from the temporal encoder called directly; any other from
/// the device's smart selection.
fn check_encode_sequence(inputs: &Value, packets: &[Vec<u8>]) -> Result<Option<Value>, FileError> {
    let inputs = inputs
        .as_array()
        .ok_or_else(|| FileError::new("encode_sequence must be a list"))?;
    let temporal_only = packets
        .iter()
        .all(|p| matches!(p.first(), Some(0x70 | 0x71)));
    let mut state = TemporalState::new();
    for (i, (input, packet)) in inputs.iter().zip(packets).enumerate() {
        let values = u16_list(
            input.get("values").unwrap_or(&Value::Null),
            "encode_sequence values",
        )?;
        let ids = u8_list(
            input.get("register_ids").unwrap_or(&Value::Null),
            "encode_sequence register_ids",
        )?;
        let produced = if temporal_only {
            state.encode(&values, &ids)
        } else {
            encode_smart(&values, &ids, &mut state)
        };
        if &produced != packet {
            return Ok(Some(
                json!({ "encode_sequence_step": i, "encoded_hex": to_hex(&produced) }),
            ));
        }
    }
    Ok(None)
}

fn encode_input(encode: &Value, state: Option<&Value>) -> Result<Vec<u8>, FileError> {
    let values = u16_list(
        encode.get("values").unwrap_or(&Value::Null),
        "encode.values",
    )?;
    let ids = match encode.get("register_ids") {
        Some(l) => u8_list(l, "encode.register_ids")?,
        None => Vec::new(),
    };
    let mut state = match state {
        Some(s) => state_from(s)?,
        None => TemporalState::new(),
    };
    // A vector names the packet's codec; both temporal packets come from
    // the temporal encoder.
    let method = match encode.get("method").and_then(Value::as_str) {
        Some("temporal_base" | "temporal_delta") => Some("temporal"),
        other => other,
    };
    let encoder = Encoder::from_code(method)
        .map_err(|e| FileError::new(format!("encode.method {method:?}: {e}")))?;
    let state = encoder.uses_state().then_some(&mut state);
    encoder
        .encode(&values, &ids, state)
        .map_err(|e| FileError::new(format!("encode: {e}")))
}

/// `{"register_ids": [...], "history": [[prev2...], [prev1...]]}`.
fn state_from(state: &Value) -> Result<TemporalState, FileError> {
    let ids = u8_list(
        state.get("register_ids").unwrap_or(&Value::Null),
        "state.register_ids",
    )?;
    let history = state
        .get("history")
        .and_then(Value::as_array)
        .ok_or_else(|| FileError::new("state.history must be a list"))?
        .iter()
        .map(|row| u16_list(row, "state.history"))
        .collect::<Result<Vec<_>, _>>()?;
    TemporalState::from_history(&ids, &history).map_err(|e| FileError::new(format!("state: {e}")))
}

fn decoded_json(d: &Decoded) -> Value {
    let mut out = json!({ "method": d.method.code(), "values": d.values });
    if let (Some(ids), Some(map)) = (&d.register_ids, out.as_object_mut()) {
        map.insert("register_ids".into(), json!(ids));
    }
    out
}

/// The expected result must match; `register_ids` is compared when expected.
fn compare(want: &Value, got: &Value) -> Result<(), String> {
    if got.get("encoded_hex").is_some() {
        return Err(format!("encoder output differs: {got}"));
    }
    match (want, got) {
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => w
            .iter()
            .zip(g)
            .enumerate()
            .try_for_each(|(i, (w, g))| one(w, g).map_err(|e| format!("packet {i}: {e}"))),
        (Value::Array(_), _) | (_, Value::Array(_)) => Err(format!("expected {want}, got {got}")),
        _ => one(want, got),
    }
}

fn one(want: &Value, got: &Value) -> Result<(), String> {
    let same = |key: &str| want.get(key) == got.get(key);
    let ids_ok = want.get("register_ids").is_none() || same("register_ids");
    if same("method") && same("values") && same("error") && ids_ok {
        Ok(())
    } else {
        Err(format!("expected {want}, got {got}"))
    }
}
