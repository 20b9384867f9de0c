//! Fixed-point decimal values: no floats inside the core, so every target
//! computes identical results.

use alloc::string::String;
use core::fmt::{self, Write as _};

/// `mantissa × 10^exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Decimal {
    /// The digits.
    pub mantissa: i64,
    /// The power of ten (−9 … 9 for catalog values).
    pub exponent: i8,
}

/// Powers of ten that are exact in an f64 (up to 10^22).
const EXACT_POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl Decimal {
    /// The nearest f64, for hosts at their edge. Both operands are exact, so
    /// IEEE division/multiplication rounds once and every target agrees.
    pub fn to_f64(self) -> f64 {
        let m = self.mantissa as f64;
        let p = EXACT_POWERS
            .get(usize::from(self.exponent.unsigned_abs()))
            .copied()
            .unwrap_or(f64::INFINITY);
        if self.exponent < 0 { m / p } else { m * p }
    }

    /// Formats with exactly `decimals` digits after the point, rounding half
    /// away from zero when digits are dropped.
    pub fn format_fixed(self, decimals: u8) -> String {
        let shift = i32::from(self.exponent) + i32::from(decimals);
        let m = i128::from(self.mantissa);
        let scaled = if shift >= 0 {
            m.saturating_mul(pow10(shift.unsigned_abs()))
        } else {
            let d = pow10(shift.unsigned_abs());
            let half = d / 2;
            if m < 0 {
                -((-m + half) / d)
            } else {
                (m + half) / d
            }
        };
        let unit = pow10(u32::from(decimals));
        let mut out = String::new();
        if scaled < 0 {
            out.push('-');
        }
        let abs = scaled.unsigned_abs();
        let _ = write!(out, "{}", abs / unit.unsigned_abs());
        if decimals > 0 {
            let _ = write!(
                out,
                ".{:0width$}",
                abs % unit.unsigned_abs(),
                width = usize::from(decimals)
            );
        }
        out
    }
}

fn pow10(n: u32) -> i128 {
    10i128.checked_pow(n.min(30)).unwrap_or(i128::MAX)
}

impl fmt::Display for Decimal {
    /// Shows every digit the value has (`230.4`, `1205`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimals = if self.exponent < 0 {
            self.exponent.unsigned_abs()
        } else {
            0
        };
        f.write_str(&self.format_fixed(decimals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn formats_and_converts() {
        let d = Decimal {
            mantissa: 52,
            exponent: -1,
        };
        assert_eq!(d.format_fixed(2), "5.20");
        assert_eq!(d.to_string(), "5.2");
        assert_eq!(d.to_f64(), 5.2);
        assert_eq!(
            Decimal {
                mantissa: 12345,
                exponent: -3
            }
            .format_fixed(1),
            "12.3"
        );
        assert_eq!(
            Decimal {
                mantissa: -12355,
                exponent: -3
            }
            .format_fixed(2),
            "-12.36"
        );
        assert_eq!(
            Decimal {
                mantissa: 7,
                exponent: 2
            }
            .format_fixed(0),
            "700"
        );
        assert_eq!(
            Decimal {
                mantissa: 65535,
                exponent: -2
            }
            .to_f64(),
            655.35
        );
    }
}
