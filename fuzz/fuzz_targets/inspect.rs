//! The inspector's auto-detection on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solarwire_core::Keys;
use solarwire_core::inspect::inspect;
use solarwire_core::registers::Catalog;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let catalog = Catalog::builtin();
    if let Ok(profile) = catalog.default_profile() {
        let _ = inspect(text, Some(&Keys::new(b"fuzz")), profile);
    }
});
