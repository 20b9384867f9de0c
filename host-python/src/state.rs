//! The per-device state classes. Each is a value the caller owns: it
//! persists through `to_bytes` / `from_bytes` and pickles through them.

/// Declares a state class wrapping a core state with `to_bytes` and
/// `from_bytes`, plus the class's own methods.
macro_rules! state_class {
    ($(#[doc = $doc:literal])* class $name:literal $py:ident($core:ty) { $($methods:tt)* }) => {
        $(#[doc = $doc])*
        #[pyclass(name = $name, module = "solarwire", eq)]
        #[derive(PartialEq, Eq)]
        pub(crate) struct $py(pub(crate) $core);

        #[pymethods]
        impl $py {
            /// Reads the form written by `to_bytes`.
            #[staticmethod]
            fn from_bytes(data: $crate::bytes::Bytes<'_>) -> PyResult<Self> {
                <$core>::from_bytes(&data)
                    .map(Self)
                    .map_err($crate::errors::to_py_err)
            }

            /// A compact, versioned byte form to persist.
            fn to_bytes(&self) -> Vec<u8> {
                self.0.to_bytes()
            }

            fn __reduce__<'py>(
                slf: &Bound<'py, Self>,
            ) -> PyResult<(Bound<'py, PyAny>, (Vec<u8>,))> {
                let rebuild = slf.get_type().getattr("from_bytes")?;
                Ok((rebuild, (slf.try_borrow()?.0.to_bytes(),)))
            }

            $($methods)*
        }
    };
}

pub(crate) use state_class;
