//! Whole device request bodies to samples, and the per-device stream state.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use solarwire_core::upload::{
    Format, Limits, PacketReport as CorePacketReport, Processed, Request, Sample as CoreSample,
    StreamState, process,
};

use crate::bytes::Text;
use crate::envelope::{PyKeys, last_accepted};
use crate::errors::to_py_err;
use crate::gil;
use crate::registers::{ProfileArg, with_profile};
use crate::repr;
use crate::state::state_class;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStreamState>()?;
    m.add_class::<Upload>()?;
    m.add_class::<Sample>()?;
    m.add_class::<PacketReport>()?;
    m.add_function(wrap_pyfunction!(parse_upload, m)?)?;
    Ok(())
}

state_class! {
    /// What a decoder remembers about one device's uploads (temporal history,
    /// recently seen packets); picklable through its byte form.
    class "StreamState" PyStreamState(StreamState) {
        /// The state for a device seen for the first time (history unknown).
        #[new]
        fn new() -> Self {
            Self(StreamState::new())
        }

        /// The state of a device known to have just booted.
        #[staticmethod]
        fn after_boot() -> Self {
            Self(StreamState::after_boot())
        }
    }
}

/// A processed upload: who sent it, under which nonce, and its samples.
#[pyclass(module = "solarwire", frozen)]
pub(crate) struct Upload(Processed);

#[pymethods]
impl Upload {
    /// The device the upload is attributed to.
    #[getter]
    fn device_id(&self) -> &str {
        self.0.device_id.as_str()
    }

    /// The envelope's nonce (`None` for an unsealed legacy body).
    #[getter]
    fn nonce(&self) -> Option<u32> {
        self.0.envelope.map(|(nonce, _)| nonce.0)
    }

    /// Every decoded sample, in packet order.
    #[getter]
    fn samples(&self) -> Vec<Sample> {
        self.0.decoded.samples.iter().map(Sample::from).collect()
    }

    /// One report per packet.
    #[getter]
    fn packets(&self) -> Vec<PacketReport> {
        self.0
            .decoded
            .packets
            .iter()
            .map(PacketReport::from)
            .collect()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(slf, &["device_id", "nonce", "samples"])
    }
}

/// One sample: its time when known and `(register id, raw value)` pairs.
#[pyclass(module = "solarwire", frozen, get_all, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct Sample {
    t_ms: Option<u64>,
    registers: Vec<(u8, u16)>,
    approximate: bool,
    packet: usize,
}

impl From<&CoreSample> for Sample {
    fn from(s: &CoreSample) -> Self {
        Self {
            t_ms: s.t_ms,
            registers: s.registers.clone(),
            approximate: s.approximate,
            packet: s.packet,
        }
    }
}

#[pymethods]
impl Sample {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(slf, &["t_ms", "registers", "approximate", "packet"])
    }
}

/// What happened to one packet of an upload.
#[pyclass(module = "solarwire", frozen, get_all, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct PacketReport {
    index: usize,
    method: Option<&'static str>,
    size: usize,
    values: usize,
    samples: usize,
    outcome: &'static str,
    error: Option<&'static str>,
}

impl From<&CorePacketReport> for PacketReport {
    fn from(p: &CorePacketReport) -> Self {
        Self {
            index: p.index,
            method: p.method.map(|m| m.code()),
            size: p.size,
            values: p.values,
            samples: p.samples,
            outcome: p.outcome.code(),
            error: p.outcome.error().map(|e| e.code()),
        }
    }
}

#[pymethods]
impl PacketReport {
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr::fields(
            slf,
            &["index", "method", "size", "samples", "outcome", "error"],
        )
    }
}

/// Opens, parses, checks replay against `last_nonce`, and decodes a device's
/// request body. `format` is `aggregated` (`POST /aggregated/{device_id}`,
/// which needs `device_id`) or `legacy_process`. Pass the device's `state`
/// to decode its uploads as one stream. The `profile`'s sentinels (the
/// default profile's, without one) become missing values.
#[pyfunction]
#[pyo3(
    signature = (body, *, format = "aggregated".to_owned(), device_id = None, keys = None, last_nonce = None, state = None, received_ms = None, profile = None),
    text_signature = "(body, *, format='aggregated', device_id=None, keys=None, last_nonce=None, state=None, received_ms=None, profile=None)"
)]
#[allow(clippy::too_many_arguments)]
fn parse_upload(
    py: Python<'_>,
    body: Text<'_>,
    format: String,
    device_id: Option<String>,
    keys: Option<&Bound<'_, PyKeys>>,
    last_nonce: Option<u32>,
    state: Option<&Bound<'_, PyStreamState>>,
    received_ms: Option<u64>,
    profile: Option<ProfileArg<'_>>,
) -> PyResult<Upload> {
    let format = Format::from_code(&format).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown format {format:?}: aggregated or legacy_process"
        ))
    })?;
    let mut last = last_accepted(last_nonce);
    let mut guard = state.map(Bound::try_borrow_mut).transpose()?;
    let mut fresh = StreamState::new();
    let state = guard.as_deref_mut().map_or(&mut fresh, |s| &mut s.0);
    with_profile(profile, |profile| {
        let request = Request {
            format,
            path_device_id: device_id.as_deref(),
            keys: keys.map(|k| &k.get().0),
            limits: Limits::default(),
            received_ms,
            profile: Some(profile),
        };
        gil::run(py, body.len(), || {
            process(&body, &request, &mut last, state)
        })
        .map(Upload)
        .map_err(to_py_err)
    })
}
