use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::replay::Freshness;

const SECRET: [u8; 32] = [7; 32];
const NOW: u64 = 1_764_633_600_000;

fn header(counter: u64) -> HeaderV2 {
    HeaderV2 {
        content: Content::Json,
        key_id: KeyId(3),
        device_time_ms: NOW,
        counter,
    }
}

fn ring() -> (KeyId, KeysV2) {
    (KeyId(3), KeysV2::from_secret(&SECRET))
}

fn sealed(plaintext: &[u8]) -> Vec<u8> {
    let mut out = vec![0; sealed_len(plaintext.len())];
    let len = seal_v2(&header(9), plaintext, &ring().1, [0xa5; 16], &mut out).unwrap();
    assert_eq!(len, out.len());
    out
}

#[test]
fn round_trip_at_every_length_around_a_block() {
    for n in 0..40 {
        let plaintext: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let bytes = sealed(&plaintext);
        assert_eq!(bytes.len(), 70 + 16 * (n / 16));
        assert_eq!(peek_v2(&bytes).unwrap(), header(9));
        let opened = open_v2(&bytes, &ring(), NOW, SkewWindow::DEFAULT).unwrap();
        assert_eq!(opened.header, header(9));
        assert_eq!(opened.plaintext, plaintext);
        assert_eq!(opened.tag.0, bytes[bytes.len() - 16..]);
    }
}

#[test]
fn the_sealer_refuses_a_short_buffer_and_an_oversized_plaintext() {
    let keys = ring().1;
    let mut out = [0u8; 69];
    let err = seal_v2(&header(1), b"", &keys, [0; 16], &mut out).unwrap_err();
    assert_eq!(err, EnvelopeV2Error::TooLarge { len: 70 });
    let big = vec![0; MAX_PLAINTEXT + 1];
    let mut out = vec![0; MAX_LEN + 16];
    let err = seal_v2(&header(1), &big, &keys, [0; 16], &mut out).unwrap_err();
    assert_eq!(err.code(), "too_large");
}

#[test]
fn structure_errors_come_before_the_key_and_the_mac() {
    let bytes = sealed(b"{}");
    let no_keys = (KeyId(99), KeysV2::from_secret(&[0; 32]));
    let mut v1 = bytes.clone();
    v1[0] = b'{';
    let mut content = bytes.clone();
    content[1] = 2;
    let cases: [(&[u8], &str); 5] = [
        (&[], "malformed"),
        (&v1, "malformed"),
        (&bytes[..69], "malformed"),
        (&bytes[..bytes.len() - 1], "malformed"),
        (&content, "malformed"),
    ];
    for (input, code) in cases {
        let err = open_v2(input, &no_keys, NOW, SkewWindow::DEFAULT).unwrap_err();
        assert_eq!(err.code(), code, "{input:02x?}");
    }
    let mut huge = vec![0u8; MAX_LEN + 16];
    huge[0] = VERSION;
    let err = open_v2(&huge, &no_keys, NOW, SkewWindow::DEFAULT).unwrap_err();
    assert_eq!(err.code(), "too_large");
}

#[test]
fn unknown_key_id_then_mac_then_time() {
    let bytes = sealed(b"{}");
    let other_id = (KeyId(4), ring().1);
    let err = open_v2(&bytes, &other_id, NOW, SkewWindow::DEFAULT).unwrap_err();
    assert_eq!(err, EnvelopeV2Error::MissingKey);
    let wrong_key = (KeyId(3), KeysV2::from_secret(&[8; 32]));
    let err = open_v2(&bytes, &wrong_key, NOW, SkewWindow::DEFAULT).unwrap_err();
    assert_eq!(err, EnvelopeV2Error::MacMismatch);
    let late = NOW + SkewWindow::DEFAULT.past_ms + 1;
    let err = open_v2(&bytes, &ring(), late, SkewWindow::DEFAULT).unwrap_err();
    assert_eq!(err.code(), "clock_skew");
    let early = NOW - SkewWindow::DEFAULT.future_ms - 1;
    let err = open_v2(&bytes, &ring(), early, SkewWindow::DEFAULT).unwrap_err();
    assert_eq!(err.code(), "clock_skew");
    for edge in [
        NOW + SkewWindow::DEFAULT.past_ms,
        NOW - SkewWindow::DEFAULT.future_ms,
    ] {
        assert!(open_v2(&bytes, &ring(), edge, SkewWindow::DEFAULT).is_ok());
    }
}

#[test]
fn every_bit_flip_is_refused() {
    let bytes = sealed(b"{\"v\":1}");
    for i in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[i / 8] ^= 1 << (i % 8);
        let err = open_v2(&bad, &ring(), NOW, SkewWindow::DEFAULT).unwrap_err();
        let expected = match i / 8 {
            1 if i == 8 => "mac_mismatch", // content 0 -> 1, a valid byte
            0 | 1 => "malformed",
            2..=5 => "missing_key",
            _ => "mac_mismatch",
        };
        assert_eq!(err.code(), expected, "bit {i}");
    }
}

#[test]
fn authenticated_bad_padding_is_decrypt_failed() {
    // Seal a block whose last byte is not valid PKCS#7, then tag it properly:
    // only a key holder can do this.
    use aes::Aes128;
    use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::NoPadding};
    use hmac::Mac;
    let keys = ring().1;
    let mut bytes = header(1).to_bytes().to_vec();
    bytes.extend([0u8; 16]);
    let block = cbc::Encryptor::<Aes128>::new(keys.enc().into(), &[0u8; 16].into())
        .encrypt_padded_vec::<NoPadding>(&[0x11; 16]);
    bytes.extend(block);
    let mut mac = keys.mac();
    mac.update(&bytes);
    bytes.extend(&mac.finalize().into_bytes()[..16]);
    let err = open_v2(&bytes, &ring(), NOW, SkewWindow::DEFAULT).unwrap_err();
    assert_eq!(err, EnvelopeV2Error::DecryptFailed);
}

#[test]
fn the_previous_key_is_valid_until_the_overlap_ends() {
    let old = sealed(b"{}");
    let ring = KeyRing::new(KeyId(3), KeysV2::from_secret(&SECRET)).rotate(
        KeyId(4),
        KeysV2::from_secret(&[9; 32]),
        NOW + 1,
    );
    assert_eq!(ring.current_id(), KeyId(4));
    assert!(open_v2(&old, &ring, NOW, SkewWindow::DEFAULT).is_ok());
    let err = open_v2(&old, &ring, NOW + 1, SkewWindow::DEFAULT).unwrap_err();
    assert_eq!(err, EnvelopeV2Error::MissingKey);
    let again = ring.rotate(KeyId(5), KeysV2::from_secret(&[10; 32]), u64::MAX);
    let err = open_v2(&old, &again, NOW, SkewWindow::DEFAULT).unwrap_err();
    assert_eq!(
        err,
        EnvelopeV2Error::MissingKey,
        "a second rotation drops key 3"
    );
}

#[test]
fn counters_must_strictly_increase() {
    let tag = TagV2([1; 16]);
    let last = LastCounter {
        counter: 10,
        tag: Some(tag),
    };
    assert_eq!(decide_counter(None, 0, &tag), Ok(Freshness::Fresh));
    assert_eq!(decide_counter(Some(&last), 11, &tag), Ok(Freshness::Fresh));
    assert_eq!(
        decide_counter(Some(&last), 10, &tag),
        Ok(Freshness::Duplicate)
    );
    let err = decide_counter(Some(&last), 10, &TagV2([2; 16])).unwrap_err();
    assert_eq!(err.code(), "replay");
    let far = LastCounter {
        counter: u64::from(u32::MAX),
        tag: None,
    };
    assert!(decide_counter(Some(&far), 1 << 32, &tag).is_ok());
    assert!(decide_counter(Some(&far), 5, &tag).is_err());
}

#[test]
fn keys_are_never_printed() {
    let text = alloc::format!("{:?}", KeyRing::new(KeyId(1), KeysV2::from_secret(&SECRET)));
    assert!(!text.contains("7, 7"), "{text}");
}
