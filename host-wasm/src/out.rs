//! Results to JS: serialized as JSON with camelCase keys, then `JSON.parse`d.
//!
//! The core's result types derive `Serialize` with Rust's snake_case field
//! names and none holds a map keyed by data, so renaming every object key
//! gives JS its camelCase without restating a type here. `JSON.parse` also
//! never refuses a number: the only 64-bit values, Unix milliseconds, are
//! exact below 2^53 (the year 287 396) and rounded beyond, as documented in
//! `solarwire.d.ts`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, Serializer};
use wasm_bindgen::JsValue;

/// `value` as a plain JS object (or array) with camelCase keys.
pub(crate) fn to_js(value: &impl Serialize) -> Result<JsValue, JsValue> {
    let mut json = Vec::with_capacity(256);
    value
        .serialize(&mut Serializer::with_formatter(
            &mut json,
            CamelKeys::default(),
        ))
        .map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))?;
    // serde_json writes UTF-8 only, so this never replaces anything.
    js_sys::JSON::parse(&String::from_utf8_lossy(&json))
}

/// Compact JSON whose object keys are rewritten `snake_case` → `camelCase`.
#[derive(Default)]
struct CamelKeys {
    in_key: bool,
    upper_next: bool,
}

impl Formatter for CamelKeys {
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.in_key = true;
        self.upper_next = false;
        CompactFormatter.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.in_key = false;
        CompactFormatter.end_object_key(w)
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        part: &str,
    ) -> io::Result<()> {
        if !self.in_key {
            return w.write_all(part.as_bytes());
        }
        for (i, piece) in part.split('_').enumerate() {
            self.upper_next |= i > 0;
            let mut chars = piece.chars();
            match chars.next() {
                Some(first) if std::mem::take(&mut self.upper_next) => {
                    let mut buf = [0; 4];
                    w.write_all(first.to_ascii_uppercase().encode_utf8(&mut buf).as_bytes())?;
                    w.write_all(chars.as_str().as_bytes())?;
                }
                _ => w.write_all(piece.as_bytes())?,
            }
        }
        Ok(())
    }
}
