//! Temporal base / delta, markers `0x70` / `0x71` (spec §3.3).
//!
//! The device keeps a ring of eight history slots (one u16 per register id
//! 0–9) and writes one slot on **every** compression call, whichever codec's
//! packet it finally sends. A `0x71` delta is relative to the prediction
//! `2·p1 − p2` from the two most recently written slots. [`TemporalState`] is
//! that ring, owned by the caller: the device side encodes with it, a server
//! decodes with it and must feed it every packet of the device, in order
//! (F3: the original server kept history only from temporal packets).
//!
//! Unlike the device, the state also tracks which ring entries are *known*:
//! entries written from lossy or undecodable packets, or before a layout
//! overrun (F25), are unknown, and a delta that needs them is refused with
//! `missing_state` instead of being decoded against a wrong prediction.

use alloc::vec::Vec;

use super::reader::Reader;
use super::{CodecError, DecodeOptions, Decoded, decode_with, finish, value_count};

/// Number of history slots in the device's ring.
pub const RING_SLOTS: usize = 8;
/// Number of register ids the ring holds (ids 0–9).
pub const RING_REGISTERS: usize = 10;

const BASE_MARKER: u8 = 0x70;
const DELTA_MARKER: u8 = 0x71;
const ALL_KNOWN: u16 = (1 << RING_REGISTERS) - 1;
const STATE_FORMAT: u8 = 1;
const STATE_BYTES: usize =
    1 + RING_SLOTS * RING_REGISTERS * 2 + RING_SLOTS * 2 + 3 + RING_REGISTERS;

/// The device's temporal history ring, plus which entries are known.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TemporalState {
    ring: [[u16; RING_REGISTERS]; RING_SLOTS],
    /// Bit `r` of `known[s]`: whether `ring[s][r]` equals the device's entry.
    known: [u16; RING_SLOTS],
    /// The slot the next call writes (the device's `w`).
    next: u8,
    /// Whether all eight slots have been written since boot.
    full: bool,
    /// The register ids of the previous call (`L`, `c`), when known and ≤ 10.
    layout: Option<Layout>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Layout {
    ids: [u8; RING_REGISTERS],
    len: u8,
}

impl Layout {
    fn from_ids(ids: &[u8]) -> Option<Self> {
        if ids.len() > RING_REGISTERS {
            return None;
        }
        let mut out = Self {
            ids: [0; RING_REGISTERS],
            len: ids.len() as u8,
        };
        out.ids.get_mut(..ids.len())?.copy_from_slice(ids);
        Some(out)
    }

    fn ids(&self) -> &[u8] {
        self.ids.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl Default for TemporalState {
    fn default() -> Self {
        Self::new()
    }
}

impl TemporalState {
    /// The state of a device that has just booted: all-zero ring, nothing sent.
    pub fn new() -> Self {
        Self {
            ring: [[0; RING_REGISTERS]; RING_SLOTS],
            known: [ALL_KNOWN; RING_SLOTS],
            next: 0,
            full: false,
            layout: None,
        }
    }

    /// A state whose most recent slots hold `history` (oldest first) for
    /// `register_ids`; every other entry is unknown.
    ///
    /// # Errors
    /// `bad_header` when an id is not 0–9, a row's length differs from the id
    /// count, or there are more rows than ring slots.
    pub fn from_history(register_ids: &[u8], history: &[Vec<u16>]) -> Result<Self, CodecError> {
        if history.len() > RING_SLOTS
            || register_ids
                .iter()
                .any(|&id| usize::from(id) >= RING_REGISTERS)
        {
            return Err(CodecError::BadHeader {
                field: "temporal history",
            });
        }
        let mut state = Self {
            known: [0; RING_SLOTS],
            ..Self::new()
        };
        for row in history {
            if row.len() != register_ids.len() {
                return Err(CodecError::BadHeader {
                    field: "temporal history row",
                });
            }
            state.record(Some(register_ids), Some(row), None);
        }
        state.full = true;
        Ok(state)
    }

    /// Decodes one packet of the device's stream and records it in the ring.
    ///
    /// Every packet advances the ring, also one that fails to decode, because
    /// the device advanced its ring when it produced it. `opts.register_ids`
    /// gives the id of every value (needed for packets that carry none).
    ///
    /// # Errors
    /// As [`super::decode`]; `missing_state` when a delta's history is unknown.
    pub fn decode(
        &mut self,
        packet: &[u8],
        opts: &DecodeOptions<'_>,
    ) -> Result<Decoded, CodecError> {
        let result = decode_with(packet, opts, Some(self));
        match &result {
            Ok(d) => {
                let ids = opts.register_ids.or(d.register_ids.as_deref()).or_else(|| {
                    // A delta repeats the previous call's layout.
                    (d.method == super::Method::TemporalDelta)
                        .then(|| self.layout.as_ref().map(Layout::ids))
                        .flatten()
                });
                let ids = ids.map(<[u8]>::to_vec);
                self.record(ids.as_deref(), Some(&d.values), d.exact.as_deref());
            }
            Err(_) => self.record(opts.register_ids, None, None),
        }
        result
    }

    /// Records a call whose packet was not seen (or not decoded): its slot's
    /// entries for `register_ids` (all entries when `None`) become unknown.
    pub fn skip(&mut self, register_ids: Option<&[u8]>) {
        self.record(register_ids, None, None);
    }

    /// Forgets all history, e.g. after a gap or a reordering of packets (F26).
    /// Later deltas decode again once two newer slots have been recorded.
    pub fn forget(&mut self) {
        self.known = [0; RING_SLOTS];
    }

    /// Encodes one call as the device's temporal encoder does (base or delta)
    /// and records it.
    pub fn encode(&mut self, values: &[u16], register_ids: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 3 * values.len());
        if let Some((p1, p2)) = self.delta_rows(register_ids, values.len()) {
            out.extend_from_slice(&[DELTA_MARKER, values.len() as u8]);
            for (&v, &id) in values.iter().zip(register_ids) {
                let q = predict(entry(p1, id), entry(p2, id));
                push_delta(v.wrapping_sub(q) as i16, &mut out);
            }
        } else {
            out.extend_from_slice(&[BASE_MARKER, values.len() as u8]);
            out.extend_from_slice(register_ids);
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.record(Some(register_ids), Some(values), None);
        out
    }

    /// The two most recent rows when the device would emit a delta for this
    /// call: the ring is full, the layout repeats and all needed entries are known.
    fn delta_rows(
        &self,
        ids: &[u8],
        n: usize,
    ) -> Option<(&[u16; RING_REGISTERS], &[u16; RING_REGISTERS])> {
        let layout = self.layout.as_ref()?;
        if !self.full || layout.ids() != ids || n != ids.len() || !self.history_known(ids) {
            return None;
        }
        Some((self.row(1), self.row(2)))
    }

    /// Decodes the rest of a delta packet (after the marker) against this history.
    pub(crate) fn decode_delta(
        &self,
        r: &mut Reader<'_>,
        opts: &DecodeOptions<'_>,
    ) -> Result<Vec<u16>, CodecError> {
        let n = value_count(r.u8("value_count")?, opts)?;
        if !self.full {
            return Err(CodecError::MissingState {
                reason: "fewer than eight packets recorded since boot",
            });
        }
        let layout = self.layout.as_ref().ok_or(CodecError::MissingState {
            reason: "previous packet's layout unknown",
        })?;
        let ids = layout.ids();
        if opts.register_ids.is_some_and(|given| given != ids) || n != ids.len() {
            return Err(CodecError::MissingState {
                reason: "layout differs from the previous packet",
            });
        }
        if !self.history_known(ids) {
            return Err(CodecError::MissingState {
                reason: "history of a register is unknown",
            });
        }
        let (p1, p2) = (self.row(1), self.row(2));
        let mut out = Vec::with_capacity(n);
        for &id in ids {
            let d = read_delta(r)?;
            let q = predict(entry(p1, id), entry(p2, id));
            out.push(q.wrapping_add(d as u16));
        }
        finish(r, opts)?;
        Ok(out)
    }

    /// The row written `back` calls ago (1 = most recent).
    fn row(&self, back: usize) -> &[u16; RING_REGISTERS] {
        let slot = (usize::from(self.next) + RING_SLOTS - back) % RING_SLOTS;
        self.ring.get(slot).unwrap_or(&[0; RING_REGISTERS])
    }

    fn history_known(&self, ids: &[u8]) -> bool {
        let mask = ids.iter().fold(0u16, |m, &id| {
            m | 1u16.checked_shl(u32::from(id)).unwrap_or(u16::MAX)
        });
        let slot = |back: usize| (usize::from(self.next) + RING_SLOTS - back) % RING_SLOTS;
        [1, 2].iter().all(|&b| {
            self.known
                .get(slot(b))
                .is_some_and(|k| k & mask == mask && mask <= ALL_KNOWN)
        })
    }

    /// Writes one call into the ring and advances it, as the device does.
    fn record(&mut self, ids: Option<&[u8]>, values: Option<&[u16]>, exact: Option<&[bool]>) {
        let slot = usize::from(self.next);
        if let (Some(row), Some(known)) = (self.ring.get_mut(slot), self.known.get_mut(slot)) {
            match (ids, values) {
                (Some(ids), Some(values)) if ids.len() == values.len() => {
                    for (i, (&id, &v)) in ids.iter().zip(values).enumerate() {
                        if let Some(cell) = row.get_mut(usize::from(id)) {
                            *cell = v;
                            let bit = 1u16 << id;
                            if exact.and_then(|e| e.get(i)).copied().unwrap_or(true) {
                                *known |= bit;
                            } else {
                                *known &= !bit;
                            }
                        }
                    }
                }
                (Some(ids), _) => {
                    for &id in ids {
                        *known &= !1u16.checked_shl(u32::from(id)).unwrap_or(0);
                    }
                }
                (None, _) => *known = 0,
            }
        }
        self.layout = ids.and_then(Layout::from_ids);
        if ids.is_some_and(|ids| ids.len() > RING_REGISTERS) {
            // F25: the device copies more than ten ids into its ten-byte layout
            // field and overwrites its own write index; nothing older is reliable.
            self.forget();
            self.full = true;
        }
        self.next = ((slot + 1) % RING_SLOTS) as u8;
        if self.next == 0 {
            self.full = true;
        }
    }

    /// A compact, versioned byte form for hosts to persist (190 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATE_BYTES);
        out.push(STATE_FORMAT);
        for row in &self.ring {
            for v in row {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        for k in &self.known {
            out.extend_from_slice(&k.to_le_bytes());
        }
        out.push(self.next);
        out.push(u8::from(self.full));
        match &self.layout {
            Some(l) => {
                out.push(l.len);
                out.extend_from_slice(&l.ids);
            }
            None => {
                out.push(u8::MAX);
                out.extend_from_slice(&[0; RING_REGISTERS]);
            }
        }
        out
    }

    /// Reads the form written by [`TemporalState::to_bytes`].
    ///
    /// # Errors
    /// `bad_header` for bytes of another length, version or impossible content.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        const BAD: CodecError = CodecError::BadHeader {
            field: "temporal state bytes",
        };
        if bytes.len() != STATE_BYTES || bytes.first() != Some(&STATE_FORMAT) {
            return Err(BAD);
        }
        let mut r = Reader::new(bytes.get(1..).unwrap_or_default());
        let mut state = Self::new();
        for row in &mut state.ring {
            for v in row.iter_mut() {
                *v = r.u16_le("ring")?;
            }
        }
        for k in &mut state.known {
            *k = r.u16_le("known")?;
        }
        state.next = r.u8("next")?;
        state.full = match r.u8("full")? {
            0 => false,
            1 => true,
            _ => return Err(BAD),
        };
        let len = r.u8("layout length")?;
        let ids = r.take(RING_REGISTERS, "layout")?;
        state.layout = match len {
            u8::MAX => None,
            n => Some(Layout::from_ids(ids.get(..usize::from(n)).ok_or(BAD)?).ok_or(BAD)?),
        };
        if usize::from(state.next) >= RING_SLOTS || state.known.iter().any(|&k| k > ALL_KNOWN) {
            return Err(BAD);
        }
        Ok(state)
    }
}

/// Decodes the rest of a base packet: register ids, then u16 LE values.
pub(crate) fn decode_base(
    r: &mut Reader<'_>,
    opts: &DecodeOptions<'_>,
) -> Result<(Vec<u8>, Vec<u16>), CodecError> {
    let n = value_count(r.u8("value_count")?, opts)?;
    let ids = r.take(n, "register ids")?.to_vec();
    if opts
        .register_ids
        .is_some_and(|given| given != ids.as_slice())
    {
        return Err(CodecError::BadHeader {
            field: "register ids (disagree with the layout)",
        });
    }
    let mut values = Vec::with_capacity(n);
    for _ in 0..n {
        values.push(r.u16_le("values")?);
    }
    finish(r, opts)?;
    Ok((ids, values))
}

fn entry(row: &[u16; RING_REGISTERS], id: u8) -> u16 {
    row.get(usize::from(id)).copied().unwrap_or(0)
}

/// The device's prediction `2·p1 − p2`, falling back to `p1` outside 0..=65535.
fn predict(p1: u16, p2: u16) -> u16 {
    let q = 2 * i32::from(p1) - i32::from(p2);
    u16::try_from(q).unwrap_or(p1)
}

fn push_delta(d: i16, out: &mut Vec<u8>) {
    match d {
        -63..=63 => out.push(0x80 | d.unsigned_abs() as u8 | if d < 0 { 0x40 } else { 0 }),
        -127..=127 => out.extend_from_slice(&[0x00, d as i8 as u8]),
        _ => {
            out.push(0x01);
            out.extend_from_slice(&d.to_le_bytes());
        }
    }
}

fn read_delta(r: &mut Reader<'_>) -> Result<i16, CodecError> {
    let tag = r.u8("delta tag")?;
    Ok(match tag {
        0x80..=0xFF => {
            let magnitude = i16::from(tag & 0x3F);
            if tag & 0x40 != 0 {
                -magnitude
            } else {
                magnitude
            }
        }
        0x00 => i16::from(r.u8("delta i8")? as i8),
        0x01 => r.i16_le("delta i16")?,
        _ => return Err(CodecError::BadHeader { field: "delta tag" }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_base_example() {
        let mut s = TemporalState::new();
        let p = s.encode(&[100, 30000, 10], &[3, 9, 8]);
        assert_eq!(
            p,
            [
                0x70, 0x03, 0x03, 0x09, 0x08, 0x64, 0x00, 0x30, 0x75, 0x0a, 0x00
            ]
        );
    }

    #[test]
    fn bytes_round_trip() {
        let mut s = TemporalState::new();
        for i in 0..11u16 {
            s.encode(&[i, 2 * i, 3], &[0, 4, 9]);
        }
        s.skip(Some(&[4]));
        assert_eq!(TemporalState::from_bytes(&s.to_bytes()).unwrap(), s);
        assert!(TemporalState::from_bytes(&s.to_bytes()[1..]).is_err());
    }

    #[test]
    fn encoder_and_decoder_stay_in_step() {
        let (mut enc, mut dec) = (TemporalState::new(), TemporalState::new());
        let ids = [0, 1, 5, 6, 7, 9];
        for i in 0..40u16 {
            let values = [
                2300 + i,
                52,
                70 + i % 3,
                69,
                450 + i / 4,
                1200u16.wrapping_mul(i),
            ];
            let packet = enc.encode(&values, &ids);
            let opts = DecodeOptions {
                register_ids: Some(&ids),
                ..DecodeOptions::default()
            };
            assert_eq!(dec.decode(&packet, &opts).unwrap().values, values);
        }
        assert_eq!(enc, dec);
    }
}
