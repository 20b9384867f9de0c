//! Request framing refused before any route sees the request.
//!
//! - both `Content-Length` and `Transfer-Encoding` (spotted by
//!   [`crate::wire_guard`]): 400 `bad_framing`, the connection closed;
//! - a `Content-Encoding` other than `identity`: 415
//!   `unsupported_encoding`. The server decodes no content coding, so such
//!   a body would otherwise be stored as if it were plain.

use http::header::{CONNECTION, CONTENT_ENCODING, HeaderValue};
use http::{HeaderMap, StatusCode};
use warp::Reply;
use warp::reply::Response;

use super::error::ApiError;

/// The answer refusing a request's framing, if it must be refused.
pub fn refuse(headers: &HeaderMap, ambiguous_length: bool) -> Option<Response> {
    if ambiguous_length {
        let mut response = ApiError::bad_request(
            "bad_framing",
            "send either Content-Length or Transfer-Encoding, not both",
        )
        .into_response();
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return Some(response);
    }
    let encoded = headers.get_all(CONTENT_ENCODING).iter().any(|v| {
        v.to_str().map_or(true, |v| {
            v.split(',')
                .any(|c| !c.trim().is_empty() && !c.trim().eq_ignore_ascii_case("identity"))
        })
    });
    encoded.then(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            "the server applies no Content-Encoding; send the body unencoded",
        )
        .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(encoding: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
        h
    }

    #[test]
    fn only_identity_is_accepted() {
        assert!(refuse(&HeaderMap::new(), false).is_none());
        assert!(refuse(&with("identity"), false).is_none());
        for coded in ["br", "zstd", "gzip", "x-unknown", "identity, gzip"] {
            let r = refuse(&with(coded), false).unwrap();
            assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{coded}");
        }
        let r = refuse(&HeaderMap::new(), true).unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
