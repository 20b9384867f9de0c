//! `/api/v1/devices/{id}`, `/latest` and `/history`: reading a device and
//! its samples (viewers and up).

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::guard::gate;
use super::segment::check_device_id;
use super::{device_path, with_state};
use crate::app::AppState;
use crate::auth::Access;
use crate::readings::{SampleJson, SampleMeta, register_ids, sample_json};
use crate::store::{DeviceDetail, HistoryQuery, StoredSample};
use solarwire_core::registers::Profile;

/// Samples per history answer by default, and at most.
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 10_000;

/// Every `/api/v1/devices…` route except uploads.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let show = device_path()
        .and(warp::path::end())
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(with_state(state))
        .then(|id: String, st: Arc<AppState>| async move { respond(show(&st, &id).await) });
    let latest = device_path()
        .and(warp::path!("latest"))
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(with_state(state))
        .then(|id: String, st: Arc<AppState>| async move { respond(latest(&st, &id).await) });
    let history = device_path()
        .and(warp::path!("history"))
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<HistoryParams>())
        .and(warp::header::optional::<String>("accept"))
        .and(with_state(state))
        .then(
            |id: String, q: HistoryParams, accept: Option<String>, st: Arc<AppState>| async move {
                respond(history(&st, &id, q, accept.as_deref()).await)
            },
        );
    show.or(latest)
        .unify()
        .or(history)
        .unify()
        .or(super::device_admin::routes(state))
        .unify()
        .boxed()
}

/// One device: registration, keys in use, last seen, nonce, upload and
/// sample counts, codec mix and compression ratio.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{device_id}",
    operation_id = "get_device",
    tag = "devices",
    responses(
        (status = 200, description = "The device", body = DeviceView),
        (status = 400, description = "A bad device id (`bad_device_id`)", body = ErrorBody),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
    ),
)]
async fn show(state: &AppState, id: &str) -> Result<impl Reply, ApiError> {
    check_device_id(id)?;
    let detail = state
        .store
        .device(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unknown_device(id))?;
    let (bytes, original) = detail
        .codecs
        .iter()
        .fold((0, 0), |(b, o), c| (b + c.bytes, o + c.original_bytes));
    Ok(warp::reply::json(&DeviceView {
        detail,
        compression_ratio: (original > 0).then(|| bytes as f64 / original as f64),
    }))
}

/// `GET /api/v1/devices/{device_id}`.
#[derive(Debug, Serialize, ToSchema)]
struct DeviceView {
    /// The device and its statistics.
    #[serde(flatten)]
    detail: DeviceDetail,
    /// Compressed bytes over raw bytes of everything decoded (`null` before any).
    compression_ratio: Option<f64>,
}

fn sample_value(profile: &Profile, s: &StoredSample) -> SampleJson {
    let meta = SampleMeta {
        t_ms: Some(s.t_ms),
        device_time: s.device_time,
        approximate: s.approximate,
        upload_id: s.upload_id,
        packet: s.packet,
    };
    sample_json(profile, meta, &s.registers)
}

/// The register profile a device's samples are read with.
async fn profile_of(state: &AppState, id: &str) -> Result<&'static Profile, ApiError> {
    let profiles = state
        .store
        .device_profiles()
        .await
        .map_err(ApiError::internal)?;
    Ok(crate::readings::device_profile(
        profiles.get(id).map(String::as_str),
    ))
}

/// The device's newest sample, raw and converted.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{device_id}/latest",
    tag = "queries",
    responses(
        (status = 200, description = "The newest sample", body = LatestReply),
        (status = 404, description = "No such device (`unknown_device`) or no sample yet (`no_data`)", body = ErrorBody),
    ),
)]
async fn latest(state: &AppState, id: &str) -> Result<impl Reply, ApiError> {
    check_device_id(id)?;
    let sample = state.store.latest(id).await.map_err(ApiError::internal)?;
    let Some(sample) = sample else {
        return Err(
            match state.store.device(id).await.map_err(ApiError::internal)? {
                Some(_) => ApiError::new(StatusCode::NOT_FOUND, "no_data", "no samples stored yet"),
                None => ApiError::unknown_device(id),
            },
        );
    };
    let profile = profile_of(state, id).await?;
    Ok(warp::reply::json(&LatestReply {
        device_id: id.to_owned(),
        sample: sample_value(profile, &sample),
    }))
}

/// `GET /api/v1/devices/{device_id}/latest`.
#[derive(Debug, Serialize, ToSchema)]
struct LatestReply {
    /// The device.
    device_id: String,
    /// Its newest sample.
    sample: SampleJson,
}

/// `from`/`to` in Unix ms (`to` exclusive), `registers` a comma list,
/// `limit`, `format=csv` (or `Accept: text/csv`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryParams {
    /// Start, Unix ms (inclusive; default: the beginning).
    from: Option<u64>,
    /// End, Unix ms (exclusive; default: now and later).
    to: Option<u64>,
    /// Registers to include, by name or id, comma-separated (default: all).
    #[param(example = "Pac,Vac1")]
    registers: Option<String>,
    /// Samples at most, 1 to 10000 (default 1000).
    limit: Option<usize>,
    /// `csv` for a CSV download (as `Accept: text/csv`).
    #[param(example = "csv")]
    format: Option<String>,
}

/// Samples in a time range, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{device_id}/history",
    tag = "queries",
    params(HistoryParams),
    responses(
        (status = 200, description = "The samples (CSV with `format=csv` or `Accept: text/csv`: one row per sample, one column per register)", content(
            (HistoryReply = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A bad query, `from` after `to`, or an unknown register (`bad_query`, `bad_range`, `unknown_register`)", body = ErrorBody),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
    ),
)]
async fn history(
    state: &AppState,
    id: &str,
    q: HistoryParams,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    check_device_id(id)?;
    let profile = profile_of(state, id).await?;
    let wanted = q
        .registers
        .as_deref()
        .map(|list| register_ids(profile, list))
        .transpose()
        .map_err(|m| ApiError::bad_request("unknown_register", m))?;
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(ApiError::bad_request(
            "bad_range",
            "from must not be after to",
        ));
    }
    let query = HistoryQuery {
        from_ms: q.from.unwrap_or(0).min(i64::MAX as u64),
        to_ms: q.to.unwrap_or(i64::MAX as u64).min(i64::MAX as u64),
        limit: q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    if state
        .store
        .device(id)
        .await
        .map_err(ApiError::internal)?
        .is_none()
    {
        return Err(ApiError::unknown_device(id));
    }
    let mut samples = state
        .store
        .history(id, query)
        .await
        .map_err(ApiError::internal)?;
    if let Some(wanted) = &wanted {
        for s in &mut samples {
            s.registers.retain(|(r, _)| wanted.contains(r));
        }
    }
    if crate::query::csv::wanted(q.format.as_deref(), accept) {
        return Ok(super::queries::history_csv(profile, id, &samples));
    }
    let samples: Vec<SampleJson> = samples.iter().map(|s| sample_value(profile, s)).collect();
    Ok(warp::reply::json(&HistoryReply {
        device_id: id.to_owned(),
        from: query.from_ms,
        to: query.to_ms,
        count: samples.len(),
        samples,
    })
    .into_response())
}

/// `GET /api/v1/devices/{device_id}/history`.
#[derive(Debug, Serialize, ToSchema)]
struct HistoryReply {
    /// The device.
    device_id: String,
    /// Start, Unix ms.
    from: u64,
    /// End (exclusive), Unix ms.
    to: u64,
    /// Samples returned.
    count: usize,
    /// The samples, oldest first.
    samples: Vec<SampleJson>,
}
