//! Upload body parsing and decoding (both formats' shapes) on arbitrary JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solarwire_core::upload::{Limits, StreamState, Upload};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(upload) = Upload::parse(data, &limits) {
        let mut state = StreamState::new();
        let _ = upload.decode(&mut state, &limits, Some(1_763_884_800_000));
        let _ = StreamState::from_bytes(&state.to_bytes());
    }
});
