//! Codec v2 (`docs/codec-v2.md`): arbitrary packets never panic, and what
//! decodes re-encodes to the same values; arbitrary values round-trip
//! through the streaming encoder, and the packet's last byte is needed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solarwire_core::codec::DecodeOptions;
use solarwire_core::codec::v2::{self, Encoder, MAX_CHANNELS, MAX_SAMPLES, max_packet_len};

fuzz_target!(|data: &[u8]| {
    // As a packet: decode strictly, with and without the caller's bounds.
    let mut out = [0u16; 64];
    let _ = v2::decode_into(data, &mut out);
    if let Ok(decoded) = v2::decode(data, &DecodeOptions::default()) {
        let again = v2::encode_to_vec(&decoded.values, decoded.channels).expect("re-encodes");
        let round = v2::decode(&again, &DecodeOptions::default()).expect("decodes");
        assert_eq!(round.values, decoded.values);
    }

    // As values: the first byte picks the channel count, the rest are samples.
    let Some((&pick, rest)) = data.split_first() else { return };
    let channels = usize::from(pick) % MAX_CHANNELS + 1;
    let values: Vec<u16> = rest
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .take(channels * MAX_SAMPLES)
        .collect();
    let samples = values.len() / channels;
    if samples == 0 {
        return;
    }
    let mut buf = vec![0u8; max_packet_len(channels, samples)];
    let mut encoder = Encoder::new(channels, &mut buf).expect("valid channel count");
    for sample in values.chunks_exact(channels) {
        encoder.push(sample).expect("the worst-case buffer fits");
    }
    let packet = encoder.finish().expect("finishes").to_vec();
    let decoded = v2::decode(&packet, &DecodeOptions::default()).expect("own packet decodes");
    assert_eq!(decoded.values, values[..samples * channels]);
    assert!(v2::decode(&packet[..packet.len() - 1], &DecodeOptions::default()).is_err());
});
