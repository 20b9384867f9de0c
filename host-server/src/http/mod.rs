//! The HTTP surface: warp filters, one error shape, bounded bodies.

mod accounts;
mod alerts;
pub mod allow;
mod auth;
pub mod body;
mod clients;
mod cloud;
mod credentials;
mod dashboard;
mod device_admin;
mod device_reads;
mod docs;
pub mod error;
pub mod error_codes;
mod firmware_surface;
mod fleet;
pub mod framing;
mod generic_admin;
mod generic_devices;
mod guard;
mod headers;
mod management;
pub mod openapi;
mod ops;
pub mod peer;
mod queries;
mod segment;
mod solarhub;
mod stats;
mod weather;
mod ws;

use std::convert::Infallible;
use std::sync::Arc;

use warp::Filter;
use warp::reply::Response;

use crate::app::AppState;

/// Every route, with rejections mapped to the JSON error shape and the
/// security (and configured CORS) headers on every response.
pub fn routes(
    state: &Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let cors = headers::Cors::new(&state.policy.cors_origins);
    let routes = generic_devices::routes(state)
        .or(generic_admin::routes(state))
        .unify()
        .or(firmware_surface::routes(state))
        .unify()
        .or(fleet::routes(state))
        .unify()
        .or(device_reads::routes(state))
        .unify()
        .or(queries::routes(state))
        .unify()
        .or(stats::routes(state))
        .unify()
        .or(weather::routes(state))
        .unify()
        .or(solarhub::routes(state))
        .unify()
        .or(auth::routes(state))
        .unify()
        .or(accounts::routes(state))
        .unify()
        .or(clients::routes(state))
        .unify()
        .or(cloud::routes(state))
        .unify()
        .or(alerts::routes(state))
        .unify()
        .or(ops::routes(state))
        .unify()
        .or(management::routes(state))
        .unify()
        .or(ws::routes(state))
        .unify()
        .or(openapi::routes())
        .unify()
        .or(docs::routes())
        .unify()
        .or(dashboard::routes(state))
        .unify()
        .or(headers::preflight(cors.clone()))
        .unify()
        .recover(error::recover)
        .unify();
    headers::origin()
        .and(routes)
        .map(move |origin: Option<String>, response| {
            headers::secure(response, origin.as_deref(), &cors)
        })
}

/// `/status` and `/metrics` without credentials, for `--metrics-listen`.
pub fn operational_routes(
    state: &Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let open = warp::any()
        .and_then(|| async { Ok::<_, warp::Rejection>(()) })
        .untuple_one();
    ops::operational(state, open)
        .recover(error::recover)
        .unify()
}

fn with_state(
    state: &Arc<AppState>,
) -> impl Filter<Extract = (Arc<AppState>,), Error = Infallible> + Clone + use<> {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// `/api/v1/devices/{id}` and whatever follows; the id percent-decoded and
/// checked (400 `bad_device_id`).
fn device_path() -> impl Filter<Extract = (String,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "devices" / ..).and(segment::device_id())
}
