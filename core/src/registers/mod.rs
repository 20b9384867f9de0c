//! The register catalog and unit conversion (spec §5).
//!
//! The catalog is data (`catalog.json`, embedded): one [`Profile`] per
//! register table. `ecowatt-1.3` (the current firmware, the default) and
//! `legacy` (the original `/process` server's conversions, F27) are built in;
//! [`Profile::from_json`] loads another inverter model.

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
    /// What the table describes.
    #[serde(default)]
    pub description: String,
    /// The registers, in id order.
    pub registers: Vec<Register>,
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
    /// decimals outside −9…9 and 0…9.
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

impl Register {
    /// Whether `raw` means "not available" for this register (catalog
    /// field `sentinels`), rather than a measurement.
    pub fn is_sentinel(&self, raw: u16) -> bool {
        self.sentinels.contains(&raw)
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

    #[test]
    fn builtin_catalog_parses_and_validates() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.profiles().len(), 2);
        for p in catalog.profiles() {
            p.validate().unwrap();
            assert_eq!(p.registers.len(), 10);
        }
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
