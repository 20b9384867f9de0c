//! Health, status and metrics.

use std::sync::Arc;

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::guard::gate;
use super::with_state;
use crate::app::AppState;
use crate::auth::Access;
use crate::store::StoreCounts;
use crate::telemetry::CodecCounters;

/// `/health`, `/health/live`, `/health/ready`, `/status`, `/metrics`.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let live = warp::path!("health" / "live").and(warp::get()).map(live);
    let ready = warp::path!("health" / "ready")
        .or(warp::path!("health"))
        .unify()
        .and(warp::get())
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(ready(&st).await) });
    live.or(ready)
        .unify()
        .or(operational(state, gate(state, Access::Admin)))
        .unify()
        .boxed()
}

/// `/status` and `/metrics` behind `guard`: the admin gate on the main
/// listener, nothing on `--metrics-listen`.
pub(super) fn operational<G>(state: &Arc<AppState>, guard: G) -> BoxedFilter<(Response,)>
where
    G: Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static,
{
    let status = warp::path!("status")
        .and(warp::get())
        .and(guard.clone())
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(status(&st).await) });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(guard)
        .and(with_state(state))
        .map(|st: Arc<AppState>| metrics(&st));
    status.or(metrics).unify().boxed()
}

/// Alive: the process answers.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The process answers", body = Health)),
)]
fn live() -> Response {
    warp::reply::json(&Health {
        status: "ok",
        store: None,
    })
    .into_response()
}

/// Ready when the writer commits and the database answers a read.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "The store reads and commits", body = Health),
        (status = 503, description = "The store is unusable (`unavailable`, with `Retry-After`)", body = ErrorBody),
    ),
)]
async fn ready(state: &AppState) -> Result<impl Reply, ApiError> {
    let readable = state.store.counts().await.is_ok();
    let writable = state.store.writable();
    if !(readable && writable) {
        tracing::warn!(readable, writable, "not ready");
    }
    if readable && writable {
        Ok(warp::reply::json(&Health {
            status: "ok",
            store: Some("ok"),
        }))
    } else {
        Err(ApiError {
            retry_after: Some(5),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                // Which part failed is for `/status` (admin) and the log.
                "not ready",
            )
        })
    }
}

/// Uptime, counts, per-codec statistics, refusals by reason, MQTT and
/// WebSocket state. Admin only (it names the data directory and the
/// modes), or without credentials on `--metrics-listen`.
#[utoipa::path(
    get,
    path = "/status",
    tag = "operations",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    responses((status = 200, description = "The server's state", body = ServerStatus)),
)]
async fn status(state: &AppState) -> Result<impl Reply, ApiError> {
    let counts = state.store.counts().await.map_err(ApiError::internal)?;
    let t = state.telemetry.snapshot();
    Ok(warp::reply::json(&ServerStatus {
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: t.uptime_s,
        data_dir: state.data_dir.display().to_string(),
        mode: Mode {
            fleet_key: state.fleet_mode,
            unsigned_legacy: state.allow_unsigned_legacy,
            rate_limit: state.rate.is_some(),
        },
        store: StoreStatus {
            writable: state.store.writable(),
            counts,
        },
        since_start: SinceStart {
            uploads_stored: t.uploads_stored,
            uploads_duplicate: t.uploads_duplicate,
            samples_stored: t.samples_stored,
            batches: t.batches,
            failed_batches: t.failed_batches,
            rejected: t.rejected,
            codecs: t.codecs,
        },
        mqtt: MqttStatus {
            enabled: state.mqtt_enabled,
            connected: t.mqtt_connected,
            ingest_subscribed: t.mqtt_ingest_subscribed,
            published: t.mqtt_published,
            dropped: t.mqtt_dropped,
        },
        websocket: WebSocketStatus {
            clients: t.ws_clients,
        },
        live_dropped: t.live_dropped,
    }))
}

/// Prometheus metrics. Admin only, or without credentials on `--metrics-listen`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String)),
)]
fn metrics(state: &AppState) -> Response {
    warp::reply::with_header(
        state.telemetry.render_prometheus(),
        "content-type",
        "text/plain; version=0.0.4",
    )
    .into_response()
}

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// `ok`.
    status: &'static str,
    /// `ok` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'static str>,
}

/// `GET /status`.
#[derive(Debug, Serialize, ToSchema)]
struct ServerStatus {
    /// The server's version.
    version: &'static str,
    /// Seconds since start.
    uptime_s: u64,
    /// Where the data lives.
    data_dir: String,
    /// How uploads are accepted.
    mode: Mode,
    /// The database.
    store: StoreStatus,
    /// Counters since start.
    since_start: SinceStart,
    /// Publishing to MQTT.
    mqtt: MqttStatus,
    /// WebSocket clients.
    websocket: WebSocketStatus,
    /// Committed uploads the live outputs missed (queue full).
    live_dropped: u64,
}

/// How uploads are accepted.
#[derive(Debug, Serialize, ToSchema)]
struct Mode {
    /// A fleet-wide key is configured (compat mode).
    fleet_key: bool,
    /// Unsigned legacy bodies are accepted from known devices.
    unsigned_legacy: bool,
    /// The per-device rate limit is on.
    rate_limit: bool,
}

/// The database's state and totals.
#[derive(Debug, Serialize, ToSchema)]
struct StoreStatus {
    /// Whether the writer commits.
    writable: bool,
    /// Totals.
    #[serde(flatten)]
    counts: StoreCounts,
}

/// Counters since the server started.
#[derive(Debug, Serialize, ToSchema)]
struct SinceStart {
    /// Uploads committed.
    uploads_stored: u64,
    /// Identical resends answered.
    uploads_duplicate: u64,
    /// Samples committed.
    samples_stored: u64,
    /// Writer transactions.
    batches: u64,
    /// Writer transactions that failed.
    failed_batches: u64,
    /// Refused requests by error code.
    rejected: BTreeMap<&'static str, u64>,
    /// Packets per codec.
    codecs: BTreeMap<String, CodecCounters>,
}

/// Publishing to MQTT.
#[derive(Debug, Serialize, ToSchema)]
struct MqttStatus {
    /// Whether a broker is configured.
    enabled: bool,
    /// Whether it is connected.
    connected: bool,
    /// Whether the `--mqtt-ingest` subscription is in place.
    ingest_subscribed: bool,
    /// Messages queued for it.
    published: u64,
    /// Messages dropped (queue full).
    dropped: u64,
}

/// WebSocket clients.
#[derive(Debug, Serialize, ToSchema)]
struct WebSocketStatus {
    /// Open connections.
    clients: i64,
}
