//! Remote configuration (spec §7.2): the defaults, the validation table,
//! and what a reported or acknowledged configuration means for the
//! pending changes. Fixes F22: only accepted keys ever become pending.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value, json};
use solarwire_core::registers::Catalog;
use utoipa::ToSchema;

/// The interval keys with their accepted range in seconds.
pub const INTERVALS: [(&str, u64, u64); 6] = [
    ("sampling_interval", 1, 300),
    ("upload_interval", 1, 3600),
    ("config_poll_interval", 1, 300),
    ("command_poll_interval", 1, 300),
    ("firmware_check_interval", 1, 86_400),
    ("energy_poll_interval", 1, 3600),
];

/// Register names in id order (the firmware stores a selection as a
/// bitmask, so its order is ascending id).
pub static REGISTERS: LazyLock<Vec<String>> = LazyLock::new(|| {
    Catalog::builtin()
        .default_profile()
        .map(|p| p.registers.iter().map(|r| r.name.clone()).collect())
        .unwrap_or_default()
});

/// The configuration of a device that reported none: the firmware's own
/// defaults.
pub fn defaults() -> Map<String, Value> {
    let registers: Vec<&str> = [0usize, 1, 5, 6, 7, 9]
        .iter()
        .filter_map(|&i| REGISTERS.get(i).map(String::as_str))
        .collect();
    let value = json!({
        "sampling_interval": 5,
        "upload_interval": 15,
        "config_poll_interval": 5,
        "command_poll_interval": 10,
        "firmware_check_interval": 6000,
        "energy_poll_interval": 300,
        "registers": registers,
        "power_management": {"enabled": false, "techniques": 0},
        "compression_enabled": true,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The answer to an operator update: `config_ack`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConfigAck {
    /// Keys that became pending.
    pub accepted: Vec<String>,
    /// Keys refused (see `errors`); the device never sees them.
    pub rejected: Vec<String>,
    /// Keys already at the requested value.
    pub unchanged: Vec<String>,
    /// Why each rejected key was refused.
    pub errors: BTreeMap<String, String>,
}

/// An update checked against the effective configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// The normalised accepted values that differ from the effective ones.
    pub changes: Map<String, Value>,
    /// The answer.
    pub ack: ConfigAck,
}

/// Checks every key of `update` against the table; `effective` is what
/// the device runs with the pending changes applied.
pub fn check(update: &Map<String, Value>, effective: &Map<String, Value>) -> Checked {
    let mut out = Checked::default();
    for (key, value) in update {
        match normalise(key, value) {
            Ok(value) if effective.get(key) == Some(&value) => out.ack.unchanged.push(key.clone()),
            Ok(value) => {
                out.ack.accepted.push(key.clone());
                out.changes.insert(key.clone(), value);
            }
            Err(reason) => {
                out.ack.rejected.push(key.clone());
                out.ack.errors.insert(key.clone(), reason);
            }
        }
    }
    out.ack.accepted.sort();
    out.ack.rejected.sort();
    out.ack.unchanged.sort();
    out
}

/// The keys of a running-configuration report that pass the table,
/// normalised (anything else is ignored: the device reports its state).
pub fn running_from_report(report: &Map<String, Value>) -> Map<String, Value> {
    report
        .iter()
        .filter_map(|(k, v)| normalise(k, v).ok().map(|v| (k.clone(), v)))
        .collect()
}

/// `base` with `changes` applied.
pub fn merged(base: &Map<String, Value>, changes: &Map<String, Value>) -> Map<String, Value> {
    let mut out = base.clone();
    out.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// Whether a reported running configuration shows the pending changes applied.
pub fn applies(pending: &Map<String, Value>, running: &Map<String, Value>) -> bool {
    pending.iter().all(|(k, v)| running.get(k) == Some(v))
}

/// The selection as the legacy `regs` bitmask (bit i = register id i).
pub fn register_mask(registers: &Value) -> u16 {
    registers
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|name| REGISTERS.iter().position(|r| r == name))
        .filter(|&i| i < 16)
        .fold(0, |mask, i| mask | (1 << i))
}

fn normalise(key: &str, value: &Value) -> Result<Value, String> {
    if let Some(&(_, low, high)) = INTERVALS.iter().find(|(k, ..)| *k == key) {
        return match value.as_u64() {
            Some(n) if (low..=high).contains(&n) => Ok(Value::from(n)),
            _ => Err(format!("an integer number of seconds, {low}–{high}")),
        };
    }
    match key {
        "registers" => registers(value),
        "power_management" => power_management(value),
        "compression_enabled" => value
            .as_bool()
            .map(Value::from)
            .ok_or_else(|| "true or false".to_owned()),
        _ => Err("unknown configuration key".to_owned()),
    }
}

fn registers(value: &Value) -> Result<Value, String> {
    let names = value
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or("a non-empty list of register names")?;
    let mut ids = Vec::new();
    for name in names {
        let name = name.as_str().ok_or("register names are strings")?;
        let id = REGISTERS.iter().position(|r| r == name).ok_or_else(|| {
            format!(
                "unknown register {name:?} (known: {})",
                REGISTERS.join(", ")
            )
        })?;
        ids.push(id);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(Value::from(
        ids.into_iter()
            .map(|i| REGISTERS[i].clone())
            .collect::<Vec<_>>(),
    ))
}

fn power_management(value: &Value) -> Result<Value, String> {
    const SHAPE: &str = "{\"enabled\": bool, \"techniques\": 0x00–0x0F}";
    let object = value.as_object().ok_or(SHAPE)?;
    if object.keys().any(|k| k != "enabled" && k != "techniques") {
        return Err(SHAPE.to_owned());
    }
    let enabled = object
        .get("enabled")
        .and_then(Value::as_bool)
        .ok_or(SHAPE)?;
    let techniques = match object.get("techniques") {
        None => 0,
        Some(Value::String(s)) => s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or(SHAPE)?,
        Some(v) => v.as_u64().and_then(|n| u8::try_from(n).ok()).ok_or(SHAPE)?,
    };
    if techniques > 0x0F {
        return Err(SHAPE.to_owned());
    }
    Ok(json!({"enabled": enabled, "techniques": techniques}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn only_accepted_keys_become_changes() {
        let update = object(json!({
            "sampling_interval": 10,
            "upload_interval": 0,
            "registers": ["Pac", "Vac1", "Pac"],
            "power_management": {"enabled": true, "techniques": "0x08"},
            "config_poll_interval": 5,
            "bogus": 1,
            "command_poll_interval": 2.5,
        }));
        let out = check(&update, &defaults());
        assert_eq!(
            Value::Object(out.changes),
            json!({
                "sampling_interval": 10,
                "registers": ["Vac1", "Pac"],
                "power_management": {"enabled": true, "techniques": 8},
            })
        );
        assert_eq!(out.ack.unchanged, ["config_poll_interval"]);
        assert_eq!(
            out.ack.rejected,
            ["bogus", "command_poll_interval", "upload_interval"]
        );
        assert!(out.ack.errors["bogus"].contains("unknown"));
    }

    #[test]
    fn bad_values_are_refused() {
        for (key, value) in [
            ("registers", json!([])),
            ("registers", json!(["Nope"])),
            (
                "power_management",
                json!({"enabled": true, "techniques": 16}),
            ),
            ("power_management", json!({"enabled": "yes"})),
            ("firmware_check_interval", json!(86_401)),
            ("sampling_interval", json!("5")),
        ] {
            let out = check(&object(json!({ key: value })), &defaults());
            assert_eq!(out.ack.rejected, [key], "{value}");
            assert!(out.changes.is_empty());
        }
    }

    #[test]
    fn reports_apply_pending_and_masks_follow_ids() {
        let pending = object(json!({"registers": ["Vac1", "Pac"]}));
        let running = running_from_report(&object(
            json!({"registers": ["Vac1", "Pac"], "timestamp": 5}),
        ));
        assert!(applies(&pending, &running));
        assert!(!applies(&pending, &defaults()));
        assert_eq!(register_mask(&json!(["Vac1", "Pac"])), 0b10_0000_0001);
    }
}
