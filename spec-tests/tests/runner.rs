//! The runner itself must be able to fail: wrong expectations, unknown
//! fields and unknown suites are reported, never skipped.

use solarwire_spec::evaluate;

const PACKET: &str = "010c069000340470451c44b5";

fn codec_file(vector: &str) -> String {
    format!(r#"{{"suite":"codec","description":"t","source":"t","vectors":[{vector}]}}"#)
}

#[test]
fn a_wrong_expectation_fails() {
    let good = codec_file(&format!(
        r#"{{"id":"a","packet_hex":"{PACKET}","expect":{{"method":"bit_packed","values":[2304,52,71,69,452,1205]}}}}"#
    ));
    assert_eq!(evaluate(&good).unwrap().failed().count(), 0);
    let wrong = good.replace("1205", "1206");
    assert_eq!(evaluate(&wrong).unwrap().failed().count(), 1);
    let wrong_error = codec_file(&format!(
        r#"{{"id":"b","packet_hex":"{PACKET}","error":"truncated"}}"#
    ));
    assert_eq!(evaluate(&wrong_error).unwrap().failed().count(), 1);
}

#[test]
fn unknown_fields_and_suites_are_errors() {
    let typo = codec_file(&format!(
        r#"{{"id":"a","packet_hx":"{PACKET}","error":"truncated"}}"#
    ));
    assert!(evaluate(&typo).is_err());
    assert!(evaluate(r#"{"suite":"codecs","vectors":[]}"#).is_err());
    assert!(evaluate("not json").is_err());
}
