//! Telemetry blocks: a device's samples stored as one compact row per
//! upload and time window, the same codec for every backend.
//!
//! A block holds the samples of one upload that fall in one
//! [`BLOCK_WINDOW_MS`] window (a block never spans two windows, so a range
//! query finds every block it needs with `t_first >= window(from)`). Its
//! columns are channels: an EcoWatt register (raw `u16`, converted through
//! the catalog when read) or a named numeric channel (`f64`, identified by a
//! per-device channel id the backend assigns to a name).
//!
//! ```text
//! u8      version (1)
//! varint  n, samples
//! varint  t_first, Unix ms
//! n ×     zigzag varint  t - previous t (previous of the first: t_first)
//! n ×     varint         packet << 2 | device_time << 1 | approximate
//! varint  channels
//! per channel:
//!   varint  key << 1 | sparse; key: register id << 1, or named channel id << 1 | 1;
//!           sparse: a presence bitmap follows (⌈n/8⌉ bytes, LSB first),
//!           else every sample has a value
//!   values of the samples that have one:
//!     register: zigzag varint of raw - previous raw (previous of the first: 0)
//!     named:    XOR with the previous value's bits (previous of the first: 0),
//!               as a mask byte of its non-zero bytes and those bytes, low first
//! ```
//!
//! A sample's registers keep their order: channels are positional, a key
//! may repeat, and each sample's values sit in increasing channel order.

use solarwire_core::upload::Sample;

use super::{StoreError, StoredSample};

/// The time window a block lies in, ms (1 hour, aligned to Unix time).
pub const BLOCK_WINDOW_MS: u64 = 3_600_000;

const VERSION: u8 = 1;
const APPROXIMATE: u64 = 1;
const DEVICE_TIME: u64 = 2;

/// The start of the window holding `t_ms`.
pub fn window(t_ms: u64) -> u64 {
    t_ms - t_ms % BLOCK_WINDOW_MS
}

/// A column of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// An EcoWatt register by id: raw values.
    Register(u8),
    /// A named numeric channel by its per-device id: `f64` values.
    Named(u32),
}

impl Channel {
    fn key(self) -> u64 {
        match self {
            Self::Register(id) => u64::from(id) << 1,
            Self::Named(id) => (u64::from(id) << 1) | 1,
        }
    }

    fn from_key(key: u64) -> Result<Self, BlockError> {
        let id = key >> 1;
        if key & 1 == 0 {
            u8::try_from(id).map(Self::Register).map_err(|_| BlockError)
        } else {
            u32::try_from(id).map(Self::Named).map_err(|_| BlockError)
        }
    }
}

/// One sample of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSample {
    /// Unix ms.
    pub t_ms: u64,
    /// Whether `t_ms` comes from the device's clock.
    pub device_time: bool,
    /// Some values are approximations.
    pub approximate: bool,
    /// The packet index within its upload.
    pub packet: usize,
    /// `(register id, raw value)`, in the order received.
    pub registers: Vec<(u8, u16)>,
    /// `(named channel id, value)`, in the order received.
    pub named: Vec<(u32, f64)>,
}

impl BlockSample {
    /// A decoded EcoWatt sample, dated `received_ms` when it carries no time.
    pub fn from_sample(s: &Sample, received_ms: u64) -> Self {
        Self {
            t_ms: s.t_ms.unwrap_or(received_ms),
            device_time: s.t_ms.is_some(),
            approximate: s.approximate,
            packet: s.packet,
            registers: s.registers.clone(),
            named: Vec::new(),
        }
    }

    /// The sample as the register queries return it.
    pub fn stored(self, upload_id: i64) -> StoredSample {
        StoredSample {
            t_ms: self.t_ms,
            device_time: self.device_time,
            upload_id,
            packet: self.packet,
            approximate: self.approximate,
            registers: self.registers,
        }
    }
}

/// A block that does not decode (damaged or written by a newer server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockError;

impl From<BlockError> for StoreError {
    fn from(_: BlockError) -> Self {
        Self::new("a stored telemetry block does not decode")
    }
}

/// An encoded block and what a backend indexes it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The earliest sample time, Unix ms.
    pub t_first: u64,
    /// The latest sample time, Unix ms.
    pub t_last: u64,
    /// Samples held.
    pub samples: u64,
    /// The encoded samples.
    pub data: Vec<u8>,
}

/// Splits an upload's decoded samples into blocks: consecutive samples in
/// one window share a block, so blocks keep the upload's order.
pub fn split(samples: &[Sample], received_ms: u64) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut run: Vec<BlockSample> = Vec::new();
    for s in samples {
        let s = BlockSample::from_sample(s, received_ms);
        if run
            .first()
            .is_some_and(|f| window(f.t_ms) != window(s.t_ms))
        {
            blocks.push(encode(&run));
            run.clear();
        }
        run.push(s);
    }
    if !run.is_empty() {
        blocks.push(encode(&run));
    }
    blocks
}

/// A value of one channel in one sample.
#[derive(Clone, Copy)]
enum Cell {
    Raw(u16),
    Real(f64),
}

/// Encodes `samples` (at least one) as a block.
pub fn encode(samples: &[BlockSample]) -> Block {
    let t_first = samples.iter().map(|s| s.t_ms).min().unwrap_or(0);
    let t_last = samples.iter().map(|s| s.t_ms).max().unwrap_or(0);
    // Channels in first-use order; each sample's cells at increasing indices.
    let mut channels: Vec<Channel> = Vec::new();
    let mut columns: Vec<Vec<Option<Cell>>> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let cells = s
            .registers
            .iter()
            .map(|&(id, raw)| (Channel::Register(id), Cell::Raw(raw)));
        let named = s
            .named
            .iter()
            .map(|&(id, v)| (Channel::Named(id), Cell::Real(v)));
        let mut next = [0usize; 2];
        for (channel, cell) in cells.chain(named) {
            let lane = usize::from(matches!(channel, Channel::Named(_)));
            let at = (next[lane]..channels.len())
                .find(|&c| channels[c] == channel && columns[c][i].is_none())
                .unwrap_or_else(|| {
                    channels.push(channel);
                    columns.push(vec![None; samples.len()]);
                    channels.len() - 1
                });
            columns[at][i] = Some(cell);
            next[lane] = at + 1;
        }
    }
    let mut out = vec![VERSION];
    put(&mut out, samples.len() as u64);
    put(&mut out, t_first);
    let mut prev = t_first;
    for s in samples {
        put(&mut out, zigzag(s.t_ms.wrapping_sub(prev) as i64));
        prev = s.t_ms;
    }
    for s in samples {
        let flags =
            (u64::from(s.approximate) * APPROXIMATE) | (u64::from(s.device_time) * DEVICE_TIME);
        put(&mut out, ((s.packet as u64) << 2) | flags);
    }
    put(&mut out, channels.len() as u64);
    for (channel, column) in channels.iter().zip(&columns) {
        let sparse = !column.iter().all(Option::is_some);
        put(&mut out, (channel.key() << 1) | u64::from(sparse));
        if sparse {
            let mut bits = vec![0u8; column.len().div_ceil(8)];
            for (i, cell) in column.iter().enumerate() {
                if cell.is_some() {
                    bits[i / 8] |= 1 << (i % 8);
                }
            }
            out.extend_from_slice(&bits);
        }
        let (mut raw_prev, mut real_prev) = (0i64, 0u64);
        for cell in column.iter().flatten() {
            match *cell {
                Cell::Raw(raw) => {
                    put(&mut out, zigzag(i64::from(raw) - raw_prev));
                    raw_prev = i64::from(raw);
                }
                Cell::Real(v) => {
                    let xor = (v.to_bits() ^ real_prev).to_le_bytes();
                    let mask = xor
                        .iter()
                        .enumerate()
                        .fold(0u8, |m, (i, b)| if *b != 0 { m | 1 << i } else { m });
                    out.push(mask);
                    out.extend(xor.iter().filter(|b| **b != 0));
                    real_prev = v.to_bits();
                }
            }
        }
    }
    Block {
        t_first,
        t_last,
        samples: samples.len() as u64,
        data: out,
    }
}

/// Decodes a block.
///
/// # Errors
/// When `data` is not a block this version writes.
pub fn decode(data: &[u8]) -> Result<Vec<BlockSample>, BlockError> {
    let mut r = Reader(data);
    if r.byte()? != VERSION {
        return Err(BlockError);
    }
    let n = usize::try_from(r.varint()?).map_err(|_| BlockError)?;
    // Every sample takes at least two bytes: a bound before allocating.
    if n > data.len() {
        return Err(BlockError);
    }
    let mut t = r.varint()?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        t = t.wrapping_add(unzigzag(r.varint()?) as u64);
        samples.push(BlockSample {
            t_ms: t,
            device_time: false,
            approximate: false,
            packet: 0,
            registers: Vec::new(),
            named: Vec::new(),
        });
    }
    for s in &mut samples {
        let meta = r.varint()?;
        s.approximate = meta & APPROXIMATE != 0;
        s.device_time = meta & DEVICE_TIME != 0;
        s.packet = usize::try_from(meta >> 2).map_err(|_| BlockError)?;
    }
    let channels = r.varint()?;
    for _ in 0..channels {
        let key = r.varint()?;
        let channel = Channel::from_key(key >> 1)?;
        let present = match key & 1 {
            0 => None,
            _ => Some(r.take(n.div_ceil(8))?),
        };
        let (mut raw_prev, mut real_prev) = (0i64, 0u64);
        for (i, s) in samples.iter_mut().enumerate() {
            if present.is_some_and(|bits| bits[i / 8] & (1 << (i % 8)) == 0) {
                continue;
            }
            match channel {
                Channel::Register(id) => {
                    raw_prev += unzigzag(r.varint()?);
                    let raw = u16::try_from(raw_prev).map_err(|_| BlockError)?;
                    s.registers.push((id, raw));
                }
                Channel::Named(id) => {
                    let mask = r.byte()?;
                    let mut xor = [0u8; 8];
                    for (i, b) in xor.iter_mut().enumerate() {
                        if mask & (1 << i) != 0 {
                            *b = r.byte()?;
                        }
                    }
                    real_prev ^= u64::from_le_bytes(xor);
                    s.named.push((id, f64::from_bits(real_prev)));
                }
            }
        }
    }
    if !r.0.is_empty() {
        return Err(BlockError);
    }
    Ok(samples)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, BlockError> {
        let (&b, rest) = self.0.split_first().ok_or(BlockError)?;
        self.0 = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BlockError> {
        if self.0.len() < n {
            return Err(BlockError);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, BlockError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(BlockError)
    }
}

/// A stored block as a backend reads it back.
#[derive(Debug, Clone, Copy)]
pub struct StoredBlock<'a> {
    /// The block's id: blocks are numbered in commit order.
    pub id: i64,
    /// The upload it came from.
    pub upload: i64,
    /// Its earliest sample time.
    pub t_first: u64,
    /// The encoded samples.
    pub data: &'a [u8],
}

/// Where a sample sorts: time, then storage order.
type Order = (u64, i64, usize);

/// The block's samples in `[from, to)` with where each sorts.
fn in_range(
    block: StoredBlock<'_>,
    from: u64,
    to: u64,
) -> Result<impl Iterator<Item = (Order, BlockSample)>, StoreError> {
    let samples = decode(block.data)?.into_iter().enumerate();
    Ok(samples
        .filter(move |(_, s)| (from..to).contains(&s.t_ms))
        .map(move |(i, s)| ((s.t_ms, block.id, i), s)))
}

/// What a range query picked from the samples of blocks in `[from, to)`,
/// oldest first (ties in storage order), at most `limit`. The backend
/// hands it the blocks overlapping the range in `t_first` order while
/// [`RangeScan::wants`] says so.
pub struct RangeScan<T> {
    from: u64,
    to: u64,
    limit: usize,
    found: Vec<(Order, T)>,
    cut: Option<u64>,
}

impl<T> RangeScan<T> {
    /// A scan of `[from, to)` keeping at most `limit` results.
    pub fn new(from: u64, to: u64, limit: usize) -> Self {
        Self {
            from,
            to,
            limit,
            found: Vec::new(),
            cut: None,
        }
    }

    /// The earliest `t_first` of a block that may hold a sample in range.
    pub fn first_window(&self) -> u64 {
        window(self.from)
    }

    /// Whether a block starting at `t_first` can still add a result.
    pub fn wants(&self, t_first: u64) -> bool {
        self.limit > 0 && self.cut.is_none_or(|cut| t_first <= cut)
    }

    /// Adds what `pick` takes from the block's samples in range.
    ///
    /// # Errors
    /// A block that does not decode.
    pub fn add(
        &mut self,
        block: StoredBlock<'_>,
        mut pick: impl FnMut(BlockSample, i64) -> Option<T>,
    ) -> Result<(), StoreError> {
        for (order, s) in in_range(block, self.from, self.to)? {
            if let Some(v) = pick(s, block.upload) {
                self.found.push((order, v));
            }
        }
        if self.found.len() >= self.limit.saturating_mul(2) {
            self.trim();
        }
        Ok(())
    }

    fn trim(&mut self) {
        self.found.sort_by_key(|(o, _)| *o);
        self.found.truncate(self.limit);
        if self.found.len() == self.limit {
            self.cut = self.found.last().map(|((t, _, _), _)| *t);
        }
    }

    /// The results, oldest first.
    pub fn finish(mut self) -> Vec<T> {
        self.trim();
        self.found.into_iter().map(|(_, v)| v).collect()
    }
}

/// The newest sample in `[from, to)` that `pick` takes. The backend hands
/// it the blocks overlapping the range, newest `t_first` first, while
/// [`Newest::wants`] says so.
pub struct Newest<T> {
    from: u64,
    to: u64,
    best: Option<(Order, T)>,
}

impl<T> Newest<T> {
    /// A search of `[from, to)`.
    pub fn new(from: u64, to: u64) -> Self {
        Self {
            from,
            to,
            best: None,
        }
    }

    /// The earliest `t_first` of a block that may hold a sample in range.
    pub fn first_window(&self) -> u64 {
        window(self.from)
    }

    /// Whether a block starting at `t_first` may hold a newer sample.
    pub fn wants(&self, t_first: u64) -> bool {
        self.best
            .as_ref()
            .is_none_or(|((t, _, _), _)| window(t_first) >= window(*t))
    }

    /// Considers the block's samples.
    ///
    /// # Errors
    /// A block that does not decode.
    pub fn add(
        &mut self,
        block: StoredBlock<'_>,
        mut pick: impl FnMut(BlockSample, i64) -> Option<T>,
    ) -> Result<(), StoreError> {
        for (order, s) in in_range(block, self.from, self.to)? {
            if self.best.as_ref().is_some_and(|(b, _)| *b > order) {
                continue;
            }
            if let Some(v) = pick(s, block.upload) {
                self.best = Some((order, v));
            }
        }
        Ok(())
    }

    /// The newest result.
    pub fn finish(self) -> Option<T> {
        self.best.map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: u64, registers: &[(u8, u16)], named: &[(u32, f64)]) -> BlockSample {
        BlockSample {
            t_ms,
            device_time: t_ms.is_multiple_of(2),
            approximate: t_ms.is_multiple_of(3),
            packet: (t_ms / 1000 % 5) as usize,
            registers: registers.to_vec(),
            named: named.to_vec(),
        }
    }

    #[test]
    fn registers_and_named_channels_round_trip() {
        let samples = vec![
            sample(10_000, &[(0, 2300), (9, 1200)], &[(3, 21.5), (7, -0.0)]),
            sample(15_000, &[(0, 2301), (9, 1180)], &[(3, 21.5)]),
            // Out of order, a register missing, one repeated, one reordered.
            sample(
                12_000,
                &[(9, 65535), (9, 0), (0, 0)],
                &[(7, f64::NAN.abs())],
            ),
            sample(20_000, &[], &[(3, 1e300), (3, f64::INFINITY)]),
        ];
        let block = encode(&samples);
        assert_eq!(
            (block.t_first, block.t_last, block.samples),
            (10_000, 20_000, 4)
        );
        let back = decode(&block.data).unwrap();
        assert_eq!(back.len(), 4);
        for (a, b) in samples.iter().zip(&back) {
            assert_eq!(a.registers, b.registers);
            assert_eq!(
                (a.t_ms, a.device_time, a.approximate, a.packet),
                (b.t_ms, b.device_time, b.approximate, b.packet)
            );
            let bits =
                |v: &[(u32, f64)]| v.iter().map(|(i, x)| (*i, x.to_bits())).collect::<Vec<_>>();
            assert_eq!(bits(&a.named), bits(&b.named));
        }
    }

    #[test]
    fn typical_samples_are_a_few_bytes_each() {
        let samples: Vec<BlockSample> = (0..3u16)
            .map(|i| {
                sample(
                    1_763_884_800_000 + u64::from(i) * 5000,
                    &[
                        (0, 2300 + i),
                        (1, 52),
                        (5, 71),
                        (6, 69),
                        (7, 452),
                        (9, 1000 + i),
                    ],
                    &[],
                )
            })
            .collect();
        let block = encode(&samples);
        assert!(block.data.len() <= 48, "{} bytes", block.data.len());
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let block = encode(&[sample(5, &[(1, 2)], &[(1, 2.0)])]);
        for cut in 0..block.data.len() {
            assert_eq!(decode(&block.data[..cut]), Err(BlockError), "cut at {cut}");
        }
        let mut longer = block.data;
        longer.push(0);
        assert_eq!(decode(&longer), Err(BlockError));
        assert_eq!(decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]), Err(BlockError));
    }

    #[test]
    fn uploads_split_at_window_edges_in_order() {
        let s = |t: u64| Sample {
            t_ms: Some(t),
            registers: vec![(9, 1)],
            approximate: false,
            packet: 0,
        };
        let w = BLOCK_WINDOW_MS;
        let blocks = split(&[s(w - 10), s(w - 5), s(w), s(w - 1)], 0);
        let spans: Vec<(u64, u64, u64)> = blocks
            .iter()
            .map(|b| (b.t_first, b.t_last, b.samples))
            .collect();
        assert_eq!(spans, [(w - 10, w - 5, 2), (w, w, 1), (w - 1, w - 1, 1)]);
    }

    #[test]
    fn scans_order_by_time_then_storage_and_stop_early() {
        let a = encode(&[sample(100, &[(9, 1)], &[]), sample(300, &[(9, 3)], &[])]);
        let b = encode(&[sample(100, &[(9, 2)], &[]), sample(200, &[(0, 7)], &[])]);
        let blocks = [
            StoredBlock {
                id: 1,
                upload: 1,
                t_first: 100,
                data: &a.data,
            },
            StoredBlock {
                id: 2,
                upload: 2,
                t_first: 100,
                data: &b.data,
            },
        ];
        let raw = |s: BlockSample, _| s.registers.iter().find(|r| r.0 == 9).map(|r| r.1);
        let mut scan = RangeScan::new(0, 1000, 2);
        for block in blocks {
            assert!(scan.wants(block.t_first));
            scan.add(block, raw).unwrap();
        }
        assert_eq!(scan.finish(), [1, 2]);
        let mut newest = Newest::new(0, 300);
        for block in blocks.iter().rev() {
            newest.add(*block, raw).unwrap();
        }
        assert_eq!(newest.finish(), Some(2));
        let mut scan = RangeScan::new(0, 1000, 1);
        scan.add(blocks[0], raw).unwrap();
        scan.add(blocks[1], raw).unwrap();
        assert!(!scan.wants(BLOCK_WINDOW_MS));
    }
}
