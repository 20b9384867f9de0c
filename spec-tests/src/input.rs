//! Reading vector fields strictly: a wrong type is a file error, not a skip.

use serde_json::{Map, Value};

use crate::FileError;

pub(crate) type Vector = Map<String, Value>;

pub(crate) fn str_field<'v>(v: &'v Vector, key: &str) -> Result<&'v str, FileError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| FileError::new(format!("field {key} must be a string")))
}

pub(crate) fn opt_str<'v>(v: &'v Vector, key: &str) -> Result<Option<&'v str>, FileError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FileError::new(format!("field {key} must be a string"))),
    }
}

pub(crate) fn hex_field(v: &Vector, key: &str) -> Result<Vec<u8>, FileError> {
    hex(str_field(v, key)?).ok_or_else(|| FileError::new(format!("field {key} is not hex")))
}

pub(crate) fn opt_hex(v: &Vector, key: &str) -> Result<Option<Vec<u8>>, FileError> {
    opt_str(v, key)?
        .map(|s| hex(s).ok_or_else(|| FileError::new(format!("field {key} is not hex"))))
        .transpose()
}

pub(crate) fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn opt_u64(v: &Vector, key: &str) -> Result<Option<u64>, FileError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_u64()
            .map(Some)
            .ok_or_else(|| FileError::new(format!("field {key} must be an unsigned integer"))),
    }
}

pub(crate) fn opt_bool(v: &Vector, key: &str) -> Result<Option<bool>, FileError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(FileError::new(format!("field {key} must be a boolean"))),
    }
}

pub(crate) fn u16_list(value: &Value, what: &str) -> Result<Vec<u16>, FileError> {
    int_list(value, what, "u16")
}

pub(crate) fn u8_list(value: &Value, what: &str) -> Result<Vec<u8>, FileError> {
    int_list(value, what, "u8")
}

fn int_list<T: TryFrom<u64>>(value: &Value, what: &str, ty: &str) -> Result<Vec<T>, FileError> {
    let bad = || FileError::new(format!("{what} must be a list of {ty}"));
    let items = value.as_array().ok_or_else(bad)?;
    items
        .iter()
        .map(|x| x.as_u64().and_then(|x| T::try_from(x).ok()).ok_or_else(bad))
        .collect()
}
