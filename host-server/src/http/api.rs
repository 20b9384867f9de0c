//! `/api/v1`: reading devices and their samples (viewers), and the admin
//! routes that manage devices over HTTP.

use std::sync::Arc;

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::error::{ApiError, respond};
use super::guard::gate;
use super::{device_path, with_state};
use crate::app::AppState;
use crate::auth::Access;
use crate::readings::{SampleMeta, register_ids, sample_json};
use futures_util::future::BoxFuture;

use crate::store::{DeviceKeys, HistoryQuery, Store, StoreError, StoredSample};

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
        .or(admin_routes(state))
        .unify()
        .boxed()
}

fn admin_routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let add = warp::path!("api" / "v1" / "devices")
        .and(warp::post())
        .and(admin(state))
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::json::<NewDevice>())
        .and(with_state(state))
        .then(|req: NewDevice, st: Arc<AppState>| async move { respond(add(&st, req).await) });
    let rotate = device_path()
        .and(warp::path!("rotate-key"))
        .and(warp::post())
        .and(admin(state))
        .and(warp::query::<KeyOptions>())
        .and(with_state(state))
        .then(|id: String, o: KeyOptions, st: Arc<AppState>| async move {
            respond(rotate(&st, &id, o.aes).await)
        });
    let remove = device_path()
        .and(warp::path::end())
        .and(warp::delete())
        .and(admin(state))
        .and(warp::query::<RemoveOptions>())
        .and(with_state(state))
        .then(
            |id: String, o: RemoveOptions, st: Arc<AppState>| async move {
                respond(if o.keep_data {
                    change(&st, &id, "retired", |s, id| s.retire_device(id)).await
                } else {
                    change(&st, &id, "removed", |s, id| s.remove_device(id)).await
                })
            },
        );
    let reset = device_path()
        .and(warp::path!("nonce"))
        .and(warp::delete())
        .and(admin(state))
        .and(with_state(state))
        .then(|id: String, st: Arc<AppState>| async move {
            respond(change(&st, &id, "nonce_reset", |s, id| s.reset_nonce(id)).await)
        });
    add.or(rotate)
        .unify()
        .or(remove)
        .unify()
        .or(reset)
        .unify()
        .boxed()
}

/// Passes admins: users, admin-scoped API keys, the break-glass token.
fn admin(state: &Arc<AppState>) -> impl Filter<Extract = (), Error = Rejection> + Clone + use<> {
    gate(state, Access::Admin)
}

fn checked(id: &str) -> Result<(), ApiError> {
    crate::device_id::check(id).map_err(|m| ApiError::bad_request("bad_device_id", m))
}

async fn show(state: &AppState, id: &str) -> Result<impl Reply, ApiError> {
    checked(id)?;
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
    let mut body = serde_json::to_value(&detail).map_err(ApiError::internal)?;
    body["compression_ratio"] = json!((original > 0).then(|| bytes as f64 / original as f64));
    Ok(warp::reply::json(&body))
}

fn sample_value(s: &StoredSample) -> Value {
    let meta = SampleMeta {
        t_ms: Some(s.t_ms),
        device_time: s.device_time,
        approximate: s.approximate,
        upload_id: s.upload_id,
        packet: s.packet,
    };
    sample_json(meta, &s.registers)
}

async fn latest(state: &AppState, id: &str) -> Result<impl Reply, ApiError> {
    checked(id)?;
    let sample = state.store.latest(id).await.map_err(ApiError::internal)?;
    let Some(sample) = sample else {
        return Err(
            match state.store.device(id).await.map_err(ApiError::internal)? {
                Some(_) => ApiError::new(StatusCode::NOT_FOUND, "no_data", "no samples stored yet"),
                None => ApiError::unknown_device(id),
            },
        );
    };
    Ok(warp::reply::json(
        &json!({ "device_id": id, "sample": sample_value(&sample) }),
    ))
}

/// `from`/`to` in Unix ms (`to` exclusive), `registers` a comma list,
/// `limit`, `format=csv` (or `Accept: text/csv`).
#[derive(Debug, Deserialize)]
struct HistoryParams {
    from: Option<u64>,
    to: Option<u64>,
    registers: Option<String>,
    limit: Option<usize>,
    format: Option<String>,
}

async fn history(
    state: &AppState,
    id: &str,
    q: HistoryParams,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    checked(id)?;
    let wanted = q
        .registers
        .as_deref()
        .map(register_ids)
        .transpose()
        .map_err(|m| ApiError::bad_request("unknown_register", m))?;
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
        return Ok(super::queries::history_csv(id, &samples));
    }
    let samples: Vec<Value> = samples.iter().map(sample_value).collect();
    Ok(warp::reply::json(&json!({
        "device_id": id,
        "from": query.from_ms,
        "to": query.to_ms,
        "count": samples.len(),
        "samples": samples,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    device_id: String,
    #[serde(default)]
    aes: bool,
}

/// `keep_data=true` retires the device (keys erased, uploads refused,
/// data kept); otherwise its data is deleted with it.
#[derive(Debug, Deserialize)]
struct RemoveOptions {
    #[serde(default)]
    keep_data: bool,
}

#[derive(Debug, Deserialize)]
struct KeyOptions {
    #[serde(default)]
    aes: bool,
}

fn keys_reply(id: &str, keys: &DeviceKeys, status: StatusCode) -> Response {
    let body = json!({
        "device_id": id,
        "hmac_key": keys.hmac.as_deref().map(hex::encode),
        "aes_key": keys.aes.map(hex::encode),
        "message": "the keys are shown once; store them in the device",
    });
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn new_keys(aes: bool) -> Result<DeviceKeys, ApiError> {
    crate::keys::generate(aes).map_err(ApiError::internal)
}

async fn add(state: &AppState, req: NewDevice) -> Result<Response, ApiError> {
    checked(&req.device_id)?;
    let keys = new_keys(req.aes)?;
    if !state
        .store
        .add_device(&req.device_id, keys.clone())
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "device_exists",
            format!("device {} already exists", req.device_id),
        ));
    }
    state.keys.invalidate();
    tracing::info!(device = req.device_id, "device added over the admin API");
    Ok(keys_reply(&req.device_id, &keys, StatusCode::CREATED))
}

async fn rotate(state: &AppState, id: &str, aes: bool) -> Result<Response, ApiError> {
    checked(id)?;
    let keys = new_keys(aes)?;
    if !state
        .store
        .rotate_keys(id, keys.clone())
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::unknown_device(id));
    }
    state.keys.invalidate();
    tracing::info!(device = id, "device keys rotated over the admin API");
    Ok(keys_reply(id, &keys, StatusCode::OK))
}

/// An operator change to one device; `false` when the device is unknown.
type DeviceOp = for<'a> fn(&'a dyn Store, &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

async fn change(
    state: &AppState,
    id: &str,
    what: &'static str,
    op: DeviceOp,
) -> Result<impl Reply, ApiError> {
    checked(id)?;
    if !op(state.store.as_ref(), id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::unknown_device(id));
    }
    state.keys.invalidate();
    tracing::info!(
        device = id,
        change = what,
        "device changed over the admin API"
    );
    Ok(warp::reply::json(&json!({ "device_id": id, "done": what })))
}
