//! # solarwire (Python)
//!
//! Python bindings of `solarwire-core`, built by maturin as the abi3 module
//! `solarwire`. Each function converts its Python arguments, makes one core
//! call (with the GIL released where the work can be large), and converts
//! the result or the error. The typed surface is `python/solarwire/__init__.pyi`; errors are
//! mapped in one place, [`errors::to_py_err`].

mod bytes;
mod codec;
mod envelope;
mod errors;
mod gil;
mod inspect;
mod registers;
mod repr;
mod state;
mod upload;

use pyo3::prelude::*;

/// EcoWatt envelopes, codecs and register conversions: the solarwire core.
///
/// Every error is a `SolarwireError` (a `ValueError`) whose `code` is the
/// stable code shared with the server, the wasm build and the vector files.
#[pymodule]
fn solarwire(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    envelope::register(m)?;
    codec::register(m)?;
    registers::register(m)?;
    upload::register(m)?;
    m.add_function(wrap_pyfunction!(inspect::inspect, m)?)?;
    Ok(())
}
