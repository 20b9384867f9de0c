//! Property tests: round trips of every lossless codec and of seal/open, and
//! no panic on arbitrary input anywhere a device's bytes enter the core.

use proptest::prelude::*;
use solarwire_core::codec::{
    self, DecodeOptions, TemporalState, encode_bit_packed, encode_dictionary, encode_semantic_rle,
    encode_smart,
};
use solarwire_core::envelope::{Envelope, Keys, Nonce, SealOptions, seal};
use solarwire_core::upload::{Limits, StreamState, Upload};

/// A register layout as the device builds it (3–10 ids, ascending) and a batch of samples.
fn batch() -> impl Strategy<Value = (Vec<u8>, Vec<u16>)> {
    (
        proptest::sample::subsequence((0u8..10).collect::<Vec<_>>(), 3..=10),
        1usize..=25,
    )
        .prop_flat_map(|(layout, samples)| {
            let n = layout.len() * samples;
            let ids: Vec<u8> = layout.iter().copied().cycle().take(n).collect();
            (Just(ids), proptest::collection::vec(any::<u16>(), n))
        })
}

fn opts(ids: &[u8]) -> DecodeOptions<'_> {
    DecodeOptions {
        expected_count: Some(ids.len()),
        register_ids: Some(ids),
        ..DecodeOptions::default()
    }
}

proptest! {
    #[test]
    fn bit_packing_round_trips((ids, values) in batch()) {
        prop_assert_eq!(codec::decode(&encode_bit_packed(&values), &opts(&ids)).unwrap().values, values);
    }

    #[test]
    fn dictionary_round_trips((ids, values) in batch(), distinct in 1u16..6) {
        let few: Vec<u16> = values.iter().map(|v| v % distinct).collect();
        prop_assert_eq!(codec::decode(&encode_dictionary(&few), &opts(&ids)).unwrap().values, few);
        prop_assert_eq!(codec::decode(&encode_dictionary(&values), &opts(&ids)).unwrap().values, values);
    }

    /// Semantic RLE is lossy, but every value it marks exact is the input.
    #[test]
    fn semantic_exact_values_are_the_input((ids, values) in batch()) {
        let decoded = codec::decode(&encode_semantic_rle(&values, &ids), &opts(&ids)).unwrap();
        let exact = decoded.exact.unwrap();
        for ((got, want), exact) in decoded.values.iter().zip(&values).zip(exact) {
            prop_assert!(!exact || got == want);
        }
    }

    /// A device stream (smart selection, temporal ring) decodes to its input
    /// whenever the device did not choose the lossy codec.
    #[test]
    fn smart_streams_decode_in_step(layout in proptest::sample::subsequence((0u8..10).collect::<Vec<_>>(), 3..=10),
                                    steps in proptest::collection::vec(proptest::collection::vec(0u16..3000, 10), 1..30)) {
        let (mut device, mut server) = (TemporalState::new(), TemporalState::new());
        for step in steps {
            let values: Vec<u16> = step.into_iter().take(layout.len()).collect();
            let packet = encode_smart(&values, &layout, &mut device);
            let decoded = server.decode(&packet, &opts(&layout));
            match decoded {
                Ok(d) if d.method.is_lossless() => prop_assert_eq!(d.values, values),
                Ok(_) => {}
                Err(e) => prop_assert_eq!(e.code(), "missing_state", "only history lost to a lossy packet may fail"),
            }
        }
    }

    #[test]
    fn seal_then_open(payload in proptest::collection::vec(any::<u8>(), 0..300), nonce: u32,
                      key in proptest::collection::vec(any::<u8>(), 0..80), aes: [u8; 16], encrypt: bool) {
        let keys = Keys::new(&key).with_aes(aes, [7; 16]);
        let sealed = seal(&payload, Nonce(nonce), &keys, SealOptions { encrypt, compressed: true }).unwrap();
        let opened = Envelope::parse(sealed.envelope.as_bytes()).unwrap().open(&keys).unwrap();
        prop_assert_eq!(opened.payload, payload);
        prop_assert_eq!(opened.nonce, Nonce(nonce));
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), expected in proptest::option::of(0usize..600),
                            ids in proptest::option::of(proptest::collection::vec(0u8..12, 0..40))) {
        let opts = DecodeOptions { expected_count: expected, register_ids: ids.as_deref(), ..DecodeOptions::default() };
        let _ = codec::decode(&bytes, &opts);
        let mut state = TemporalState::from_history(&[0, 1, 2], &[vec![1, 2, 3], vec![4, 5, 6]]).unwrap();
        let _ = state.decode(&bytes, &opts);
        let _ = TemporalState::from_bytes(&bytes);
        let _ = StreamState::from_bytes(&bytes);
    }

    #[test]
    fn parsers_never_panic(text in ".{0,300}") {
        let _ = Envelope::parse(text.as_bytes());
        if let Ok(upload) = Upload::parse(text.as_bytes(), &Limits::default()) {
            let _ = upload.decode(&mut StreamState::new(), &Limits::default(), Some(0));
        }
    }
}
