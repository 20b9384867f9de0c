//! The HTTP surface: warp filters, one error shape, bounded bodies.

mod api;
pub mod body;
mod devices;
pub mod error;
mod ops;
mod ws;

use std::convert::Infallible;
use std::sync::Arc;

use warp::Filter;
use warp::reply::Response;

use crate::app::AppState;

/// Every route, with rejections mapped to the JSON error shape.
pub fn routes(
    state: &Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    devices::routes(state)
        .or(api::routes(state))
        .unify()
        .or(ops::routes(state))
        .unify()
        .or(ws::routes(state))
        .unify()
        .recover(error::recover)
        .unify()
}

fn with_state(
    state: &Arc<AppState>,
) -> impl Filter<Extract = (Arc<AppState>,), Error = Infallible> + Clone + use<> {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// `/api/v1/devices/{id}` and whatever follows.
fn device_path() -> impl Filter<Extract = (String,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "v1" / "devices" / String / ..)
}
