//! Envelope parsing and opening (with and without AES) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solarwire_core::envelope::{Envelope, FIRMWARE_IV, Keys};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse(data) {
        let keys = Keys::new(b"fuzz").with_aes([7; 16], FIRMWARE_IV);
        let _ = envelope.open(&keys);
    }
});
