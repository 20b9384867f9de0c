//! Opening and sealing envelopes: `openEnvelope`, `ReplayGuard`, `sealEnvelope`.

use js_sys::{Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use solarwire_core::envelope::{Nonce, SealOptions, seal};
use solarwire_core::replay::{DeviceId, Freshness, LastAccepted, MemoryNonceStore, NonceStore};
use solarwire_core::{Opened, open};
use wasm_bindgen::prelude::*;

use crate::args::{arg, keys, object_arg, text_or_bytes};
use crate::error::error;
use crate::out::to_js;

/// Opens an envelope (structure, then decryption and MAC, then replay
/// against `lastNonce`, the highest nonce already accepted from the device).
#[wasm_bindgen(js_name = openEnvelope, unchecked_return_type = "Opened")]
pub fn open_envelope(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] envelope: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Keys")] keys: JsValue,
    #[wasm_bindgen(js_name = lastNonce, unchecked_optional_param_type = "number | null")]
    last_nonce: JsValue,
) -> Result<JsValue, JsValue> {
    let mut last = arg::<Option<u32>>(last_nonce, "lastNonce")?.map(|n| LastAccepted {
        nonce: Nonce(n),
        mac: None,
    });
    // A single `LastAccepted` is a store that does not consult the device id.
    opened(envelope, keys, &DeviceId::new(""), &mut last)
}

/// The replay state of many devices, in memory: each device's nonces must
/// increase, and only envelopes whose MAC verified are recorded.
#[wasm_bindgen]
#[derive(Default)]
pub struct ReplayGuard(MemoryNonceStore);

#[wasm_bindgen]
impl ReplayGuard {
    /// A guard that has seen no device.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens an envelope from `deviceId` and records its nonce when fresh.
    #[wasm_bindgen(unchecked_return_type = "Opened")]
    pub fn open(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] envelope: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Keys")] keys: JsValue,
        #[wasm_bindgen(js_name = deviceId, unchecked_param_type = "string")] device_id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let device = DeviceId::new(arg::<String>(device_id, "deviceId")?);
        opened(envelope, keys, &device, &mut self.0)
    }

    /// Sets the highest nonce accepted from `deviceId` (restoring saved state).
    #[wasm_bindgen(js_name = setLast)]
    pub fn set_last(
        &mut self,
        #[wasm_bindgen(js_name = deviceId, unchecked_param_type = "string")] device_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] nonce: JsValue,
    ) -> Result<(), JsValue> {
        let device = DeviceId::new(arg::<String>(device_id, "deviceId")?);
        self.0.set_last(device, Nonce(arg(nonce, "nonce")?));
        Ok(())
    }

    /// The highest nonce accepted from `deviceId`, if any.
    pub fn last(
        &self,
        #[wasm_bindgen(js_name = deviceId, unchecked_param_type = "string")] device_id: JsValue,
    ) -> Result<Option<u32>, JsValue> {
        let device = DeviceId::new(arg::<String>(device_id, "deviceId")?);
        Ok(self.0.last(&device).map(|last| last.nonce.0))
    }
}

/// `Opened` without its payload, which crosses as a `Uint8Array`.
#[derive(Serialize)]
struct OpenedJs {
    nonce: u32,
    encrypted: bool,
    compressed: bool,
    freshness: Freshness,
}

fn opened(
    envelope: JsValue,
    keys_arg: JsValue,
    device: &DeviceId,
    store: &mut impl NonceStore,
) -> Result<JsValue, JsValue> {
    let body = text_or_bytes(envelope, "envelope")?;
    let keys = keys(keys_arg)?;
    let Opened {
        verified,
        freshness,
    } = open(&body, &keys, device, store).map_err(|e| error(&e))?;
    let result = to_js(&OpenedJs {
        nonce: verified.nonce.0,
        encrypted: verified.encrypted,
        compressed: verified.compressed,
        freshness,
    })?;
    let payload = Uint8Array::from(verified.payload.as_slice());
    Reflect::set(&result, &"payload".into(), &payload)?;
    Ok(result)
}

/// `SealOptions` in TypeScript.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SealOptionsArg {
    #[serde(default)]
    encrypt: bool,
    #[serde(default)]
    compressed: bool,
}

/// `Sealed` in TypeScript.
#[derive(Serialize)]
struct SealedJs {
    envelope: String,
    mac_hex: String,
    payload_b64: String,
}

/// Seals a payload as the device does: the envelope text, its MAC (hex)
/// and its payload field (base64).
#[wasm_bindgen(js_name = sealEnvelope, unchecked_return_type = "Sealed")]
pub fn seal_envelope(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] payload: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] nonce: JsValue,
    #[wasm_bindgen(js_name = keys, unchecked_param_type = "Keys")] keys_arg: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "SealOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let payload = text_or_bytes(payload, "payload")?;
    let nonce = Nonce(arg(nonce, "nonce")?);
    let keys = keys(keys_arg)?;
    let options = object_arg::<SealOptionsArg>(options, "options")?.unwrap_or_default();
    let options = SealOptions {
        encrypt: options.encrypt,
        compressed: options.compressed,
    };
    let sealed = seal(&payload, nonce, &keys, options).map_err(|e| error(&e))?;
    to_js(&SealedJs {
        envelope: sealed.envelope,
        mac_hex: sealed.mac_hex,
        payload_b64: sealed.payload_b64,
    })
}
