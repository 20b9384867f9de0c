//! One value per (time, register) in an upload.
//!
//! The rule, the same on every host: a packet that would give a register a
//! second value at a time the upload already covers — a layout naming a
//! register twice, two of the packet's samples dated alike, or a sample
//! dated like one of an earlier packet's with a register in common — is
//! refused with `duplicate_sample`, and none of its samples are kept. The
//! earlier value stands (first wins); the upload's other packets count.
//! Undated samples collide only within their own sample (the layout).

use alloc::vec::Vec;
use core::ops::Range;

use super::{Sample, UploadError};

/// What one accepted packet added: `samples[range]`, dated within `oldest..=newest`.
struct Span {
    range: Range<usize>,
    oldest: u64,
    newest: u64,
}

/// The dated spans of the packets accepted so far in one upload.
#[derive(Default)]
pub(super) struct Covered {
    spans: Vec<Span>,
}

impl Covered {
    /// Checks a packet's layout and sample times (ascending, one per sample)
    /// against themselves and the samples already accepted.
    ///
    /// # Errors
    /// `duplicate_sample` naming the first register found twice.
    pub(super) fn check(
        &self,
        layout: &[u8],
        times: &[Option<u64>],
        accepted: &[Sample],
    ) -> Result<(), UploadError> {
        let mut in_layout = [false; 256];
        for &id in layout {
            let slot = in_layout.get_mut(usize::from(id));
            if slot.is_some_and(|s| core::mem::replace(s, true)) {
                return Err(UploadError::DuplicateSample { register: id });
            }
        }
        let in_layout = |id: u8| in_layout.get(usize::from(id)).copied().unwrap_or(false);
        let dated: Vec<u64> = times.iter().flatten().copied().collect();
        let (Some(&oldest), Some(&newest)) = (dated.first(), dated.last()) else {
            return Ok(());
        };
        if dated.windows(2).any(|w| w.first() == w.last()) {
            return Err(UploadError::DuplicateSample {
                register: layout.first().copied().unwrap_or_default(),
            });
        }
        let overlapping = self
            .spans
            .iter()
            .filter(|s| s.oldest <= newest && oldest <= s.newest);
        for span in overlapping {
            for sample in accepted.get(span.range.clone()).unwrap_or_default() {
                let Some(t) = sample.t_ms else { continue };
                if dated.binary_search(&t).is_err() {
                    continue;
                }
                if let Some(&(id, _)) = sample.registers.iter().find(|(id, _)| in_layout(*id)) {
                    return Err(UploadError::DuplicateSample { register: id });
                }
            }
        }
        Ok(())
    }

    /// Records the samples a packet added (`accepted[range]`, times ascending).
    pub(super) fn record(&mut self, range: Range<usize>, times: &[Option<u64>]) {
        let mut dated = times.iter().flatten();
        if let Some(&oldest) = dated.next() {
            let newest = dated.next_back().copied().unwrap_or(oldest);
            self.spans.push(Span {
                range,
                oldest,
                newest,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    fn sample(t_ms: Option<u64>, registers: &[u8], packet: usize) -> Sample {
        Sample {
            t_ms,
            registers: registers.iter().map(|&id| (id, 1)).collect(),
            approximate: false,
            packet,
        }
    }

    fn code(r: Result<(), UploadError>) -> Option<&'static str> {
        r.err().map(|e| e.code())
    }

    #[test]
    fn a_layout_naming_a_register_twice_collides_even_undated() {
        let covered = Covered::default();
        assert_eq!(
            code(covered.check(&[0, 1, 0], &[None], &[])),
            Some("duplicate_sample")
        );
        assert_eq!(code(covered.check(&[0, 1], &[None, None], &[])), None);
    }

    #[test]
    fn samples_of_one_packet_dated_alike_collide() {
        let covered = Covered::default();
        let times = [Some(5_000), Some(5_000)];
        assert_eq!(
            code(covered.check(&[0], &times, &[])),
            Some("duplicate_sample")
        );
    }

    #[test]
    fn an_earlier_packet_at_the_same_time_with_a_common_register_collides() {
        let mut covered = Covered::default();
        let accepted = vec![
            sample(Some(1_000), &[0, 1], 0),
            sample(Some(6_000), &[0, 1], 0),
        ];
        covered.record(0..2, &[Some(1_000), Some(6_000)]);
        // Same times, a register in common: refused.
        assert_eq!(
            code(covered.check(&[1, 2], &[Some(6_000), Some(11_000)], &accepted)),
            Some("duplicate_sample")
        );
        // Same times, other registers: two halves of one sample, fine.
        assert_eq!(
            code(covered.check(&[2, 3], &[Some(6_000)], &accepted)),
            None
        );
        // Overlapping span, but no time in common: fine.
        assert_eq!(
            code(covered.check(&[0], &[Some(3_500), Some(8_500)], &accepted)),
            None
        );
        // Undated samples never collide across packets.
        assert_eq!(code(covered.check(&[0], &[None], &accepted)), None);
    }
}
