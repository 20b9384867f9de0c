//! The four predictors and the zigzag map (`docs/codec-v2.md`, "Prediction and zigzag").

/// How a channel predicts its next value from the previous two (`a`, then `b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Predictor {
    /// `a`: the previous value.
    #[default]
    Delta = 0,
    /// `2a − b`: linear extrapolation.
    DeltaOfDelta = 1,
    /// `a + ⌊(a − b) / 2⌋`: half the last step.
    DampedTrend = 2,
    /// `0`: the value itself.
    None = 3,
}

impl Predictor {
    /// Every predictor, in code order.
    pub const ALL: [Self; 4] = [
        Self::Delta,
        Self::DeltaOfDelta,
        Self::DampedTrend,
        Self::None,
    ];

    /// The predictor of a 2-bit code.
    pub(crate) fn from_code(code: u8) -> Self {
        match code & 3 {
            0 => Self::Delta,
            1 => Self::DeltaOfDelta,
            2 => Self::DampedTrend,
            _ => Self::None,
        }
    }

    /// The prediction for the value after `a` (previous) and `b` (before it).
    #[inline(always)]
    pub(crate) fn predict(self, a: u16, b: u16) -> u16 {
        let (a32, b32) = (i32::from(a), i32::from(b));
        match self {
            Self::Delta => a,
            Self::DeltaOfDelta => (2 * a32 - b32) as u16,
            Self::DampedTrend => (a32 + ((a32 - b32) >> 1)) as u16,
            Self::None => 0,
        }
    }
}

/// Maps the wrapped error `x − p` to 0, 1, 2, … for 0, −1, 1, −2, ….
#[inline(always)]
pub(crate) fn zigzag(x: u16, p: u16) -> u16 {
    let d = x.wrapping_sub(p) as i16;
    ((d << 1) ^ (d >> 15)) as u16
}

/// The inverse of [`zigzag`]: the value whose prediction was `p`.
#[inline(always)]
pub(crate) fn unzigzag(z: u16, p: u16) -> u16 {
    p.wrapping_add((z >> 1) ^ 0u16.wrapping_sub(z & 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_orders_by_magnitude() {
        let errors: [(u16, u16); 5] = [(5, 5), (4, 5), (6, 5), (3, 5), (0, 0x8000)];
        let codes: [u16; 5] = [0, 1, 2, 3, 0xFFFF];
        for ((x, p), z) in errors.into_iter().zip(codes) {
            assert_eq!(zigzag(x, p), z, "{x} - {p}");
            assert_eq!(unzigzag(z, p), x);
        }
    }

    #[test]
    fn zigzag_inverts_on_every_error() {
        for x in (0..=u16::MAX).step_by(7) {
            for p in [0, 1, 0x7FFF, 0x8000, u16::MAX] {
                assert_eq!(unzigzag(zigzag(x, p), p), x);
            }
        }
    }

    #[test]
    fn predictions_wrap_and_floor() {
        assert_eq!(Predictor::Delta.predict(7, 3), 7);
        assert_eq!(Predictor::DeltaOfDelta.predict(7, 3), 11);
        assert_eq!(Predictor::DeltaOfDelta.predict(0, 5), 65531);
        assert_eq!(Predictor::DampedTrend.predict(7, 3), 9);
        assert_eq!(Predictor::DampedTrend.predict(3, 6), 1); // 3 + floor(-3 / 2)
        assert_eq!(Predictor::None.predict(7, 3), 0);
        for p in Predictor::ALL {
            assert_eq!(Predictor::from_code(p as u8), p);
        }
    }
}
