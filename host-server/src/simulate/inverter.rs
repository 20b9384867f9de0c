//! A simulated inverter: a daylight PV curve with passing clouds and sensor
//! noise, read as the ten EcoWatt registers (raw units of spec §5).

/// A small deterministic generator (xorshift64*), one per device.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    /// A generator seeded per device.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [−1, 1).
    pub fn signed(&mut self) -> f64 {
        2.0 * self.unit() - 1.0
    }
}

/// One inverter's physical state.
#[derive(Debug, Clone)]
pub struct Inverter {
    /// Rated AC power in watts.
    pub capacity_w: f64,
    noise: Noise,
    cloud: f64,
    temp_c: f64,
}

/// Seconds in a day.
const DAY_S: f64 = 86_400.0;
const SUNRISE_S: f64 = 6.0 * 3600.0;
const SUNSET_S: f64 = 18.5 * 3600.0;

impl Inverter {
    /// An inverter of 3–6 kW, varied by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut noise = Noise::new(seed);
        let capacity_w = 3000.0 + 3000.0 * noise.unit();
        Self {
            capacity_w,
            noise,
            cloud: 1.0,
            temp_c: 25.0,
        }
    }

    /// Clear-sky output fraction at a solar time of day (seconds after midnight).
    pub fn clear_sky(solar_s: f64) -> f64 {
        let t = solar_s.rem_euclid(DAY_S);
        if !(SUNRISE_S..SUNSET_S).contains(&t) {
            return 0.0;
        }
        let x = (t - SUNRISE_S) / (SUNSET_S - SUNRISE_S);
        (std::f64::consts::PI * x).sin().powf(1.3)
    }

    /// Reads all ten registers (ids 0–9) at `solar_s`, one poll `dt_s` after the last.
    pub fn read(&mut self, solar_s: f64, dt_s: f64) -> [u16; 10] {
        // Clouds drift towards a random target; a few deep dips per hour.
        let target = if self.noise.unit() < 0.02 {
            0.3 + 0.4 * self.noise.unit()
        } else {
            1.0
        };
        let k = (dt_s / 120.0).min(1.0);
        self.cloud += (target - self.cloud) * k;
        let fraction = (Self::clear_sky(solar_s) * self.cloud).clamp(0.0, 1.0);
        let pac = self.capacity_w * fraction * (1.0 + 0.01 * self.noise.signed());
        let pac = pac.max(0.0);
        let vac = 230.0 + 3.0 * self.noise.signed();
        let fac = 50.0 + 0.03 * self.noise.signed();
        let vpv = if fraction > 0.0 {
            330.0 + 40.0 * fraction + 2.0 * self.noise.signed()
        } else {
            0.0
        };
        let ppv = pac / 0.96;
        let ipv = if vpv > 0.0 { ppv / 2.0 / vpv } else { 0.0 };
        let ambient = 20.0 + 8.0 * Self::clear_sky(solar_s - 2.0 * 3600.0);
        let heat = ambient + 25.0 * fraction;
        self.temp_c += (heat - self.temp_c) * (dt_s / 600.0).min(1.0);
        let raw = |v: f64| v.round().clamp(0.0, f64::from(u16::MAX)) as u16;
        [
            raw(vac * 10.0),
            raw(pac / vac * 10.0),
            raw(fac * 100.0),
            raw(vpv * 10.0),
            raw((vpv - 5.0).max(0.0) * 10.0),
            raw(ipv * 10.0),
            raw(ipv * 0.97 * 10.0),
            raw(self.temp_c * 10.0),
            100,
            raw(pac),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produces_by_day_and_not_by_night() {
        let mut inverter = Inverter::new(1);
        let noon = inverter.read(13.0 * 3600.0, 5.0);
        let night = inverter.read(2.0 * 3600.0, 5.0);
        assert!(noon[9] > 1000, "Pac at noon {}", noon[9]);
        assert_eq!(night[9], 0);
        assert!((2200..2400).contains(&noon[0]), "Vac {}", noon[0]);
        assert!((4990..5010).contains(&noon[2]), "Fac {}", noon[2]);
    }
}
