//! Packets: decoding (one, or many into one buffer), encoding, and the
//! temporal history a device stream carries between packets.

use std::collections::BTreeMap;

use pyo3::prelude::*;
use solarwire_core::codec::{
    self, DEFAULT_MAX_VALUES, DecodeOptions, Decoded as CoreDecoded, Encoder, TemporalState,
};

use crate::bytes::{Bytes, u16_array, u32_array};
use crate::errors::to_py_err;
use crate::gil;
use crate::repr;
use crate::state::state_class;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTemporalState>()?;
    m.add_class::<Decoded>()?;
    m.add_class::<Batch>()?;
    m.add_function(wrap_pyfunction!(decode_packet, m)?)?;
    m.add_function(wrap_pyfunction!(decode_packets, m)?)?;
    m.add_function(wrap_pyfunction!(encode_packet, m)?)?;
    Ok(())
}

state_class! {
    /// The device's temporal history ring; picklable through its byte form.
    class "TemporalState" PyTemporalState(TemporalState) {
        /// The state of a device that has just booted.
        #[new]
        fn new() -> Self {
            Self(TemporalState::new())
        }

        /// A state whose newest slots hold `history` (oldest row first).
        #[staticmethod]
        fn from_history(register_ids: Vec<u8>, history: Vec<Vec<u16>>) -> PyResult<Self> {
            TemporalState::from_history(&register_ids, &history)
                .map(Self)
                .map_err(to_py_err)
        }

        /// Records a call whose packet was not seen: its entries become unknown.
        #[pyo3(signature = (register_ids = None))]
        fn skip(&mut self, register_ids: Option<Vec<u8>>) {
            self.0.skip(register_ids.as_deref());
        }

        /// Forgets all history (after a gap or reordering).
        fn forget(&mut self) {
            self.0.forget();
        }
    }
}

/// A decoded packet.
#[pyclass(module = "solarwire", frozen, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct Decoded(CoreDecoded);

#[pymethods]
impl Decoded {
    /// The codec's name (`bit_packed`, `temporal_delta`, …).
    #[getter]
    fn method(&self) -> &'static str {
        self.0.method.code()
    }

    /// The register values, sample-major, as `array('H')`.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        u16_array(py, &self.0.values)
    }

    /// The register ids the packet itself carries (temporal base only);
    /// widened so Python sees a list of ints, not `bytes`.
    #[getter]
    fn register_ids(&self) -> Option<Vec<u16>> {
        let ids = self.0.register_ids.as_ref()?;
        Some(ids.iter().copied().map(u16::from).collect())
    }

    /// Which values are exact, for lossy packets; `None` when all are.
    #[getter]
    fn exact(&self) -> Option<Vec<bool>> {
        self.0.exact.clone()
    }

    /// Whether some values are approximations of the device's readings.
    #[getter]
    fn approximate(&self) -> bool {
        self.0.is_approximate()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(slf, &["method", "values", "register_ids", "approximate"])
    }
}

/// Many packets decoded into one buffer.
#[pyclass(module = "solarwire", frozen)]
pub(crate) struct Batch(codec::Batch);

#[pymethods]
impl Batch {
    /// Every packet's values, one after another, as `array('H')`.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        u16_array(py, &self.0.values)
    }

    /// How many values each packet gave (0 for a failed one), as `array('I')`.
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        u32_array(py, &self.0.counts)
    }

    /// The error code of every packet that failed, by position.
    #[getter]
    fn errors(&self) -> BTreeMap<usize, &'static str> {
        self.0.errors.iter().map(|(i, e)| (*i, e.code())).collect()
    }

    fn __repr__(&self) -> String {
        let errors: Vec<String> = self
            .0
            .errors
            .iter()
            .map(|(index, e)| format!("{index}: '{}'", e.code()))
            .collect();
        format!(
            "Batch(packets={}, values={}, errors={{{}}})",
            self.0.counts.len(),
            self.0.values.len(),
            errors.join(", ")
        )
    }
}

/// Decodes one packet. With `state` it is a packet of the device's stream:
/// deltas decode against the history, and the history advances.
#[pyfunction]
#[pyo3(signature = (packet, state = None, *, register_ids = None, expected_count = None, max_values = None))]
fn decode_packet(
    py: Python<'_>,
    packet: Bytes<'_>,
    state: Option<&Bound<'_, PyTemporalState>>,
    register_ids: Option<Vec<u8>>,
    expected_count: Option<usize>,
    max_values: Option<usize>,
) -> PyResult<Decoded> {
    let opts = DecodeOptions {
        expected_count,
        register_ids: register_ids.as_deref(),
        max_values: max_values.unwrap_or(DEFAULT_MAX_VALUES),
    };
    let result = match state {
        Some(state) => {
            let state = &mut state.try_borrow_mut()?.0;
            gil::run(py, packet.len(), || state.decode(&packet, &opts))
        }
        None => gil::run(py, packet.len(), || codec::decode(&packet, &opts)),
    };
    result.map(Decoded).map_err(to_py_err)
}

/// Decodes many packets into one buffer; a packet that fails is recorded in
/// `errors` and the rest still decode (with `state`, in stream order).
#[pyfunction]
#[pyo3(signature = (packets, state = None))]
fn decode_packets(
    py: Python<'_>,
    packets: &Bound<'_, PyAny>,
    state: Option<&Bound<'_, PyTemporalState>>,
) -> PyResult<Batch> {
    let items = packets.try_iter()?.collect::<PyResult<Vec<_>>>()?;
    let packets = items
        .iter()
        .map(|item| item.extract::<Bytes<'_>>())
        .collect::<PyResult<Vec<_>>>()?;
    let mut guard = state.map(Bound::try_borrow_mut).transpose()?;
    let state = guard.as_deref_mut().map(|s| &mut s.0);
    let size = packets.iter().map(|p| p.len()).sum();
    Ok(Batch(gil::run(py, size, move || {
        codec::decode_batch(&packets, state)
    })))
}

/// Encodes one upload cycle's values as the device does. `smart` (the
/// device's selection) and `temporal` use and advance `state`, the device's
/// ring (a fresh one when `None`); they and `semantic_rle` need the register
/// id of every value.
#[pyfunction]
#[pyo3(
    signature = (values, register_ids = None, *, method = None, state = None),
    text_signature = "(values, register_ids=None, *, method='smart', state=None)"
)]
fn encode_packet(
    py: Python<'_>,
    values: Vec<u16>,
    register_ids: Option<Vec<u8>>,
    method: Option<String>,
    state: Option<&Bound<'_, PyTemporalState>>,
) -> PyResult<Vec<u8>> {
    let ids = register_ids.unwrap_or_default();
    let encoder = Encoder::from_code(method.as_deref()).map_err(to_py_err)?;
    let mut guard = state.map(Bound::try_borrow_mut).transpose()?;
    let state = guard.as_deref_mut().map(|s| &mut s.0);
    gil::run(py, 2 * values.len(), || {
        encoder.encode(&values, &ids, state)
    })
    .map_err(to_py_err)
}
