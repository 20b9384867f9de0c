//! The upload JSON as the firmware writes it (spec §6), and the looser shapes
//! the legacy `/process` server accepted.
//!
//! The device's own shape is read through typed, borrowing structs (fast);
//! anything else falls back to a generic JSON value and the legacy rules.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Limits, Packet, PacketSource, Upload, UploadError, scan};
use crate::registers::{Catalog, RegisterRef};
use crate::text;

/// The device's upload (read by serde, or by [`super::scan`] for speed).
#[derive(Deserialize)]
pub(super) struct DeviceUpload<'a> {
    #[serde(borrow)]
    pub(super) device_id: Option<Cow<'a, str>>,
    pub(super) timestamp: Option<u64>,
    pub(super) sampling_interval: Option<u32>,
    /// The mapping's JSON text, read only when a packet lacks its own layout
    /// (rare; saves allocations).
    #[serde(borrow, default, deserialize_with = "raw_text")]
    pub(super) register_mapping: Option<&'a str>,
    #[serde(borrow)]
    pub(super) compressed_data: Vec<DevicePacket<'a>>,
}

#[derive(Deserialize)]
pub(super) struct DevicePacket<'a> {
    #[serde(borrow)]
    pub(super) compressed_binary: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) decompression_metadata: Option<Metadata<'a>>,
}

#[derive(Deserialize, Default)]
pub(super) struct Metadata<'a> {
    #[serde(borrow)]
    pub(super) method: Option<Cow<'a, str>>,
    pub(super) register_count: Option<usize>,
    pub(super) sample_count: Option<usize>,
    pub(super) compressed_size_bytes: Option<usize>,
    pub(super) timestamp: Option<u64>,
    pub(super) register_layout: Option<Vec<u16>>,
    #[serde(rename = "original_size_bytes")]
    pub(super) _original: Option<IgnoredAny>,
}

/// A value's JSON text, as serde's `RawValue` holds it.
fn raw_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de str>, D::Error> {
    Option::<&'de RawValue>::deserialize(d).map(|raw| raw.map(RawValue::get))
}

/// Parses the inner upload JSON: the device's shape through the fast
/// reader, anything else through serde.
pub(super) fn parse(json: &[u8], limits: &Limits) -> Result<Upload, UploadError> {
    let json = text::utf8(json).ok_or(UploadError::Malformed { field: "json" })?;
    match scan::device_upload(json) {
        Some(wire) => from_device(wire, limits),
        None => parse_json(json, limits),
    }
}

/// Parses the inner upload JSON through serde alone.
pub(super) fn parse_json(json: &str, limits: &Limits) -> Result<Upload, UploadError> {
    match serde_json::from_str::<DeviceUpload<'_>>(json) {
        Ok(wire) => from_device(wire, limits),
        Err(_) => {
            let value: Value =
                serde_json::from_str(json).map_err(|_| UploadError::Malformed { field: "json" })?;
            from_value(&value, limits)
        }
    }
}

fn from_device(wire: DeviceUpload<'_>, limits: &Limits) -> Result<Upload, UploadError> {
    check_packet_count(wire.compressed_data.len(), limits)?;
    // The mapping is resolved only for packets without their own layout.
    let mapping = wire.register_mapping.map(|raw| {
        move || {
            serde_json::from_str::<BTreeMap<Cow<'_, str>, Cow<'_, str>>>(raw)
                .map_err(|_| UploadError::Malformed {
                    field: "register_mapping",
                })
                .and_then(|m| layout_from_mapping(m.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))))
        }
    });
    let packets = wire
        .compressed_data
        .iter()
        .map(|p| {
            let meta = p.decompression_metadata.as_ref();
            let layout = meta
                .and_then(|m| m.register_layout.as_deref())
                .map(layout_from_ids)
                .or_else(|| mapping.as_ref().map(|resolve| resolve()));
            packet(
                decode_b64(&p.compressed_binary),
                meta.unwrap_or(&Metadata::default()),
                layout,
                None,
            )
        })
        .collect();
    Ok(Upload {
        device_id: wire.device_id.map(|d| d.into_owned()),
        timestamp: wire.timestamp,
        sampling_interval: wire.sampling_interval,
        packets,
    })
}

fn packet(
    source: PacketSource,
    meta: &Metadata<'_>,
    layout: Option<Result<Vec<u8>, UploadError>>,
    mapping: Option<&Result<Vec<u8>, UploadError>>,
) -> Packet {
    // F12: each packet has its own layout; the mapping (built by the device
    // from its *last* packet) is only a fallback for packets without one.
    let layout = layout
        .or_else(|| mapping.cloned())
        .unwrap_or(Err(UploadError::Malformed {
            field: "register_layout",
        }));
    let layout = match (layout, meta.register_count) {
        (Ok(l), Some(count)) if count != l.len() => Err(UploadError::Malformed {
            field: "register_count (differs from the layout)",
        }),
        (l, _) => l,
    };
    Packet {
        source,
        layout,
        sample_count: meta.sample_count,
        declared_size: meta.compressed_size_bytes,
        timestamp: meta.timestamp.map(|t| t as u32),
        method_label: meta.method.as_ref().map(|m| m.to_string()),
    }
}

fn check_packet_count(n: usize, limits: &Limits) -> Result<(), UploadError> {
    if n > limits.max_packets {
        return Err(UploadError::TooLarge {
            what: "packets",
            declared: n,
            limit: limits.max_packets,
        });
    }
    Ok(())
}

fn decode_b64(packet: &str) -> PacketSource {
    match text::base64_decode(packet.as_bytes()) {
        Some(bytes) => PacketSource::Bytes(bytes),
        None => PacketSource::Invalid(UploadError::BadBase64),
    }
}

fn layout_from_ids(ids: &[u16]) -> Result<Vec<u8>, UploadError> {
    ids.iter()
        .map(|&id| {
            u8::try_from(id).map_err(|_| UploadError::Malformed {
                field: "register_layout",
            })
        })
        .collect()
}

/// `{"0": "Vac1", "1": "Iac1", …}` (position → device name) to register ids.
fn layout_from_mapping<'s>(
    entries: impl Iterator<Item = (&'s str, &'s str)>,
) -> Result<Vec<u8>, UploadError> {
    const BAD: UploadError = UploadError::Malformed {
        field: "register_mapping",
    };
    let catalog = Catalog::builtin();
    let profile = catalog.default_profile().map_err(|_| BAD)?;
    let mut positioned: Vec<(usize, u8)> = Vec::new();
    for (position, name) in entries {
        let position = position.parse::<usize>().map_err(|_| BAD)?;
        let register = profile.lookup(RegisterRef::Name(name)).map_err(|_| BAD)?;
        positioned.push((position, register.id));
    }
    positioned.sort_unstable();
    if positioned.iter().enumerate().any(|(i, (p, _))| i != *p) {
        return Err(BAD);
    }
    Ok(positioned.into_iter().map(|(_, id)| id).collect())
}

/// The legacy server's lenient shapes (spec §6.2) and the single-string form
/// of `compressed_data`.
fn from_value(value: &Value, limits: &Limits) -> Result<Upload, UploadError> {
    let object = value.as_object().ok_or(UploadError::Malformed {
        field: "body (not an object)",
    })?;
    let list = ["compressed_data", "smart_data", "binary_data", "data"]
        .iter()
        .find_map(|k| object.get(*k))
        .ok_or(UploadError::Malformed {
            field: "compressed_data",
        })?;
    let mapping = object
        .get("register_mapping")
        .and_then(Value::as_object)
        .map(|m| {
            let pairs: Option<Vec<(&str, &str)>> = m
                .iter()
                .map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect();
            pairs.map_or(
                Err(UploadError::Malformed {
                    field: "register_mapping",
                }),
                |p| layout_from_mapping(p.into_iter()),
            )
        });
    // Without any layout the legacy server mapped values onto all ten registers in id order.
    let mapping = mapping.or_else(|| Some(Ok((0..10).collect())));
    let elements: Vec<&Value> = match list {
        Value::Array(items) => items.iter().collect(),
        Value::String(_) => alloc::vec![list],
        _ => {
            return Err(UploadError::Malformed {
                field: "compressed_data",
            });
        }
    };
    check_packet_count(elements.len(), limits)?;
    let packets = elements
        .into_iter()
        .map(|e| legacy_packet(e, mapping.as_ref()))
        .collect::<Result<_, _>>()?;
    Ok(Upload {
        device_id: object
            .get("device_id")
            .and_then(Value::as_str)
            .map(String::from),
        timestamp: object.get("timestamp").and_then(Value::as_u64),
        sampling_interval: object
            .get("sampling_interval")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok()),
        packets,
    })
}

fn legacy_packet(
    element: &Value,
    mapping: Option<&Result<Vec<u8>, UploadError>>,
) -> Result<Packet, UploadError> {
    const BAD: UploadError = UploadError::Malformed {
        field: "compressed_data element",
    };
    let (data, meta) = match element {
        Value::Object(o) => {
            let data = ["compressed_binary", "binary_data", "data"]
                .iter()
                .find_map(|k| o.get(*k))
                .ok_or(BAD)?;
            (
                data,
                o.get("decompression_metadata")
                    .map(metadata_from_value)
                    .transpose()?,
            )
        }
        other => (other, None),
    };
    let source = match data {
        Value::String(s) => decode_b64(s),
        Value::Array(items) => PacketSource::Values(
            items
                .iter()
                .map(|v| v.as_u64().and_then(|v| u16::try_from(v).ok()).ok_or(BAD))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(BAD),
    };
    let (meta, layout) = meta.unwrap_or_default();
    Ok(packet(source, &meta, layout, mapping))
}

type MetaAndLayout = (Metadata<'static>, Option<Result<Vec<u8>, UploadError>>);

fn metadata_from_value(v: &Value) -> Result<MetaAndLayout, UploadError> {
    let o = v.as_object().ok_or(UploadError::Malformed {
        field: "decompression_metadata",
    })?;
    let usize_of = |k: &str| {
        o.get(k)
            .and_then(Value::as_u64)
            .and_then(|v| usize::try_from(v).ok())
    };
    let layout = o.get("register_layout").map(|l| {
        let ids: Option<Vec<u16>> = l.as_array().and_then(|a| {
            a.iter()
                .map(|x| x.as_u64().and_then(|x| u16::try_from(x).ok()))
                .collect()
        });
        ids.map_or(
            Err(UploadError::Malformed {
                field: "register_layout",
            }),
            |ids| layout_from_ids(&ids),
        )
    });
    let meta = Metadata {
        method: o
            .get("method")
            .and_then(Value::as_str)
            .map(|s| Cow::Owned(s.into())),
        register_count: usize_of("register_count"),
        sample_count: usize_of("sample_count"),
        compressed_size_bytes: usize_of("compressed_size_bytes"),
        timestamp: o.get("timestamp").and_then(Value::as_u64),
        register_layout: None,
        _original: None,
    };
    Ok((meta, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's example upload (§6.1), exactly as the firmware writes it.
    const FIRMWARE: &str = r#"{"device_id":"ESP32_001","timestamp":1763884800,"data_type":"compressed_sensor_batch","total_samples":1,"sampling_interval":5,"register_mapping":{"0":"Vac1","1":"Iac1","2":"Ipv1","3":"Ipv2","4":"Temp","5":"Pac"},"compressed_data":[{"compressed_binary":"AQwSkAA0BHBFHES1kCA1BIBFHES8kBA1BIBGHFTE","decompression_metadata":{"method":"bitpack","register_count":6,"sample_count":3,"original_size_bytes":36,"compressed_size_bytes":30,"timestamp":2948203640,"register_layout":[0,1,5,6,7,9]},"performance_metrics":{"academic_ratio":0.833333313,"traditional_ratio":1.200000048,"compression_time_us":0,"savings_percent":16.66666794,"lossless_verified":false}}],"session_summary":{"total_original_bytes":36,"total_compressed_bytes":30,"overall_academic_ratio":0.833333313,"overall_savings_percent":16.66666794}}"#;

    #[test]
    fn the_firmware_shape_takes_the_fast_path() {
        assert!(scan::device_upload(FIRMWARE).is_some());
        assert!(serde_json::from_str::<DeviceUpload<'_>>(FIRMWARE).is_ok());
        assert_eq!(
            parse(FIRMWARE.as_bytes(), &Limits::default()),
            parse_json(FIRMWARE, &Limits::default())
        );
        let upload = parse(FIRMWARE.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(upload.packets[0].layout, Ok(alloc::vec![0, 1, 5, 6, 7, 9]));
    }
}
