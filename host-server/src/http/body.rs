//! Request bodies read with a size cap and a time limit.
//!
//! A declared `Content-Length` over the cap is refused before anything is
//! read; a body without one (chunked) is streamed and cut off at the cap,
//! so the firmware is never asked for a length it does not send.
//!
//! JSON routes also refuse a body declared as something else (415): the
//! firmware always says `application/json`; a body sent without a
//! `Content-Type` is still read as JSON.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::StatusCode;
use warp::{Filter, Rejection};

use super::error::ApiError;

/// Extracts the whole body, at most `limit` bytes, read within `timeout`.
pub fn bounded(
    limit: usize,
    timeout: Duration,
) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |declared: Option<u64>, stream| async move {
            if declared.is_some_and(|n| n > limit as u64) {
                return Err(warp::reject::custom(too_large(limit)));
            }
            let capacity = declared.map_or(4096, |n| n as usize);
            match tokio::time::timeout(timeout, collect(stream, limit, capacity)).await {
                Ok(result) => result.map_err(warp::reject::custom),
                Err(_) => Err(warp::reject::custom(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the request body was not received in time",
                ))),
            }
        })
}

/// Admits a request whose `Content-Type`, when present, is JSON
/// (`application/json` or `application/…+json`, any parameters).
pub fn json_type() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    media_types(is_json, "send the body as application/json")
}

/// Admits an upload: JSON (the firmware's envelope) or
/// `application/octet-stream` (an envelope v2), or no `Content-Type`.
pub fn upload_type() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    media_types(
        |v| is_json(v) || media_type(v) == "application/octet-stream",
        "send the body as application/json (an envelope v2 as application/octet-stream)",
    )
}

/// Admits a request whose every `Content-Type` value `accepts`.
fn media_types(
    accepts: fn(&str) -> bool,
    hint: &'static str,
) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and_then(move |headers: http::HeaderMap| async move {
            let declared = headers.get_all(http::header::CONTENT_TYPE);
            if declared.iter().all(|v| v.to_str().is_ok_and(accepts)) {
                Ok(())
            } else {
                Err(warp::reject::custom(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    hint,
                )))
            }
        })
        .untuple_one()
}

/// A `Content-Type` value's media type: `type/subtype`, lowercase, without
/// parameters.
pub(super) fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a `Content-Type` value names JSON (`application/json` or
/// `application/…+json`, any parameters).
pub(super) fn is_json(value: &str) -> bool {
    let media = media_type(value);
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!("the request body is over {limit} bytes"))
}

async fn collect<B: Buf>(
    stream: impl Stream<Item = Result<B, warp::Error>>,
    limit: usize,
    capacity: usize,
) -> Result<Bytes, ApiError> {
    let mut stream = std::pin::pin!(stream);
    let mut body = BytesMut::with_capacity(capacity);
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk
            .map_err(|e| ApiError::bad_request("bad_body", format!("cannot read the body: {e}")))?;
        if body.len() + chunk.remaining() > limit {
            return Err(too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_types_are_recognised() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.x+json",
        ] {
            assert!(super::is_json(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "",
            "application/jsonx",
        ] {
            assert!(!super::is_json(bad), "{bad}");
        }
    }
}
