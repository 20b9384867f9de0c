//! The SolarHub API's figures (the paths and shapes of that system's API
//! document), computed from a site and its devices' samples. Pure: the
//! HTTP handlers read the samples and the time, these shape the answers.
//!
//! Values are the registers' converted values (the device's profile);
//! sums and means are over the devices that have a sample. A unit without
//! a sample answers `null` (tables: `"-"`), never a made-up number.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};
use solarwire_core::registers::{Profile, Severity};

use super::{MeterRole, Site};

/// "Normal" in the SolarHub alert tables.
pub const NORMAL: &str = "正常";
/// A unit without data in the SolarHub alert tables ("offline").
pub const OFFLINE: &str = "离线";
/// A unit whose newest sample is older than this is offline, ms.
pub const ONLINE_WITHIN_MS: u64 = 10 * 60 * 1000;
/// Aux meter samples further apart are not joined in its energy, ms.
pub const MAX_GAP_MS: u64 = crate::store::DEFAULT_MAX_GAP_MS;

/// One device's sample, read with its profile.
#[derive(Debug, Clone)]
pub struct Reading {
    /// When, Unix ms.
    pub t_ms: u64,
    /// The device's profile.
    pub profile: &'static Profile,
    /// `(register id, raw)`.
    pub registers: Vec<(u8, u16)>,
}

impl Reading {
    /// The raw value of the register named `name`.
    pub fn raw(&self, name: &str) -> Option<u16> {
        let id = self.profile.registers.iter().find(|r| r.name == name)?.id;
        self.registers
            .iter()
            .find(|&&(i, _)| i == id)
            .map(|&(_, raw)| raw)
    }

    /// The converted value of the register named `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        let register = self.profile.registers.iter().find(|r| r.name == name)?;
        crate::readings::value(register, self.raw(name)?)
    }

    /// The value as the register shows it (its decimals; a mode's state name).
    fn text(&self, name: &str) -> Option<String> {
        let register = self.profile.registers.iter().find(|r| r.name == name)?;
        let raw = self.raw(name)?;
        if register.is_sentinel(raw) {
            return None;
        }
        Some(match register.state(raw) {
            Some(state) => state.to_owned(),
            None if !register.states.is_empty() => raw.to_string(),
            None => register.read(raw).value.format_fixed(register.decimals),
        })
    }

    /// The meanings of the bits set in the status word `name`.
    fn bits(&self, name: &str) -> Vec<(&'static str, Severity)> {
        let Some(register) = self.profile.registers.iter().find(|r| r.name == name) else {
            return Vec::new();
        };
        self.raw(name).map_or_else(Vec::new, |raw| {
            register
                .active_bits(raw)
                .map(|b| (b.name.as_str(), b.severity))
                .collect()
        })
    }
}

/// The newest sample of each device, by device id.
pub type Latest = HashMap<String, Reading>;

/// `name` of `device`'s newest sample.
fn value(latest: &Latest, device: &str, name: &str) -> Option<f64> {
    latest.get(device)?.value(name)
}

/// The sum of the values present (`None` when none is).
fn sum(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values
        .flatten()
        .fold(None, |acc, v| Some(acc.unwrap_or(0.0) + v))
}

/// The mean of the values present.
fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let present: Vec<f64> = values.flatten().collect();
    (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
}

/// A status word's bits set, for the alert tables: `正常` or their names.
fn alert_text(reading: Option<&Reading>, word: &str) -> String {
    let Some(reading) = reading else {
        return OFFLINE.to_owned();
    };
    let names: Vec<&str> = reading.bits(word).iter().map(|(n, _)| *n).collect();
    if names.is_empty() {
        NORMAL.to_owned()
    } else {
        names.join("; ")
    }
}

/// The metrics of `GET /api/v1/bess/{n}`: row label and register.
const RACK_METRICS: [(&str, &str); 10] = [
    ("Mode", "Mode"),
    ("Voltage (V)", "Voltage"),
    ("Current (A)", "Current"),
    ("Power (kW)", "Power"),
    ("SOC (%)", "Soc"),
    ("SOH (%)", "Soh"),
    ("Cell Vmax (mV)", "CellVmax"),
    ("Cell Vmin (mV)", "CellVmin"),
    ("Cell Tmax (°C)", "CellTmax"),
    ("Cell Tmin (°C)", "CellTmin"),
];

/// The column head of rack `i` (1-based).
pub fn rack_head(i: usize) -> String {
    format!("Rack {i:02}")
}

/// `GET /api/v1/bess/{n}`: one row per metric, one column per rack.
pub fn bess(site: &Site, number: u8, latest: &Latest) -> Option<Value> {
    let b = site.bess.iter().find(|b| b.number == number)?;
    let head: Vec<String> = (1..=b.racks.len()).map(rack_head).collect();
    let data: Vec<Value> = RACK_METRICS
        .iter()
        .map(|(label, name)| {
            let mut row = Map::new();
            row.insert("metric".into(), json!(label));
            for (column, device) in head.iter().zip(&b.racks) {
                let text = latest.get(device).and_then(|r| r.text(name));
                row.insert(column.clone(), json!(text.as_deref().unwrap_or("-")));
            }
            Value::Object(row)
        })
        .collect();
    Some(json!({
        "bess_number": number,
        "table_head": head,
        "data": data,
        "status": "success",
    }))
}

/// `GET /api/v1/bess/alert/rack/rackNN`: that rack of every BESS, its
/// protection, alarm and warning words (`battery_{bess}_…`) and its BAMS
/// link (`bams_{bess}_status`: `正常`, `离线` without a sample, or the
/// communication warning).
pub fn rack_alerts(site: &Site, rack: usize, latest: &Latest) -> Value {
    let mut battery = BTreeMap::new();
    let mut bams = BTreeMap::new();
    for b in &site.bess {
        let Some(device) = rack.checked_sub(1).and_then(|i| b.racks.get(i)) else {
            continue;
        };
        let reading = latest.get(device);
        for (key, word) in [
            ("protection", "Protection"),
            ("alarm", "Alarm"),
            ("warning", "Warning"),
        ] {
            battery.insert(
                format!("battery_{}_{key}", b.number),
                alert_text(reading, word),
            );
        }
        let link = match reading {
            None => OFFLINE.to_owned(),
            Some(r) => r
                .bits("Warning")
                .into_iter()
                .find(|(name, _)| name.contains("communication"))
                .map_or_else(|| NORMAL.to_owned(), |(name, _)| name.to_owned()),
        };
        bams.insert(format!("bams_{}_status", b.number), link);
    }
    json!({
        "rack_number": format!("rack{rack:02}"),
        "battery_alerts": battery,
        "bams_alerts": bams,
        "status": "success",
    })
}

/// `GET /api/v1/pcs/{n}`: its measurements and the states its status word says.
pub fn pcs(site: &Site, number: u8, latest: &Latest) -> Option<Value> {
    let unit = site.pcs.iter().find(|p| p.number == number)?;
    let reading = latest.get(&unit.device);
    let v = |name| reading.and_then(|r| r.value(name));
    let states: Vec<&str> = reading.map_or_else(Vec::new, |r| {
        r.bits("InverterStatus").iter().map(|(n, _)| *n).collect()
    });
    Some(json!({
        "pcs_number": number,
        "device_id": unit.device,
        "bess_number": unit.bess,
        "nominal_power": unit.nominal_power_kw,
        "active_power": v("ActivePower"),
        "reactive_power": v("ReactivePower"),
        "dc_voltage": v("DcVoltage"),
        "dc_current": v("DcCurrent"),
        "frequency": v("Frequency"),
        "temperature": v("Temperature"),
        "states": states,
        "timestamp": reading.map(|r| r.t_ms),
        "status": "success",
    }))
}

/// `GET /api/v1/pcs/alert`: a PCS's seven status words as 16-bit binary.
pub fn pcs_alert(site: &Site, number: u8, latest: &Latest) -> Option<Value> {
    let unit = site.pcs.iter().find(|p| p.number == number)?;
    let reading = latest.get(&unit.device);
    let word = |name| {
        reading
            .and_then(|r| r.raw(name))
            .map(|w| format!("{w:016b}"))
    };
    Some(json!({
        "pcs_number": number,
        "inverter_status": word("InverterStatus"),
        "inverter_inhibits1_status": word("Inhibits1"),
        "environment_status": word("EnvironmentStatus"),
        "warning_status": word("WarningStatus"),
        "grid_status": word("GridStatus"),
        "fault_status1": word("FaultStatus1"),
        "fault_status2": word("FaultStatus2"),
        "status": "success",
    }))
}

/// `GET /api/v1/meters`: every meter; `total_power` sums their active power.
pub fn meters(site: &Site, latest: &Latest) -> Value {
    let list: Vec<Value> = site
        .meters
        .iter()
        .map(|m| {
            let v = |name| value(latest, &m.device, name);
            json!({
                "meter_id": m.number,
                "role": m.role,
                "phase_a_current": v("Ia"),
                "phase_b_current": v("Ib"),
                "phase_c_current": v("Ic"),
                "phase_a_voltage": v("Va"),
                "phase_b_voltage": v("Vb"),
                "phase_c_voltage": v("Vc"),
                "active_power": v("P"),
                "reactive_power": v("Q"),
                "apparent_power": v("S"),
                "frequency": v("Frequency"),
                "power_factor": v("Pf"),
            })
        })
        .collect();
    let total = sum(site.meters.iter().map(|m| value(latest, &m.device, "P")));
    json!({
        "meters": list,
        "meter_count": site.meters.len(),
        "total_power": total,
        "status": "success",
    })
}

/// The aux meters' active power, kW, at each sample time of one day
/// (`samples`: each aux meter's samples, oldest first), summed over the
/// aux meters per time.
pub fn aux_power(samples: &[Vec<Reading>]) -> Vec<(u64, f64)> {
    let mut at: BTreeMap<u64, f64> = BTreeMap::new();
    for meter in samples {
        for r in meter {
            if let Some(p) = r.value("P") {
                *at.entry(r.t_ms).or_default() += p;
            }
        }
    }
    at.into_iter().collect()
}

/// `GET /api/v1/meters/aux?data_type=summary`: energy (kWh, trapezoids of
/// samples at most [`MAX_GAP_MS`] apart), mean, largest and smallest power.
pub fn aux_summary(points: &[(u64, f64)]) -> Value {
    let energy: f64 = points
        .windows(2)
        .filter(|w| w[1].0 - w[0].0 <= MAX_GAP_MS)
        .map(|w| (w[0].1 + w[1].1) / 2.0 * (w[1].0 - w[0].0) as f64 / 3_600_000.0)
        .sum();
    let powers = || points.iter().map(|&(_, p)| p);
    let n = points.len();
    json!({
        "total_energy": (n > 0).then_some(energy),
        "avg_power": (n > 0).then(|| powers().sum::<f64>() / n as f64),
        "max_power": powers().reduce(f64::max),
        "min_power": powers().reduce(f64::min),
        "samples": n,
    })
}

/// `GET /api/v1/meters/aux?data_type=chart`: `[Unix ms, kW]` pairs.
pub fn aux_chart(points: &[(u64, f64)]) -> Value {
    json!(
        points
            .iter()
            .map(|&(t, p)| json!([t, p]))
            .collect::<Vec<_>>()
    )
}

/// The MPPT trackers of the string-inverter profile: voltage and current registers.
const MPPT: [(&str, &str); 4] = [
    ("Vmppt1", "Imppt1"),
    ("Vmppt2", "Imppt2"),
    ("Vmppt3", "Imppt3"),
    ("Vmppt4", "Imppt4"),
];

/// `GET /api/v1/inverter`: one inverter's totals, MPPT trackers, strings and phases.
pub fn inverter(site: &Site, number: u8, latest: &Latest) -> Option<Value> {
    let unit = site.inverters.iter().find(|i| i.number == number)?;
    let reading = latest.get(&unit.device);
    let v = |name: &str| reading.and_then(|r| r.value(name));
    let mppt: Vec<Value> = MPPT
        .iter()
        .enumerate()
        .map(|(i, (volts, amps))| {
            let (u, a) = (v(volts), v(amps));
            json!({
                "mppt_id": i + 1,
                "voltage": u,
                "current": a,
                "power": u.zip(a).map(|(u, a)| u * a),
            })
        })
        .collect();
    let strings: Vec<Value> = (1..=8)
        .map(|i| json!({"string_id": i, "current": v(&format!("Istr{i}"))}))
        .collect();
    let phases: Vec<Value> = [("A", "Va", "Ia"), ("B", "Vb", "Ib"), ("C", "Vc", "Ic")]
        .iter()
        .map(
            |(phase, volts, amps)| json!({"phase": phase, "voltage": v(volts), "current": v(amps)}),
        )
        .collect();
    Some(json!({
        "inverter_number": number,
        "inverter_data": {
            "nominal_active_power": unit.nominal_power_kw,
            "total_active_power": v("P"),
            "total_apparent_power": v("S"),
            "total_reactive_power": v("Q"),
            "daily_power_yields": v("DailyYield"),
            "total_power_yields": v("TotalYield"),
            "internal_temperature": v("Temp"),
            "bus_voltage": v("BusVoltage"),
            "dc_power": v("DcPower"),
        },
        "mppt_data": mppt,
        "string_currents": strings,
        "phase_data": phases,
        "status": "success",
    }))
}

/// Whether `device` sent a sample within [`ONLINE_WITHIN_MS`] of `now_ms`.
fn online(latest: &Latest, device: &str, now_ms: u64) -> bool {
    latest
        .get(device)
        .is_some_and(|r| now_ms.saturating_sub(r.t_ms) <= ONLINE_WITHIN_MS)
}

/// Devices of the site online at `now_ms`.
fn online_count(site: &Site, latest: &Latest, now_ms: u64) -> usize {
    site.devices()
        .filter(|(d, _)| online(latest, d, now_ms))
        .count()
}

/// `GET /api/v1/system/overview`: the plant's power flows (kW; PV and
/// PCS positive when delivering, grid positive when importing) and charge.
pub fn overview(site: &Site, latest: &Latest, now_ms: u64) -> Value {
    let role = |role: MeterRole| {
        sum(site
            .meters
            .iter()
            .filter(|m| m.role == role)
            .map(|m| value(latest, &m.device, "P")))
    };
    let bess: Vec<Value> = site
        .bess
        .iter()
        .map(|b| {
            json!({
                "bess_number": b.number,
                "soc": mean(b.racks.iter().map(|r| value(latest, r, "Soc"))),
                "power": sum(b.racks.iter().map(|r| value(latest, r, "Power"))),
                "capacity_kwh": b.capacity_kwh,
            })
        })
        .collect();
    let racks = site.bess.iter().flat_map(|b| &b.racks);
    json!({
        "site": site.name,
        "pv_power": sum(site.inverters.iter().map(|i| value(latest, &i.device, "P"))),
        "pcs_power": sum(site.pcs.iter().map(|p| value(latest, &p.device, "ActivePower"))),
        "grid_power": role(MeterRole::Grid),
        "aux_power": role(MeterRole::Aux),
        "soc": mean(racks.map(|r| value(latest, r, "Soc"))),
        "bess": bess,
        "devices_online": online_count(site, latest, now_ms),
        "number_of_devices": site.devices().count(),
        "status": "success",
    })
}

/// A topology node's status.
fn status(up: bool) -> &'static str {
    if up { "online" } else { "offline" }
}

/// `GET /api/v1/system/topology`: the server, its storage and broker, and
/// the plant's units (online when a device of the unit sent a sample in
/// the last [`ONLINE_WITHIN_MS`]), linked as the site wires them.
/// `infrastructure` is `(id, name, type, up)` of the server's own parts.
pub fn topology(
    site: &Site,
    latest: &Latest,
    now_ms: u64,
    infrastructure: &[(&str, &str, &str, bool)],
    timestamp: &str,
) -> Value {
    let mut nodes = vec![json!({
        "id": "main_server", "name": "solarwire server", "type": "server",
        "status": "online", "ip": "localhost",
    })];
    let mut links = Vec::new();
    for &(id, name, kind, up) in infrastructure {
        nodes.push(
            json!({"id": id, "name": name, "type": kind, "status": status(up), "ip": "localhost"}),
        );
        links.push(json!({"source": "main_server", "target": id, "status": if up { "connected" } else { "disconnected" }}));
    }
    let mut unit = |id: String, name: String, kind: &str, up: bool| {
        nodes.push(json!({"id": id, "name": name, "type": kind, "status": status(up)}));
    };
    for b in &site.bess {
        let up = b.racks.iter().any(|r| online(latest, r, now_ms));
        unit(
            format!("bess_{}", b.number),
            format!("BESS {}", b.number),
            "bess",
            up,
        );
    }
    for p in &site.pcs {
        let up = online(latest, &p.device, now_ms);
        unit(
            format!("pcs_{}", p.number),
            format!("PCS {}", p.number),
            "pcs",
            up,
        );
    }
    for m in &site.meters {
        let up = online(latest, &m.device, now_ms);
        unit(
            format!("meter_{}", m.number),
            format!("Meter {}", m.number),
            "meter",
            up,
        );
    }
    for i in &site.inverters {
        let up = online(latest, &i.device, now_ms);
        let name = format!("Inverter {}", i.number);
        unit(format!("inverter_{}", i.number), name, "inverter", up);
    }
    let grid: Vec<String> = site
        .meters
        .iter()
        .filter(|m| m.role == MeterRole::Grid)
        .map(|m| format!("meter_{}", m.number))
        .collect();
    let link = |source: String, target: String| json!({"source": source, "target": target, "status": "connected"});
    for p in &site.pcs {
        links.push(link(
            format!("pcs_{}", p.number),
            format!("bess_{}", p.bess),
        ));
        for g in &grid {
            links.push(link(format!("pcs_{}", p.number), g.clone()));
        }
    }
    for i in &site.inverters {
        for g in &grid {
            links.push(link(format!("inverter_{}", i.number), g.clone()));
        }
    }
    json!({"nodes": nodes, "links": links, "timestamp": timestamp})
}

/// `GET /api/v1/config/sidebar`: what the dashboard's menu lists.
pub fn sidebar(site: &Site) -> Value {
    json!({
        "site": site.name,
        "bess_type": "BESS",
        "bess_number": site.bess.len(),
        "pcs_number": site.pcs.len(),
        "inverter_number": site.inverters.len(),
        "meter_number": site.meters.len(),
        "rack_number": site.bess.iter().map(|b| b.racks.len()).max().unwrap_or(0),
        "number_of_devices": site.devices().count(),
        "cctv_url": site.cctv_url,
        "status": "success",
    })
}

/// Each site device with the label alerts name it by (`BESS1 rack03`, `PCS2`).
pub fn labels(site: &Site) -> Vec<(String, &str)> {
    let racks = site.bess.iter().flat_map(|b| {
        b.racks
            .iter()
            .enumerate()
            .map(move |(i, r)| (format!("BESS{} rack{:02}", b.number, i + 1), r.as_str()))
    });
    let pcs = site
        .pcs
        .iter()
        .map(|p| (format!("PCS{}", p.number), p.device.as_str()));
    let meters = site
        .meters
        .iter()
        .map(|m| (format!("Meter{}", m.number), m.device.as_str()));
    let inverters = site
        .inverters
        .iter()
        .map(|i| (format!("Inverter{}", i.number), i.device.as_str()));
    racks.chain(pcs).chain(meters).chain(inverters).collect()
}

/// `GET /api/v1/config/header`: every status bit set in the devices'
/// newest samples, as `"PCS2: DC overvoltage"`, by severity (alarms count
/// as warnings; states are not alerts).
pub fn header(site: &Site, latest: &Latest) -> Value {
    let mut protection = Vec::new();
    let mut warning = Vec::new();
    let mut fault = Vec::new();
    for (label, device) in labels(site) {
        let Some(reading) = latest.get(device) else {
            continue;
        };
        for register in reading
            .profile
            .registers
            .iter()
            .filter(|r| !r.bits.is_empty())
        {
            for (name, severity) in reading.bits(&register.name) {
                let item = format!("{label}: {name}");
                match severity {
                    Severity::Protection => protection.push(item),
                    Severity::Warning | Severity::Alarm => warning.push(item),
                    Severity::Fault => fault.push(item),
                    Severity::Info => {}
                }
            }
        }
    }
    let info = |items: Vec<String>| json!({"count": items.len(), "items": items});
    json!({
        "protection_info": info(protection),
        "warning_info": info(warning),
        "fault_info": info(fault),
        "status": "success",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readings::profile_named;
    use crate::site::demo;

    fn reading(profile: &str, registers: &[(u8, u16)]) -> Reading {
        Reading {
            t_ms: 1000,
            profile: profile_named(Some(profile)).unwrap(),
            registers: registers.to_vec(),
        }
    }

    #[test]
    fn tables_and_alerts_read_the_profiles() {
        let site = demo();
        let mut latest = Latest::new();
        // rack01 of BESS 1 charging at 750.5 V, SOC 85.2 %, a protection tripped.
        latest.insert(
            "bess1-rack01".into(),
            reading("bess-rack-1", &[(0, 1), (1, 7505), (4, 852), (10, 0b1)]),
        );
        latest.insert(
            "pcs2".into(),
            reading("pcs-1", &[(0, 0b101), (5, 0b1000), (7, 0xFF9C)]),
        );
        let table = bess(&site, 1, &latest).unwrap();
        assert_eq!(table["table_head"][11], "Rack 12");
        assert_eq!(table["data"][0]["Rack 01"], "Charging");
        assert_eq!(table["data"][1]["Rack 01"], "750.5");
        assert_eq!(table["data"][4]["Rack 01"], "85.2");
        assert_eq!(table["data"][4]["Rack 02"], "-");
        assert!(bess(&site, 3, &latest).is_none());
        let alerts = rack_alerts(&site, 1, &latest);
        assert_eq!(
            alerts["battery_alerts"]["battery_1_protection"],
            "Cell overvoltage"
        );
        assert_eq!(alerts["battery_alerts"]["battery_1_alarm"], NORMAL);
        assert_eq!(alerts["battery_alerts"]["battery_2_alarm"], OFFLINE);
        let words = pcs_alert(&site, 2, &latest).unwrap();
        assert_eq!(words["fault_status1"], "0000000000001000");
        assert_eq!(words["grid_status"], Value::Null);
        assert_eq!(pcs(&site, 2, &latest).unwrap()["active_power"], -10.0);
        let h = header(&site, &latest);
        assert_eq!(
            h["protection_info"]["items"][0],
            "BESS1 rack01: Cell overvoltage"
        );
        assert_eq!(h["fault_info"]["items"][0], "PCS2: DC overvoltage");
        assert_eq!(h["warning_info"]["count"], 0);
    }

    #[test]
    fn aux_energy_joins_close_samples_only() {
        let points = [(0, 10.0), (60_000, 20.0), (600_000, 20.0)];
        let s = aux_summary(&points);
        assert!((s["total_energy"].as_f64().unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(s["max_power"], 20.0);
        assert_eq!(s["min_power"], 10.0);
        assert_eq!(aux_summary(&[])["total_energy"], Value::Null);
    }
}
