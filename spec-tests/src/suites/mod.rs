//! One module per suite of `spec/vectors.md`.

mod codec;
mod envelope;
mod envelope_v2;
mod register;
mod seal;
mod upload;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::input::Vector;
use crate::{Case, FileError};

/// `spec-tests/fields.json`, which the JS and Python runners read too: the
/// fields every vector may carry (`common`, and the reading aids of
/// vectors.md, "Optional fields"), and each known suite's own.
#[derive(Deserialize)]
struct Fields {
    common: Vec<String>,
    aids: Vec<String>,
    suites: BTreeMap<String, Vec<String>>,
}

impl Fields {
    fn get() -> &'static Self {
        static FIELDS: OnceLock<Fields> = OnceLock::new();
        FIELDS.get_or_init(|| {
            serde_json::from_str(include_str!("../../fields.json"))
                .expect("spec-tests/fields.json is malformed")
        })
    }

    /// Whether a vector of `suite`, a known one, may carry `field`.
    fn allows(&self, suite: &str, field: &str) -> bool {
        [&self.common, &self.aids, &self.suites[suite]]
            .iter()
            .any(|set| set.iter().any(|f| f == field))
    }
}

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

/// A suite: how to run a vector, and how to compare an `expect` with what
/// was produced (`Err` says how they differ).
pub(crate) struct Suite {
    run: fn(&Vector) -> Result<Verdict, FileError>,
    compare: fn(&Value, &Value) -> Result<(), String>,
}

/// The suite named `suite`, when `fields.json` lists it.
pub(crate) fn runner(suite: &str) -> Option<&'static Suite> {
    Fields::get()
        .suites
        .contains_key(suite)
        .then(|| match suite {
            "envelope" => &envelope::SUITE,
            "envelope_v2" => &envelope_v2::SUITE,
            "seal" => &seal::SUITE,
            "codec" => &codec::SUITE,
            "register" => &register::SUITE,
            "upload" => &upload::SUITE,
            _ => panic!("spec-tests/fields.json lists suite {suite:?}, which has no runner"),
        })
}

pub(crate) fn run_case(name: &str, suite: &Suite, vector: &Value) -> Result<Case, FileError> {
    let v = vector
        .as_object()
        .ok_or_else(|| FileError::new("a vector must be an object"))?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| FileError::new("missing id"))?
        .to_owned();
    let fields = Fields::get();
    if let Some(unknown) = v.keys().find(|k| !fields.allows(name, k)) {
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
