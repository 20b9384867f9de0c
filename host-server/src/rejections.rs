//! Refused uploads per device and reason since the server started, for the
//! device statistics. Bounded: ids are not authenticated when refused, so
//! after `MAX_DEVICES` distinct ids only known ones are counted.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

const MAX_DEVICES: usize = 10_000;

/// Counters of refused uploads by device and error code.
#[derive(Debug, Default)]
pub struct Rejections {
    by_device: Mutex<HashMap<String, BTreeMap<&'static str, u64>>>,
}

impl Rejections {
    /// Counts one refused upload.
    pub fn record(&self, device: &str, code: &'static str) {
        let Ok(mut map) = self.by_device.lock() else {
            return;
        };
        if let Some(codes) = map.get_mut(device) {
            *codes.entry(code).or_default() += 1;
        } else if map.len() < MAX_DEVICES {
            map.insert(device.to_owned(), BTreeMap::from([(code, 1)]));
        }
    }

    /// The counts of one device.
    pub fn of(&self, device: &str) -> BTreeMap<&'static str, u64> {
        self.by_device
            .lock()
            .ok()
            .and_then(|m| m.get(device).cloned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_per_device_and_code() {
        let r = super::Rejections::default();
        r.record("A", "replay");
        r.record("A", "replay");
        r.record("A", "unauthorized");
        assert_eq!(r.of("A").get("replay"), Some(&2));
        assert_eq!(r.of("A").len(), 2);
        assert!(r.of("B").is_empty());
    }
}
