//! Every error code the server answers with, and its one HTTP status: the
//! table behind [`ApiError::coded`](super::error::ApiError::coded), the
//! OpenAPI `ErrorBody.error` enum and the README's error table (tests keep
//! the three and the call sites in step).

use http::StatusCode;

/// `(code, HTTP status, what it means)`, grouped by status.
pub const ERROR_CODES: &[(&str, u16, &str)] = &[
    ("bad_action", 400, "an unknown firmware-update action"),
    ("bad_agg", 400, "an unknown aggregate"),
    ("bad_at", 400, "a bad date or time"),
    ("bad_base64", 400, "an envelope field is not base64"),
    ("bad_body", 400, "a body of the wrong shape"),
    ("bad_city", 400, "a bad city name"),
    (
        "bad_client_name",
        400,
        "a client name that is empty or too long",
    ),
    ("bad_command", 400, "a command of the wrong shape"),
    (
        "bad_device_id",
        400,
        "a device id that is empty, too long or has other characters",
    ),
    ("bad_expiry", 400, "a bad key expiry"),
    ("bad_firmware_version", 400, "a bad firmware version"),
    (
        "bad_framing",
        400,
        "Content-Length together with Transfer-Encoding",
    ),
    ("bad_header", 400, "a missing or invalid header"),
    ("bad_interval", 400, "a bad interval"),
    ("bad_key_name", 400, "a bad API key name"),
    (
        "bad_mac_encoding",
        400,
        "the MAC is not 64 lowercase hex digits",
    ),
    ("bad_page", 400, "a page or page size out of range"),
    (
        "bad_path",
        400,
        "a path segment that is not UTF-8 once percent-decoded",
    ),
    ("bad_period", 400, "an unknown period"),
    ("bad_phase", 400, "an unknown update phase"),
    ("bad_query", 400, "a query string of the wrong shape"),
    ("bad_range", 400, "`from` after `to`, or a range too long"),
    ("bad_report", 400, "a device report of the wrong shape"),
    ("bad_request", 400, "a request that could not be parsed"),
    ("bad_role", 400, "an unknown role"),
    (
        "bad_rollout",
        400,
        "a rollout target that is not a percentage or a device list",
    ),
    ("bad_rule", 400, "an alert rule of the wrong shape"),
    ("bad_scope", 400, "an unknown API key scope"),
    (
        "bad_signed_request",
        400,
        "a signed token request whose headers are missing or malformed",
    ),
    ("bad_status", 400, "an unknown status"),
    ("bad_step", 400, "a bad series step"),
    (
        "bad_telemetry",
        400,
        "a generic device reading of the wrong shape",
    ),
    ("bad_time", 400, "a bad date, month or year"),
    ("bad_timezone", 400, "an unknown time zone"),
    ("bad_user_name", 400, "a bad user name"),
    (
        "bad_version",
        400,
        "a firmware version that is empty, too long or has other characters",
    ),
    ("empty_image", 400, "an empty firmware image"),
    (
        "invalid_config",
        400,
        "a configuration update of the wrong shape",
    ),
    ("malformed", 400, "a body or upload of the wrong shape"),
    (
        "not_esp32_image",
        400,
        "a firmware image that is not an ESP32 image",
    ),
    (
        "not_websocket",
        400,
        "a live route without a WebSocket upgrade",
    ),
    ("too_many_buckets", 400, "a series with too many buckets"),
    (
        "too_many_channels",
        400,
        "more named channels than a generic device may have",
    ),
    (
        "unknown_action",
        400,
        "a command action the device does not know",
    ),
    (
        "unknown_channel",
        400,
        "a named channel the device does not have",
    ),
    (
        "unknown_profile",
        400,
        "a register profile the catalog does not know",
    ),
    (
        "unknown_register",
        400,
        "a register the profile does not know",
    ),
    (
        "unsupported_grant_type",
        400,
        "an OAuth grant type other than password or refresh_token",
    ),
    ("weak_password", 400, "a password that is too short"),
    ("invalid_credentials", 401, "a wrong user name or password"),
    (
        "nonce_reused",
        401,
        "a signed request's nonce was used before",
    ),
    (
        "stale_timestamp",
        401,
        "a signed request dated outside the accepted window",
    ),
    ("token_expired", 401, "an expired access token"),
    ("token_reused", 401, "a refresh token used twice"),
    (
        "unauthorized",
        401,
        "no valid credentials, or an upload that could not be authenticated",
    ),
    ("client_only", 403, "only a signed API client may do this"),
    ("cors_forbidden", 403, "an origin that is not allowed"),
    (
        "forbidden",
        403,
        "credentials without the admin role or scope",
    ),
    (
        "forbidden_origin",
        403,
        "a WebSocket upgrade from an origin that is not allowed",
    ),
    (
        "registration_closed",
        403,
        "generic device registration is off or needs a valid token",
    ),
    ("no_data", 404, "nothing stored for the device yet"),
    (
        "no_site",
        404,
        "the server watches no plant (`serve --site FILE`)",
    ),
    ("not_found", 404, "no such route"),
    ("unknown_cabinet", 404, "no such cabinet"),
    ("unknown_chunk", 404, "a firmware chunk past the image"),
    (
        "unknown_city",
        404,
        "the weather provider knows no such city",
    ),
    ("unknown_client", 404, "no such API client"),
    ("unknown_command", 404, "no such command"),
    ("unknown_device", 404, "no such device"),
    ("unknown_key", 404, "no such API key"),
    ("unknown_rollout", 404, "no such rollout"),
    ("unknown_rule", 404, "no such alert rule"),
    ("unknown_user", 404, "no such user"),
    ("unknown_version", 404, "no such firmware version"),
    (
        "method_not_allowed",
        405,
        "a method the route does not take",
    ),
    ("timeout", 408, "the request took too long to arrive"),
    ("device_exists", 409, "the device already exists"),
    ("name_taken", 409, "another generic device has the name"),
    ("no_session", 409, "no firmware update in progress"),
    ("not_offered", 409, "an update the device was not offered"),
    ("replay", 409, "an upload nonce already used"),
    ("too_many_rules", 409, "the alert rule limit is reached"),
    ("user_exists", 409, "the user already exists"),
    (
        "version_exists",
        409,
        "the firmware version is already published",
    ),
    ("device_retired", 410, "the device is retired"),
    ("length_required", 411, "a body without Content-Length"),
    ("too_large", 413, "a body, upload or image over its limit"),
    ("uri_too_long", 414, "the URI is too long"),
    (
        "unsupported_encoding",
        415,
        "a Content-Encoding the server does not apply",
    ),
    ("unsupported_media_type", 415, "an unsupported content type"),
    (
        "clock_skew",
        422,
        "an envelope v2 whose device time is outside the clock-skew window",
    ),
    (
        "validation_error",
        422,
        "a SolarHub parameter out of range; `detail` says which",
    ),
    (
        "too_many_samples",
        422,
        "too many samples in the range; use a series",
    ),
    ("rate_limited", 429, "over a rate limit; see Retry-After"),
    (
        "too_many_streams",
        429,
        "too many live streams from this address",
    ),
    (
        "headers_too_large",
        431,
        "the request headers are too large",
    ),
    ("internal", 500, "a failure the server log explains"),
    ("weather_unavailable", 502, "the weather provider failed"),
    (
        "busy",
        503,
        "the server or database is busy; see Retry-After",
    ),
    (
        "no_firmware_keys",
        503,
        "no firmware keys in the data directory",
    ),
    (
        "unavailable",
        503,
        "storage is unavailable; see Retry-After",
    ),
    ("weather_off", 503, "no weather provider is configured"),
];

/// The HTTP status of an error code, when it is listed.
pub fn status_of(code: &str) -> Option<StatusCode> {
    ERROR_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .and_then(|(_, status, _)| StatusCode::from_u16(*status).ok())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::*;

    fn listed() -> BTreeMap<&'static str, u16> {
        ERROR_CODES.iter().map(|(c, s, _)| (*c, *s)).collect()
    }

    #[test]
    fn each_code_is_listed_once_with_a_client_or_server_error_status() {
        assert_eq!(listed().len(), ERROR_CODES.len(), "a code is listed twice");
        for (code, status, _) in ERROR_CODES {
            assert!((400..600).contains(status), "{code}: {status}");
            assert!(status_of(code).is_some(), "{code}: {status}");
        }
    }

    /// Every Rust file below `dir`, with its text.
    fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }

    /// The `(status, code)` pairs written as literals at the error
    /// constructors' call sites (`ApiError::new(StatusCode::X, "code"`,
    /// `ApiError::bad_request("code"`, `ApiError::unavailable("code"`).
    fn literal_pairs(text: &str) -> Vec<(Option<u16>, String)> {
        let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join("");
        let mut pairs = Vec::new();
        for (marker, status) in [
            ("ApiError::bad_request(\"", Some(400)),
            ("ApiError::unavailable(\"", Some(503)),
            ("ApiError::coded(\"", None),
        ] {
            for (at, _) in squeezed.match_indices(marker) {
                let rest = &squeezed[at + marker.len()..];
                let code = rest.split('"').next().unwrap();
                pairs.push((status, code.to_owned()));
            }
        }
        for (at, _) in squeezed.match_indices("ApiError::new(") {
            let rest = &squeezed[at + "ApiError::new(".len()..];
            let Some((status, rest)) = rest.split_once(',') else {
                continue;
            };
            let Some(code) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) else {
                continue; // a code from an error type: checked below
            };
            let name = status.rsplit("::").next().unwrap();
            let status = status_named(name).unwrap_or_else(|| panic!("status {name}"));
            pairs.push((Some(status.as_u16()), code.to_owned()));
        }
        pairs
    }

    /// The status a `StatusCode` constant names (`BAD_REQUEST`).
    fn status_named(name: &str) -> Option<StatusCode> {
        (100..600)
            .filter_map(|n| StatusCode::from_u16(n).ok())
            .find(|s| {
                s.canonical_reason()
                    .is_some_and(|r| r.to_uppercase().replace([' ', '-'], "_") == name)
            })
    }

    #[test]
    fn every_literal_code_at_a_call_site_is_listed_with_its_status() {
        let mut files = Vec::new();
        sources(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let listed = listed();
        let mut found = 0;
        let this_file = file!().rsplit('/').next().unwrap();
        for (path, text) in files.iter().filter(|(p, _)| !p.ends_with(this_file)) {
            for (status, code) in literal_pairs(text) {
                found += 1;
                let Some(&want) = listed.get(code.as_str()) else {
                    panic!("{path}: `{code}` is not in ERROR_CODES");
                };
                if let Some(status) = status {
                    assert_eq!(status, want, "{path}: `{code}` answered with {status}");
                }
            }
        }
        assert!(found > 80, "the scan found only {found} call sites");
    }

    #[test]
    fn codes_from_error_types_are_listed() {
        use solarwire_core::{EnvelopeError, ReplayError, UploadError};
        // What the upload path answers before the MAC (the rest collapse
        // into `unauthorized`), and the firmware and command errors.
        let from_types: BTreeSet<&str> = [
            &["malformed", "bad_base64", "bad_mac_encoding"][..],
            ReplayError::CODES,
            &[
                "bad_version",
                "empty_image",
                "not_esp32_image",
                "too_large",
                "internal",
            ],
            &["bad_command", "unknown_action", "bad_rollout"],
        ]
        .concat()
        .into_iter()
        .collect();
        for code in from_types {
            assert!(status_of(code).is_some(), "`{code}` is not in ERROR_CODES");
        }
        assert!(EnvelopeError::CODES.contains(&"bad_mac_encoding"));
        assert!(UploadError::CODES.contains(&"too_large"));
    }

    /// The README's table (`| code | status | meaning |` rows under
    /// "HTTP error codes") lists exactly these codes with these statuses.
    #[test]
    fn the_readme_table_matches() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
                .unwrap();
        let section = readme
            .split("## HTTP error codes")
            .nth(1)
            .expect("README has an `## HTTP error codes` section");
        let table: BTreeMap<String, u16> = section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((code.to_owned(), cells.get(2)?.parse().ok()?))
            })
            .collect();
        let listed: BTreeMap<String, u16> = listed()
            .into_iter()
            .map(|(c, s)| (c.to_owned(), s))
            .collect();
        assert_eq!(table, listed);
    }
}
