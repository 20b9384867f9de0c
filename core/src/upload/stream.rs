//! What a decoder remembers about one device's packet stream.
//!
//! Besides the temporal ring (F3) this recognises packets the device sends
//! again under a new nonce after a lost answer (F26: same metadata timestamp
//! and bytes), and drops the ring's history when the stream is not
//! continuous — a packet older than the previous one (the device re-queues
//! newer packets before older ones, F26), or a gap of more than half a
//! packet's time span (lost packets or a reboot) — so that no delta is ever
//! decoded against the wrong history.

use alloc::vec::Vec;

use crate::codec::{CodecError, TemporalState};

/// How many recent packets are remembered for duplicate detection (the
/// device's queue holds 20).
const RECENT: usize = 32;
const FORMAT: u8 = 1;

/// A packet's identity: its metadata timestamp and a hash of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Fingerprint {
    timestamp: u32,
    digest: u64,
}

impl Fingerprint {
    pub(crate) fn of(timestamp: u32, bytes: &[u8]) -> Self {
        // FNV-1a: the stream is authenticated, so no adversary picks collisions.
        let digest = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Self { timestamp, digest }
    }
}

/// Per-device decoding state, owned and persisted by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StreamState {
    temporal: TemporalState,
    recent: Vec<Fingerprint>,
    last_timestamp: Option<u32>,
}

impl Default for StreamState {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamState {
    /// The state for a device seen for the first time: its history is
    /// unknown, so deltas decode only after two packets have been recorded.
    pub fn new() -> Self {
        let mut temporal = TemporalState::new();
        temporal.forget();
        Self {
            temporal,
            recent: Vec::new(),
            last_timestamp: None,
        }
    }

    /// The state of a device known to have just booted (zeroed ring).
    pub fn after_boot() -> Self {
        Self {
            temporal: TemporalState::new(),
            recent: Vec::new(),
            last_timestamp: None,
        }
    }

    /// The temporal ring.
    pub fn temporal(&self) -> &TemporalState {
        &self.temporal
    }

    pub(crate) fn temporal_mut(&mut self) -> &mut TemporalState {
        &mut self.temporal
    }

    pub(crate) fn is_duplicate(&self, fp: &Fingerprint) -> bool {
        self.recent.contains(fp)
    }

    /// Notes a packet about to be fed to the ring; forgets history when the
    /// stream is not continuous. `span_ms` is the packet's expected time span
    /// (`sample_count × interval`), when known.
    pub(crate) fn admit(&mut self, fp: Fingerprint, span_ms: Option<u64>) {
        if let Some(last) = self.last_timestamp {
            let step = fp.timestamp.wrapping_sub(last);
            let backwards = step == 0 || step > u32::MAX / 2;
            let gap = span_ms.is_some_and(|span| u64::from(step) * 2 > span * 2 + span.max(1000));
            if backwards || gap {
                self.temporal.forget();
            }
        }
        self.last_timestamp = Some(fp.timestamp);
        if self.recent.len() == RECENT {
            self.recent.remove(0);
        }
        self.recent.push(fp);
    }

    /// A compact, versioned byte form for hosts to persist.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(200 + 12 * self.recent.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.temporal.to_bytes());
        match self.last_timestamp {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.to_le_bytes());
            }
            None => out.extend_from_slice(&[0; 5]),
        }
        out.push(self.recent.len() as u8);
        for fp in &self.recent {
            out.extend_from_slice(&fp.timestamp.to_le_bytes());
            out.extend_from_slice(&fp.digest.to_le_bytes());
        }
        out
    }

    /// Reads the form written by [`StreamState::to_bytes`].
    ///
    /// # Errors
    /// `bad_header` for bytes that are not such a form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        const BAD: CodecError = CodecError::BadHeader {
            field: "stream state bytes",
        };
        let temporal_len = TemporalState::new().to_bytes().len();
        let (head, rest) = bytes.split_at_checked(1 + temporal_len).ok_or(BAD)?;
        if head.first() != Some(&FORMAT) {
            return Err(BAD);
        }
        let temporal = TemporalState::from_bytes(head.get(1..).ok_or(BAD)?)?;
        let (flag, rest) = rest.split_first().ok_or(BAD)?;
        let (t, rest) = rest.split_at_checked(4).ok_or(BAD)?;
        let last_timestamp = match flag {
            0 => None,
            1 => Some(u32::from_le_bytes(t.try_into().map_err(|_| BAD)?)),
            _ => return Err(BAD),
        };
        let (count, rest) = rest.split_first().ok_or(BAD)?;
        if usize::from(*count) > RECENT || rest.len() != usize::from(*count) * 12 {
            return Err(BAD);
        }
        let recent = rest
            .chunks_exact(12)
            .map(|c| {
                let (t, d) = c.split_at(4);
                Ok(Fingerprint {
                    timestamp: u32::from_le_bytes(t.try_into().map_err(|_| BAD)?),
                    digest: u64::from_le_bytes(d.try_into().map_err(|_| BAD)?),
                })
            })
            .collect::<Result<_, CodecError>>()?;
        Ok(Self {
            temporal,
            recent,
            last_timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let mut s = StreamState::new();
        for t in 0..40u32 {
            s.admit(Fingerprint::of(t * 5000, &t.to_le_bytes()), Some(5000));
        }
        assert_eq!(StreamState::from_bytes(&s.to_bytes()).unwrap(), s);
        assert!(StreamState::from_bytes(&[1, 2, 3]).is_err());
    }
}
