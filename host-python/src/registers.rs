//! Register catalogs and conversion to engineering units.

use std::sync::OnceLock;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString};
use solarwire_core::registers::{Bit, Kind, Register as CoreRegister};
use solarwire_core::{Catalog, Profile, RegisterRef};

use crate::errors::to_py_err;
use crate::repr;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProfile>()?;
    m.add_class::<Register>()?;
    m.add_class::<Reading>()?;
    m.add_class::<Flag>()?;
    m.add_function(wrap_pyfunction!(registers, m)?)?;
    m.add_function(wrap_pyfunction!(convert_register, m)?)?;
    Ok(())
}

/// The built-in catalog, parsed once.
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

/// A register table: a built-in one by name, or another model's from JSON.
#[pyclass(name = "Profile", module = "solarwire", frozen, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct PyProfile(Profile);

#[pymethods]
impl PyProfile {
    #[new]
    fn new(name: String) -> PyResult<Self> {
        catalog()
            .profile(&name)
            .cloned()
            .map(Self)
            .map_err(to_py_err)
    }

    /// Loads and validates another inverter model's table.
    #[staticmethod]
    fn from_json(text: String) -> PyResult<Self> {
        Profile::from_json(&text).map(Self).map_err(to_py_err)
    }

    /// The names of the built-in profiles.
    #[staticmethod]
    fn builtin_names() -> Vec<String> {
        catalog()
            .profiles()
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }

    #[getter]
    fn description(&self) -> &str {
        &self.0.description
    }

    /// The kind of device (`inverter-logger`, `bess-rack`, `pcs`, `meter`,
    /// `string-inverter`).
    #[getter]
    fn kind(&self) -> &'static str {
        self.0.kind.code()
    }

    fn __repr__(&self) -> String {
        format!("Profile({:?})", self.0.name)
    }
}

/// A `profile` argument: a built-in profile's name or a `Profile` (`None`
/// means the default).
pub(crate) enum ProfileArg<'py> {
    Name(String),
    Object(Bound<'py, PyProfile>),
}

impl<'py> FromPyObject<'_, 'py> for ProfileArg<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(profile) = obj.cast::<PyProfile>() {
            Ok(Self::Object(profile.to_owned()))
        } else if let Ok(name) = obj.cast::<PyString>() {
            Ok(Self::Name(name.to_cow()?.into_owned()))
        } else {
            Err(PyTypeError::new_err(
                "profile must be a built-in profile's name (str) or a Profile",
            ))
        }
    }
}

/// Resolves an optional `profile` argument.
pub(crate) fn with_profile<T>(
    arg: Option<ProfileArg<'_>>,
    f: impl FnOnce(&Profile) -> PyResult<T>,
) -> PyResult<T> {
    match arg {
        None => f(catalog().default_profile().map_err(to_py_err)?),
        Some(ProfileArg::Name(name)) => f(catalog().profile(&name).map_err(to_py_err)?),
        Some(ProfileArg::Object(p)) => f(&p.get().0),
    }
}

/// One register of a profile.
#[pyclass(module = "solarwire", frozen, get_all, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct Register {
    id: u8,
    name: String,
    key: String,
    addr: u16,
    unit: String,
    scale: i8,
    offset: i32,
    decimals: u8,
    kind: &'static str,
    writable: bool,
    description: String,
}

impl From<&CoreRegister> for Register {
    fn from(r: &CoreRegister) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            key: r.key.clone(),
            addr: r.addr,
            unit: r.unit.clone(),
            scale: r.scale,
            offset: r.offset,
            decimals: r.decimals,
            kind: match r.kind {
                Kind::U16 => "u16",
                Kind::I16 => "i16",
            },
            writable: r.writable,
            description: r.description.clone(),
        }
    }
}

#[pymethods]
impl Register {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(
            slf,
            &[
                "id", "name", "key", "addr", "unit", "scale", "decimals", "kind",
            ],
        )
    }
}

/// A raw register value in engineering units.
#[pyclass(module = "solarwire", frozen, get_all, eq)]
#[derive(PartialEq)]
pub(crate) struct Reading {
    id: u8,
    name: String,
    key: String,
    raw: u16,
    value: f64,
    unit: String,
    text: String,
    state: Option<String>,
    flags: Vec<Flag>,
}

#[pymethods]
impl Reading {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(slf, &["key", "raw", "value", "unit", "text"])
    }
}

/// The meaning of a bit set in a status word.
#[pyclass(module = "solarwire", frozen, get_all, eq)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Flag {
    bit: u8,
    name: String,
    severity: &'static str,
}

impl From<&Bit> for Flag {
    fn from(b: &Bit) -> Self {
        Self {
            bit: b.bit,
            name: b.name.clone(),
            severity: b.severity.code(),
        }
    }
}

#[pymethods]
impl Flag {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(slf, &["bit", "name", "severity"])
    }
}

/// The registers of a profile, in id order.
#[pyfunction]
#[pyo3(signature = (profile = None))]
fn registers(profile: Option<ProfileArg<'_>>) -> PyResult<Vec<Register>> {
    with_profile(profile, |p| {
        Ok(p.registers.iter().map(Register::from).collect())
    })
}

/// Converts a raw value of a register (a name such as `REG_VAC1` or `Vac1`,
/// or a numeric id) to engineering units.
#[pyfunction]
#[pyo3(signature = (register, raw, profile = None))]
fn convert_register(
    register: &Bound<'_, PyAny>,
    raw: &Bound<'_, PyInt>,
    profile: Option<ProfileArg<'_>>,
) -> PyResult<Reading> {
    let name;
    let reference = if let Ok(id) = register.cast::<PyInt>() {
        RegisterRef::Id(saturate(id)?)
    } else if let Ok(text) = register.cast::<PyString>() {
        name = text.to_cow()?;
        RegisterRef::Name(&name)
    } else {
        return Err(PyTypeError::new_err(
            "register must be a name (str) or an id (int)",
        ));
    };
    let raw = saturate(raw)?;
    with_profile(profile, |p| {
        let reading = p.convert(reference, raw).map_err(to_py_err)?;
        let r = reading.register;
        Ok(Reading {
            id: r.id,
            name: r.name.clone(),
            key: r.key.clone(),
            raw: reading.raw,
            value: reading.value.to_f64(),
            unit: r.unit.clone(),
            text: reading.text(),
            state: r.state(reading.raw).map(String::from),
            flags: r.active_bits(reading.raw).map(Flag::from).collect(),
        })
    })
}

/// An int as `i64`, clamped: beyond `i64` is as out of range (or as unknown
/// an id) as anything else outside `u16`.
fn saturate(n: &Bound<'_, PyInt>) -> PyResult<i64> {
    match n.extract::<i64>() {
        Ok(n) => Ok(n),
        Err(_) if n.lt(0)? => Ok(i64::MIN),
        Err(_) => Ok(i64::MAX),
    }
}
