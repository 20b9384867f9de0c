//! `inspect`: explains pasted text. The report is the core's serialized
//! form (the same shape the browser inspector shows), as plain dicts.

use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use solarwire_core::inspect::inspect as explain;

use crate::envelope::PyKeys;
use crate::gil;
use crate::registers::{ProfileArg, with_profile};

/// Explains an envelope, an upload body, or one packet in hex or base64.
/// With `keys`, the MAC is verified and an encrypted payload decrypted.
#[pyfunction]
#[pyo3(name = "inspect", signature = (text, keys = None, profile = None))]
pub(crate) fn inspect<'py>(
    py: Python<'py>,
    text: String,
    keys: Option<&Bound<'py, PyKeys>>,
    profile: Option<ProfileArg<'py>>,
) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let keys = keys.map(|k| &k.get().0);
    let json = with_profile(profile, |p| {
        gil::run(py, text.len(), || {
            serde_json::to_string(&explain(&text, keys, p))
        })
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    })?;
    let loads = LOADS.get_or_try_init(py, || {
        py.import(intern!(py, "json"))?
            .getattr(intern!(py, "loads"))
            .map(Bound::unbind)
    })?;
    loads.bind(py).call1((json,))
}
