//! The replay decision on the 64-bit counter.

use super::{EnvelopeV2Error, TagV2};
use crate::replay::Freshness;

/// The last envelope v2 accepted from a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastCounter {
    /// Its counter.
    pub counter: u64,
    /// Its tag, when known (to recognise an identical resend).
    pub tag: Option<TagV2>,
}

/// Decides on an opened envelope's counter: `Fresh` when it is greater than
/// the last accepted one (or none was), `Duplicate` when the envelope is the
/// last accepted one again (same counter and tag). Call it only after
/// [`super::open_v2`] succeeded, and record the counter only when `Fresh`.
///
/// # Errors
/// `replay` for any other counter not greater than the last.
pub fn decide_counter(
    last: Option<&LastCounter>,
    counter: u64,
    tag: &TagV2,
) -> Result<Freshness, EnvelopeV2Error> {
    match last {
        None => Ok(Freshness::Fresh),
        Some(last) if counter > last.counter => Ok(Freshness::Fresh),
        Some(last) if counter == last.counter && last.tag.as_ref() == Some(tag) => {
            Ok(Freshness::Duplicate)
        }
        Some(last) => Err(EnvelopeV2Error::Replay {
            last: last.counter,
            got: counter,
        }),
    }
}
