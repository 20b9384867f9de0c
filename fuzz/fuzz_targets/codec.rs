//! Every decoder, stateless and through a temporal history, on arbitrary
//! packets; the first bytes choose the options so counts and layouts vary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solarwire_core::codec::{self, DecodeOptions, TemporalState};

fuzz_target!(|data: &[u8]| {
    let Some((&[control, count, layout_len], rest)) = data.split_first_chunk::<3>() else { return };
    let (layout, packet) = rest.split_at(usize::from(layout_len % 12).min(rest.len()));
    let expected = (control & 1 == 1).then_some(usize::from(count) * 2);
    let ids = (control & 2 == 2).then_some(layout);
    let opts = DecodeOptions { expected_count: expected, register_ids: ids, ..DecodeOptions::default() };
    let _ = codec::decode(packet, &opts);
    let mut state = TemporalState::new();
    for chunk in packet.chunks(usize::from(count % 32) + 1) {
        let _ = state.decode(chunk, &opts);
    }
    let _ = TemporalState::from_bytes(packet);
});
