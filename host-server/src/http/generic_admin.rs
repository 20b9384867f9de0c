//! The IoTFlow admin routes over generic devices (admins):
//! `GET /api/v1/admin/devices`, `GET`/`PUT`/`DELETE /api/v1/admin/devices/{id}`,
//! `POST /api/v1/admin/devices/{id}/rotate-key` and `/revoke-key`,
//! `GET /api/v1/admin/dashboard`, `GET /api/v1/admin/telemetry`.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::accounts::json_body;
use super::error::{ApiError, respond};
use super::generic_devices::{MAX_READINGS, device_json, generic_error, text};
use super::guard::gate;
use super::with_state;
use crate::app::AppState;
use crate::auth::Access;
use crate::generic::rfc3339;
use crate::query::status::{DeviceStatus, seen_status};
use crate::store::generic::{DEVICE_ID_PREFIX, GenericPatch, ReadingQuery};

/// The admin routes.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let admin = || {
        warp::path("api")
            .and(warp::path("v1"))
            .and(warp::path("admin"))
    };
    let list = admin()
        .and(warp::path!("devices"))
        .and(warp::get())
        .and(gate(state, Access::Admin))
        .and(warp::query::<ListParams>())
        .and(with_state(state))
        .then(|q: ListParams, st: Arc<AppState>| async move { respond(list(&st, q).await) });
    let one = || {
        admin()
            .and(warp::path("devices"))
            .and(warp::path::param::<i64>())
    };
    let show = one()
        .and(warp::path::end())
        .and(warp::get())
        .and(gate(state, Access::Admin))
        .and(with_state(state))
        .then(|id: i64, st: Arc<AppState>| async move { respond(show(&st, id).await) });
    let update = one()
        .and(warp::path::end())
        .and(warp::put())
        .and(gate(state, Access::Admin))
        .and(json_body::<GenericPatch>(state.body_timeout))
        .and(with_state(state))
        .then(|id: i64, p: GenericPatch, st: Arc<AppState>| async move {
            respond(update(&st, id, p).await)
        });
    let delete = one()
        .and(warp::path::end())
        .and(warp::delete())
        .and(gate(state, Access::Admin))
        .and(with_state(state))
        .then(|id: i64, st: Arc<AppState>| async move { respond(delete(&st, id).await) });
    let key = one()
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::post())
        .and(gate(state, Access::Admin))
        .and(with_state(state))
        .then(|id: i64, action: String, st: Arc<AppState>| async move {
            respond(key_action(&st, id, &action).await)
        });
    let dashboard = admin()
        .and(warp::path!("dashboard"))
        .and(warp::get())
        .and(gate(state, Access::Admin))
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(dashboard(&st).await) });
    let telemetry = admin()
        .and(warp::path!("telemetry"))
        .and(warp::get())
        .and(gate(state, Access::Admin))
        .and(warp::query::<TelemetryParams>())
        .and(with_state(state))
        .then(
            |q: TelemetryParams, st: Arc<AppState>| async move { respond(telemetry(&st, q).await) },
        );
    list.or(show)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .or(key)
        .unify()
        .or(dashboard)
        .unify()
        .or(telemetry)
        .unify()
        .boxed()
}

/// `GET /api/v1/admin/devices`'s filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// Only `active`, `inactive` or `maintenance` devices.
    status: Option<String>,
    /// Only devices of this type.
    device_type: Option<String>,
}

async fn list(state: &AppState, q: ListParams) -> Result<impl Reply, ApiError> {
    let devices = state
        .store
        .generic_devices()
        .await
        .map_err(ApiError::internal)?;
    let shown: Vec<serde_json::Value> = devices
        .iter()
        .filter(|d| q.status.as_deref().is_none_or(|s| d.status.as_str() == s))
        .filter(|d| q.device_type.as_deref().is_none_or(|t| d.device_type == t))
        .map(|d| device_json(state, d))
        .collect();
    Ok(warp::reply::json(
        &json!({"devices": shown, "total": shown.len()}),
    ))
}

fn unknown(id: i64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_device",
        format!("no generic device {id}"),
    )
}

async fn show(state: &AppState, id: i64) -> Result<impl Reply, ApiError> {
    let device = state
        .store
        .generic_device(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| unknown(id))?;
    let channels = state
        .store
        .named_channels(&device.device_id)
        .await
        .map_err(ApiError::internal)?;
    let mut view = device_json(state, &device);
    view["channels"] = json!(channels);
    Ok(warp::reply::json(&json!({"device": view})))
}

async fn update(state: &AppState, id: i64, p: GenericPatch) -> Result<impl Reply, ApiError> {
    for (field, value) in [
        ("name", p.name.as_deref()),
        ("description", p.description.as_deref()),
        ("device_type", p.device_type.as_deref()),
        ("location", p.location.as_deref()),
        ("firmware_version", p.firmware_version.as_deref()),
        ("hardware_version", p.hardware_version.as_deref()),
    ] {
        text(field, value)?;
    }
    if p.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::bad_request("bad_body", "`name` is empty"));
    }
    let device = state
        .store
        .update_generic(id, p)
        .await
        .map_err(generic_error)?
        .ok_or_else(|| unknown(id))?;
    Ok(warp::reply::json(&json!({
        "message": "Device updated successfully",
        "device": device_json(state, &device),
    })))
}

async fn delete(state: &AppState, id: i64) -> Result<impl Reply, ApiError> {
    if !state
        .store
        .delete_generic(id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(unknown(id));
    }
    tracing::info!(id, "generic device deleted with its data");
    Ok(warp::reply::json(
        &json!({"message": "Device deleted successfully", "id": id}),
    ))
}

/// `rotate-key` (a new key, shown once; the old one stops working) or `revoke-key`.
async fn key_action(state: &AppState, id: i64, action: &str) -> Result<Response, ApiError> {
    match action {
        "rotate-key" => {
            let (key, stored) = state
                .generic
                .new_key(crate::clock::now_ms())
                .map_err(ApiError::internal)?;
            if !state
                .store
                .rotate_generic_key(id, stored)
                .await
                .map_err(ApiError::internal)?
            {
                return Err(unknown(id));
            }
            let reply =
                json!({"id": id, "api_key": key, "expires_at": stored.expires_ms.map(rfc3339)});
            Ok(warp::reply::json(&reply).into_response())
        }
        "revoke-key" => {
            if !state
                .store
                .revoke_generic_key(id)
                .await
                .map_err(ApiError::internal)?
            {
                return Err(unknown(id));
            }
            Ok(warp::reply::json(&json!({"id": id, "done": "revoked"})).into_response())
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            super::error::NO_ROUTE,
        )),
    }
}

async fn dashboard(state: &AppState) -> Result<impl Reply, ApiError> {
    let now = crate::clock::now_ms();
    let since = now.saturating_sub(24 * 3_600_000);
    let counts = state
        .store
        .generic_counts(since)
        .await
        .map_err(ApiError::internal)?;
    let devices = state
        .store
        .generic_devices()
        .await
        .map_err(ApiError::internal)?;
    let online = devices
        .iter()
        .filter(|d| {
            let seen = seen_status(
                d.last_seen_ms,
                d.upload_interval_s,
                state.policy.upload_interval,
                now,
            );
            seen == DeviceStatus::Online
        })
        .count();
    let as_map = |pairs: &[(String, u64)]| pairs.iter().cloned().collect::<BTreeMap<String, u64>>();
    let per_hour: Vec<_> = counts
        .per_hour
        .iter()
        .map(|(h, n)| json!({"hour": rfc3339(*h), "count": n}))
        .collect();
    let top: Vec<_> = counts
        .top
        .iter()
        .map(|(id, name, n)| json!({"id": id, "name": name, "telemetry_count": n}))
        .collect();
    Ok(warp::reply::json(&json!({
        "devices": {
            "total": devices.len(),
            "online": online,
            "offline": devices.len() - online,
            "by_status": as_map(&counts.by_status),
            "by_type": as_map(&counts.by_type),
        },
        "telemetry": {
            "last_24h": counts.per_hour.iter().map(|(_, n)| n).sum::<u64>(),
            "per_hour": per_hour,
        },
        "top_devices": top,
    })))
}

/// `GET /api/v1/admin/telemetry`'s page and filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TelemetryParams {
    /// Page, from 1.
    page: Option<u64>,
    /// Readings per page (default 50, at most 1000).
    per_page: Option<u64>,
    /// One device: its number or `generic-N`.
    device_id: Option<String>,
    /// One `type`.
    #[serde(rename = "type")]
    data_type: Option<String>,
    /// Sample time from, Unix ms.
    from: Option<u64>,
    /// Sample time before, Unix ms.
    to: Option<u64>,
}

async fn telemetry(state: &AppState, q: TelemetryParams) -> Result<impl Reply, ApiError> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(50);
    if page == 0 || per_page == 0 || per_page > MAX_READINGS {
        return Err(ApiError::bad_request(
            "bad_page",
            format!("`page` from 1, `per_page` 1 to {MAX_READINGS}"),
        ));
    }
    let device = match q.device_id.as_deref() {
        None => None,
        Some(d) => Some(
            d.strip_prefix(DEVICE_ID_PREFIX)
                .unwrap_or(d)
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request("bad_query", "`device_id`: N or generic-N"))?,
        ),
    };
    let (readings, total) = state
        .store
        .readings(ReadingQuery {
            device,
            data_type: q.data_type,
            from_ms: q.from,
            to_ms: q.to,
            offset: (page - 1).saturating_mul(per_page),
            limit: per_page,
        })
        .await
        .map_err(ApiError::internal)?;
    Ok(warp::reply::json(&json!({
        "telemetry": readings,
        "pagination": {
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": total.div_ceil(per_page),
        },
    })))
}
