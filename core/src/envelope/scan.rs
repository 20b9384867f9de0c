//! The envelope exactly as the device (and [`seal`](super::seal)) writes it:
//! compact, in the device's field order. Its fields are located by fixed
//! prefixes and one `memchr` for the end of the payload, and the base64 text
//! is borrowed, not copied.
//!
//! This reader only ever *accepts*: any input that is not exactly this form
//! (whitespace, another field order, an escape, a number outside u32) is left
//! to the general JSON reader, which also reports every error. What it
//! accepts is therefore read exactly as that reader would read it; a
//! property test in `spec-tests` checks the two agree on arbitrary input.

/// The fields of an envelope in the device's form, borrowed from the input.
pub(super) struct DeviceForm<'a> {
    pub(super) nonce: u32,
    /// The payload's base64 text (not yet checked).
    pub(super) payload: &'a [u8],
    /// The MAC's text (64 bytes, not yet checked).
    pub(super) mac: &'a [u8],
    pub(super) encrypted: bool,
    pub(super) compressed: bool,
}

/// Reads `bytes` when it is an envelope in the device's form.
pub(super) fn device_form(bytes: &[u8]) -> Option<DeviceForm<'_>> {
    let rest = bytes.strip_prefix(br#"{"nonce":"#)?;
    let (nonce, rest) = u32_digits(rest)?;
    let rest = rest.strip_prefix(br#","payload":""#)?;
    // Base64 has neither quotes nor backslashes: the first quote ends it,
    // and the decoder refuses any escape that would have hidden one.
    let end = memchr::memchr(b'"', rest)?;
    let (payload, rest) = rest.split_at_checked(end)?;
    let rest = rest.strip_prefix(br#"","mac":""#)?;
    let (mac, rest) = rest.split_at_checked(64)?;
    let rest = rest.strip_prefix(br#"","encrypted":"#)?;
    let (encrypted, rest) = boolean(rest)?;
    let rest = rest.strip_prefix(br#","compressed":"#)?;
    let (compressed, rest) = boolean(rest)?;
    (rest == b"}").then_some(DeviceForm {
        nonce,
        payload,
        mac,
        encrypted,
        compressed,
    })
}

/// A JSON integer (no sign, no leading zero) that fits in a u32.
fn u32_digits(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let len = bytes
        .iter()
        .take(11)
        .take_while(|b| b.is_ascii_digit())
        .count();
    let (digits, rest) = bytes.split_at_checked(len)?;
    if digits.is_empty() || (digits.len() > 1 && digits.first() == Some(&b'0')) {
        return None;
    }
    let value = digits.iter().try_fold(0u32, |n, &d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })?;
    Some((value, rest))
}

fn boolean(bytes: &[u8]) -> Option<(bool, &[u8])> {
    match bytes.strip_prefix(b"true") {
        Some(rest) => Some((true, rest)),
        None => bytes.strip_prefix(b"false").map(|rest| (false, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_device_form() {
        let device = br#"{"nonce":7,"payload":"e30=","mac":"0000000000000000000000000000000000000000000000000000000000000000","encrypted":false,"compressed":true}"#;
        let form = device_form(device).unwrap();
        assert_eq!(
            (form.nonce, form.payload, form.compressed),
            (7, &b"e30="[..], true)
        );
        assert!(device_form(&device[..device.len() - 1]).is_none());
        let spaced =
            br#"{"nonce": 7,"payload":"e30=","mac":"00","encrypted":false,"compressed":true}"#;
        assert!(device_form(spaced).is_none());
        assert_eq!(u32_digits(b"4294967295,").map(|d| d.0), Some(u32::MAX));
        assert!(u32_digits(b"4294967296,").is_none());
        assert!(u32_digits(b"07,").is_none());
    }
}

/// The device-form reader and serde agree on arbitrary envelopes: built
/// from the device's parts, each replaced now and then by something
/// near-miss, then perhaps one byte changed.
#[cfg(test)]
mod agreement {
    extern crate std;

    use alloc::format;
    use alloc::string::String;

    use proptest::prelude::*;

    use crate::near_miss::{mutated, part};

    use super::super::Envelope;

    fn envelope() -> impl Strategy<Value = String> {
        let nonce = part(
            any::<u32>().prop_map(|n| format!("{n}")),
            &["007", "-1", "1.0", "1e3", "4294967296", "\"5\"", "null"],
        );
        let payload = part(
            proptest::collection::vec(any::<u8>(), 0..40)
                .prop_map(|b| crate::text::base64_encode(&b)),
            &["e30", "e30=\\n", "e3\\/0=", "\u{e9}e30=", "=", ""],
        );
        let mac = part(
            proptest::collection::vec(any::<u8>(), 32).prop_map(|b| crate::hex::encode(&b)),
            &[
                "00",
                "0000000000000000000000000000000000000000000000000000000000000000X",
                "ZZ00000000000000000000000000000000000000000000000000000000000000",
            ],
        );
        let flag = || {
            part(
                any::<bool>().prop_map(|b| format!("{b}")),
                &["1", "null", "\"true\"", "TRUE"],
            )
        };
        (nonce, payload, mac, flag(), flag(), any::<bool>())
            .prop_map(|(nonce, payload, mac, encrypted, compressed, spaced)| {
                let sep = if spaced { ", " } else { "," };
                let text = format!(
                    r#"{{"nonce":{nonce}{sep}"payload":"{payload}"{sep}"mac":"{mac}"{sep}"encrypted":{encrypted}{sep}"compressed":{compressed}}}"#
                );
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_device_form_reader_agrees_with_serde(bytes in mutated(envelope())) {
            let serde = Envelope::from_json(&bytes).and_then(Envelope::checked);
            prop_assert_eq!(Envelope::parse(&bytes), serde);
        }

        #[test]
        fn arbitrary_bytes_agree_too(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let serde = Envelope::from_json(&bytes).and_then(Envelope::checked);
            prop_assert_eq!(Envelope::parse(&bytes), serde);
        }
    }
}
