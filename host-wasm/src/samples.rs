//! The samples of an upload for JS: the typed-array columns (the fast form)
//! and the `Sample` objects built from them in JS (`samples.js` says why).

use solarwire_core::inspect::ReadingInfo;
use solarwire_core::registers::Profile;
use solarwire_core::upload::Sample;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/samples.js")]
extern "C" {
    #[wasm_bindgen(js_name = uploadColumns)]
    #[allow(clippy::too_many_arguments)] // one column each
    fn upload_columns(
        t_ms: &[f64],
        packet: &[u32],
        approximate: &[u8],
        offsets: &[u32],
        ids: &[u8],
        raw: &[u16],
        values: &[f64],
    ) -> JsValue;

    #[wasm_bindgen(js_name = buildSamples)]
    fn build_samples(columns: &JsValue, strings: &str, flags: &str) -> JsValue;
}

/// Samples as `UploadColumns`: one entry per sample in `tMs`, `packet` and
/// `approximate`; sample `s` has the readings `offsets[s]..offsets[s + 1]`
/// of `ids`, `raw` and `values`.
#[derive(Default)]
pub(crate) struct Columns {
    t_ms: Vec<f64>,
    packet: Vec<u32>,
    approximate: Vec<u8>,
    offsets: Vec<u32>,
    ids: Vec<u8>,
    raw: Vec<u16>,
    values: Vec<f64>,
}

impl Columns {
    /// Starts the next sample.
    pub(crate) fn sample(&mut self, t_ms: Option<u64>, packet: usize, approximate: bool) {
        // Unix ms as a JS number: exact below 2^53 (solarwire.d.ts).
        self.t_ms.push(t_ms.map_or(f64::NAN, |t| t as f64));
        self.packet.push(packet as u32);
        self.approximate.push(u8::from(approximate));
        self.offsets.push(self.reading_count());
    }

    /// Adds a reading to the current sample.
    pub(crate) fn reading(&mut self, id: u8, raw: u16, value: Option<f64>) {
        self.ids.push(id);
        self.raw.push(raw);
        self.values.push(value.unwrap_or(f64::NAN));
    }

    /// The columns as JS typed arrays.
    pub(crate) fn into_js(mut self) -> JsValue {
        self.offsets.push(self.reading_count());
        upload_columns(
            &self.t_ms,
            &self.packet,
            &self.approximate,
            &self.offsets,
            &self.ids,
            &self.raw,
            &self.values,
        )
    }

    fn reading_count(&self) -> u32 {
        // An upload holds at most 64 packets of 4096 values.
        u32::try_from(self.ids.len()).unwrap_or(u32::MAX)
    }
}

/// Decoded samples as `UploadColumns`, each value converted by `profile`.
pub(crate) fn columns(decoded: &[Sample], profile: &Profile) -> JsValue {
    let mut columns = Columns::default();
    for sample in decoded {
        columns.sample(sample.t_ms, sample.packet, sample.approximate);
        for &(id, raw) in &sample.registers {
            let value = profile.by_id(id).map(|r| r.read(raw).value.to_f64());
            columns.reading(id, raw, value);
        }
    }
    columns.into_js()
}

/// The samples as `Sample[]`, from their `columns` and `profile`.
pub(crate) fn samples(
    decoded: &[Sample],
    profile: &Profile,
    columns: &JsValue,
) -> Result<JsValue, JsValue> {
    let readings: Vec<ReadingInfo> = decoded
        .iter()
        .flat_map(|s| {
            s.registers
                .iter()
                .map(|&(id, raw)| ReadingInfo::new(profile, id, raw))
        })
        .collect();
    // Names, units and state names come from the built-in catalog and texts
    // are numbers with a unit: none holds the NUL that separates them.
    let mut strings = String::with_capacity(readings.len() * 16);
    for r in &readings {
        for part in [&r.name, &r.unit, &r.text] {
            strings.push_str(part);
            strings.push('\0');
        }
        strings.push_str(r.state.as_deref().unwrap_or_default());
        strings.push('\0');
    }
    let flags: Vec<_> = readings.iter().map(|r| &r.flags).collect();
    let flags = serde_json::to_string(&flags)
        .map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))?;
    Ok(build_samples(columns, &strings, &flags))
}
