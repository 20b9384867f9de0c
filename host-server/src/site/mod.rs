//! A storage plant's layout: which devices are its BESS racks, PCS units,
//! meters and inverters, with their nominal ratings (`solarwire serve
//! --site FILE`, TOML). Pure data and checks; the APIs computed from a
//! site's telemetry read it.

mod demo;
pub mod solarhub;

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use solarwire_core::registers::DeviceKind;

pub use demo::demo;

/// Most units of one type (BESS, PCS, meters, inverters) a site describes.
pub const MAX_UNITS: usize = 64;
/// Most racks in one BESS (`rack01` … `rack99`).
pub const MAX_RACKS: usize = 99;
/// Largest site file read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// A whole site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Shown in the dashboard's header.
    pub name: String,
    /// A camera stream the dashboard links to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cctv_url: Option<String>,
    /// Battery systems, numbered from 1.
    #[serde(default)]
    pub bess: Vec<Bess>,
    /// Power conversion systems, numbered from 1.
    #[serde(default)]
    pub pcs: Vec<Pcs>,
    /// Meters, numbered from 1.
    #[serde(default)]
    pub meters: Vec<Meter>,
    /// PV inverters, numbered from 1.
    #[serde(default)]
    pub inverters: Vec<Inverter>,
}

/// One battery energy storage system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bess {
    /// Its number (`/api/v1/bess/{number}`).
    pub number: u8,
    /// Usable energy, kWh.
    pub capacity_kwh: f64,
    /// Rated charge/discharge power, kW.
    pub nominal_power_kw: f64,
    /// The device id of each rack, `rack01` first (profile kind `bess-rack`).
    pub racks: Vec<String>,
}

/// One power conversion system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pcs {
    /// Its number (`/api/v1/pcs/{number}`).
    pub number: u8,
    /// Its device id (profile kind `pcs`).
    pub device: String,
    /// The BESS whose racks it charges and discharges.
    pub bess: u8,
    /// Rated AC power, kW.
    pub nominal_power_kw: f64,
}

/// What a meter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeterRole {
    /// The site's connection to the grid (positive: importing).
    Grid,
    /// The site's own auxiliary consumption (cooling, control).
    Aux,
}

/// One three-phase meter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meter {
    /// Its number (`meter_id`).
    pub number: u8,
    /// Its device id (profile kind `meter`).
    pub device: String,
    /// What it measures.
    pub role: MeterRole,
}

/// One PV string inverter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inverter {
    /// Its number.
    pub number: u8,
    /// Its device id (profile kind `string-inverter`).
    pub device: String,
    /// Rated AC power, kW.
    pub nominal_power_kw: f64,
}

/// Why a site file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteError(pub String);

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SiteError {}

fn refuse<T>(message: impl Into<String>) -> Result<T, SiteError> {
    Err(SiteError(message.into()))
}

impl Site {
    /// Reads and checks a site file.
    ///
    /// # Errors
    /// An unreadable or oversized file, TOML that is not a site, or a site
    /// that fails [`Self::check`].
    pub fn load(path: &Path) -> Result<Self, SiteError> {
        let size = std::fs::metadata(path)
            .map_err(|e| SiteError(format!("{}: {e}", path.display())))?
            .len();
        if size > MAX_FILE_BYTES {
            return refuse(format!(
                "{}: larger than {MAX_FILE_BYTES} bytes",
                path.display()
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| SiteError(format!("{}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Parses and checks a site.
    ///
    /// # Errors
    /// TOML that is not a site, or a site that fails [`Self::check`].
    pub fn from_toml(text: &str) -> Result<Self, SiteError> {
        let site: Self = toml::from_str(text).map_err(|e| SiteError(e.to_string()))?;
        site.check()?;
        Ok(site)
    }

    /// The site as TOML.
    pub fn to_toml(&self) -> String {
        // A site is plain data (strings, numbers, tables): serializing it
        // cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks what the types cannot: unit numbers unique and in 1..=64,
    /// 1..=99 racks per BESS, ratings positive, every device id valid and
    /// used once, every PCS pointing at a BESS of the site.
    ///
    /// # Errors
    /// The first problem found.
    pub fn check(&self) -> Result<(), SiteError> {
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return refuse("name must be 1 to 200 characters");
        }
        numbers("bess", self.bess.iter().map(|b| b.number))?;
        numbers("pcs", self.pcs.iter().map(|p| p.number))?;
        numbers("meters", self.meters.iter().map(|m| m.number))?;
        numbers("inverters", self.inverters.iter().map(|i| i.number))?;
        for b in &self.bess {
            if b.racks.is_empty() || b.racks.len() > MAX_RACKS {
                return refuse(format!("bess {}: 1 to {MAX_RACKS} racks", b.number));
            }
            positive(&format!("bess {} capacity_kwh", b.number), b.capacity_kwh)?;
            positive(
                &format!("bess {} nominal_power_kw", b.number),
                b.nominal_power_kw,
            )?;
        }
        for p in &self.pcs {
            positive(
                &format!("pcs {} nominal_power_kw", p.number),
                p.nominal_power_kw,
            )?;
            if !self.bess.iter().any(|b| b.number == p.bess) {
                return refuse(format!("pcs {}: no bess {}", p.number, p.bess));
            }
        }
        for i in &self.inverters {
            positive(
                &format!("inverter {} nominal_power_kw", i.number),
                i.nominal_power_kw,
            )?;
        }
        let mut seen = BTreeSet::new();
        for (device, _) in self.devices() {
            crate::device_id::check(device).map_err(SiteError)?;
            if !seen.insert(device) {
                return refuse(format!("device {device:?} is used twice"));
            }
        }
        Ok(())
    }

    /// Every device of the site with the kind of profile it must have.
    pub fn devices(&self) -> impl Iterator<Item = (&str, DeviceKind)> {
        let racks = self
            .bess
            .iter()
            .flat_map(|b| b.racks.iter().map(|r| (r.as_str(), DeviceKind::BessRack)));
        let pcs = self
            .pcs
            .iter()
            .map(|p| (p.device.as_str(), DeviceKind::Pcs));
        let meters = self
            .meters
            .iter()
            .map(|m| (m.device.as_str(), DeviceKind::Meter));
        let inverters = self
            .inverters
            .iter()
            .map(|i| (i.device.as_str(), DeviceKind::StringInverter));
        racks.chain(pcs).chain(meters).chain(inverters)
    }
}

/// The built-in profile a site device of `kind` is read with.
pub fn profile_for(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::BessRack => "bess-rack-1",
        DeviceKind::Pcs => "pcs-1",
        DeviceKind::Meter => "meter-3ph-1",
        DeviceKind::StringInverter => "string-inverter-1",
        DeviceKind::InverterLogger => solarwire_core::registers::DEFAULT_PROFILE,
    }
}

/// Unit numbers unique, in 1..=MAX_UNITS, at most MAX_UNITS of them.
fn numbers(what: &str, numbers: impl Iterator<Item = u8>) -> Result<(), SiteError> {
    let mut seen = BTreeSet::new();
    for n in numbers {
        if n == 0 || usize::from(n) > MAX_UNITS {
            return refuse(format!("{what}: number {n} outside 1..={MAX_UNITS}"));
        }
        if !seen.insert(n) {
            return refuse(format!("{what}: number {n} used twice"));
        }
    }
    Ok(())
}

fn positive(what: &str, x: f64) -> Result<(), SiteError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        refuse(format!("{what} must be a positive number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_round_trips_and_lists_its_devices() {
        let site = demo();
        let back = Site::from_toml(&site.to_toml()).unwrap();
        assert_eq!(back, site);
        let kinds: Vec<_> = site.devices().map(|(_, k)| k).collect();
        assert_eq!(kinds.len(), 2 * 12 + 2 + 2 + 2);
        assert_eq!(
            kinds.iter().filter(|&&k| k == DeviceKind::BessRack).count(),
            24
        );
    }

    #[test]
    fn bad_sites_are_refused_with_the_reason() {
        let refused = |edit: fn(&mut Site)| {
            let mut site = demo();
            edit(&mut site);
            Site::from_toml(&site.to_toml()).unwrap_err().0
        };
        assert!(refused(|s| s.pcs[1].bess = 9).contains("no bess 9"));
        assert!(refused(|s| s.meters[1].device = s.pcs[0].device.clone()).contains("twice"));
        assert!(refused(|s| s.bess[0].number = 0).contains("outside"));
        assert!(refused(|s| s.inverters[1].number = 1).contains("used twice"));
        assert!(refused(|s| s.bess[1].racks.clear()).contains("racks"));
        assert!(refused(|s| s.bess[0].capacity_kwh = -1.0).contains("positive"));
        assert!(refused(|s| s.inverters[0].device = "a b".into()).contains("device id"));
        let unknown = Site::from_toml("name = \"x\"\nturbines = 3\n").unwrap_err();
        assert!(unknown.0.contains("turbines"), "{unknown}");
    }
}
