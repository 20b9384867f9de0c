//! Runs every vector file (the project's and `$SOLARWIRE_EXTRA_VECTORS`)
//! against the native core and lists every failure at once.

#![allow(clippy::print_stdout)] // the runner format (spec/vectors.md) is printed output
use std::collections::BTreeSet;
use std::path::Path;

use solarwire_spec::{evaluate, files};

#[test]
fn every_vector_file_passes() {
    let paths = files::all_vector_files().expect("vector directories are readable");
    assert!(!paths.is_empty(), "no vector files found");
    let (mut passed, mut failed) = (0, 0);
    let mut problems = Vec::new();
    for path in &paths {
        let shown = path.display();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{shown}: cannot read: {e}"));
                failed += 1;
                continue;
            }
        };
        match evaluate(&text) {
            Ok(report) => {
                let bad: Vec<_> = report.failed().collect();
                println!("{shown}: {} passed, {} failed", report.passed(), bad.len());
                passed += report.passed();
                failed += bad.len();
                for case in bad {
                    let comment = case
                        .comment
                        .as_deref()
                        .map(|c| format!(" \"{c}\""))
                        .unwrap_or_default();
                    problems.push(format!(
                        "{shown} #{}{comment}: {}",
                        case.id,
                        case.failure.as_deref().unwrap_or("")
                    ));
                }
            }
            Err(e) => {
                println!("{shown}: cannot run: {e}");
                problems.push(format!("{shown}: {e}"));
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Codes that no vector suite can reach, each covered by the core's and the
/// bindings' unit tests instead: `invalid_catalog` comes only from loading
/// another inverter model's catalog (`Profile::from_json`),
/// `invalid_argument` only from a binding's caller (an encoder's method
/// name or register ids, the parts of a key); `time_out_of_window` only
/// with a receiver's clock and window (host-server/tests/time_window.rs);
/// `timestamp_in_seconds` is covered by the core's unit tests and that file.
const NOT_IN_ANY_SUITE: [&str; 4] = [
    "invalid_catalog",
    "invalid_argument",
    "time_out_of_window",
    "timestamp_in_seconds",
];

/// Every error code of the contract has a vector (but those no suite can
/// reach), and vectors use no other code.
#[test]
fn error_codes_are_covered_and_listed() {
    let listed: BTreeSet<&str> = solarwire_core::ALL_ERROR_CODES
        .into_iter()
        .filter(|code| !NOT_IN_ANY_SUITE.contains(code))
        .collect();
    let mut used = BTreeSet::new();
    // vectors-v2 holds the codes only v2 formats report (clock_skew).
    let v2 = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors-v2"))
        .expect("vectors-v2 is readable")
        .map(|e| e.expect("entry").path());
    for path in files::all_vector_files()
        .expect("readable")
        .into_iter()
        .chain(v2)
    {
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("json");
        let vectors = file["vectors"].as_array().cloned().unwrap_or_default();
        used.extend(
            vectors
                .iter()
                .filter_map(|v| v.get("error")?.as_str().map(str::to_owned)),
        );
    }
    let used: BTreeSet<&str> = used.iter().map(String::as_str).collect();
    assert_eq!(
        used.difference(&listed).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "codes used but not listed"
    );
    assert_eq!(
        listed.difference(&used).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "codes listed without a vector"
    );
}
