//! JS arguments to core values. Anything of another shape is a `TypeError`
//! naming the argument, never a silent coercion.

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer};
use serde_bytes::ByteBuf;
use solarwire_core::envelope::Keys;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{argument_error, type_error};

/// Reads argument `name` as `T` (`undefined` and `null` are `None` for options).
pub(crate) fn arg<T: DeserializeOwned>(value: JsValue, name: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        let error = JsValue::from(e);
        match error.dyn_ref::<js_sys::Error>() {
            Some(e) => type_error(name, String::from(e.message())),
            None => type_error(name, format!("{error:?}")),
        }
    })
}

/// Reads argument `name`, a plain object, as the struct `T`, refusing keys
/// `T` does not declare: serde-wasm-bindgen reads only the declared ones, so
/// a misspelt option would otherwise pass unnoticed. `undefined` and `null`
/// are `None`.
pub(crate) fn object_arg<T: DeserializeOwned>(
    value: JsValue,
    name: &str,
) -> Result<Option<T>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if value.is_object() {
        let fields = fields_of::<T>();
        let keys = js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>());
        if let Some(key) = keys
            .iter()
            .filter_map(|k| k.as_string())
            .find(|k| !fields.contains(&k.as_str()))
        {
            return Err(type_error(
                name,
                format!("unknown field `{key}`, expected one of {fields:?}"),
            ));
        }
    }
    arg(value, name).map(Some)
}

/// The field names a struct's `Deserialize` asks for (after renaming).
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut probe = FieldsProbe(&[]);
    // The probe refuses every request; only the field list matters.
    let _ = T::deserialize(&mut probe);
    probe.0
}

/// A deserializer that records the field list of the struct asked for.
struct FieldsProbe(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut FieldsProbe {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's fields are probed"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        enum identifier ignored_any
    }
}

/// A `string` (taken as its UTF-8) or a `Uint8Array`.
pub(crate) fn text_or_bytes(value: JsValue, name: &str) -> Result<Vec<u8>, JsValue> {
    match value.as_string() {
        Some(text) => Ok(text.into_bytes()),
        None => arg::<ByteBuf>(value, name).map(ByteBuf::into_vec),
    }
}

/// A device's keys (`Keys` in TypeScript). `aesIv` defaults to the firmware's
/// static IV, because the envelope does not carry one.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeysArg {
    hmac_key: ByteBuf,
    aes_key: Option<ByteBuf>,
    aes_iv: Option<ByteBuf>,
}

impl KeysArg {
    /// The core's keys, built from the parts by the core's one rule.
    fn into_keys(self, name: &str) -> Result<Keys, JsValue> {
        Keys::from_parts(
            &self.hmac_key,
            self.aes_key.as_deref().map(Vec::as_slice),
            self.aes_iv.as_deref().map(Vec::as_slice),
        )
        .map_err(|e| argument_error(name, &e))
    }
}

/// Reads a `Keys` argument (`None` for `undefined` and `null`).
pub(crate) fn optional_keys(value: JsValue, name: &str) -> Result<Option<Keys>, JsValue> {
    object_arg::<KeysArg>(value, name)?
        .map(|keys| keys.into_keys(name))
        .transpose()
}

/// Reads a required `Keys` argument.
pub(crate) fn keys(value: JsValue) -> Result<Keys, JsValue> {
    optional_keys(value, "keys")?.ok_or_else(|| type_error("keys", "required"))
}
