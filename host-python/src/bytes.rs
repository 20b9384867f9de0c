//! Bytes in, buffers out.
//!
//! `bytes` arguments are borrowed; `bytearray` and `memoryview` are copied,
//! because their contents may change while the GIL is released. Bulk values
//! leave as `array.array`, one buffer rather than one Python `int` each.

use std::borrow::Cow;
use std::ops::Deref;

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString, PyType};

/// A binary argument: `bytes`, `bytearray` or `memoryview`.
pub(crate) struct Bytes<'a>(Cow<'a, [u8]>);

/// A text argument: `str` (as UTF-8) or any [`Bytes`].
pub(crate) struct Text<'a>(Cow<'a, [u8]>);

impl Deref for Bytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Deref for Text<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Bytes<'a> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = <&'a [u8]>::extract(obj) {
            return Ok(Self(Cow::Borrowed(bytes)));
        }
        if let Ok(array) = obj.cast::<PyByteArray>() {
            return Ok(Self(Cow::Owned(array.to_vec())));
        }
        if obj.is_instance_of::<PyMemoryView>() {
            let copy = obj.call_method0(intern!(obj.py(), "tobytes"))?;
            return Ok(Self(Cow::Owned(
                copy.cast::<PyBytes>()?.as_bytes().to_vec(),
            )));
        }
        Err(wrong_type(obj, "bytes, bytearray or memoryview"))
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Text<'a> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyString>() {
            return Ok(Self(match Cow::<'a, str>::extract(obj)? {
                Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            }));
        }
        match Bytes::extract(obj) {
            Ok(bytes) => Ok(Self(bytes.0)),
            Err(_) => Err(wrong_type(obj, "str, bytes, bytearray or memoryview")),
        }
    }
}

fn wrong_type(obj: Borrowed<'_, '_, PyAny>, expected: &str) -> PyErr {
    let got = obj
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    PyTypeError::new_err(format!("expected {expected}, got {got}"))
}

/// `values` as an `array.array('H')`.
pub(crate) fn u16_array<'py>(py: Python<'py>, values: &[u16]) -> PyResult<Bound<'py, PyAny>> {
    typed_array(py, intern!(py, "H"), values.iter().map(|v| v.to_ne_bytes()))
}

/// `values` as an `array.array('I')`.
pub(crate) fn u32_array<'py>(py: Python<'py>, values: &[u32]) -> PyResult<Bound<'py, PyAny>> {
    typed_array(py, intern!(py, "I"), values.iter().map(|v| v.to_ne_bytes()))
}

fn typed_array<'py, const N: usize>(
    py: Python<'py>,
    typecode: &Bound<'py, PyString>,
    items: impl ExactSizeIterator<Item = [u8; N]>,
) -> PyResult<Bound<'py, PyAny>> {
    static ARRAY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let raw = PyBytes::new_with(py, items.len() * N, |buf| {
        for (chunk, item) in buf.chunks_exact_mut(N).zip(items) {
            chunk.copy_from_slice(&item);
        }
        Ok(())
    })?;
    ARRAY.import(py, "array", "array")?.call1((typecode, raw))
}
