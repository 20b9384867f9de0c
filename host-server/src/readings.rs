//! Register values as JSON for people: raw and converted through the core's
//! register catalog (the default `ecowatt-1.3` profile).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;
use solarwire_core::registers::{Catalog, Profile, Register, RegisterRef, UnitError};
use utoipa::ToSchema;

static CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::builtin);

static PROFILE: LazyLock<Profile> = LazyLock::new(|| {
    CATALOG
        .default_profile()
        .cloned()
        .unwrap_or_else(|_| Profile {
            name: "empty".into(),
            kind: Default::default(),
            description: String::new(),
            registers: Vec::new(),
        })
});

/// The register profile used for conversions of devices without one of
/// their own (the default `ecowatt-1.3`).
pub fn profile() -> &'static Profile {
    &PROFILE
}

/// Every built-in profile.
pub fn profiles() -> &'static [Profile] {
    CATALOG.profiles()
}

/// The built-in profile named `name` (`None`: the default profile).
///
/// # Errors
/// A name the catalog does not know (`unknown_profile`).
pub fn profile_named(name: Option<&str>) -> Result<&'static Profile, UnitError> {
    name.map_or(Ok(profile()), |n| CATALOG.profile(n))
}

/// A device's profile as stored with it: the default when it has none or
/// names one this build does not know.
pub fn device_profile(name: Option<&str>) -> &'static Profile {
    profile_named(name).unwrap_or_else(|_| profile())
}

/// The number a raw register value stands for, in the register's unit: the
/// one conversion behind rollups, series, energy and alerts (`None`: no
/// measurement, a sentinel such as the inverter's "not available").
pub fn value(register: &Register, raw: u16) -> Option<f64> {
    (!register.is_sentinel(raw)).then(|| register.read(raw).value.to_f64())
}

/// Where a sample sits, besides its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct SampleMeta {
    /// Unix ms.
    pub t_ms: Option<u64>,
    /// Whether the time comes from the device's clock.
    pub device_time: bool,
    /// Some values are approximations.
    pub approximate: bool,
    /// The upload it came from.
    pub upload_id: i64,
    /// Its packet within that upload.
    pub packet: usize,
}

/// A sample for people: raw and converted values keyed by register name
/// (`reg{id}` for an id the profile does not know).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SampleJson {
    /// Where it sits.
    #[serde(flatten)]
    pub meta: SampleMeta,
    /// Raw register values.
    pub raw: BTreeMap<String, u16>,
    /// Converted values in the register's unit (`null` for an unknown register).
    pub values: BTreeMap<String, Option<f64>>,
}

/// A sample as JSON: `raw` and converted `values` keyed by the register
/// names of the device's `profile`.
pub fn sample_json(profile: &Profile, meta: SampleMeta, registers: &[(u8, u16)]) -> SampleJson {
    let mut raw = BTreeMap::new();
    let mut values = BTreeMap::new();
    for &(id, value) in registers {
        let (name, converted) = match profile.by_id(id) {
            Some(r) => (r.name.clone(), Some(r.read(value).value.to_f64())),
            None => (format!("reg{id}"), None),
        };
        raw.insert(name.clone(), value);
        values.insert(name, converted);
    }
    SampleJson { meta, raw, values }
}

/// Resolves a comma-separated list of register names or ids of `profile`.
///
/// # Errors
/// The first entry the profile does not know.
pub fn register_ids(profile: &Profile, list: &str) -> Result<Vec<u8>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let reference = s
                .parse::<i64>()
                .map_or(RegisterRef::Name(s), RegisterRef::Id);
            profile
                .lookup(reference)
                .map(|r| r.id)
                .map_err(|_| format!("unknown register {s:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_names_registers() {
        let meta = SampleMeta {
            t_ms: Some(1),
            device_time: true,
            approximate: false,
            upload_id: 7,
            packet: 0,
        };
        let v =
            serde_json::to_value(sample_json(profile(), meta, &[(0, 2304), (9, 1205)])).unwrap();
        assert_eq!(v["raw"]["Vac1"], 2304);
        assert_eq!(v["values"]["Vac1"], 230.4);
        assert_eq!(v["values"]["Pac"], 1205.0);
        assert_eq!(
            register_ids(profile(), "Vac1, pac,7").unwrap(),
            vec![0, 9, 7]
        );
        assert!(register_ids(profile(), "Nope").is_err());
        let pcs = profile_named(Some("pcs-1")).unwrap();
        let v = serde_json::to_value(sample_json(pcs, meta, &[(7, 0xFF9C)])).unwrap();
        assert_eq!(v["values"]["ActivePower"], -10.0);
        assert!(profile_named(Some("turbine")).is_err());
    }
}
