//! Core errors as JS `Error`s with `name` and the stable `code`.

use core::fmt::Display;

use js_sys::{Error, Reflect, TypeError};
use solarwire_core::{
    ArgumentError, CodecError, EnvelopeError, OpenError, ReplayError, UnitError, UploadError,
};
use wasm_bindgen::JsValue;

/// A core error as JS sees it.
pub(crate) trait JsError: Display {
    /// The `name` of the thrown `Error`: the concern that refused.
    fn name(&self) -> &'static str;
    /// The stable snake_case code.
    fn code(&self) -> &'static str;
}

macro_rules! named {
    ($($ty:ty => $name:literal),* $(,)?) => {$(
        impl JsError for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn code(&self) -> &'static str {
                <$ty>::code(self)
            }
        }
    )*};
}

named!(
    EnvelopeError => "EnvelopeError",
    ReplayError => "ReplayError",
    CodecError => "CodecError",
    UnitError => "UnitError",
);

impl JsError for OpenError {
    fn name(&self) -> &'static str {
        match self {
            Self::Replay(e) => e.name(),
            _ => "EnvelopeError",
        }
    }
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

/// A refused upload is named for the stage that refused it.
impl JsError for UploadError {
    fn name(&self) -> &'static str {
        match self {
            Self::Envelope(e) => e.name(),
            Self::Replay(e) => e.name(),
            Self::Codec(e) => e.name(),
            _ => "UploadError",
        }
    }
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

/// The `Error` to throw for a core error.
pub(crate) fn error(e: &impl JsError) -> JsValue {
    let error = Error::new(&e.to_string());
    error.set_name(e.name());
    // Setting a property of a fresh ordinary object cannot fail.
    let _ = Reflect::set(&error, &"code".into(), &e.code().into());
    error.into()
}

/// The `TypeError` to throw for an argument the core refused: of the right
/// type, but an impossible value. It is named `ArgumentError`, as in Python,
/// and carries the code `invalid_argument`.
pub(crate) fn argument_error(argument: &str, e: &ArgumentError) -> JsValue {
    let error = TypeError::new(&format!("{argument}: {e}"));
    error.set_name("ArgumentError");
    // Setting a property of a fresh ordinary object cannot fail.
    let _ = Reflect::set(&error, &"code".into(), &e.code().into());
    error.into()
}

/// The `TypeError` to throw for an argument of the wrong shape.
pub(crate) fn type_error(argument: &str, problem: impl Display) -> JsValue {
    TypeError::new(&format!("{argument}: {problem}")).into()
}
