//! Rules as people write them (API bodies and the rules file), checked
//! into stored rules: registers by name through the core's catalog.

use std::path::Path;

use serde::Deserialize;
use solarwire_core::registers::RegisterRef;
use utoipa::ToSchema;

use crate::store::alerts::{NewRule, RuleKind};

/// Longest rule name.
const MAX_NAME: usize = 128;
/// Most rules in the rules file.
pub const MAX_RULES: usize = 1000;
/// Largest rules file.
const MAX_FILE: u64 = 1024 * 1024;

/// A rule as written: `{"name", "kind", "register", "threshold", "window_s", "device_id"}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "inverter hot", "kind": "max", "register": "Temp", "threshold": 70.0}))]
pub struct RuleSpec {
    /// A name for people (1 to 128 bytes).
    name: String,
    /// What the rule watches.
    kind: RuleKind,
    /// One device, or every device when absent.
    #[serde(default)]
    #[schema(schema_with = crate::device_id::schema)]
    device_id: Option<String>,
    /// The register (name like `Pac`, key or id); not for `offline`.
    #[serde(default)]
    register: Option<String>,
    /// The limit of `min`, `max` and `step` rules.
    #[serde(default)]
    threshold: Option<f64>,
    /// The window of a `stuck` rule, 1 to 604800 seconds.
    #[serde(default)]
    window_s: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<RuleSpec>,
}

impl RuleSpec {
    /// Checks the rule.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn check(self) -> Result<NewRule, String> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(format!("a rule name is 1 to {MAX_NAME} bytes"));
        }
        if let Some(device) = &self.device_id {
            crate::device_id::check(device)?;
        }
        let register = match (self.kind, self.register.as_deref()) {
            (RuleKind::Offline | RuleKind::Status, None) => None,
            (RuleKind::Offline | RuleKind::Status, Some(_)) => {
                return Err(format!("a {} rule has no register", self.kind.as_str()));
            }
            (_, None) => return Err(format!("a {} rule needs a register", self.kind.as_str())),
            (_, Some(r)) => {
                let reference = r
                    .parse::<i64>()
                    .map_or(RegisterRef::Name(r), RegisterRef::Id);
                Some(
                    crate::readings::profile()
                        .lookup(reference)
                        .map_err(|_| format!("unknown register {r:?}"))?
                        .id,
                )
            }
        };
        let threshold = self.threshold.filter(|t| t.is_finite());
        match self.kind {
            RuleKind::Min | RuleKind::Max | RuleKind::Step if threshold.is_none() => {
                return Err(format!(
                    "a {} rule needs a finite threshold",
                    self.kind.as_str()
                ));
            }
            RuleKind::Stuck if self.window_s.is_none_or(|w| w == 0 || w > 7 * 86_400) => {
                return Err("a stuck rule needs window_s from 1 to 604800".into());
            }
            _ => {}
        }
        Ok(NewRule {
            name,
            device_id: self.device_id,
            kind: self.kind,
            register,
            threshold: match self.kind {
                RuleKind::Min | RuleKind::Max | RuleKind::Step => threshold,
                _ => None,
            },
            window_s: (self.kind == RuleKind::Stuck)
                .then_some(self.window_s)
                .flatten(),
        })
    }
}

/// Reads and checks the rules file.
///
/// # Errors
/// A message naming the file and the problem.
pub fn load(path: &Path) -> Result<Vec<NewRule>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "{} is larger than {MAX_FILE} bytes",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: RulesFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.rules.len() > MAX_RULES {
        return Err(format!("{}: at most {MAX_RULES} rules", path.display()));
    }
    file.rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.check()
                .map_err(|m| format!("{} rule {}: {m}", path.display(), i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<NewRule, String> {
        serde_json::from_str::<RuleSpec>(json)
            .map_err(|e| e.to_string())
            .and_then(RuleSpec::check)
    }

    #[test]
    fn rules_are_checked() {
        let r =
            spec(r#"{"name":"hot","kind":"max","register":"REG_TEMP","threshold":70}"#).unwrap();
        assert_eq!((r.register, r.threshold), (Some(7), Some(70.0)));
        assert!(spec(r#"{"name":"x","kind":"max","register":"Temp"}"#).is_err());
        assert!(spec(r#"{"name":"x","kind":"max","register":"Nope","threshold":1}"#).is_err());
        assert!(spec(r#"{"name":"x","kind":"stuck","register":"Pac"}"#).is_err());
        assert!(spec(r#"{"name":"x","kind":"offline","register":"Pac"}"#).is_err());
        assert!(spec(r#"{"name":"x","kind":"loud"}"#).is_err());
        let off = spec(r#"{"name":"gone","kind":"offline","device_id":"D1"}"#).unwrap();
        assert_eq!(off.device_id.as_deref(), Some("D1"));
    }

    #[test]
    fn the_rules_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.json");
        std::fs::write(
            &path,
            r#"{"rules":[{"name":"offline","kind":"offline"},{"name":"hot","kind":"max","register":"Temp","threshold":60}]}"#,
        )
        .unwrap();
        assert_eq!(load(&path).unwrap().len(), 2);
        std::fs::write(&path, r#"{"rules":[{"name":"bad","kind":"max"}]}"#).unwrap();
        assert!(load(&path).unwrap_err().contains("rule 1"));
    }
}
