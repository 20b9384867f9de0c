//! A simulated storage plant (`solarwire simulate --site FILE`): every
//! device of a [`Site`] read from one consistent physical state. PCS units
//! follow a charge/discharge cycle and now and then trip a fault (power
//! zero while it lasts); their racks' SOC moves with the DC energy; the PV
//! inverters follow a measured curve (`--pv FILE`) or a clear sky; the aux
//! meter reads the plant's own load and the grid meter what is left:
//! `grid = aux + charging − discharging − PV` (positive: importing).
//!
//! [`Plant::row`] answers each device's registers, in its profile's id
//! order, at a time; every device of one poll sees the same state.

use std::collections::{BTreeMap, HashMap};
use std::f64::consts::PI;

use solarwire_core::registers::{DeviceKind, Kind, Profile, Register};

use super::inverter::{Inverter, Noise};
use crate::readings::profile_named;
use crate::site::{MeterRole, Site, profile_for};

/// Share of a PCS's rating its dispatch cycle reaches.
const DISPATCH_SHARE: f64 = 0.4;
/// One charge/discharge cycle, seconds.
const CYCLE_S: f64 = 4.0 * 3600.0;
/// One-way conversion efficiency of a PCS.
const PCS_EFFICIENCY: f64 = 0.97;
/// Chance per poll that a running PCS trips a fault.
const FAULT_CHANCE: f64 = 0.004;
/// Polls a fault lasts.
const FAULT_POLLS: u32 = 3;
/// Snapshots kept for devices polling a little behind the others.
const KEPT: usize = 64;

/// A PV output shape: fractions of the rating at a fixed interval from
/// midnight UTC, repeated day after day.
#[derive(Debug, Clone)]
pub enum PvCurve {
    /// The clear-sky bell of the inverter simulator.
    ClearSky,
    /// A measured curve, normalised to its peak.
    Measured {
        /// Fractions 0..=1.
        fractions: Vec<f64>,
        /// Seconds between them.
        interval_s: u64,
    },
}

impl PvCurve {
    /// A curve from a CSV whose second column is AC power (a header line
    /// first; rows from midnight at `interval_s`, as in the
    /// `*_15min_ac_power.csv` files). Negative night readings count as zero.
    ///
    /// # Errors
    /// No numeric rows, or no positive power.
    pub fn from_csv(text: &str, interval_s: u64) -> Result<Self, String> {
        let values: Vec<f64> = text
            .lines()
            .skip(1)
            .filter_map(|line| line.split(',').nth(1)?.trim().parse::<f64>().ok())
            .map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 })
            .collect();
        let peak = values.iter().copied().fold(0.0, f64::max);
        if values.is_empty() || peak <= 0.0 || interval_s == 0 {
            return Err("the PV curve has no positive power in its second column".into());
        }
        Ok(Self::Measured {
            fractions: values.iter().map(|v| v / peak).collect(),
            interval_s,
        })
    }

    /// The fraction of the rating at `t_ms`, interpolated.
    pub fn fraction(&self, t_ms: u64) -> f64 {
        match self {
            Self::ClearSky => Inverter::clear_sky((t_ms % 86_400_000) as f64 / 1000.0),
            Self::Measured {
                fractions,
                interval_s,
            } => {
                let span = fractions.len() as u64 * interval_s * 1000;
                let at = (t_ms % span) as f64 / (*interval_s as f64 * 1000.0);
                let i = at.floor() as usize;
                let next = fractions[(i + 1) % fractions.len()];
                let here = fractions[i % fractions.len()];
                here + (next - here) * at.fract()
            }
        }
    }
}

/// One rack's state.
#[derive(Debug, Clone)]
struct Rack {
    soc: f64,
}

/// One PCS's state.
#[derive(Debug, Clone, Default)]
struct PcsState {
    /// Polls left of the current fault, and its bit of `FaultStatus1`.
    fault: Option<(u32, u8)>,
}

/// One inverter's energy counters.
#[derive(Debug, Clone)]
struct Yields {
    day: u64,
    daily_kwh: f64,
    total_mwh: f64,
}

/// Values by register name, turned into a row by the device's profile.
type Values = HashMap<&'static str, f64>;

/// The whole plant.
#[derive(Debug, Clone)]
pub struct Plant {
    site: Site,
    pv: PvCurve,
    noise: Noise,
    racks: Vec<Vec<Rack>>,
    pcs: Vec<PcsState>,
    yields: Vec<Yields>,
    last_ms: Option<u64>,
    snapshots: BTreeMap<u64, HashMap<String, Vec<u16>>>,
}

impl Plant {
    /// A plant at rest: racks between 40 and 70 % SOC, varied by `seed`.
    pub fn new(site: Site, pv: PvCurve, seed: u64) -> Self {
        let mut noise = Noise::new(seed);
        let racks = site
            .bess
            .iter()
            .map(|b| {
                b.racks
                    .iter()
                    .map(|_| Rack {
                        soc: 40.0 + 30.0 * noise.unit(),
                    })
                    .collect()
            })
            .collect();
        let pcs = vec![PcsState::default(); site.pcs.len()];
        let yields = site
            .inverters
            .iter()
            .map(|_| Yields {
                day: 0,
                daily_kwh: 0.0,
                total_mwh: 1000.0 + 100.0 * noise.unit(),
            })
            .collect();
        Self {
            site,
            pv,
            noise,
            racks,
            pcs,
            yields,
            last_ms: None,
            snapshots: BTreeMap::new(),
        }
    }

    /// The site simulated.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// `device`'s registers at `t_ms` (every register of its profile, in id
    /// order). Times at or before the newest one computed are answered from
    /// the kept snapshots (the newest before `t_ms` when it is not kept);
    /// a later time advances the plant. `None` for a device not on the site.
    pub fn row(&mut self, device: &str, t_ms: u64) -> Option<Vec<u16>> {
        if self.last_ms.is_none_or(|last| t_ms > last) {
            let dt_s = self
                .last_ms
                .map_or(5.0, |last| (t_ms - last) as f64 / 1000.0);
            let snapshot = self.step(t_ms, dt_s);
            self.snapshots.insert(t_ms, snapshot);
            while self.snapshots.len() > KEPT {
                self.snapshots.pop_first();
            }
            self.last_ms = Some(t_ms);
        }
        let (_, rows) = self.snapshots.range(..=t_ms).next_back()?;
        rows.get(device).cloned()
    }

    /// Advances the plant by `dt_s` to `t_ms` and reads every device.
    fn step(&mut self, t_ms: u64, dt_s: f64) -> HashMap<String, Vec<u16>> {
        let mut rows = HashMap::new();
        let hours = dt_s / 3600.0;
        let frequency = 50.0 + 0.03 * (2.0 * PI * t_ms as f64 / 600_000.0).sin();
        let mut pcs_p = 0.0;
        let mut pcs_q = 0.0;
        for (i, unit) in self.site.pcs.clone().iter().enumerate() {
            let Some(b) = self.site.bess.iter().position(|b| b.number == unit.bess) else {
                continue;
            };
            let racks = &mut self.racks[b];
            let soc = racks.iter().map(|r| r.soc).sum::<f64>() / racks.len() as f64;
            let state = &mut self.pcs[i];
            state.fault = match state.fault {
                Some((left, bit)) if left > 1 => Some((left - 1, bit)),
                Some(_) => None,
                None if self.noise.unit() < FAULT_CHANCE => {
                    Some((FAULT_POLLS, (self.noise.unit() * 8.0) as u8))
                }
                None => None,
            };
            let phase = 2.0 * PI * (t_ms as f64 / 1000.0 / CYCLE_S + i as f64 / 4.0);
            let mut p = DISPATCH_SHARE * unit.nominal_power_kw * phase.sin();
            if state.fault.is_some() || (p > 0.0 && soc < 5.0) || (p < 0.0 && soc > 95.0) {
                p = 0.0;
            }
            let dc = if p > 0.0 {
                p / PCS_EFFICIENCY
            } else {
                p * PCS_EFFICIENCY
            };
            let q = 0.05 * p.abs();
            let capacity = self.site.bess[b].capacity_kwh / racks.len() as f64;
            let per_rack = dc / racks.len() as f64;
            let mut volts = 0.0;
            let mut max_soc: f64 = 0.0;
            let mut min_soc: f64 = 100.0;
            for (r, rack) in racks.iter_mut().enumerate() {
                rack.soc = (rack.soc - per_rack * hours / capacity * 100.0).clamp(0.0, 100.0);
                max_soc = max_soc.max(rack.soc);
                min_soc = min_soc.min(rack.soc);
                let v = 650.0 + 1.2 * rack.soc + 0.5 * self.noise.signed();
                volts += v;
                let cell_vmax = 3200.0 + 2.0 * rack.soc + 5.0 * self.noise.unit();
                let cell_tmax = 25.0 + per_rack.abs() / 10.0 + self.noise.unit();
                let mode = match state.fault {
                    Some(_) => 3.0,
                    None if per_rack < 0.0 => 1.0,
                    None if per_rack > 0.0 => 2.0,
                    None => 0.0,
                };
                let mut warning = 0.0;
                if rack.soc < 15.0 {
                    warning += 16.0;
                }
                let alarm = if rack.soc < 8.0 { 16.0 } else { 0.0 };
                let values: Values = HashMap::from([
                    ("Mode", mode),
                    ("Voltage", v),
                    ("Current", per_rack * 1000.0 / v),
                    ("Power", per_rack),
                    ("Soc", rack.soc),
                    ("Soh", 98.5),
                    ("CellVmax", cell_vmax),
                    ("CellVmin", cell_vmax - 15.0 - 10.0 * self.noise.unit()),
                    ("CellTmax", cell_tmax),
                    ("CellTmin", cell_tmax - 3.0),
                    ("Protection", 0.0),
                    ("Alarm", alarm),
                    ("Warning", warning),
                ]);
                let device = &self.site.bess[b].racks[r];
                rows.insert(device.clone(), encode(DeviceKind::BessRack, &values));
            }
            let v_dc = volts / racks.len() as f64;
            let mut status = if state.fault.is_some() { 0 } else { 1 | 4 };
            status |= match p {
                p if p > 0.0 => 64,
                p if p < 0.0 => 32,
                _ => 2,
            };
            let mut inhibits = 0;
            if max_soc > 95.0 {
                inhibits |= 4;
            }
            if min_soc < 5.0 {
                inhibits |= 8;
            }
            let temperature = 30.0 + p.abs() / 100.0 + self.noise.unit();
            let values: Values = HashMap::from([
                ("InverterStatus", f64::from(status)),
                ("Inhibits1", f64::from(inhibits)),
                ("EnvironmentStatus", 0.0),
                ("WarningStatus", if temperature > 45.0 { 2.0 } else { 0.0 }),
                ("GridStatus", 0.0),
                (
                    "FaultStatus1",
                    state.fault.map_or(0.0, |(_, bit)| f64::from(1u16 << bit)),
                ),
                ("FaultStatus2", 0.0),
                ("ActivePower", p),
                ("ReactivePower", q),
                ("DcVoltage", v_dc),
                ("DcCurrent", dc * 1000.0 / v_dc),
                ("Frequency", frequency),
                ("Temperature", temperature),
            ]);
            rows.insert(unit.device.clone(), encode(DeviceKind::Pcs, &values));
            pcs_p += p;
            pcs_q += q;
        }
        let fraction = self.pv.fraction(t_ms);
        let (mut pv_p, mut pv_q) = (0.0, 0.0);
        for (i, inverter) in self.site.inverters.clone().iter().enumerate() {
            let p = inverter.nominal_power_kw * fraction * (1.0 + 0.01 * self.noise.signed());
            let p = p.max(0.0);
            let values = self.inverter_values(i, t_ms, p, hours, fraction);
            rows.insert(
                inverter.device.clone(),
                encode(DeviceKind::StringInverter, &values),
            );
            pv_p += p;
            pv_q += 0.05 * p;
        }
        let aux_p = 15.0 + 0.01 * pcs_p.abs() + 0.5 * self.noise.unit();
        let aux_q = 0.3 * aux_p;
        for meter in &self.site.meters.clone() {
            let (p, q, phase_v) = match meter.role {
                MeterRole::Aux => (aux_p, aux_q, 230.0),
                MeterRole::Grid => (aux_p - pcs_p - pv_p, aux_q + pcs_q - pv_q, 6350.0),
            };
            let values = self.meter_values(p, q, phase_v, frequency);
            rows.insert(meter.device.clone(), encode(DeviceKind::Meter, &values));
        }
        rows
    }

    fn meter_values(&mut self, p: f64, q: f64, phase_v: f64, frequency: f64) -> Values {
        let s = p.hypot(q);
        let current = s * 1000.0 / (3.0 * phase_v);
        let mut values: Values = HashMap::from([
            ("P", p),
            ("Q", q),
            ("S", s),
            ("Frequency", frequency),
            ("Pf", if s > 0.0 { p / s } else { 1.0 }),
        ]);
        for (i, v) in ["Va", "Vb", "Vc"].into_iter().enumerate() {
            values.insert(v, phase_v * (1.0 + 0.002 * self.noise.signed()));
            let name = ["Ia", "Ib", "Ic"][i];
            values.insert(name, current * (1.0 + 0.01 * self.noise.signed()));
        }
        values
    }

    fn inverter_values(
        &mut self,
        i: usize,
        t_ms: u64,
        p: f64,
        hours: f64,
        fraction: f64,
    ) -> Values {
        let nominal = self.site.inverters[i].nominal_power_kw;
        let yields = &mut self.yields[i];
        let day = t_ms / 86_400_000;
        if day != yields.day {
            yields.day = day;
            yields.daily_kwh = 0.0;
        }
        yields.daily_kwh += p * hours;
        yields.total_mwh += p * hours / 1000.0;
        let (daily, total) = (yields.daily_kwh, yields.total_mwh);
        let dc = p / 0.98;
        let q = 0.05 * p;
        let mut values: Values = HashMap::from([
            ("P", p),
            ("Q", q),
            ("S", p.hypot(q)),
            ("DailyYield", daily),
            ("TotalYield", total),
            ("Temp", 30.0 + 20.0 * p / nominal),
            ("BusVoltage", if p > 0.0 { 650.0 } else { 0.0 }),
            ("DcPower", dc),
            ("Fault", 0.0),
        ]);
        const MPPT: [(&str, &str, [&str; 2]); 4] = [
            ("Vmppt1", "Imppt1", ["Istr1", "Istr2"]),
            ("Vmppt2", "Imppt2", ["Istr3", "Istr4"]),
            ("Vmppt3", "Imppt3", ["Istr5", "Istr6"]),
            ("Vmppt4", "Imppt4", ["Istr7", "Istr8"]),
        ];
        for (v, a, strings) in MPPT {
            let volts = if fraction > 0.0 {
                550.0 + 50.0 * fraction + 2.0 * self.noise.signed()
            } else {
                0.0
            };
            let amps = if volts > 0.0 {
                dc / 4.0 * 1000.0 / volts
            } else {
                0.0
            };
            values.insert(v, volts);
            values.insert(a, amps);
            for s in strings {
                values.insert(s, amps / 2.0 * (1.0 + 0.01 * self.noise.signed()));
            }
        }
        let amps = p.hypot(q) * 1000.0 / (3.0 * 230.0);
        for (v, a) in [("Va", "Ia"), ("Vb", "Ib"), ("Vc", "Ic")] {
            values.insert(v, 230.0 * (1.0 + 0.002 * self.noise.signed()));
            values.insert(a, amps);
        }
        values
    }
}

/// A row of `kind`'s profile from values by register name (0 for one not given).
fn encode(kind: DeviceKind, values: &Values) -> Vec<u16> {
    match profile_named(Some(profile_for(kind))) {
        Ok(profile) => row(profile, values),
        Err(_) => Vec::new(),
    }
}

fn row(profile: &Profile, values: &Values) -> Vec<u16> {
    profile
        .registers
        .iter()
        .map(|r| raw(r, values.get(r.name.as_str()).copied().unwrap_or(0.0)))
        .collect()
}

/// The raw value of `value` in `register`'s unit, saturated to its range.
pub fn raw(register: &Register, value: f64) -> u16 {
    let scaled =
        (value / 10f64.powi(i32::from(register.scale))).round() - f64::from(register.offset);
    match register.kind {
        Kind::U16 => scaled.clamp(0.0, f64::from(u16::MAX - 1)) as u16,
        Kind::I16 => scaled.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16 as u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::demo;

    #[test]
    fn every_site_device_reads_its_whole_profile_consistently() {
        let mut plant = Plant::new(demo(), PvCurve::ClearSky, 3);
        let noon = 1_763_899_200_000; // 2025-11-23T12:00:00Z
        let site = plant.site().clone();
        for (device, kind) in site.devices() {
            let row = plant.row(device, noon).expect("a site device");
            let profile = profile_named(Some(profile_for(kind))).unwrap();
            assert_eq!(row.len(), profile.registers.len(), "{device}");
        }
        let value = |plant: &mut Plant, device: &str, id: u8, kind: DeviceKind| {
            let profile = profile_named(Some(profile_for(kind))).unwrap();
            let raw = plant.row(device, noon).unwrap()[usize::from(id)];
            profile.by_id(id).unwrap().read(raw).value.to_f64()
        };
        // grid = aux − PCS − PV, within the registers' 0.1 kW steps.
        let pcs: f64 = (1..=2)
            .map(|n| value(&mut plant, &format!("pcs{n}"), 7, DeviceKind::Pcs))
            .sum();
        let pv: f64 = (1..=2)
            .map(|n| {
                value(
                    &mut plant,
                    &format!("inverter{n}"),
                    22,
                    DeviceKind::StringInverter,
                )
            })
            .sum();
        let aux = value(&mut plant, "meter-aux", 6, DeviceKind::Meter);
        let grid = value(&mut plant, "meter-grid", 6, DeviceKind::Meter);
        assert!(pv > 0.0, "noon has sun");
        assert!(
            (grid - (aux - pcs - pv)).abs() < 0.5,
            "{grid} {aux} {pcs} {pv}"
        );
    }

    #[test]
    fn raw_values_round_and_saturate() {
        let profile = profile_named(Some("pcs-1")).unwrap();
        let p = profile.by_id(7).unwrap();
        assert_eq!(p.read(raw(p, -12.34)).value.to_f64(), -12.3);
        assert_eq!(raw(p, 1e9), i16::MAX as u16);
        let csv = "t,p\n0,-1\n1,50\n2,100\n";
        let curve = PvCurve::from_csv(csv, 900).unwrap();
        assert_eq!(curve.fraction(0), 0.0);
        assert!((curve.fraction(450_000) - 0.25).abs() < 1e-9);
        assert!(PvCurve::from_csv("t,p\n0,-3\n", 900).is_err());
    }
}
