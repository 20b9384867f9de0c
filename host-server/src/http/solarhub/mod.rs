//! The SolarHub API (issue 15; the paths, parameters and shapes of that
//! system's API document), computed from the stored telemetry of the
//! `--site` plant: `/` (JSON to `Accept: application/json`),
//! `/health/detailed`, `/api/v1/system/overview|topology`,
//! `/api/v1/bess/{n}`, `/api/v1/bess/alert/rack/{rackNN}`,
//! `/api/v1/pcs/{n}`, `/api/v1/pcs/alert`, `/api/v1/meters`,
//! `/api/v1/meters/aux`, `/api/v1/inverter`, `/api/v1/config/sidebar|header`.
//! Unlike that system, every one needs a login or an API key (read access).
//! The figures are [`crate::site::solarhub`]'s; this reads the samples.

mod validate;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use http::header::HeaderMap;
use serde_json::{Value, json};
use solarwire_core::registers::{DeviceKind, Profile};
use warp::filters::BoxedFilter;
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::ApiError;
use super::guard::{admit_headers, gate};
use super::with_state;
use crate::app::AppState;
use crate::auth::Access;
use crate::readings::{device_profile, profile_named};
use crate::site::solarhub::{self as figures, Latest, Reading};
use crate::site::{MeterRole, Site, profile_for};
use crate::store::HistoryQuery;
use validate::Invalid;

/// Most samples of one aux meter read for one day (a 1 s period).
const MAX_DAY_SAMPLES: usize = 86_400;
/// The service name in `/` and `/health/detailed`.
const SERVICE: &str = "solarwire";

/// A SolarHub path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    HealthDetailed,
    Overview,
    Topology,
    Bess(String),
    RackAlert(String),
    Pcs(String),
    PcsAlert,
    Meters,
    Aux,
    Inverter,
    Sidebar,
    Header,
}

impl Route {
    fn of(path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        Some(match segments.as_slice() {
            ["health", "detailed"] => Self::HealthDetailed,
            ["api", "v1", rest @ ..] => match rest {
                ["system", "overview"] => Self::Overview,
                ["system", "topology"] => Self::Topology,
                ["bess", "alert", "rack", rack] => Self::RackAlert((*rack).to_owned()),
                ["bess", n] => Self::Bess((*n).to_owned()),
                ["pcs", "alert"] => Self::PcsAlert,
                ["pcs", n] => Self::Pcs((*n).to_owned()),
                ["meters"] => Self::Meters,
                ["meters", "aux"] => Self::Aux,
                ["inverter"] => Self::Inverter,
                ["config", "sidebar"] => Self::Sidebar,
                ["config", "header"] => Self::Header,
                _ => return None,
            },
            _ => return None,
        })
    }
}

/// Why a request was not answered.
enum Problem {
    Api(ApiError),
    Invalid(Invalid),
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<Invalid> for Problem {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

/// The SolarHub routes (readers and up), and `/` as JSON.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    // GET first: `path::full` panics on requests without a path (CONNECT, `OPTIONS *`).
    let api = warp::get()
        .and(warp::path::full())
        .and_then(|path: FullPath| async move {
            Route::of(path.as_str()).ok_or_else(warp::reject::not_found)
        })
        .and(gate(state, Access::Read))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(with_state(state))
        .then(
            |route: Route, query: String, st: Arc<AppState>| async move {
                match answer(&st, route, &query).await {
                    Ok(value) => warp::reply::json(&value).into_response(),
                    Err(Problem::Api(e)) => e.into_response(),
                    Err(Problem::Invalid(e)) => e.into_response(),
                }
            },
        );
    // Browsers keep getting the dashboard at `/`; JSON clients the service
    // info, after the same credentials check.
    let root = warp::path::end()
        .and(warp::get())
        .and(warp::header::optional::<String>("accept"))
        .and_then(|accept: Option<String>| async move {
            if accept.is_some_and(|a| a.contains("application/json")) {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
        .and(warp::header::headers_cloned())
        .and(with_state(state))
        .then(|headers: HeaderMap, st: Arc<AppState>| async move {
            match admit_headers(&st, &headers, Access::Read).await {
                Ok(_) => warp::reply::json(&json!({
                    "service": SERVICE,
                    "version": env!("CARGO_PKG_VERSION"),
                    "docs": "/docs",
                }))
                .into_response(),
                Err(e) => e.into_response(),
            }
        });
    api.or(root).unify().boxed()
}

/// The answer to one SolarHub request.
async fn answer(state: &AppState, route: Route, query: &str) -> Result<Value, Problem> {
    let query: HashMap<String, String> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request("bad_query", format!("query: {e}")))?;
    let Some(site) = state.site.clone() else {
        if route == Route::HealthDetailed {
            return Ok(health(state).await);
        }
        return Err(ApiError::coded(
            "no_site",
            "this server watches no plant; start it with --site FILE",
        )
        .into());
    };
    let now_ms = crate::clock::now_ms();
    let numbers = |units: Vec<u8>, loc: &'static str, default: &str| {
        let text = query.get(loc).map_or(default, String::as_str);
        validate::unit_number(["query", loc], text, &units)
    };
    Ok(match route {
        Route::HealthDetailed => health(state).await,
        Route::Sidebar => figures::sidebar(&site),
        Route::Overview => figures::overview(&site, &latest(state, &site).await?, now_ms),
        Route::Topology => {
            let up = store_up(state).await;
            let mut parts = vec![("main_storage", "Storage", "database", up)];
            if state.mqtt_enabled {
                let broker = state.telemetry.snapshot().mqtt_connected;
                parts.push(("main_broker", "MQTT broker", "broker", broker));
            }
            let latest = latest(state, &site).await?;
            let at = crate::query::calendar::iso(now_ms);
            figures::topology(&site, &latest, now_ms, &parts, &at)
        }
        Route::Bess(n) => {
            let units: Vec<u8> = site.bess.iter().map(|b| b.number).collect();
            let n = validate::unit_number(["path", "bess_number"], &n, &units)?;
            let latest = latest(state, &site).await?;
            figures::bess(&site, n, &latest).unwrap_or(Value::Null)
        }
        Route::RackAlert(rack) => {
            let racks = site.bess.iter().map(|b| b.racks.len()).max().unwrap_or(0);
            let rack = validate::rack(&rack, racks)?;
            figures::rack_alerts(&site, rack, &latest(state, &site).await?)
        }
        Route::Pcs(n) => {
            let units: Vec<u8> = site.pcs.iter().map(|p| p.number).collect();
            let n = validate::unit_number(["path", "pcs_number"], &n, &units)?;
            figures::pcs(&site, n, &latest(state, &site).await?).unwrap_or(Value::Null)
        }
        Route::PcsAlert => {
            let n = numbers(
                site.pcs.iter().map(|p| p.number).collect(),
                "pcs_number",
                "1",
            )?;
            figures::pcs_alert(&site, n, &latest(state, &site).await?).unwrap_or(Value::Null)
        }
        Route::Inverter => {
            let units = site.inverters.iter().map(|i| i.number).collect();
            let n = numbers(units, "inverter_number", "1")?;
            figures::inverter(&site, n, &latest(state, &site).await?).unwrap_or(Value::Null)
        }
        Route::Meters => figures::meters(&site, &latest(state, &site).await?),
        Route::Aux => aux(state, &site, &query, now_ms).await?,
        Route::Header => figures::header(&site, &latest(state, &site).await?),
    })
}

/// Whether the store reads and commits.
async fn store_up(state: &AppState) -> bool {
    state.store.counts().await.is_ok() && state.store.writable()
}

/// `GET /health/detailed`: storage and broker status.
async fn health(state: &AppState) -> Value {
    let storage = store_up(state).await;
    let connections: BTreeMap<&str, bool> = BTreeMap::from([("storage", storage)]);
    let snapshot = state.telemetry.snapshot();
    let broker = state.mqtt_enabled.then_some(snapshot.mqtt_connected);
    let healthy = storage && broker != Some(false);
    let word = |up: bool| if up { "healthy" } else { "unhealthy" };
    json!({
        "status": word(healthy),
        "service": SERVICE,
        "version": env!("CARGO_PKG_VERSION"),
        "infrastructure": {
            "databases": {"status": word(storage), "connections": connections},
            "broker": {
                "status": broker.map_or("disabled", word),
                "connections": {"mqtt": broker},
            },
        },
        "message": if healthy { "All systems operational" } else { "Some systems are down" },
    })
}

/// The profile a site device's samples are read with: the one stored with
/// it when it is of the kind the site says, else that kind's built-in one.
fn profile_of(stored: Option<&String>, kind: DeviceKind) -> &'static Profile {
    stored
        .and_then(|name| profile_named(Some(name)).ok())
        .filter(|p| p.kind == kind)
        .unwrap_or_else(|| device_profile(Some(profile_for(kind))))
}

/// The newest sample of every site device that has one.
async fn latest(state: &AppState, site: &Site) -> Result<Latest, ApiError> {
    let stored = state
        .store
        .device_profiles()
        .await
        .map_err(ApiError::internal)?;
    let mut latest = Latest::new();
    for (device, kind) in site.devices() {
        let sample = state
            .store
            .latest(device)
            .await
            .map_err(ApiError::internal)?;
        if let Some(sample) = sample {
            let reading = Reading {
                t_ms: sample.t_ms,
                profile: profile_of(stored.get(device), kind),
                registers: sample.registers,
            };
            latest.insert(device.to_owned(), reading);
        }
    }
    Ok(latest)
}

/// `GET /api/v1/meters/aux?time=YYYY-MM-DD&data_type=chart|summary`: the
/// aux meters' power over one UTC day (default today).
async fn aux(
    state: &AppState,
    site: &Site,
    query: &HashMap<String, String>,
    now_ms: u64,
) -> Result<Value, Problem> {
    let today = crate::query::calendar::iso(now_ms);
    let date = query
        .get("time")
        .map_or_else(|| today.get(..10).unwrap_or_default(), String::as_str);
    let (from_ms, to_ms) = validate::day(["query", "time"], date)?;
    let kind = query.get("data_type").map_or("chart", String::as_str);
    let kind = validate::literal(["query", "data_type"], kind, &["chart", "summary"])?;
    let stored = state
        .store
        .device_profiles()
        .await
        .map_err(ApiError::internal)?;
    let mut meters = Vec::new();
    for m in site.meters.iter().filter(|m| m.role == MeterRole::Aux) {
        let profile = profile_of(stored.get(&m.device), DeviceKind::Meter);
        let query = HistoryQuery {
            from_ms,
            to_ms,
            limit: MAX_DAY_SAMPLES,
        };
        let samples = state
            .store
            .history(&m.device, query)
            .await
            .map_err(ApiError::internal)?;
        meters.push(
            samples
                .into_iter()
                .map(|s| Reading {
                    t_ms: s.t_ms,
                    profile,
                    registers: s.registers,
                })
                .collect(),
        );
    }
    let points = figures::aux_power(&meters);
    let data = if kind == "summary" {
        figures::aux_summary(&points)
    } else {
        figures::aux_chart(&points)
    };
    Ok(json!({
        "date": date,
        "data": data,
        "data_type": kind,
        "status": "success",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_their_figures() {
        assert_eq!(Route::of("/api/v1/bess/2"), Some(Route::Bess("2".into())));
        assert_eq!(
            Route::of("/api/v1/bess/alert/rack/rack03"),
            Some(Route::RackAlert("rack03".into()))
        );
        assert_eq!(Route::of("/api/v1/pcs/alert"), Some(Route::PcsAlert));
        assert_eq!(Route::of("/health/detailed"), Some(Route::HealthDetailed));
        assert_eq!(Route::of("/api/v1/devices"), None);
        assert_eq!(Route::of("/api/v1/bess"), None);
    }
}
