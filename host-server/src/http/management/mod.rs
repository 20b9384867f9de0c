//! Device management over HTTP (spec §7): firmware updates, remote
//! configuration, commands and reports. Device-facing routes carry no
//! credentials, as the firmware requires, but refuse unknown and retired
//! devices and are rate-limited per device ([`gate`]); operator routes
//! need a viewer to read and an admin to change anything.

pub(super) mod commands;
pub(super) mod config;
pub(super) mod firmware_admin;
pub(super) mod gate;
pub(super) mod ota;
pub(super) mod ota_faults;
pub(super) mod ota_progress;
pub(super) mod reports;

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::error::ApiError;
use crate::app::AppState;

/// Largest device JSON body (polls, progress, results, fault and energy reports).
const DEVICE_BODY: usize = 4 * 1024;
/// Largest diagnostics document and operator JSON body.
const LARGE_BODY: usize = 16 * 1024;
/// History entries per answer by default, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Every management route.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    ota::routes(state)
        .or(firmware_admin::routes(state))
        .unify()
        .or(config::routes(state))
        .unify()
        .or(commands::routes(state))
        .unify()
        .or(reports::routes(state))
        .unify()
        .boxed()
}

/// A JSON body of at most `limit` bytes, read as `T` (400 `malformed`).
fn json<T: DeserializeOwned + Send>(
    state: &AppState,
    limit: usize,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone + use<T> {
    super::body::json_type()
        .and(super::body::bounded(limit, state.body_timeout))
        .and_then(|body: Bytes| async move {
            serde_json::from_slice(&body).map_err(|e| {
                warp::reject::custom(ApiError::bad_request("malformed", format!("JSON: {e}")))
            })
        })
}

/// `?limit=` of a history answer.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(in crate::http) struct Limit {
    /// Entries at most (default 100, at most 1000).
    limit: Option<usize>,
}

impl Limit {
    fn get(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n @ 1..=MAX_LIMIT) => Ok(n),
            Some(_) => Err(ApiError::bad_request(
                "bad_query",
                format!("limit is 1–{MAX_LIMIT}"),
            )),
        }
    }
}

/// A JSON answer with a status.
fn reply(status: StatusCode, body: &impl Serialize) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// Unix seconds of `now_ms`.
fn unix(now_ms: u64) -> u64 {
    now_ms / 1000
}

/// A store failure answered 500 (logged).
fn internal(e: crate::store::StoreError) -> ApiError {
    ApiError::internal(e)
}
