//! `solarwire seal`, `inspect` and `keygen` as a person runs them.

use std::io::Write;
use std::process::{Command, Stdio};

const DEMO_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe";

fn run(args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_solarwire"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn seal_reproduces_the_specs_worked_example_and_inspect_explains_it() {
    // Spec §1.7: the first envelope after a fresh NVS.
    let payload = r#"{"device_id":"ESP32_001","value":123}"#;
    let (ok, envelope) = run(&["seal", "--nonce", "11001", "--key", DEMO_KEY], payload);
    assert!(ok);
    assert_eq!(
        envelope.trim(),
        r#"{"nonce":11001,"payload":"eyJkZXZpY2VfaWQiOiJFU1AzMl8wMDEiLCJ2YWx1ZSI6MTIzfQ==","mac":"40a8b17648fb8dff40e5252aeb157b24e3a4bd154cd390e60a8e5708c3e8d577","encrypted":false,"compressed":false}"#
    );
    let (_, json) = run(&["inspect", "--json", "--key", DEMO_KEY], &envelope);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["kind"], "envelope");
    assert_eq!(report["envelope"]["verified"], true);

    // A tampered tag fails the MAC stage, and the command says so by its exit code.
    let forged = envelope.replace("40a8b176", "40a8b177");
    let (ok, table) = run(&["inspect", "--key", DEMO_KEY], &forged);
    assert!(!ok);
    assert!(table.contains("[mac_mismatch]"), "{table}");
}

#[test]
fn inspect_reads_packets_and_keygen_makes_fresh_keys() {
    let (ok, table) = run(
        &["inspect", "-"],
        "AQwSkAA0BHBFHES1kCA1BIBFHES8kBA1BIBGHFTE\n",
    );
    assert!(ok, "{table}");
    assert!(table.contains("bit_packed"), "{table}");
    let (ok, a) = run(&["keygen", "--aes"], "");
    let (_, b) = run(&["keygen"], "");
    assert!(ok);
    let key = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("hmac_key "))
            .unwrap()
            .to_owned()
    };
    assert_eq!(key(&a).len(), 64);
    assert_ne!(key(&a), key(&b));
    assert!(a.contains("aes_key"));
}
