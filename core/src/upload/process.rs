//! The whole pipeline for hosts that keep replay state in memory.

use alloc::vec::Vec;

use super::{Decoded, Format, Limits, StreamState, Upload, UploadError, attribute};
use crate::envelope::{Envelope, EnvelopeError, Keys, Nonce};
use crate::registers::Profile;
use crate::replay::{DeviceId, Freshness, NonceStore};

/// What the caller knows about an upload request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Which endpoint received it.
    pub format: Format,
    /// The `{device_id}` path segment (current format).
    pub path_device_id: Option<&'a str>,
    /// The device's keys; `None` when the caller has none (then only an
    /// unsealed legacy body can pass).
    pub keys: Option<&'a Keys>,
    /// Bounds on packets and values.
    pub limits: Limits,
    /// The receive time (Unix ms), to date samples of unsynced devices.
    pub received_ms: Option<u64>,
    /// The register profile whose sentinels become missing values
    /// ([`Decoded::drop_sentinels`]); `None` keeps every raw value.
    pub profile: Option<&'a Profile>,
}

/// A processed upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The device the upload is attributed to.
    pub device_id: DeviceId,
    /// The envelope's nonce and replay decision (`None` for a bare legacy body).
    pub envelope: Option<(Nonce, Freshness)>,
    /// The parsed upload.
    pub upload: Upload,
    /// Samples and per-packet reports (empty for a duplicate).
    pub decoded: Decoded,
}

/// Opens, parses, checks replay, and decodes an upload body.
///
/// Order: envelope structure, MAC, inner JSON structure, device binding,
/// replay, decode (sentinels dropped when a profile is given) — so neither a forged, a malformed nor a misattributed
/// upload moves the nonce.
///
/// # Errors
/// Envelope codes, `malformed`, `too_large`, `device_mismatch`, `replay`; and,
/// when no packet decoded, the first packet's error.
pub fn process(
    body: &[u8],
    req: &Request<'_>,
    store: &mut impl NonceStore,
    state: &mut StreamState,
) -> Result<Processed, UploadError> {
    let (payload, verified) = match Envelope::parse(body) {
        Ok(envelope) => {
            let keys = req.keys.ok_or(EnvelopeError::MissingKey)?;
            let verified = envelope.open(keys)?;
            (verified.payload, Some((verified.nonce, verified.mac)))
        }
        Err(e) if req.format.requires_envelope() || !is_bare_body(body) => return Err(e.into()),
        Err(_) => (body.to_vec(), None),
    };
    let upload = Upload::parse(&payload, &req.limits)?;
    let device_id = DeviceId::new(attribute(
        req.format,
        req.path_device_id,
        upload.device_id.as_deref(),
    )?);
    let envelope = match verified {
        Some((nonce, mac)) => Some((nonce, store.check_and_record(&device_id, nonce, &mac)?)),
        None => None,
    };
    let mut decoded = if matches!(envelope, Some((_, Freshness::Duplicate))) {
        Decoded {
            samples: Vec::new(),
            packets: Vec::new(),
        }
    } else {
        upload.decode(state, &req.limits, req.received_ms)
    };
    if let Some(profile) = req.profile {
        decoded.drop_sentinels(profile);
    }
    if decoded.samples.is_empty() {
        let first_failure = decoded.packets.iter().find_map(|p| p.outcome.error());
        if let Some(e) = first_failure {
            return Err(e.clone());
        }
    }
    Ok(Processed {
        device_id,
        envelope,
        upload,
        decoded,
    })
}

/// Whether `body` is an unsealed upload: a JSON object without any envelope
/// field (`nonce`, `payload`, `mac`). Hosts use it to tell a bare legacy body
/// (refused or accepted by policy) from a broken envelope (`malformed`).
pub fn is_bare_body(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        nonce: Option<serde::de::IgnoredAny>,
        payload: Option<serde::de::IgnoredAny>,
        mac: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(body)
        .is_ok_and(|p| p.nonce.is_none() && p.payload.is_none() && p.mac.is_none())
}

#[cfg(test)]
mod tests {
    use super::is_bare_body;

    #[test]
    fn bare_bodies_are_objects_without_envelope_fields() {
        assert!(is_bare_body(br#"{"device_id":"d","compressed_data":[]}"#));
        assert!(!is_bare_body(br#"{"nonce":1,"device_id":"d"}"#));
        assert!(!is_bare_body(br#"{"payload":"","mac":""}"#));
        assert!(!is_bare_body(b"[1,2]"));
        assert!(!is_bare_body(b"not json"));
    }
}
