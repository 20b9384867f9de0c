//! Opening and sealing envelopes.

use pyo3::prelude::*;
use solarwire_core::replay::LastAccepted;
use solarwire_core::{DeviceId, Keys, Nonce, SealOptions, open, seal};

use crate::bytes::{Bytes, Text};
use crate::errors::to_py_err;
use crate::gil;
use crate::repr;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKeys>()?;
    m.add_class::<Opened>()?;
    m.add_class::<Sealed>()?;
    m.add_function(wrap_pyfunction!(open_envelope, m)?)?;
    m.add_function(wrap_pyfunction!(seal_envelope, m)?)?;
    Ok(())
}

/// A device's secrets; the `repr` never shows them.
#[pyclass(name = "Keys", module = "solarwire", frozen)]
pub(crate) struct PyKeys(pub(crate) Keys);

#[pymethods]
impl PyKeys {
    #[new]
    #[pyo3(signature = (mac_key, aes_key = None, aes_iv = None))]
    fn new(
        mac_key: Bytes<'_>,
        aes_key: Option<Bytes<'_>>,
        aes_iv: Option<Bytes<'_>>,
    ) -> PyResult<Self> {
        Keys::from_parts(&mac_key, aes_key.as_deref(), aes_iv.as_deref())
            .map(Self)
            .map_err(to_py_err)
    }

    /// Whether an AES key is configured.
    #[getter]
    fn has_aes(&self) -> bool {
        self.0.has_aes()
    }

    fn __repr__(&self) -> String {
        format!(
            "Keys(<secret>, has_aes={})",
            if self.0.has_aes() { "True" } else { "False" }
        )
    }
}

/// A verified envelope.
#[pyclass(module = "solarwire", frozen, get_all, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct Opened {
    nonce: u32,
    payload: Vec<u8>,
    encrypted: bool,
    compressed: bool,
}

#[pymethods]
impl Opened {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(slf, &["nonce", "payload", "encrypted", "compressed"])
    }
}

/// A sealed envelope: the text the device posts, and its parts.
#[pyclass(module = "solarwire", frozen, get_all, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct Sealed {
    envelope: String,
    mac_hex: String,
    payload_b64: String,
}

#[pymethods]
impl Sealed {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(slf, &["envelope"])
    }
}

/// Parses, decrypts if flagged, verifies the MAC, then checks the nonce
/// against `last_nonce` (the highest already accepted) — in that order.
#[pyfunction]
#[pyo3(signature = (envelope, keys, *, last_nonce = None))]
fn open_envelope(
    py: Python<'_>,
    envelope: Text<'_>,
    keys: &Bound<'_, PyKeys>,
    last_nonce: Option<u32>,
) -> PyResult<Opened> {
    let keys = &keys.get().0;
    let mut last = last_accepted(last_nonce);
    let device = DeviceId::new(String::new());
    let opened = gil::run(py, envelope.len(), || {
        open(&envelope, keys, &device, &mut last)
    })
    .map_err(to_py_err)?;
    let v = opened.verified;
    Ok(Opened {
        nonce: v.nonce.0,
        payload: v.payload,
        encrypted: v.encrypted,
        compressed: v.compressed,
    })
}

/// `last_nonce` as the replay state of the one device in question (no MAC:
/// never an identical resend).
pub(crate) fn last_accepted(last_nonce: Option<u32>) -> Option<LastAccepted> {
    last_nonce.map(|n| LastAccepted {
        nonce: Nonce(n),
        mac: None,
    })
}

/// Seals `payload` under `nonce` exactly as the device does.
#[pyfunction]
#[pyo3(signature = (payload, nonce, keys, *, encrypt = false, compressed = false))]
fn seal_envelope(
    py: Python<'_>,
    payload: Text<'_>,
    nonce: u32,
    keys: &Bound<'_, PyKeys>,
    encrypt: bool,
    compressed: bool,
) -> PyResult<Sealed> {
    let keys = &keys.get().0;
    let opts = SealOptions {
        encrypt,
        compressed,
    };
    let sealed = gil::run(py, payload.len(), || {
        seal(&payload, Nonce(nonce), keys, opts)
    })
    .map_err(to_py_err)?;
    Ok(Sealed {
        envelope: sealed.envelope,
        mac_hex: sealed.mac_hex,
        payload_b64: sealed.payload_b64,
    })
}
