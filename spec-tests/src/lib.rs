//! The runner of the shared vector format (`spec/vectors.md`).
//!
//! [`evaluate`] is a pure function from one vector file's text to a
//! [`Report`]: every host that embeds the core natively (tests, the wasm
//! guest) reaches its verdicts through it, so their outputs can be compared
//! byte for byte. Discovery of files on disk lives in [`files`].
#![forbid(unsafe_code)]

pub mod files;
mod input;
mod report;
mod suites;

pub use report::{Case, FileError, Report};

/// Evaluates every vector of one file.
///
/// # Errors
/// A file that is not JSON, has an unknown `suite`, or a vector with an
/// unknown field, a missing `id`, or neither `expect` nor `error`.
pub fn evaluate(file_json: &str) -> Result<Report, FileError> {
    let file: serde_json::Value =
        serde_json::from_str(file_json).map_err(|e| FileError::new(format!("not JSON: {e}")))?;
    let suite = file
        .get("suite")
        .and_then(|s| s.as_str())
        .ok_or_else(|| FileError::new("missing suite"))?;
    let vectors = file
        .get("vectors")
        .and_then(|v| v.as_array())
        .ok_or_else(|| FileError::new("missing vectors"))?;
    let run =
        suites::runner(suite).ok_or_else(|| FileError::new(format!("unknown suite {suite:?}")))?;
    let mut cases = Vec::with_capacity(vectors.len());
    for (i, vector) in vectors.iter().enumerate() {
        cases.push(suites::run_case(suite, run, vector).map_err(|e| e.at(i))?);
    }
    Ok(Report {
        suite: suite.to_owned(),
        cases,
    })
}
