//! The envelope v2 vectors (`spec-tests/vectors-v2/`), run on the native core.
//!
//! They live outside `vectors/` until every host runs them: the JS and
//! Python runners have no `envelope_v2` suite yet. Codec v2's vectors are in
//! `vectors/` (every host runs them). Moving the file into `vectors/`
//! retires this test.

#![allow(clippy::print_stdout)] // the runner format (spec/vectors.md) is printed output

use std::path::Path;

use solarwire_spec::evaluate;

#[test]
fn codec_v2_vectors_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors-v2");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("vectors-v2 is readable")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no envelope v2 vector files");
    for path in files {
        let report = evaluate(&std::fs::read_to_string(&path).expect("readable"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let failed: Vec<_> = report
            .failed()
            .map(|c| format!("#{}: {}", c.id, c.failure.as_deref().unwrap_or("")))
            .collect();
        println!(
            "{}: {} passed, {} failed",
            path.display(),
            report.passed(),
            failed.len()
        );
        assert!(
            failed.is_empty(),
            "{}:\n{}",
            path.display(),
            failed.join("\n")
        );
    }
}
