//! `inspect`: explains whatever a person pasted.

use solarwire_core::inspect;
use wasm_bindgen::prelude::*;

use crate::args::{arg, optional_keys};
use crate::out::to_js;
use crate::registers::profile_arg;
use crate::samples::Columns;

/// Explains an envelope, an upload body, or one packet in hex or base64
/// (`Inspection`): every stage's verdict, the payload, each packet's codec
/// and sizes, and the samples in units (as objects and as typed-array
/// `columns`). Never throws for any text: input it does not recognise is a
/// failed `detect` stage.
#[wasm_bindgen(unchecked_return_type = "Inspection")]
pub fn inspect(
    #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Keys | null")] keys: JsValue,
    #[wasm_bindgen(js_name = profile, unchecked_optional_param_type = "string")]
    profile_name: JsValue,
) -> Result<JsValue, JsValue> {
    let text: String = arg(text, "text")?;
    let keys = optional_keys(keys, "keys")?;
    let profile = profile_arg(profile_name)?;
    let inspection = inspect::inspect(&text, keys.as_ref(), profile);
    let mut columns = Columns::default();
    for sample in &inspection.samples {
        columns.sample(sample.t_ms, sample.packet, sample.approximate);
        for r in &sample.readings {
            columns.reading(r.id, r.raw, r.value);
        }
    }
    let result = to_js(&inspection)?;
    js_sys::Reflect::set(&result, &"columns".into(), &columns.into_js())?;
    Ok(result)
}
