//! The streaming encoder: push samples, finish a packet.

use super::bits::BitWriter;
use super::predict::{Predictor, zigzag};
use super::{BLOCK, MARKER, MAX_CHANNELS, MAX_SAMPLES};
use crate::codec::CodecError;

/// One channel's state: the block being filled and the two values before it.
#[derive(Debug, Clone, Copy, Default)]
struct Lane {
    block: [u16; BLOCK],
    a: u16,
    b: u16,
    predictor: Predictor,
}

// The issue's bound: at most 64 bytes of state per channel.
const _: () = assert!(size_of::<Lane>() <= 64);

/// How one channel's block is written.
#[derive(Debug, Clone, Copy, Default)]
struct Choice {
    predictor: Predictor,
    width: u32,
    escape: bool,
}

impl Choice {
    fn header_bits(self) -> usize {
        if self.escape { 12 } else { 4 }
    }
}

/// Streaming codec v2 encoder writing into a caller's buffer, without
/// allocating. Blocks are written as soon as 8 samples have been pushed.
///
/// ```
/// use solarwire_core::codec::v2::{Encoder, max_packet_len};
/// let mut buf = [0u8; max_packet_len(2, 3)];
/// let mut encoder = Encoder::new(2, &mut buf)?;
/// for sample in [[2304, 52], [2305, 52], [2307, 53]] {
///     encoder.push(&sample)?;
/// }
/// let packet = encoder.finish()?;
/// assert_eq!(packet[0], 0xC2);
/// # Ok::<(), solarwire_core::CodecError>(())
/// ```
#[derive(Debug)]
pub struct Encoder<'o> {
    out: &'o mut [u8],
    len: usize,
    channels: usize,
    samples: usize,
    filled: usize,
    /// The run byte of the zero-block run the last block belongs to.
    run_at: Option<usize>,
    lanes: [Lane; MAX_CHANNELS],
}

impl<'o> Encoder<'o> {
    /// An encoder for samples of `channels` registers writing into `out`
    /// (long enough when it has [`max_packet_len`](super::max_packet_len) bytes).
    ///
    /// # Errors
    /// `bad_header` when `channels` is 0 or above [`MAX_CHANNELS`].
    pub fn new(channels: usize, out: &'o mut [u8]) -> Result<Self, CodecError> {
        if !(1..=MAX_CHANNELS).contains(&channels) {
            return Err(CodecError::BadHeader { field: "channels" });
        }
        Ok(Self {
            out,
            len: 0,
            channels,
            samples: 0,
            filled: 0,
            run_at: None,
            lanes: [Lane::default(); MAX_CHANNELS],
        })
    }

    /// The samples pushed so far.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Adds one sample (one value per channel). On an error the sample is
    /// not taken and the encoder stays usable.
    ///
    /// # Errors
    /// `bad_header` when `sample` does not hold one value per channel;
    /// `too_large` after [`MAX_SAMPLES`] samples or when the buffer is full.
    pub fn push(&mut self, sample: &[u16]) -> Result<(), CodecError> {
        if sample.len() != self.channels {
            return Err(CodecError::BadHeader {
                field: "sample length",
            });
        }
        if self.samples == MAX_SAMPLES {
            return Err(CodecError::TooLarge {
                declared: MAX_SAMPLES + 1,
                limit: MAX_SAMPLES,
            });
        }
        if self.samples == 0 {
            self.write_seeds(sample)?;
        } else {
            for (lane, &v) in self.lanes.iter_mut().zip(sample) {
                if let Some(slot) = lane.block.get_mut(self.filled) {
                    *slot = v;
                }
            }
            if self.filled + 1 == BLOCK {
                self.write_block(BLOCK)?;
                self.filled = 0;
            } else {
                self.filled += 1;
            }
        }
        self.samples += 1;
        Ok(())
    }

    /// Writes the last partial block and the sample count; returns the packet.
    ///
    /// # Errors
    /// `bad_header` when no sample was pushed; `too_large` when the buffer
    /// cannot hold the last block.
    pub fn finish(mut self) -> Result<&'o [u8], CodecError> {
        if self.samples == 0 {
            return Err(CodecError::BadHeader {
                field: "samples (empty packet)",
            });
        }
        if self.filled > 0 {
            self.write_block(self.filled)?;
        }
        if let Some(count) = self.out.get_mut(2) {
            *count = self.samples as u8;
        }
        let Self { out, len, .. } = self;
        let out: &'o [u8] = out;
        Ok(out.get(..len).unwrap_or_default())
    }

    /// Marker, shape and the first sample as seeds.
    fn write_seeds(&mut self, sample: &[u16]) -> Result<(), CodecError> {
        let largest = sample.iter().fold(0, |acc, &v| acc | v);
        let (code, width) = match bit_length(largest) {
            w @ 0..=14 => (w, w),
            _ => (15, 16),
        };
        let need = 3 + (self.channels * width as usize).div_ceil(8);
        let dst = reserve(self.out, self.len, need)?;
        let (head, seeds) = dst.split_at_mut(3);
        head.copy_from_slice(&[MARKER, (self.channels - 1) as u8 | (code << 4) as u8, 0]);
        let mut bits = BitWriter::new(seeds);
        for (lane, &v) in self.lanes.iter_mut().zip(sample) {
            bits.put(v, width);
            (lane.a, lane.b) = (v, v);
        }
        bits.finish();
        self.len += need;
        Ok(())
    }

    /// Writes the block of the first `n` buffered samples of every lane.
    fn write_block(&mut self, n: usize) -> Result<(), CodecError> {
        let Self {
            out,
            len,
            channels,
            run_at,
            lanes,
            ..
        } = self;
        let lanes = lanes.get_mut(..*channels).unwrap_or_default();
        let mut choices = [Choice::default(); MAX_CHANNELS];
        for (choice, lane) in choices.iter_mut().zip(lanes.iter()) {
            *choice = choose(lane, n);
        }
        let choices = choices.get(..*channels).unwrap_or_default();
        let zero = n == BLOCK && choices.iter().all(|c| c.width == 0 && !c.escape);
        // Runs never reach 255: a packet has at most 31 full blocks.
        let run = run_at.and_then(|at| out.get_mut(at)).filter(|_| zero);
        if let Some(run) = run {
            *run += 1;
        } else {
            let header = choices
                .iter()
                .map(|c| c.header_bits())
                .sum::<usize>()
                .div_ceil(8);
            let data = choices.iter().map(|c| n * c.width as usize).sum::<usize>();
            let need = header + usize::from(zero) + data.div_ceil(8);
            let dst = reserve(out, *len, need)?;
            let (head, body) = dst.split_at_mut(header);
            let mut bits = BitWriter::new(head);
            for c in choices {
                if c.escape {
                    bits.put(15, 4);
                    bits.put(c.width as u16 | (c.predictor as u16) << 5, 8);
                } else {
                    bits.put(c.width as u16, 4);
                }
            }
            bits.finish();
            // A zero block's body is its run byte, 0 until the run grows.
            let mut bits = BitWriter::new(body);
            for (c, lane) in choices.iter().zip(lanes.iter()) {
                let mut state = (lane.a, lane.b);
                for &v in lane.block.iter().take(n) {
                    bits.put(zigzag(v, c.predictor.predict(state.0, state.1)), c.width);
                    state = (v, state.0);
                }
            }
            if zero {
                bits.put(0, 8);
            }
            bits.finish();
            *run_at = zero.then_some(*len + header);
            *len += need;
        }
        for (lane, c) in lanes.iter_mut().zip(choices) {
            lane.predictor = c.predictor;
            let mut last = lane.block.iter().take(n).rev();
            let a = last.next().copied().unwrap_or(lane.a);
            lane.b = last.next().copied().unwrap_or(lane.a);
            lane.a = a;
        }
        Ok(())
    }
}

/// The `need` bytes of `out` after the first `len`, or `too_large`.
fn reserve(out: &mut [u8], len: usize, need: usize) -> Result<&mut [u8], CodecError> {
    let limit = out.len();
    out.get_mut(len..len + need).ok_or(CodecError::TooLarge {
        declared: len + need,
        limit,
    })
}

/// The cheapest way to write a lane's first `n` buffered samples: the
/// current predictor first, then the others in code order; ties keep the first.
fn choose(lane: &Lane, n: usize) -> Choice {
    let current = lane.predictor;
    let others = Predictor::ALL.into_iter().filter(|&p| p != current);
    let mut best: Option<(usize, Choice)> = None;
    for predictor in core::iter::once(current).chain(others) {
        let mut state = (lane.a, lane.b);
        let mut all = 0u16;
        for &v in lane.block.iter().take(n) {
            all |= zigzag(v, predictor.predict(state.0, state.1));
            state = (v, state.0);
        }
        let width = bit_length(all);
        let escape = predictor != current || width > 14;
        let choice = Choice {
            predictor,
            width,
            escape,
        };
        let cost = choice.header_bits() + n * width as usize;
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, choice));
        }
    }
    best.map(|(_, c)| c).unwrap_or_default()
}

/// The bits needed to write `v` (0 for 0).
fn bit_length(v: u16) -> u32 {
    16 - v.leading_zeros()
}

// A run byte counts the blocks after the first: it cannot overflow.
const _: () = assert!(MAX_SAMPLES / BLOCK <= u8::MAX as usize);
