//! Health, status and metrics.

use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, respond};
use super::with_state;
use crate::app::AppState;

/// `/health`, `/health/live`, `/health/ready`, `/status`, `/metrics`.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let live = warp::path!("health" / "live")
        .and(warp::get())
        .map(|| warp::reply::json(&json!({ "status": "ok" })).into_response());
    let ready = warp::path!("health" / "ready")
        .or(warp::path!("health"))
        .unify()
        .and(warp::get())
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(ready(&st).await) });
    let status = warp::path!("status")
        .and(warp::get())
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(status(&st).await) });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .map(|st: Arc<AppState>| {
            warp::reply::with_header(
                st.telemetry.render_prometheus(),
                "content-type",
                "text/plain; version=0.0.4",
            )
            .into_response()
        });
    live.or(ready)
        .unify()
        .or(status)
        .unify()
        .or(metrics)
        .unify()
        .boxed()
}

/// Ready when the writer commits and the database answers a read.
async fn ready(state: &AppState) -> Result<impl Reply, ApiError> {
    let readable = state.store.counts().await.is_ok();
    let writable = state.store.writable();
    if readable && writable {
        Ok(warp::reply::json(&json!({ "status": "ok", "store": "ok" })))
    } else {
        Err(ApiError {
            retry_after: Some(5),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("store not ready (readable: {readable}, writable: {writable})"),
            )
        })
    }
}

async fn status(state: &AppState) -> Result<impl Reply, ApiError> {
    let counts = state.store.counts().await.map_err(ApiError::internal)?;
    let t = state.telemetry.snapshot();
    Ok(warp::reply::json(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": t.uptime_s,
        "data_dir": state.data_dir,
        "mode": {
            "fleet_key": state.fleet_mode,
            "unsigned_legacy": state.allow_unsigned_legacy,
            "rate_limit": state.rate.is_some(),
        },
        "store": {
            "writable": state.store.writable(),
            "devices": counts.devices,
            "uploads": counts.uploads,
            "samples": counts.samples,
        },
        "since_start": {
            "uploads_stored": t.uploads_stored,
            "uploads_duplicate": t.uploads_duplicate,
            "samples_stored": t.samples_stored,
            "batches": t.batches,
            "failed_batches": t.failed_batches,
            "rejected": t.rejected,
            "codecs": t.codecs,
        },
        "mqtt": {
            "enabled": state.mqtt_enabled,
            "connected": t.mqtt_connected,
            "published": t.mqtt_published,
            "dropped": t.mqtt_dropped,
        },
        "websocket": { "clients": t.ws_clients },
        "live_dropped": t.live_dropped,
    })))
}
