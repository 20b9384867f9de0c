//! Register conversion: `convertRegister`, `registers`, `profiles`.

use std::sync::OnceLock;

use serde::Serialize;
use solarwire_core::inspect::ReadingInfo;
use solarwire_core::registers::{Catalog, DEFAULT_PROFILE, Profile, RegisterRef};
use wasm_bindgen::prelude::*;

use crate::args::arg;
use crate::error::{error, type_error};
use crate::out::to_js;

/// The built-in catalog, parsed once: it is constant and every conversion needs it.
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

/// The built-in profile `name` (default `ecowatt-1.3`).
///
/// # Errors
/// `UnitError` `unknown_profile`.
pub(crate) fn profile(name: Option<&str>) -> Result<&'static Profile, JsValue> {
    catalog()
        .profile(name.unwrap_or(DEFAULT_PROFILE))
        .map_err(|e| error(&e))
}

/// The profile named by an optional `profile` argument.
pub(crate) fn profile_arg(name: JsValue) -> Result<&'static Profile, JsValue> {
    profile(arg::<Option<String>>(name, "profile")?.as_deref())
}

/// Converts a raw register value to engineering units (`Reading`).
#[wasm_bindgen(js_name = convertRegister, unchecked_return_type = "Reading")]
pub fn convert_register(
    #[wasm_bindgen(unchecked_param_type = "string | number")] register: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] raw: JsValue,
    #[wasm_bindgen(js_name = profile, unchecked_optional_param_type = "string")]
    profile_name: JsValue,
) -> Result<JsValue, JsValue> {
    // By `Vac1`, `REG_VAC1` (any letter case) or the numeric id.
    let name = register.as_string();
    let reference = match (&name, register.as_f64()) {
        (Some(name), _) => RegisterRef::Name(name),
        (None, Some(id)) => RegisterRef::Id(integer(id, "register")?),
        (None, None) => return Err(type_error("register", "must be a string or a number")),
    };
    let raw = raw
        .as_f64()
        .ok_or_else(|| type_error("raw", "must be a number"))?;
    let raw = integer(raw, "raw")?;
    let reading = profile_arg(profile_name)?
        .convert(reference, raw)
        .map_err(|e| error(&e))?;
    to_js(&ReadingInfo::from(reading))
}

/// Every register of a profile (`Register[]`), in id order.
#[wasm_bindgen(unchecked_return_type = "Register[]")]
pub fn registers(
    #[wasm_bindgen(js_name = profile, unchecked_optional_param_type = "string")]
    profile_name: JsValue,
) -> Result<JsValue, JsValue> {
    to_js(&profile_arg(profile_name)?.registers)
}

/// `ProfileSummary` in TypeScript.
#[derive(Serialize)]
struct ProfileSummary<'a> {
    name: &'a str,
    kind: &'static str,
    description: &'a str,
}

/// The built-in profiles' names and descriptions (`ProfileSummary[]`).
#[wasm_bindgen(unchecked_return_type = "ProfileSummary[]")]
pub fn profiles() -> Result<JsValue, JsValue> {
    let summaries: Vec<ProfileSummary<'_>> = catalog()
        .profiles()
        .iter()
        .map(|p| ProfileSummary {
            name: &p.name,
            kind: p.kind.code(),
            description: &p.description,
        })
        .collect();
    to_js(&summaries)
}

/// A JS number that must be an integer; any integer passes, so that the
/// core reports one outside its range (`out_of_range`, `unknown_register`).
fn integer(number: f64, name: &str) -> Result<i64, JsValue> {
    if number.fract() == 0.0 {
        // Saturates beyond i64, which the core then refuses as out of range.
        Ok(number as i64)
    } else {
        Err(type_error(name, format!("{number} is not an integer")))
    }
}
