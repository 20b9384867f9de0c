//! `register`: raw value to engineering units.

use serde_json::{Value, json};
use solarwire_core::inspect::ReadingInfo;
use solarwire_core::registers::{Catalog, DEFAULT_PROFILE, RegisterRef};

use super::{Suite, Verdict};
use crate::FileError;
use crate::input::{Vector, opt_str};

pub(super) static SUITE: Suite = Suite { run, compare };

fn run(v: &Vector) -> Result<Verdict, FileError> {
    let catalog = Catalog::builtin();
    let name = opt_str(v, "profile")?.unwrap_or(DEFAULT_PROFILE);
    let profile = match catalog.profile(name) {
        Ok(profile) => profile,
        Err(e) => return Ok(Verdict::Error(e.code())),
    };
    let reference = match v.get("register") {
        Some(Value::String(s)) => RegisterRef::Name(s),
        Some(Value::Number(n)) => RegisterRef::Id(n.as_i64().unwrap_or(i64::MAX)),
        _ => return Err(FileError::new("register must be a string or an integer")),
    };
    // A raw value that is not an integer (or beyond i64) is out of range too.
    let raw = v.get("raw").and_then(Value::as_i64).unwrap_or(i64::MAX);
    if !v.get("raw").is_some_and(Value::is_number) {
        return Err(FileError::new("raw must be a number"));
    }
    Ok(match profile.convert(reference, raw) {
        Ok(r) => {
            let info = ReadingInfo::from(r);
            let flags: Vec<Value> = info
                .flags
                .iter()
                .map(|b| json!({ "bit": b.bit, "name": b.name, "severity": b.severity.code() }))
                .collect();
            Verdict::Ok(json!({
                "value": info.value, "unit": info.unit, "text": info.text,
                "state": info.state, "flags": flags,
            }))
        }
        Err(e) => Verdict::Error(e.code()),
    })
}

/// `value` within a relative tolerance of 1e-9; `unit` and `text` exactly;
/// `state` and `flags` exactly where the vector states them.
fn compare(want: &Value, got: &Value) -> Result<(), String> {
    let close = match (
        want.get("value").and_then(Value::as_f64),
        got.get("value").and_then(Value::as_f64),
    ) {
        (Some(w), Some(g)) => (w - g).abs() <= 1e-9 * w.abs().max(g.abs()),
        _ => false,
    };
    let stated = |k: &str| want.get(k).is_none_or(|w| Some(w) == got.get(k));
    if close
        && want.get("unit") == got.get("unit")
        && want.get("text") == got.get("text")
        && stated("state")
        && stated("flags")
    {
        Ok(())
    } else {
        Err(format!("expected {want}, got {got}"))
    }
}
