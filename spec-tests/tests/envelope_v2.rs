//! Property tests of envelope v2 (`docs/envelope-v2.md`): round trips, every
//! bit flip and every truncation or extension of a valid envelope refused,
//! and no panic on arbitrary bytes.

use proptest::prelude::*;
use solarwire_core::envelope_v2::{
    Content, HeaderV2, KeyId, KeysV2, MAX_PLAINTEXT, OpenedV2, SkewWindow, open_v2, peek_v2,
    seal_v2, sealed_len,
};

/// Everything a device passes to the sealer.
#[derive(Debug, Clone)]
struct Input {
    secret: [u8; 32],
    header: HeaderV2,
    iv: [u8; 16],
    plaintext: Vec<u8>,
}

fn input(max_len: usize) -> impl Strategy<Value = Input> {
    (
        any::<[u8; 32]>(),
        any::<(bool, u32, u64, u64)>(),
        any::<[u8; 16]>(),
        proptest::collection::vec(any::<u8>(), 0..max_len),
    )
        .prop_map(
            |(secret, (binary, key_id, time, counter), iv, plaintext)| Input {
                secret,
                header: HeaderV2 {
                    content: if binary {
                        Content::Binary
                    } else {
                        Content::Json
                    },
                    key_id: KeyId(key_id),
                    device_time_ms: time,
                    counter,
                },
                iv,
                plaintext,
            },
        )
}

impl Input {
    fn keys(&self) -> (KeyId, KeysV2) {
        (self.header.key_id, KeysV2::from_secret(&self.secret))
    }

    fn seal(&self) -> Vec<u8> {
        let mut out = vec![0xee; sealed_len(self.plaintext.len()) + 3];
        let len = seal_v2(
            &self.header,
            &self.plaintext,
            &self.keys().1,
            self.iv,
            &mut out,
        )
        .expect("the buffer is large enough");
        assert_eq!(
            out.split_off(len),
            [0xee; 3],
            "bytes after the envelope kept"
        );
        out
    }

    fn open(&self, bytes: &[u8]) -> Result<OpenedV2, &'static str> {
        open_v2(
            bytes,
            &self.keys(),
            self.header.device_time_ms,
            SkewWindow::DEFAULT,
        )
        .map_err(|e| e.code())
    }
}

proptest! {
    // Each case opens an envelope once per bit or byte: 64 cases are plenty.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(input in input(300)) {
        let bytes = input.seal();
        prop_assert_eq!(peek_v2(&bytes), Ok(input.header));
        let opened = input.open(&bytes).expect("opens");
        prop_assert_eq!(opened.header, input.header);
        prop_assert_eq!(&opened.plaintext, &input.plaintext);
        prop_assert_eq!(&opened.tag.0[..], &bytes[bytes.len() - 16..]);
    }

    #[test]
    fn every_bit_flip_is_refused(input in input(40)) {
        let bytes = input.seal();
        for bit in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let code = input.open(&bad).expect_err("a flipped bit opens");
            // The version and content bytes are structure; a key id byte
            // names another key; everything else is caught by the tag.
            let allowed: &[&str] = match bit / 8 {
                0 => &["malformed"],
                1 => &["malformed", "mac_mismatch"],
                2..=5 => &["missing_key"],
                _ => &["mac_mismatch"],
            };
            prop_assert!(allowed.contains(&code), "bit {}: {}", bit, code);
        }
    }

    #[test]
    fn every_truncation_and_extension_is_refused(input in input(40), extra in any::<u8>()) {
        let bytes = input.seal();
        for len in 0..bytes.len() {
            prop_assert!(input.open(&bytes[..len]).is_err(), "cut to {}", len);
        }
        for n in 1..=16 {
            let mut long = bytes.clone();
            long.extend(std::iter::repeat_n(extra, n));
            prop_assert!(input.open(&long).is_err(), "{} bytes appended", n);
        }
    }

    #[test]
    fn a_short_buffer_is_refused_and_left_alone(input in input(60), short in 1usize..70) {
        let need = sealed_len(input.plaintext.len());
        let mut out = vec![0x5a; need.saturating_sub(short)];
        let err = seal_v2(&input.header, &input.plaintext, &input.keys().1, input.iv, &mut out)
            .expect_err("too small");
        prop_assert_eq!(err.code(), "too_large");
        prop_assert!(out.iter().all(|&b| b == 0x5a));
    }

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                   v2 in any::<bool>()) {
        if v2 && !bytes.is_empty() {
            bytes[0] = 2;
        }
        let keys = (KeyId(0), KeysV2::from_secret(&[0; 32]));
        let _ = peek_v2(&bytes);
        prop_assert!(open_v2(&bytes, &keys, 0, SkewWindow::DEFAULT).is_err());
    }
}

#[test]
fn the_largest_plaintext_seals_and_one_more_byte_does_not() {
    let secret = [3; 32];
    let header = HeaderV2 {
        content: Content::Binary,
        key_id: KeyId(1),
        device_time_ms: 5,
        counter: 6,
    };
    let keys = KeysV2::from_secret(&secret);
    let mut out = vec![0; sealed_len(MAX_PLAINTEXT + 1)];
    let plaintext = vec![0x42; MAX_PLAINTEXT + 1];
    let err = seal_v2(&header, &plaintext, &keys, [0; 16], &mut out).expect_err("too large");
    assert_eq!(err.code(), "too_large");
    let len = seal_v2(&header, &plaintext[1..], &keys, [0; 16], &mut out).expect("fits");
    let opened = open_v2(&out[..len], &(KeyId(1), keys), 5, SkewWindow::DEFAULT).expect("opens");
    assert_eq!(opened.plaintext.len(), MAX_PLAINTEXT);
}
