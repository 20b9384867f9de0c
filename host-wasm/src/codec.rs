//! Packets: `decodePacket`, `decodePackets`, the `TemporalState` class and
//! `encodePacket`.

use serde::Deserialize;
use serde_bytes::ByteBuf;
use solarwire_core::ArgumentError;
use solarwire_core::codec::{self, DecodeOptions, Encoder, TemporalState};
use wasm_bindgen::prelude::*;

use crate::args::{arg, object_arg};
use crate::error::{argument_error, error};
use crate::out::to_js;

/// `DecodeOptions` in TypeScript.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DecodeOptionsArg {
    expected_count: Option<usize>,
    register_ids: Option<ByteBuf>,
    max_values: Option<usize>,
}

/// Decodes `packet` with the options in `options` (an optional argument).
fn decode_with(
    packet: JsValue,
    options: JsValue,
    decode: impl FnOnce(&[u8], &DecodeOptions<'_>) -> Result<codec::Decoded, codec::CodecError>,
) -> Result<JsValue, JsValue> {
    let packet: ByteBuf = arg(packet, "packet")?;
    let options = object_arg::<DecodeOptionsArg>(options, "options")?.unwrap_or_default();
    let defaults = DecodeOptions::default();
    let options = DecodeOptions {
        expected_count: options.expected_count,
        register_ids: options.register_ids.as_deref().map(Vec::as_slice),
        max_values: options.max_values.unwrap_or(defaults.max_values),
    };
    to_js(&decode(&packet, &options).map_err(|e| error(&e))?)
}

/// Decodes one packet without temporal history (`Decoded`); a `0x71` delta
/// needs a [`JsTemporalState`].
#[wasm_bindgen(js_name = decodePacket, unchecked_return_type = "Decoded")]
pub fn decode_packet(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | number[]")] packet: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "DecodeOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    decode_with(packet, options, codec::decode)
}

#[wasm_bindgen(module = "/src/batch.js")]
extern "C" {
    #[wasm_bindgen(js_name = framePackets, catch)]
    fn frame_packets(packets: &JsValue) -> Result<Vec<u8>, JsValue>;

    #[wasm_bindgen(js_name = decodedBatch)]
    fn decoded_batch(values: &[u16], counts: &[u32], failed: &[u32], codes: &str) -> JsValue;
}

/// Decodes many packets into one `Uint16Array` (`DecodedBatch`); a packet
/// that fails is listed in `errors` and the rest still decode.
#[wasm_bindgen(js_name = decodePackets, unchecked_return_type = "DecodedBatch")]
pub fn decode_packets(
    #[wasm_bindgen(unchecked_param_type = "Bytes[]")] packets: JsValue,
) -> Result<JsValue, JsValue> {
    batch(&packets, None)
}

/// Decodes the packets framed by `framePackets` with the core's batch call.
fn batch(packets: &JsValue, state: Option<&mut TemporalState>) -> Result<JsValue, JsValue> {
    let frame = frame_packets(packets)?;
    // `framePackets` has checked that `packets` is an array.
    let count = packets.unchecked_ref::<js_sys::Array>().length() as usize;
    let (lengths, mut bytes) = frame.split_at(4 * count);
    let mut packets = Vec::with_capacity(count);
    for length in lengths.chunks_exact(4) {
        let length = u32::from_le_bytes([length[0], length[1], length[2], length[3]]);
        let (packet, rest) = bytes.split_at(length as usize);
        packets.push(packet);
        bytes = rest;
    }
    let batch = codec::decode_batch(&packets, state);
    let failed: Vec<u32> = batch.errors.iter().map(|(i, _)| *i as u32).collect();
    let codes: Vec<&str> = batch.errors.iter().map(|(_, e)| e.code()).collect();
    Ok(decoded_batch(
        &batch.values,
        &batch.counts,
        &failed,
        &codes.join(","),
    ))
}

/// The device's temporal history ring, owned by the caller: feed it every
/// packet of one device in order.
#[wasm_bindgen(js_name = TemporalState)]
#[derive(Default)]
pub struct JsTemporalState(TemporalState);

#[wasm_bindgen(js_class = TemporalState)]
impl JsTemporalState {
    /// The ring of a device that has just booted.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// A ring whose latest slots hold `history` (oldest row first, one value
    /// per id of `registerIds`); everything else is unknown.
    #[wasm_bindgen(js_name = fromHistory)]
    pub fn from_history(
        #[wasm_bindgen(js_name = registerIds, unchecked_param_type = "Uint8Array | number[]")]
        register_ids: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number[][]")] history: JsValue,
    ) -> Result<Self, JsValue> {
        let ids: ByteBuf = arg(register_ids, "registerIds")?;
        let history: Vec<Vec<u16>> = arg(history, "history")?;
        TemporalState::from_history(&ids, &history)
            .map(Self)
            .map_err(|e| error(&e))
    }

    /// Decodes the next packet of the stream and records it (`Decoded`); a
    /// packet that fails still advances the ring, as on the device.
    #[wasm_bindgen(unchecked_return_type = "Decoded")]
    pub fn decode(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | number[]")] packet: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "DecodeOptions")] options: JsValue,
    ) -> Result<JsValue, JsValue> {
        decode_with(packet, options, |p, o| self.0.decode(p, o))
    }

    /// Decodes the next packets of the stream into one `Uint16Array`
    /// (`DecodedBatch`), recording each, as `decode` one at a time does.
    #[wasm_bindgen(js_name = decodePackets, unchecked_return_type = "DecodedBatch")]
    pub fn decode_packets(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Bytes[]")] packets: JsValue,
    ) -> Result<JsValue, JsValue> {
        batch(&packets, Some(&mut self.0))
    }

    /// Records a packet that was never seen: its entries become unknown.
    pub fn skip(
        &mut self,
        #[wasm_bindgen(js_name = registerIds, unchecked_optional_param_type = "Uint8Array | number[]")]
        register_ids: JsValue,
    ) -> Result<(), JsValue> {
        let ids = arg::<Option<ByteBuf>>(register_ids, "registerIds")?;
        self.0.skip(ids.as_deref().map(Vec::as_slice));
        Ok(())
    }

    /// Encodes one call as the device does and records it in this ring:
    /// `smart` (the default) is the device's smart selection (which records
    /// the call whichever codec wins), `temporal` writes a base or a delta.
    pub fn encode(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint16Array | number[]")] values: JsValue,
        #[wasm_bindgen(js_name = registerIds, unchecked_param_type = "Uint8Array | number[]")]
        register_ids: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "\"smart\" | \"temporal\"")] method: JsValue,
    ) -> Result<Vec<u8>, JsValue> {
        encode(values, method, register_ids, Some(&mut self.0))
    }

    /// Forgets all history (after a gap or reordering).
    pub fn forget(&mut self) {
        self.0.forget();
    }

    /// The ring as bytes, to persist it.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    /// Restores a ring written by `toBytes`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | number[]")] bytes: JsValue,
    ) -> Result<Self, JsValue> {
        let bytes: ByteBuf = arg(bytes, "bytes")?;
        TemporalState::from_bytes(&bytes)
            .map(Self)
            .map_err(|e| error(&e))
    }
}

/// Encodes register values as the device does (`smart`, the device's
/// selection, by default). `registerIds` gives every value's id (the layout
/// repeated per sample), needed by `semantic_rle`, `temporal` and `smart`;
/// those two start from a freshly booted ring (use `TemporalState.encode`
/// to carry one along).
#[wasm_bindgen(js_name = encodePacket)]
pub fn encode_packet(
    #[wasm_bindgen(unchecked_param_type = "Uint16Array | number[]")] values: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "EncodeMethod")] method: JsValue,
    #[wasm_bindgen(js_name = registerIds, unchecked_optional_param_type = "Uint8Array | number[]")]
    register_ids: JsValue,
) -> Result<Vec<u8>, JsValue> {
    encode(values, method, register_ids, None)
}

/// Reads an encoder call's arguments and makes it through the core's one
/// chooser, which applies the default method and checks the register ids.
fn encode(
    values: JsValue,
    method: JsValue,
    register_ids: JsValue,
    state: Option<&mut TemporalState>,
) -> Result<Vec<u8>, JsValue> {
    let values: Vec<u16> = arg(values, "values")?;
    let method = arg::<Option<String>>(method, "method")?;
    let ids = arg::<Option<ByteBuf>>(register_ids, "registerIds")?.unwrap_or_default();
    let encoder =
        Encoder::from_code(method.as_deref()).map_err(|e| argument_error("method", &e))?;
    encoder.encode(&values, &ids, state).map_err(|e| {
        let argument = match e {
            ArgumentError::RegisterIds { .. } => "registerIds",
            _ => "method",
        };
        argument_error(argument, &e)
    })
}
