//! Path parameters as clients may send them: percent-decoded, then checked.
//!
//! warp hands a path segment over exactly as it appears in the request
//! line, so `/aggregated/ESP32%5F001` would reach a handler as
//! `ESP32%5F001`. These filters decode it first (RFC 3986: `%XX` only; a
//! `+` stays a `+`), and refuse a segment whose bytes are not UTF-8 or, for
//! device ids, an id that fails [`crate::device_id::check`] once decoded.

use percent_encoding::percent_decode_str;
use warp::{Filter, Rejection};

use super::error::ApiError;

/// Decodes one raw path segment.
///
/// # Errors
/// 400 `code` when the decoded bytes are not UTF-8.
pub(super) fn decode(raw: &str, code: &'static str) -> Result<String, ApiError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| {
            ApiError::bad_request(code, "a path segment is not UTF-8 once percent-decoded")
        })
}

/// Decodes a device id taken from the path and checks it.
///
/// # Errors
/// 400 `bad_device_id`.
pub(super) fn device_id_of(raw: &str) -> Result<String, ApiError> {
    let id = decode(raw, "bad_device_id")?;
    check_device_id(&id)?;
    Ok(id)
}

/// Checks a device id from a path, a query or a body: the one place that
/// answers 400 `bad_device_id`.
///
/// # Errors
/// 400 `bad_device_id` when [`crate::device_id::check`] refuses it.
pub(in crate::http) fn check_device_id(id: &str) -> Result<(), ApiError> {
    crate::device_id::check(id).map_err(bad_device_id)
}

/// 400 `bad_device_id` with the checker's message.
pub(in crate::http) fn bad_device_id(message: String) -> ApiError {
    ApiError::bad_request("bad_device_id", message)
}

/// The next path segment, percent-decoded (400 `bad_path` when not UTF-8).
pub(super) fn text() -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
    warp::path::param::<String>().and_then(|raw: String| async move {
        decode(&raw, "bad_path").map_err(warp::reject::custom)
    })
}

/// The next path segment as a device id: percent-decoded and checked
/// (400 `bad_device_id`).
pub(super) fn device_id() -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
    warp::path::param::<String>()
        .and_then(|raw: String| async move { device_id_of(&raw).map_err(warp::reject::custom) })
}

#[cfg(test)]
mod tests {
    use super::{decode, device_id_of};

    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(device_id_of("ESP32%5F001").unwrap(), "ESP32_001");
        assert_eq!(device_id_of("ESP32_001").unwrap(), "ESP32_001");
        assert_eq!(decode("a%40b+c", "x").unwrap(), "a@b+c");
        assert_eq!(decode("%zz", "x").unwrap(), "%zz");
    }

    #[test]
    fn bad_segments_are_refused() {
        for raw in [
            "%FF", "a%2Fb", "a%00b", "%2e%2e", "..", "a%20b", "%", "%C3%A9",
        ] {
            let e = device_id_of(raw).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (400, "bad_device_id"), "{raw}");
        }
        assert_eq!(decode("%C3%28", "bad_path").unwrap_err().code, "bad_path");
    }
}
