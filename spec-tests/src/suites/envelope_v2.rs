//! `envelope_v2`: opening an envelope v2 (`docs/envelope-v2.md`), deciding
//! on its counter, and re-sealing every valid one to the same bytes.

use serde_json::{Value, json};
use solarwire_core::envelope_v2::{
    HEADER_LEN, IV_LEN, KeyId, KeyLookup, KeyRing, KeysV2, LastCounter, OpenedV2, SkewWindow,
    decide_counter, open_v2, seal_v2, sealed_len,
};

use super::{Suite, Verdict};
use crate::FileError;
use crate::input::{Vector, hex_field, opt_hex, opt_u64, to_hex};

pub(super) static SUITE: Suite = Suite { run, compare };

fn run(v: &Vector) -> Result<Verdict, FileError> {
    let ring = ring(v)?;
    let now = u64_field(v, "now_ms")?;
    let window = SkewWindow {
        past_ms: u64_field(v, "skew_past_ms")?,
        future_ms: u64_field(v, "skew_future_ms")?,
    };
    let last = opt_u64(v, "last_counter")?.map(|counter| LastCounter { counter, tag: None });
    let bytes = hex_field(v, "envelope_hex")?;
    let opened = open_v2(&bytes, &ring, now, window)
        .and_then(|o| decide_counter(last.as_ref(), o.header.counter, &o.tag).map(|_| o));
    Ok(match opened {
        Ok(o) => {
            let resealed = reseal(&o, &bytes, &ring, now)?;
            Verdict::Ok(json!({
                "key_id": o.header.key_id.0,
                "content": o.header.content.name(),
                "device_time_ms": o.header.device_time_ms,
                "counter": o.header.counter,
                "plaintext_hex": to_hex(&o.plaintext),
                "tag_hex": to_hex(&o.tag.0),
                "resealed": resealed == bytes,
            }))
        }
        Err(e) => Verdict::Error(e.code()),
    })
}

/// The device's key ring as the vector describes it.
fn ring(v: &Vector) -> Result<KeyRing, FileError> {
    let current = KeyRing::new(key_id(v, "key_id")?, secret(v, "secret_hex")?);
    let Some(previous) = opt_hex(v, "previous_secret_hex")? else {
        return Ok(current);
    };
    let previous = KeysV2::from_secret(
        &previous
            .try_into()
            .map_err(|_| FileError::new("previous_secret_hex must be 32 bytes"))?,
    );
    Ok(current.with_previous(
        key_id(v, "previous_key_id")?,
        previous,
        u64_field(v, "previous_until_ms")?,
    ))
}

/// Seals the opened plaintext again with the envelope's header, IV and key.
fn reseal(o: &OpenedV2, bytes: &[u8], ring: &KeyRing, now: u64) -> Result<Vec<u8>, FileError> {
    let iv: [u8; IV_LEN] = bytes
        .get(HEADER_LEN..HEADER_LEN + IV_LEN)
        .and_then(|iv| iv.try_into().ok())
        .ok_or_else(|| FileError::new("an opened envelope without an IV"))?;
    let keys = ring
        .key(o.header.key_id, now)
        .ok_or_else(|| FileError::new("an opened envelope without its key"))?;
    let mut out = vec![0; sealed_len(o.plaintext.len())];
    seal_v2(&o.header, &o.plaintext, keys, iv, &mut out)
        .map_err(|e| FileError::new(format!("re-sealing failed: {e}")))?;
    Ok(out)
}

/// The opened fields must equal `expect`, and re-sealing must give the same bytes.
fn compare(want: &Value, got: &Value) -> Result<(), String> {
    let mut fields = got.clone();
    let resealed = fields
        .as_object_mut()
        .and_then(|f| f.remove("resealed"))
        .unwrap_or(Value::Null);
    if resealed != Value::Bool(true) {
        return Err("re-sealing the opened envelope gives other bytes".to_owned());
    }
    super::equal(want, &fields)
}

fn secret(v: &Vector, key: &str) -> Result<KeysV2, FileError> {
    let secret: [u8; 32] = hex_field(v, key)?
        .try_into()
        .map_err(|_| FileError::new(format!("{key} must be 32 bytes")))?;
    Ok(KeysV2::from_secret(&secret))
}

fn key_id(v: &Vector, key: &str) -> Result<KeyId, FileError> {
    u32::try_from(u64_field(v, key)?)
        .map(KeyId)
        .map_err(|_| FileError::new(format!("{key} must fit u32")))
}

fn u64_field(v: &Vector, key: &str) -> Result<u64, FileError> {
    opt_u64(v, key)?.ok_or_else(|| FileError::new(format!("field {key} is required")))
}
