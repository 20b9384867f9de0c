//! The device wire formats, as JSON Schema. The core parses them (spec §1,
//! §6) and has no schema types of its own, so they are written here.

use serde_json::json;
use utoipa::openapi::{RefOr, Schema};

/// `Envelope` (the sealed upload) and `UploadJson` (what its payload holds).
pub(super) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    [
        (
            "Envelope",
            json!({
                "type": "object",
                "description": "A sealed upload (spec §1). `mac` is HMAC-SHA256 over the nonce \
                    (big-endian u32) followed by the plaintext payload, with the device's key or \
                    the fleet key; a wrong MAC, key or decryption answers 401 `unauthorized` and \
                    leaves the nonce alone. The nonce must be greater than the device's last \
                    accepted one (409 `replay`), except an identical resend of the last accepted \
                    envelope (200 with `duplicate: true`).",
                "required": ["nonce", "payload", "mac"],
                "properties": {
                    "nonce": { "type": "integer", "minimum": 0, "maximum": u32::MAX },
                    "payload": {
                        "type": "string",
                        "contentEncoding": "base64",
                        "description": "The upload JSON (`UploadJson`), AES-128-CBC encrypted when `encrypted`"
                    },
                    "mac": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                    "encrypted": { "type": "boolean", "default": false },
                    "compressed": { "type": "boolean", "default": false }
                },
                "example": {
                    "nonce": 11001,
                    "payload": "eyJkZXZpY2VfaWQiOiJFU1AzMl8wMDEiLCJjb21wcmVzc2VkX2RhdGEiOltdfQ==",
                    "mac": "0000000000000000000000000000000000000000000000000000000000000000",
                    "encrypted": false,
                    "compressed": false
                }
            }),
        ),
        (
            "UploadJson",
            json!({
                "type": "object",
                "description": "The upload as the firmware writes it (spec §6): packets of compressed \
                    register samples. The legacy `/process` body may also use `smart_data`, \
                    `binary_data` or `data` for the packet list.",
                "properties": {
                    "device_id": { "type": "string" },
                    "timestamp": { "type": "integer", "minimum": 0 },
                    "sampling_interval": { "type": "integer", "minimum": 0 },
                    "register_mapping": { "type": "object", "additionalProperties": { "type": "string" } },
                    "compressed_data": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["compressed_binary"],
                            "properties": {
                                "compressed_binary": { "type": "string", "contentEncoding": "base64" },
                                "decompression_metadata": {
                                    "type": "object",
                                    "properties": {
                                        "method": { "type": "string" },
                                        "register_count": { "type": "integer", "minimum": 0 },
                                        "sample_count": { "type": "integer", "minimum": 0 },
                                        "compressed_size_bytes": { "type": "integer", "minimum": 0 },
                                        "original_size_bytes": { "type": "integer", "minimum": 0 },
                                        "timestamp": { "type": "integer", "minimum": 0 },
                                        "register_layout": { "type": "array", "items": { "type": "integer", "minimum": 0 } }
                                    }
                                }
                            }
                        }
                    }
                }
            }),
        ),
    ]
    .into_iter()
    .map(|(name, schema)| (name.to_owned(), parse(schema)))
    .collect()
}

/// A fixed OpenAPI object written as JSON, in utoipa's types.
pub(super) fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a fixed, valid OpenAPI object")
}
