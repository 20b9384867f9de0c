//! Property tests of codec v2 (`docs/codec-v2.md`): round trips on arbitrary
//! and on smooth input, every truncation and extension of a valid packet
//! refused, and no panic on arbitrary bytes.

use proptest::prelude::*;
use solarwire_core::codec::DecodeOptions;
use solarwire_core::codec::v2::{
    self, Encoder, MAX_CHANNELS, MAX_SAMPLES, decode_into, encode_to_vec, max_packet_len,
};

/// How the values of one test batch are drawn.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Any u16.
    Noise,
    /// Random walks with small steps and flat stretches (zero blocks).
    Smooth { step: u16 },
    /// Ramps: constant steps, so delta of delta predicts exactly.
    Ramp,
}

/// Sample-major values of `channels` registers, up to `max_samples` samples.
fn batch(max_samples: usize) -> impl Strategy<Value = (usize, Vec<u16>)> {
    let shape = prop_oneof![
        Just(Shape::Noise),
        (0u16..40).prop_map(|step| Shape::Smooth { step }),
        Just(Shape::Ramp),
    ];
    (1usize..=MAX_CHANNELS, 1usize..=max_samples, shape).prop_flat_map(
        |(channels, samples, shape)| {
            let n = channels * samples;
            (
                Just(channels),
                proptest::collection::vec(any::<u16>(), n),
                proptest::collection::vec(any::<u8>(), n),
            )
                .prop_map(move |(channels, noise, coins)| {
                    (channels, shaped(shape, channels, &noise, &coins))
                })
        },
    )
}

fn shaped(shape: Shape, channels: usize, noise: &[u16], coins: &[u8]) -> Vec<u16> {
    match shape {
        Shape::Noise => noise.to_vec(),
        Shape::Smooth { step } => {
            let mut out: Vec<u16> = noise.iter().take(channels).copied().collect();
            for i in channels..noise.len() {
                let prev = out[i - channels];
                let flat = coins[i] < 160;
                let d = if flat || step == 0 {
                    0
                } else {
                    noise[i] % (2 * step)
                };
                out.push(
                    prev.wrapping_add(d)
                        .wrapping_sub(if flat { 0 } else { step }),
                );
            }
            out
        }
        Shape::Ramp => (0..noise.len())
            .map(|i| {
                let c = i % channels;
                noise[c].wrapping_add(
                    (i / channels) as u16 * (noise[channels.min(noise.len() - 1)] % 64),
                )
            })
            .collect(),
    }
}

fn decode(packet: &[u8]) -> Result<v2::Packet, &'static str> {
    v2::decode(packet, &DecodeOptions::default()).map_err(|e| e.code())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trips((channels, values) in batch(MAX_SAMPLES)) {
        let packet = encode_to_vec(&values, channels).unwrap();
        prop_assert!(packet.len() <= max_packet_len(channels, values.len() / channels));
        let decoded = decode(&packet).unwrap();
        prop_assert_eq!(decoded.channels, channels);
        prop_assert_eq!(&decoded.values, &values);
        let mut out = vec![0u16; values.len() + 3];
        let shape = decode_into(&packet, &mut out).unwrap();
        prop_assert_eq!(shape.values(), values.len());
        prop_assert_eq!(&out[..values.len()], &values[..]);
    }

    #[test]
    fn streaming_equals_one_shot((channels, values) in batch(MAX_SAMPLES)) {
        let mut buf = vec![0u8; max_packet_len(channels, MAX_SAMPLES)];
        let mut encoder = Encoder::new(channels, &mut buf).unwrap();
        for sample in values.chunks(channels) {
            encoder.push(sample).unwrap();
        }
        let streamed = encoder.finish().unwrap().to_vec();
        prop_assert_eq!(streamed, encode_to_vec(&values, channels).unwrap());
    }

    /// Quadratic in the packet length, so on packets of up to 70 samples.
    #[test]
    fn every_truncation_and_extension_is_refused(
        (channels, values) in batch(70),
        extra in proptest::collection::vec(any::<u8>(), 1..4),
    ) {
        let packet = encode_to_vec(&values, channels).unwrap();
        for cut in 0..packet.len() {
            prop_assert_eq!(decode(&packet[..cut]).err(), Some("truncated"), "cut at {}", cut);
        }
        let mut longer = packet;
        longer.extend(&extra);
        prop_assert_eq!(decode(&longer).err(), Some("bad_header"));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut packet = vec![v2::MARKER];
        packet.extend(&body);
        if let Ok(decoded) = decode(&packet) {
            prop_assert_eq!(decoded.values.len() % decoded.channels, 0);
        }
    }

    #[test]
    fn corrupted_packets_decode_or_fail_cleanly(
        (channels, values) in batch(MAX_SAMPLES),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut packet = encode_to_vec(&values, channels).unwrap();
        let i = at.index(packet.len());
        packet[i] ^= flip;
        if let Ok(decoded) = decode(&packet) {
            prop_assert_eq!(decoded.values.len() % decoded.channels, 0);
        }
    }
}
