//! The samples of `parseUpload`, built in JS from flat columns (`samples.js`
//! says why).

use solarwire_core::inspect::ReadingInfo;
use solarwire_core::registers::Profile;
use solarwire_core::upload::Sample;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/samples.js")]
extern "C" {
    #[wasm_bindgen(js_name = buildSamples)]
    #[allow(clippy::too_many_arguments)] // one column each
    fn build_samples(
        t_ms: &[f64],
        packet: &[u32],
        approximate: &[u8],
        counts: &[u32],
        ids: &[u8],
        raw: &[u16],
        value: &[f64],
        strings: &str,
    ) -> JsValue;
}

/// The samples, each value converted by `profile`, as `Sample[]`.
pub(crate) fn samples(decoded: &[Sample], profile: &Profile) -> JsValue {
    let readings: Vec<ReadingInfo> = decoded
        .iter()
        .flat_map(|s| {
            s.registers
                .iter()
                .map(|&(id, raw)| ReadingInfo::new(profile, id, raw))
        })
        .collect();
    // Names and units come from the built-in catalog and texts are numbers
    // with a unit: none holds the NUL that separates them.
    let mut strings = String::with_capacity(readings.len() * 16);
    for r in &readings {
        for part in [&r.name, &r.unit, &r.text] {
            strings.push_str(part);
            strings.push('\0');
        }
    }
    build_samples(
        // Unix ms as a JS number: exact below 2^53 (solarwire.d.ts).
        &decoded
            .iter()
            .map(|s| s.t_ms.map_or(f64::NAN, |t| t as f64))
            .collect::<Vec<_>>(),
        &decoded.iter().map(|s| s.packet as u32).collect::<Vec<_>>(),
        &decoded
            .iter()
            .map(|s| u8::from(s.approximate))
            .collect::<Vec<_>>(),
        &decoded
            .iter()
            .map(|s| s.registers.len() as u32)
            .collect::<Vec<_>>(),
        &readings.iter().map(|r| r.id).collect::<Vec<_>>(),
        &readings.iter().map(|r| r.raw).collect::<Vec<_>>(),
        &readings
            .iter()
            .map(|r| r.value.unwrap_or(f64::NAN))
            .collect::<Vec<_>>(),
        &strings,
    )
}
