//! Readable `repr`s for result classes: `Name(field=value, …)`, as
//! dataclasses print, built from the object's own attributes.

use std::fmt::Write as _;

use pyo3::prelude::*;
use pyo3::types::PyTypeMethods;

pub(crate) fn fields(obj: &Bound<'_, PyAny>, names: &[&str]) -> PyResult<String> {
    let mut out = obj.get_type().name()?.to_string();
    out.push('(');
    for (i, name) in names.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let value = obj.getattr(*name)?.repr()?;
        let _ = write!(out, "{sep}{name}={value}");
    }
    out.push(')');
    Ok(out)
}
