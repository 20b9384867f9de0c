//! Test inputs for the fast readers: valid parts, now and then replaced by
//! a near miss, and perhaps one byte of the whole changed.

use alloc::string::String;
use alloc::vec::Vec;

use proptest::prelude::*;

/// Usually a `valid` part, sometimes one of the `odd` ones.
pub(crate) fn part(
    valid: impl Strategy<Value = String>,
    odd: &'static [&'static str],
) -> impl Strategy<Value = String> {
    prop_oneof![4 => valid, 1 => proptest::sample::select(odd).prop_map(String::from)]
}

/// `text`'s bytes with perhaps one of them replaced.
pub(crate) fn mutated(text: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    (text, proptest::option::of((any::<usize>(), any::<u8>()))).prop_map(|(text, mutation)| {
        let mut bytes = text.into_bytes();
        if let Some((at, byte)) = mutation
            && !bytes.is_empty()
        {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        bytes
    })
}
