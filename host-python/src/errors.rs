//! The exception hierarchy (architecture §3) and the one mapping from core
//! errors onto it. Every instance carries the stable `.code`.

use std::fmt;

use pyo3::prelude::*;
use solarwire_core::{ArgumentError, CodecError, EnvelopeError, OpenError, UnitError, UploadError};

/// The Python classes, named as Python sees them.
mod class {
    use pyo3::create_exception;
    use pyo3::exceptions::PyValueError;

    create_exception!(
        solarwire,
        SolarwireError,
        PyValueError,
        "Base of every solarwire error; `code` is the stable error code."
    );
    create_exception!(
        solarwire,
        EnvelopeError,
        SolarwireError,
        "The envelope's structure, decryption or MAC failed."
    );
    create_exception!(
        solarwire,
        ReplayError,
        SolarwireError,
        "The nonce is not greater than the last accepted one."
    );
    create_exception!(
        solarwire,
        CodecError,
        SolarwireError,
        "A packet could not be decoded."
    );
    create_exception!(
        solarwire,
        UnitError,
        SolarwireError,
        "An unknown register or profile, a raw value out of range, or an invalid catalog."
    );
    create_exception!(
        solarwire,
        UploadError,
        SolarwireError,
        "An upload body of the wrong shape or size."
    );
    create_exception!(
        solarwire,
        ArgumentError,
        SolarwireError,
        "An argument whose value the core refuses (an encoder's method or register ids, a key's parts)."
    );
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SolarwireError", py.get_type::<class::SolarwireError>())?;
    m.add("EnvelopeError", py.get_type::<class::EnvelopeError>())?;
    m.add("ReplayError", py.get_type::<class::ReplayError>())?;
    m.add("CodecError", py.get_type::<class::CodecError>())?;
    m.add("UnitError", py.get_type::<class::UnitError>())?;
    m.add("UploadError", py.get_type::<class::UploadError>())?;
    m.add("ArgumentError", py.get_type::<class::ArgumentError>())?;
    Ok(())
}

/// Declares [`Failure`], one variant per core error type, with its code,
/// message and a `From` for each.
macro_rules! failures {
    ($($variant:ident($error:ty)),* $(,)?) => {
        /// Any error a core call can return.
        pub(crate) enum Failure {
            $($variant($error)),*
        }

        impl Failure {
            fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant(e) => e.code()),*
                }
            }
        }

        impl fmt::Display for Failure {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant(e) => e.fmt(f)),*
                }
            }
        }

        $(impl From<$error> for Failure {
            fn from(e: $error) -> Self {
                Self::$variant(e)
            }
        })*
    };
}

failures!(
    Open(OpenError),
    Envelope(EnvelopeError),
    Codec(CodecError),
    Unit(UnitError),
    Upload(UploadError),
    Argument(ArgumentError),
);

/// The exception for a core error: its class is the concern that failed (an
/// upload whose MAC fails raises `EnvelopeError`), its `code` the core's code.
pub(crate) fn to_py_err(error: impl Into<Failure>) -> PyErr {
    let error = error.into();
    let message = error.to_string();
    let err = match &error {
        Failure::Open(OpenError::Replay(_)) | Failure::Upload(UploadError::Replay(_)) => {
            class::ReplayError::new_err(message)
        }
        Failure::Open(_) | Failure::Envelope(_) | Failure::Upload(UploadError::Envelope(_)) => {
            class::EnvelopeError::new_err(message)
        }
        Failure::Codec(_) | Failure::Upload(UploadError::Codec(_)) => {
            class::CodecError::new_err(message)
        }
        Failure::Unit(_) => class::UnitError::new_err(message),
        Failure::Upload(_) => class::UploadError::new_err(message),
        Failure::Argument(_) => class::ArgumentError::new_err(message),
    };
    Python::attach(|py| match err.value(py).setattr("code", error.code()) {
        Ok(()) => err,
        Err(setattr_failed) => setattr_failed,
    })
}
