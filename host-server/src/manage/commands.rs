//! Commands (spec §7.3): the actions the firmware executes, checked when
//! they are queued so an unknown action never reaches a device.

use serde_json::{Map, Value};

/// Every action the firmware executes.
pub const ACTIONS: [&str; 7] = [
    "write_register",
    "set_power",
    "set_power_percentage",
    "get_power_stats",
    "reset_power_stats",
    "get_peripheral_stats",
    "reset_peripheral_stats",
];

/// Register names the firmware's command path knows, with their address.
const REGISTER_NAMES: [(&str, u16); 3] = [
    ("export_power", 8),
    ("export_power_percent", 8),
    ("status_flag", 0),
];

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// `unknown_action` or `bad_command`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

fn bad(message: impl Into<String>) -> CommandError {
    CommandError {
        code: "bad_command",
        message: message.into(),
    }
}

/// Checks `{"action", "target_register", "value"}` and returns what the
/// device receives (with `register_address` and `register_name` added for
/// register writes).
///
/// # Errors
/// `unknown_action`, or `bad_command` naming the field.
pub fn check(command: &Value) -> Result<Value, CommandError> {
    let object = command
        .as_object()
        .ok_or_else(|| bad("`command` is an object with `action`"))?;
    if let Some(extra) = object
        .keys()
        .find(|k| !["action", "target_register", "value"].contains(&k.as_str()))
    {
        return Err(bad(format!("unknown field {extra:?}")));
    }
    let action = object
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`action` is required"))?;
    if !ACTIONS.contains(&action) {
        return Err(CommandError {
            code: "unknown_action",
            message: format!("unknown action {action:?} (known: {})", ACTIONS.join(", ")),
        });
    }
    let mut out = Map::new();
    out.insert("action".into(), action.into());
    let value = object.get("value");
    match action {
        "write_register" => {
            let target = object
                .get("target_register")
                .ok_or_else(|| bad("`target_register` is required"))?;
            let (address, name) = register(target)?;
            let value = value
                .and_then(Value::as_u64)
                .filter(|&v| v <= u64::from(u16::MAX))
                .ok_or_else(|| bad("`value` is an integer 0–65535"))?;
            out.insert("target_register".into(), target.clone());
            out.insert("value".into(), value.into());
            out.insert("register_address".into(), address.into());
            out.insert("register_name".into(), name.into());
        }
        "set_power" => {
            let watts = value
                .and_then(Value::as_f64)
                .filter(|w| (0.0..=1_000_000.0).contains(w))
                .ok_or_else(|| bad("`value` is the power in watts, 0–1000000"))?;
            out.insert("value".into(), watts.into());
        }
        "set_power_percentage" => {
            let percent = value
                .and_then(Value::as_u64)
                .filter(|&p| p <= 100)
                .ok_or_else(|| bad("`value` is an integer percentage, 0–100"))?;
            out.insert("value".into(), percent.into());
        }
        _ => {}
    }
    Ok(Value::Object(out))
}

fn register(target: &Value) -> Result<(u16, String), CommandError> {
    if let Some(name) = target.as_str() {
        return REGISTER_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(n, a)| (a, n.to_owned()))
            .ok_or_else(|| {
                bad(format!(
                    "unknown register {name:?} (a number, or export_power, export_power_percent, status_flag)"
                ))
            });
    }
    target
        .as_u64()
        .and_then(|a| u16::try_from(a).ok())
        .map(|a| (a, format!("register_{a}")))
        .ok_or_else(|| bad("`target_register` is a register name or an address 0–65535"))
}

/// A random version-4 UUID for a new command.
///
/// # Errors
/// When the OS gives no randomness.
pub fn new_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn actions_are_checked_at_queue_time() {
        let out = check(
            &json!({"action": "write_register", "target_register": "export_power", "value": 50}),
        )
        .unwrap();
        assert_eq!(out["register_address"], 8);
        assert_eq!(out["register_name"], "export_power");
        assert_eq!(
            check(&json!({"action": "reboot"})).unwrap_err().code,
            "unknown_action"
        );
        for bad in [
            json!({"action": "write_register", "value": 1}),
            json!({"action": "write_register", "target_register": "nope", "value": 1}),
            json!({"action": "write_register", "target_register": 8, "value": 70000}),
            json!({"action": "set_power_percentage", "value": 101}),
            json!({"action": "set_power", "value": -1}),
            json!({"action": "get_power_stats", "extra": 1}),
            json!("write_register"),
        ] {
            assert_eq!(check(&bad).unwrap_err().code, "bad_command", "{bad}");
        }
        assert!(check(&json!({"action": "get_power_stats"})).is_ok());
    }

    #[test]
    fn ids_are_uuid_v4() {
        let id = new_id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_id().unwrap());
    }
}
