//! The register catalog and unit conversion (spec §5).
//!
//! The catalog is data (`catalog.json`, embedded): one [`Profile`] per
//! register table. `ecowatt-1.3` (the current firmware, the default) and
//! `legacy` (the original `/process` server's conversions, F27) describe the
//! EcoWatt logger; `bess-rack-1`, `pcs-1`, `meter-3ph-1` and
//! `string-inverter-1` the units of a storage plant. A profile says its
//! [`DeviceKind`]; a status word names the meaning and [`Severity`] of each
//! bit ([`Register::active_bits`]) and a mode register its states
//! ([`Register::state`]). [`Profile::from_json`] loads another model.

mod decimal;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;

pub use decimal::Decimal;

/// The name of the default profile.
pub const DEFAULT_PROFILE: &str = "ecowatt-1.3";

const BUILTIN: &str = include_str!("catalog.json");

/// Every built-in profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    profiles: Vec<Profile>,
}

/// One register table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile's name, e.g. `ecowatt-1.3`.
    pub name: String,
    /// The kind of device the table belongs to.
    #[serde(default)]
    pub kind: DeviceKind,
    /// What the table describes.
    #[serde(default)]
    pub description: String,
    /// The registers, in id order.
    pub registers: Vec<Register>,
}

/// What a profile's device is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// An EcoWatt logger reading a PV inverter (the firmware's device).
    #[default]
    InverterLogger,
    /// One battery rack of a BESS (its BAMS summary).
    BessRack,
    /// A power conversion system between batteries and the grid.
    Pcs,
    /// A three-phase meter.
    Meter,
    /// A string inverter with MPPT trackers.
    StringInverter,
}

impl DeviceKind {
    /// The kind's name in catalogs and APIs (`bess-rack`).
    pub fn code(self) -> &'static str {
        match self {
            Self::InverterLogger => "inverter-logger",
            Self::BessRack => "bess-rack",
            Self::Pcs => "pcs",
            Self::Meter => "meter",
            Self::StringInverter => "string-inverter",
        }
    }
}

/// How much a set status bit matters (what an alert raised for it says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A state, not a problem (e.g. "Running").
    Info,
    /// Attention needed soon.
    Warning,
    /// A limit crossed; the unit still runs.
    Alarm,
    /// A protection tripped: the unit limited or stopped itself.
    Protection,
    /// A fault: the unit stopped.
    Fault,
}

impl Severity {
    /// The severity's name (`fault`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Alarm => "alarm",
            Self::Protection => "protection",
            Self::Fault => "fault",
        }
    }
}

/// The meaning of one bit of a status word.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct Bit {
    /// The bit's position, 0 (least significant) to 15.
    pub bit: u8,
    /// What a set bit means ("DC overvoltage").
    pub name: String,
    /// How much it matters.
    pub severity: Severity,
}

/// A named value of a mode register.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct State {
    /// The raw value.
    pub value: u16,
    /// Its name ("Charging").
    pub name: String,
}

/// How a register's 16 bits are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Unsigned (every EcoWatt register).
    U16,
    /// Two's complement, for models with signed registers (e.g. battery current).
    I16,
}

/// One register of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// The device's internal id (the ids of `register_layout`).
    pub id: u8,
    /// The device's name (`Vac1`), also used in remote configuration.
    pub name: String,
    /// The legacy and test-vector name (`REG_VAC1`).
    pub key: String,
    /// The Modbus address.
    pub addr: u16,
    /// The engineering unit.
    pub unit: String,
    /// `value = (raw + offset) × 10^scale`.
    pub scale: i8,
    /// Raw offset added before scaling.
    #[serde(default)]
    pub offset: i32,
    /// Digits shown after the decimal point.
    pub decimals: u8,
    /// How the raw bits are read.
    pub kind: Kind,
    /// Whether the device may write it (remote commands).
    #[serde(default)]
    pub writable: bool,
    /// Raw values that mean "not available" (the inverter's `0xFFFF`), not
    /// a measurement: stored as missing, never converted.
    #[serde(default)]
    pub sentinels: Vec<u16>,
    /// For a mode register: the name of each raw value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<State>,
    /// For a status word: the meaning of each bit that has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bits: Vec<Bit>,
    /// What it measures.
    #[serde(default)]
    pub description: String,
}

/// How a caller names a register: by id or by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterRef<'a> {
    /// The numeric id (any integer; unknown ids are reported, not wrapped).
    Id(i64),
    /// `Vac1`, `REG_VAC1` or either in another letter case.
    Name(&'a str),
}

/// A converted register value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading<'p> {
    /// The register.
    pub register: &'p Register,
    /// The raw wire value.
    pub raw: u16,
    /// The value in the register's unit.
    pub value: Decimal,
}

impl Reading<'_> {
    /// The display text: value with the register's decimals, then the unit (`230.4V`).
    pub fn text(&self) -> String {
        let mut s = self.value.format_fixed(self.register.decimals);
        s.push_str(&self.register.unit);
        s
    }
}

/// Why a register could not be converted (or a catalog not loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnitError {
    /// No register with that id or name in the profile.
    UnknownRegister,
    /// The raw value does not fit in 16 bits.
    OutOfRange {
        /// The value given.
        raw: i64,
    },
    /// No profile with that name.
    UnknownProfile,
    /// A catalog file that is not valid.
    InvalidCatalog {
        /// What is wrong with it.
        reason: &'static str,
    },
}

error_codes!(UnitError {
    Self::UnknownRegister => "unknown_register",
    Self::OutOfRange { .. } => "out_of_range",
    Self::UnknownProfile => "unknown_profile",
    Self::InvalidCatalog { .. } => "invalid_catalog",
});

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownRegister => f.write_str("unknown register"),
            Self::OutOfRange { raw } => write!(f, "raw value {raw} is outside 0..=65535"),
            Self::UnknownProfile => f.write_str("unknown register profile"),
            Self::InvalidCatalog { reason } => write!(f, "invalid register catalog: {reason}"),
        }
    }
}

impl core::error::Error for UnitError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    profiles: Vec<Profile>,
}

impl Catalog {
    /// The built-in profiles (`ecowatt-1.3`, `legacy`).
    pub fn builtin() -> Self {
        // The embedded file is checked by a unit test; an empty catalog would
        // make every lookup report `unknown_profile`, never a panic.
        let profiles = serde_json::from_str::<CatalogFile>(BUILTIN)
            .map(|c| c.profiles)
            .unwrap_or_default();
        Self { profiles }
    }

    /// The profile named `name`.
    ///
    /// # Errors
    /// `unknown_profile`.
    pub fn profile(&self, name: &str) -> Result<&Profile, UnitError> {
        self.profiles
            .iter()
            .find(|p| p.name == name)
            .ok_or(UnitError::UnknownProfile)
    }

    /// The default profile (`ecowatt-1.3`).
    ///
    /// # Errors
    /// `unknown_profile` only if the embedded catalog were broken.
    pub fn default_profile(&self) -> Result<&Profile, UnitError> {
        self.profile(DEFAULT_PROFILE)
    }

    /// All profiles.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }
}

impl Profile {
    /// Loads a profile for another inverter model from JSON (the shape of one
    /// entry of `catalog.json`'s `profiles`).
    ///
    /// # Errors
    /// `invalid_catalog` for bad JSON, duplicate ids or names, or scales and
    /// decimals outside −9…9 and 0…9, bits beyond 15, or a bit or state
    /// named twice.
    pub fn from_json(text: &str) -> Result<Self, UnitError> {
        let profile: Self = serde_json::from_str(text).map_err(|_| UnitError::InvalidCatalog {
            reason: "not a profile object",
        })?;
        profile.validate()?;
        Ok(profile)
    }

    fn validate(&self) -> Result<(), UnitError> {
        for (i, r) in self.registers.iter().enumerate() {
            if !(-9..=9).contains(&r.scale) || r.decimals > 9 {
                return Err(UnitError::InvalidCatalog {
                    reason: "scale or decimals out of range",
                });
            }
            if r.bits.iter().any(|b| b.bit > 15) {
                return Err(UnitError::InvalidCatalog {
                    reason: "status bit beyond 15",
                });
            }
            if twice(&r.bits, |b| b.bit) || twice(&r.states, |st| st.value) {
                return Err(UnitError::InvalidCatalog {
                    reason: "a status bit or state defined twice",
                });
            }
            let later = self.registers.get(i + 1..).unwrap_or_default();
            if later.iter().any(|o| {
                o.id == r.id
                    || o.name.eq_ignore_ascii_case(&r.name)
                    || o.key.eq_ignore_ascii_case(&r.key)
            }) {
                return Err(UnitError::InvalidCatalog {
                    reason: "duplicate register id or name",
                });
            }
        }
        Ok(())
    }

    /// The register with this id.
    pub fn by_id(&self, id: u8) -> Option<&Register> {
        self.registers.iter().find(|r| r.id == id)
    }

    /// Finds a register by id, device name or key (letter case ignored).
    ///
    /// # Errors
    /// `unknown_register`.
    pub fn lookup(&self, reference: RegisterRef<'_>) -> Result<&Register, UnitError> {
        match reference {
            RegisterRef::Id(id) => u8::try_from(id).ok().and_then(|id| self.by_id(id)),
            RegisterRef::Name(name) => self
                .registers
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(name) || r.key.eq_ignore_ascii_case(name)),
        }
        .ok_or(UnitError::UnknownRegister)
    }

    /// Converts a raw value of a register to engineering units.
    ///
    /// # Errors
    /// `unknown_register`, `out_of_range` (raw outside 0..=65535).
    ///
    /// A sentinel converts like any raw value (as the firmware prints it);
    /// hosts that store or sum values drop them first ([`Self::measured`]).
    pub fn convert(&self, reference: RegisterRef<'_>, raw: i64) -> Result<Reading<'_>, UnitError> {
        let register = self.lookup(reference)?;
        let raw = u16::try_from(raw).map_err(|_| UnitError::OutOfRange { raw })?;
        Ok(register.read(raw))
    }

    /// A sample's `(register id, raw)` values without the sentinels of the
    /// registers this profile knows: what is stored, shown and summed.
    pub fn measured(&self, registers: &[(u8, u16)]) -> Vec<(u8, u16)> {
        registers
            .iter()
            .copied()
            .filter(|&(id, raw)| !self.by_id(id).is_some_and(|r| r.is_sentinel(raw)))
            .collect()
    }
}

/// Whether two items share a key.
fn twice<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> bool {
    let mut rest = items.iter();
    while let Some(a) = rest.next() {
        if rest.clone().any(|b| key(a) == key(b)) {
            return true;
        }
    }
    false
}

impl Register {
    /// Whether `raw` means "not available" for this register (catalog
    /// field `sentinels`), rather than a measurement.
    pub fn is_sentinel(&self, raw: u16) -> bool {
        self.sentinels.contains(&raw)
    }

    /// The name of `raw` for a mode register (`None` for a value without one).
    pub fn state(&self, raw: u16) -> Option<&str> {
        self.states
            .iter()
            .find(|s| s.value == raw)
            .map(|s| s.name.as_str())
    }

    /// The meanings of the bits set in `raw`, for a status word, in bit order
    /// of the catalog. A sentinel sets none.
    pub fn active_bits(&self, raw: u16) -> impl Iterator<Item = &Bit> {
        let raw = if self.is_sentinel(raw) { 0 } else { raw };
        self.bits.iter().filter(move |b| raw >> b.bit & 1 == 1)
    }

    /// Converts a raw wire value of this register.
    pub fn read(&self, raw: u16) -> Reading<'_> {
        let signed = match self.kind {
            Kind::U16 => i64::from(raw),
            Kind::I16 => i64::from(raw as i16),
        };
        Reading {
            register: self,
            raw,
            value: Decimal {
                mantissa: signed + i64::from(self.offset),
                exponent: self.scale,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn builtin_catalog_parses_and_validates() {
        let catalog = Catalog::builtin();
        let kinds: Vec<_> = catalog.profiles().iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                DeviceKind::InverterLogger,
                DeviceKind::InverterLogger,
                DeviceKind::BessRack,
                DeviceKind::Pcs,
                DeviceKind::Meter,
                DeviceKind::StringInverter,
            ]
        );
        for p in catalog.profiles() {
            p.validate().unwrap();
            for (i, r) in p.registers.iter().enumerate() {
                assert_eq!(usize::from(r.id), i, "{}: ids in order", p.name);
            }
        }
        assert_eq!(catalog.default_profile().unwrap().registers.len(), 10);
    }

    #[test]
    fn legacy_documentation_examples() {
        let catalog = Catalog::builtin();
        let legacy = catalog.profile("legacy").unwrap();
        let text = |name, raw| legacy.convert(RegisterRef::Name(name), raw).unwrap().text();
        assert_eq!(text("REG_VAC1", 2400), "240.0V");
        assert_eq!(text("REG_IAC1", 170), "1.70A");
        assert_eq!(text("REG_IPV1", 70), "0.70A");
        assert_eq!(text("REG_PAC", 4000), "4000W");
        assert_eq!(text("REG_IPV2", 65), "0.65A");
        assert_eq!(text("REG_TEMP", 550), "550°C");
    }

    #[test]
    fn sentinels_are_not_measurements() {
        let catalog = Catalog::builtin();
        let current = catalog.default_profile().unwrap();
        let pac = current.lookup(RegisterRef::Name("Pac")).unwrap();
        assert!(pac.is_sentinel(0xFFFF) && !pac.is_sentinel(0xFFFE));
        let pow = current.lookup(RegisterRef::Name("Pow")).unwrap();
        assert!(!pow.is_sentinel(0xFFFF), "a percent the device writes");
        assert_eq!(
            current.measured(&[(9, 65535), (0, 2300), (8, 65535)]),
            [(0, 2300), (8, 65535)]
        );
        let legacy = catalog.profile("legacy").unwrap();
        assert_eq!(legacy.measured(&[(9, 65535)]), [(9, 65535)]);
    }

    #[test]
    fn status_words_and_modes_read_by_the_catalog() {
        let catalog = Catalog::builtin();
        let pcs = catalog.profile("pcs-1").unwrap();
        let fault = pcs.lookup(RegisterRef::Name("FaultStatus1")).unwrap();
        let set: Vec<_> = fault
            .active_bits(0b1000_1000)
            .map(|b| (b.bit, b.name.as_str(), b.severity))
            .collect();
        assert_eq!(
            set,
            [
                (3, "DC overvoltage", Severity::Fault),
                (7, "AC contactor failure", Severity::Fault)
            ]
        );
        assert_eq!(fault.active_bits(0).count(), 0);
        let rack = catalog.profile("bess-rack-1").unwrap();
        let mode = rack.lookup(RegisterRef::Name("RACK_MODE")).unwrap();
        assert_eq!(mode.state(1), Some("Charging"));
        assert_eq!(mode.state(99), None);
        let volts = rack.lookup(RegisterRef::Name("Voltage")).unwrap();
        assert_eq!(volts.active_bits(0xFFFF).count(), 0);
        let current = rack.convert(RegisterRef::Name("Current"), 0xFF9C).unwrap();
        assert_eq!(current.text(), "-10.0A");
    }

    #[test]
    fn bad_status_words_are_refused() {
        let bit = |b: u8| format!(r#"{{"bit":{b},"name":"x","severity":"fault"}}"#);
        let profile = |bits: &str| {
            format!(
                r#"{{"name":"w","registers":[{{"id":0,"name":"W","key":"W","addr":0,"unit":"","scale":0,"decimals":0,"kind":"u16","bits":[{bits}]}}]}}"#
            )
        };
        assert!(Profile::from_json(&profile(&bit(15))).is_ok());
        assert!(Profile::from_json(&profile(&bit(16))).is_err());
        assert!(Profile::from_json(&profile(&format!("{},{}", bit(2), bit(2)))).is_err());
    }

    #[test]
    fn another_model_loads() {
        let json = r#"{"name":"bat","registers":[{"id":0,"name":"Ibat","key":"REG_IBAT","addr":40,"unit":"A","scale":-1,"decimals":1,"kind":"i16"}]}"#;
        let p = Profile::from_json(json).unwrap();
        assert_eq!(
            p.convert(RegisterRef::Id(0), 65526).unwrap().text(),
            "-1.0A"
        );
        assert!(Profile::from_json("{}").is_err());
    }
}
