//! The device's smart selection (spec §3.6).
//!
//! Every candidate is computed on the same input, in the device's order:
//! dictionary (which may yield a bit-packed packet), temporal (which records
//! the call in the ring whatever is sent), semantic RLE, bit-packed. The
//! first candidate is kept unless a later one is strictly smaller.

use alloc::vec::Vec;

use super::{TemporalState, bitpack, dictionary, semantic};

/// Compresses one upload cycle exactly as firmware v1.3.4 does.
///
/// `register_ids` gives every value's id (the layout repeated per sample);
/// `state` is the device's temporal ring and is advanced by this call.
pub fn encode(values: &[u16], register_ids: &[u8], state: &mut TemporalState) -> Vec<u8> {
    let mut best = dictionary::encode(values);
    let temporal = state.encode(values, register_ids);
    if values.is_empty() {
        return best;
    }
    for candidate in [
        temporal,
        semantic::encode(values, register_ids),
        bitpack::encode(values),
    ] {
        // The device compares 8·len / 16·N; N is shared, so lengths decide.
        if !candidate.is_empty() && candidate.len() < best.len() {
            best = candidate;
        }
    }
    best
}
