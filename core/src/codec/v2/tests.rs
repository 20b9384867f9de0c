//! The worked examples of `docs/codec-v2.md`, the strictness rules and the
//! encoder's API contract. Random round trips, truncations and extensions
//! are property tests in `spec-tests/tests/codec_v2.rs`.

use alloc::vec;
use alloc::vec::Vec;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex"))
        .collect()
}

fn flat(rows: &[&[u16]]) -> Vec<u16> {
    rows.iter().flat_map(|r| r.iter().copied()).collect()
}

/// (channels, values, packet) of the worked examples.
fn examples() -> Vec<(usize, Vec<u16>, Vec<u8>)> {
    let ramp: Vec<u16> = (0..12).map(|i| 1000 + 25 * i).collect();
    let mut run = [0, 2300].repeat(17);
    run.extend([5, 2300]);
    vec![
        (
            6,
            vec![2304, 52, 71, 69, 452, 1205],
            hex("c2 c5 01 00 49 03 47 50 04 c4 51 4b"),
        ),
        (
            2,
            flat(&[
                &[2304, 52],
                &[2305, 52],
                &[2307, 53],
                &[2306, 53],
                &[2306, 52],
                &[2308, 52],
                &[2309, 51],
                &[2309, 52],
                &[2310, 52],
                &[2312, 53],
            ]),
            hex("c2 c1 0a 00 49 03 23 62 40 41 48 24 23 14"),
        ),
        (2, run, hex("c2 c1 12 00 c0 8f 00 01 04 0a")),
        (1, ramp, hex("c2 a0 0c e8 03 06 b2 2c cb b2 2c cb 0f 02")),
    ]
}

#[test]
fn worked_examples_encode_and_decode() {
    for (channels, values, packet) in examples() {
        assert_eq!(encode_to_vec(&values, channels).expect("encodes"), packet);
        let decoded = decode(&packet, &DecodeOptions::default()).expect("decodes");
        assert_eq!(decoded.channels, channels);
        assert_eq!(decoded.values, values);
    }
}

#[test]
fn every_prefix_and_extension_is_refused() {
    for (_, _, packet) in examples() {
        for cut in 0..packet.len() {
            let err = decode(&packet[..cut], &DecodeOptions::default()).expect_err("prefix");
            assert_eq!(err.code(), "truncated", "prefix of {cut} bytes");
        }
        let mut longer = packet.clone();
        longer.push(0);
        let err = decode(&longer, &DecodeOptions::default()).expect_err("extension");
        assert_eq!(
            err,
            CodecError::BadHeader {
                field: "trailing bytes"
            }
        );
    }
}

fn code(packet: &str) -> Result<Vec<u16>, &'static str> {
    decode(&hex(packet), &DecodeOptions::default())
        .map(|p| p.values)
        .map_err(|e| e.code())
}

#[test]
fn malformed_headers_are_refused_with_their_codes() {
    assert_eq!(code("01 c5 01"), Err("unknown_marker"));
    assert_eq!(code("01"), Err("unknown_marker"));
    assert_eq!(code("c2 c5"), Err("truncated"));
    assert_eq!(code("c2 c5 00"), Err("bad_header")); // zero samples
    // One channel, seed width 4: the seed byte's high nibble is padding.
    assert_eq!(code("c2 40 01 05"), Ok(vec![5]));
    assert_eq!(code("c2 40 01 f5"), Err("bad_header"));
    // A block header's unused nibble is padding too (short and long tails).
    assert_eq!(code("c2 40 02 05 10"), Err("bad_header"));
    assert_eq!(
        code("c2 40 0a 05 10 00 00 00 00 00 00 00 00"),
        Err("bad_header")
    );
}

#[test]
fn escapes_are_checked() {
    // Escape to width 0 with predictor 3 (none): the next value is 0.
    assert_eq!(code("c2 40 02 05 0f 06"), Ok(vec![5, 0]));
    assert_eq!(code("c2 40 02 05 0f 08"), Err("bad_header")); // bit 7 set
    assert_eq!(code("c2 40 02 05 1f 01"), Err("bad_header")); // width 17
    assert_eq!(code("c2 40 02 05 0f"), Err("truncated"));
}

#[test]
fn zero_runs_stay_inside_the_packet() {
    assert_eq!(code("c2 40 09 05 00 00"), Ok(vec![5; 9]));
    assert_eq!(code("c2 40 09 05 00 01"), Err("bad_header"));
    assert_eq!(code("c2 40 11 05 00 01"), Ok(vec![5; 17]));
    assert_eq!(code("c2 40 09 05 00"), Err("truncated"));
    // A partial last block with zero widths has no run byte.
    assert_eq!(code("c2 40 0a 05 00 00 00"), Ok(vec![5; 10]));
}

#[test]
fn sizes_are_checked_against_the_caller() {
    let packet = hex("c2 c5 01 00 49 03 47 50 04 c4 51 4b");
    let opts = |expected, max_values| DecodeOptions {
        expected_count: expected,
        max_values,
        ..DecodeOptions::default()
    };
    assert!(decode(&packet, &opts(Some(6), 6)).is_ok());
    assert_eq!(
        decode(&packet, &opts(Some(12), 64)).map_err(|e| e.code()),
        Err("bad_header")
    );
    assert_eq!(
        decode(&packet, &opts(None, 5)),
        Err(CodecError::TooLarge {
            declared: 6,
            limit: 5
        })
    );
    let mut short = [0u16; 5];
    assert_eq!(
        decode_into(&packet, &mut short).map_err(|e| e.code()),
        Err("too_large")
    );
    let mut exact = [0u16; 6];
    assert_eq!(
        decode_into(&packet, &mut exact),
        Ok(Shape {
            channels: 6,
            samples: 1
        })
    );
}

#[test]
fn encoder_refuses_bad_use_and_keeps_its_state() {
    let mut buf = [0u8; 64];
    assert!(Encoder::new(0, &mut buf).is_err());
    assert!(Encoder::new(MAX_CHANNELS + 1, &mut buf).is_err());
    let encoder = Encoder::new(2, &mut buf).expect("two channels");
    assert_eq!(encoder.finish().map_err(|e| e.code()), Err("bad_header"));

    let mut buf = [0u8; max_packet_len(1, MAX_SAMPLES)];
    let mut encoder = Encoder::new(1, &mut buf).expect("one channel");
    assert_eq!(
        encoder.push(&[1, 2]).map_err(|e| e.code()),
        Err("bad_header")
    );
    for i in 0..MAX_SAMPLES {
        encoder.push(&[i as u16]).expect("fits");
    }
    assert_eq!(encoder.push(&[0]).map_err(|e| e.code()), Err("too_large"));
    let packet = encoder.finish().expect("finishes").to_vec();
    let values: Vec<u16> = (0..MAX_SAMPLES as u16).collect();
    assert_eq!(
        decode(&packet, &DecodeOptions::default())
            .expect("decodes")
            .values,
        values
    );

    // A buffer that fills up refuses the sample that would overflow it and
    // still finishes the packet written so far.
    let mut small = [0u8; 5];
    let mut encoder = Encoder::new(1, &mut small).expect("one channel");
    let noisy = [9u16, 60000, 3, 50000, 7, 40000, 1, 30000, 5];
    let mut taken = 0;
    for v in noisy {
        if encoder.push(&[v]).is_err() {
            break;
        }
        taken += 1;
    }
    assert_eq!(taken, 8);
    assert_eq!(encoder.samples(), 8);
    assert!(
        encoder.finish().is_err(),
        "seven pending values do not fit either"
    );
}

#[test]
fn worst_case_length_bounds_every_packet() {
    // Alternating extremes force width 16 everywhere.
    for channels in [1, 3, 16] {
        for samples in [1, 2, 9, 10, 64, MAX_SAMPLES] {
            let values: Vec<u16> = (0..channels * samples)
                .map(|i| if (i / channels) % 2 == 0 { 0 } else { 0x8000 })
                .collect();
            let packet = encode_to_vec(&values, channels).expect("encodes");
            assert!(packet.len() <= max_packet_len(channels, samples));
            assert_eq!(
                decode(&packet, &DecodeOptions::default())
                    .expect("decodes")
                    .values,
                values
            );
        }
    }
}

#[test]
fn encoder_state_fits_a_small_device() {
    // 16 lanes of 22 bytes plus the buffer reference and counters.
    assert!(
        size_of::<Encoder<'_>>() <= 416,
        "{}",
        size_of::<Encoder<'_>>()
    );
}
