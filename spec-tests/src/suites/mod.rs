//! One module per suite of `spec/vectors.md`.

mod codec;
mod envelope;
mod register;
mod seal;
mod upload;

use serde_json::{Value, json};

use crate::input::Vector;
use crate::{Case, FileError};

/// Fields every vector may carry.
const COMMON: &[&str] = &["id", "comment", "expect", "error", "error_detail"];

/// Reading aids and extras runners must accept (vectors.md, "Optional fields").
const AIDS: &[&str] = &[
    "packet_b64",
    "sequence_b64",
    "input",
    "lossy",
    "sequence_register_ids",
    "encode_sequence",
    "state",
    "payload_text",
    "envelope_json",
    "path_device_id",
];

/// What running one vector produced.
pub(crate) enum Verdict {
    Ok(Value),
    Error(&'static str),
}

impl Verdict {
    fn to_json(&self) -> Value {
        match self {
            Self::Ok(v) => json!({ "ok": v }),
            Self::Error(code) => json!({ "error": code }),
        }
    }
}

/// A suite: its input fields, how to run a vector, and how to compare an
/// `expect` with what was produced (`Err` says how they differ).
pub(crate) struct Suite {
    fields: &'static [&'static str],
    run: fn(&Vector) -> Result<Verdict, FileError>,
    compare: fn(&Value, &Value) -> Result<(), String>,
}

pub(crate) fn runner(suite: &str) -> Option<&'static Suite> {
    Some(match suite {
        "envelope" => &envelope::SUITE,
        "seal" => &seal::SUITE,
        "codec" => &codec::SUITE,
        "register" => &register::SUITE,
        "upload" => &upload::SUITE,
        _ => return None,
    })
}

pub(crate) fn run_case(_suite: &str, suite: &Suite, vector: &Value) -> Result<Case, FileError> {
    let v = vector
        .as_object()
        .ok_or_else(|| FileError::new("a vector must be an object"))?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| FileError::new("missing id"))?
        .to_owned();
    if let Some(unknown) = v.keys().find(|k| {
        ![COMMON, AIDS, suite.fields]
            .iter()
            .any(|set| set.contains(&k.as_str()))
    }) {
        return Err(FileError::new(format!("{id}: unknown field {unknown:?}")));
    }
    let comment = v.get("comment").and_then(Value::as_str).map(str::to_owned);
    let verdict = (suite.run)(v).map_err(|e| FileError::new(format!("{id}: {e}")))?;
    let failure = match (v.get("expect"), v.get("error"), &verdict) {
        (Some(_), Some(_), _) | (None, None, _) => {
            return Err(FileError::new(format!(
                "{id}: needs exactly one of expect, error"
            )));
        }
        (None, Some(Value::String(want)), Verdict::Error(got)) if want == got => None,
        (None, Some(Value::String(want)), Verdict::Error(got)) => {
            Some(format!("expected error {want}, got error {got}"))
        }
        (None, Some(Value::String(want)), Verdict::Ok(_)) => {
            Some(format!("expected error {want}, got ok"))
        }
        (None, Some(_), _) => return Err(FileError::new(format!("{id}: error must be a string"))),
        (Some(want), None, Verdict::Ok(got)) => (suite.compare)(want, got).err(),
        (Some(_), None, Verdict::Error(got)) => Some(format!("expected ok, got error {got}")),
    };
    Ok(Case {
        id,
        comment,
        verdict: verdict.to_json().to_string(),
        failure,
    })
}

/// Exact JSON equality, with the two values shown when they differ.
pub(crate) fn equal(want: &Value, got: &Value) -> Result<(), String> {
    if want == got {
        Ok(())
    } else {
        Err(format!("expected {want}, got {got}"))
    }
}
