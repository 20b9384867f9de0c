//! Which device an upload belongs to (spec §1.1).
//!
//! The firmware puts its id in two places: the URL path (outside the MAC)
//! and the upload JSON (inside it). In fleet-key mode every device shares
//! one key, so only the inner id binds an authentic upload to its device:
//! without this check a captured upload of device A posted under B's path
//! would be stored as B's data and move B's nonce.

use super::{Format, UploadError};

/// The device an upload is attributed to: the path id for the current
/// format, which the MAC-covered inner `device_id` must equal; the inner id
/// for legacy bodies (which have no path id).
///
/// Call it after the MAC passed and before the replay decision, so a
/// mismatching upload changes nothing.
///
/// # Errors
/// `device_mismatch` when the inner id is missing or differs from the path
/// id; `malformed` when the request names no device at all.
pub fn attribute<'a>(
    format: Format,
    path: Option<&'a str>,
    inner: Option<&'a str>,
) -> Result<&'a str, UploadError> {
    match (format, path, inner) {
        (Format::Aggregated, Some(path), Some(inner)) if path == inner => Ok(path),
        (Format::Aggregated, Some(_), _) => Err(UploadError::DeviceMismatch),
        (Format::LegacyProcess, _, Some(inner)) => Ok(inner),
        _ => Err(UploadError::Malformed { field: "device_id" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inner_id_must_match_the_path() {
        let agg = Format::Aggregated;
        assert_eq!(attribute(agg, Some("A"), Some("A")), Ok("A"));
        assert_eq!(
            attribute(agg, Some("A"), Some("B")),
            Err(UploadError::DeviceMismatch)
        );
        assert_eq!(
            attribute(agg, Some("A"), None),
            Err(UploadError::DeviceMismatch)
        );
        assert_eq!(
            attribute(agg, None, Some("A")),
            Err(UploadError::Malformed { field: "device_id" })
        );
        let legacy = Format::LegacyProcess;
        assert_eq!(attribute(legacy, None, Some("B")), Ok("B"));
        assert!(attribute(legacy, None, None).is_err());
    }
}
