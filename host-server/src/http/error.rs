//! The one error shape of every HTTP answer: `{"error": code, "message": …}`.

use std::convert::Infallible;

use http::StatusCode;
use http::header::{HeaderValue, RETRY_AFTER};
use serde::Serialize;
use utoipa::ToSchema;
use warp::reply::Response;
use warp::{Rejection, Reply};

/// An error answer: status, stable code, message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Seconds to wait before retrying (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with no retry hint.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// An error whose status is its code's ([`ERROR_CODES`](super::error_codes::ERROR_CODES));
    /// for codes that come from an error type rather than a literal. An
    /// unlisted code is a bug: 500 `internal`, logged.
    pub fn coded(code: &'static str, message: impl Into<String>) -> Self {
        match super::error_codes::status_of(code) {
            Some(status) => Self::new(status, code, message),
            None => Self::internal(format!("unlisted error code {code}")),
        }
    }

    /// 400 with a core or server error code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 `unauthorized`: one outward code for every authentication failure.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the upload could not be authenticated",
        )
    }

    /// 404 for an unknown device.
    pub fn unknown_device(device: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            format!("no device {device}; add it with `solarwire device add {device}`"),
        )
    }

    /// 413 `too_large`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 429 `rate_limited`, retry after `wait` (at least a second).
    pub fn rate_limited(message: impl Into<String>, wait: std::time::Duration) -> Self {
        Self {
            retry_after: Some(wait.as_secs().max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }

    /// 503 with a retry hint.
    pub fn unavailable(code: &'static str, message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    /// 500 for a failure the log explains (the message never carries
    /// details); a busy store is 503 `busy` with `Retry-After` instead.
    pub fn internal(log: impl std::fmt::Display + 'static) -> Self {
        let store = (&log as &dyn std::any::Any).downcast_ref::<crate::store::StoreError>();
        if store.is_some_and(crate::store::StoreError::is_busy) {
            tracing::warn!(error = %log, "database busy");
            return Self::unavailable("busy", "the database is busy; retry shortly", 1);
        }
        tracing::error!(error = %log, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
}

impl warp::reject::Reject for ApiError {}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "unknown_device", "message": "no device X; add it with `solarwire device add X`"}))]
pub struct ErrorBody {
    /// Stable snake_case code (`unauthorized`, `replay`, `unknown_device`, `bad_query` …).
    pub error: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        debug_assert_eq!(
            super::error_codes::status_of(self.code),
            Some(self.status),
            "`{}` answered with {}: list it in ERROR_CODES",
            self.code,
            self.status
        );
        let body = ErrorBody {
            error: self.code,
            message: self.message,
        };
        let mut response =
            warp::reply::with_status(warp::reply::json(&body), self.status).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Either reply turned into a response.
pub fn respond<T: Reply>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(reply) => reply.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The message of the 404 for a path no route serves (a handler's own 404,
/// such as `unknown_device`, says something else).
pub const NO_ROUTE: &str = "no such route";

/// Maps every rejection (no route, wrong method, bad query …) to the error shape.
///
/// A rejection combines those of every route tried, so the most telling
/// one wins: our own errors, then what was wrong with a request a route
/// did match by path and method (query, headers, body), and "method not
/// allowed" only when no route took the method at all.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };
    let error = if let Some(e) = rejection.find::<ApiError>() {
        e.clone()
    } else if rejection.is_not_found() {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", NO_ROUTE)
    } else if let Some(e) = rejection.find::<InvalidQuery>() {
        ApiError::bad_request("bad_query", e.to_string())
    } else if let Some(e) = rejection.find::<MissingHeader>() {
        ApiError::bad_request("bad_header", e.to_string())
    } else if let Some(e) = rejection.find::<InvalidHeader>() {
        ApiError::bad_request("bad_header", e.to_string())
    } else if let Some(e) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        ApiError::bad_request("malformed", e.to_string())
    } else if rejection.find::<PayloadTooLarge>().is_some() {
        ApiError::too_large("the request body is too large")
    } else if rejection.find::<LengthRequired>().is_some() {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a Content-Length header is required",
        )
    } else if rejection.find::<UnsupportedMediaType>().is_some() {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "unsupported content type",
        )
    } else if rejection
        .find::<warp::filters::ws::MissingConnectionUpgrade>()
        .is_some()
    {
        ApiError::bad_request("not_websocket", "this route needs a WebSocket upgrade")
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this route",
        )
    } else {
        ApiError::internal(format!("unhandled rejection: {rejection:?}"))
    };
    Ok(error.into_response())
}
