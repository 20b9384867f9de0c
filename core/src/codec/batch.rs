//! Many packets decoded into one buffer: the bulk call of every host.

use alloc::vec::Vec;

use super::{CodecError, DecodeOptions, TemporalState, decode};

/// Packets decoded one after the other into flat buffers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The values of every packet that decoded, in packet order.
    pub values: Vec<u16>,
    /// How many values each packet gave (0 for one that failed).
    pub counts: Vec<u32>,
    /// Each failed packet's index and error, in packet order.
    pub errors: Vec<(usize, CodecError)>,
}

/// Decodes `packets` with the default options; one that fails is recorded
/// in [`Batch::errors`] and the rest still decode. With `state`, they are
/// the device's stream in order: deltas decode against the history, and
/// every packet (a failed one too) advances it.
pub fn decode_batch<P: AsRef<[u8]>>(packets: &[P], mut state: Option<&mut TemporalState>) -> Batch {
    let opts = DecodeOptions::default();
    let size: usize = packets.iter().map(|p| p.as_ref().len()).sum();
    let mut batch = Batch {
        // Firmware packets hold about one value per byte: one allocation.
        values: Vec::with_capacity(size),
        counts: Vec::with_capacity(packets.len()),
        errors: Vec::new(),
    };
    for (index, packet) in packets.iter().enumerate() {
        let packet = packet.as_ref();
        let result = match state.as_deref_mut() {
            Some(state) => state.decode(packet, &opts),
            None => decode(packet, &opts),
        };
        let count = match result {
            Ok(decoded) => {
                batch.values.extend_from_slice(&decoded.values);
                decoded.values.len()
            }
            Err(e) => {
                batch.errors.push((index, e));
                0
            }
        };
        // A packet holds at most `DEFAULT_MAX_VALUES` values.
        batch.counts.push(u32::try_from(count).unwrap_or(u32::MAX));
    }
    batch
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::codec::{encode_bit_packed, encode_smart};

    #[test]
    fn a_failed_packet_is_recorded_and_the_others_decode() {
        let good = encode_bit_packed(&[1, 2, 3]);
        let batch = decode_batch(&[good.clone(), vec![0x99], good], None);
        assert_eq!(batch.values, [1, 2, 3, 1, 2, 3]);
        assert_eq!(batch.counts, [3, 0, 3]);
        assert_eq!(batch.errors, [(1, CodecError::UnknownMarker(0x99))]);
    }

    #[test]
    fn with_a_state_the_packets_are_one_stream() {
        let ids = [0u8, 1];
        let mut device = TemporalState::new();
        let packets: Vec<Vec<u8>> = (0..4u16)
            .map(|step| encode_smart(&[2300 + step, 50], &ids, &mut device))
            .collect();
        let batch = decode_batch(&packets, Some(&mut TemporalState::new()));
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert_eq!(batch.values, [2300, 50, 2301, 50, 2302, 50, 2303, 50]);
    }
}
