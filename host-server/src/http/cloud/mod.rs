//! The Elecnova-style cloud API over solarwire's data: `GET /comm/client`
//! (a signed client's 24-hour token and MQTT details), cabinets (sites:
//! devices grouped by location) and their components (the devices), live
//! topic subscriptions, and PV power and generation.
//!
//! Every success answer is `{"data": …}` (a page of cabinets adds `page`,
//! `page_size` and `total`); errors keep the server's `{"error", "message"}`.
//! The numbers come from the same query code as `/api/v1/devices/{id}/series`
//! and `/energy`.

pub(super) mod cabinets;
pub(super) mod pv;
pub(super) mod token;

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::app::AppState;

/// Every cloud route.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    token::routes(state)
        .or(cabinets::routes(state))
        .unify()
        .or(pv::routes(state))
        .unify()
        .boxed()
}

/// The answer envelope of the cloud API.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Data<T> {
    /// The answer.
    data: T,
}

/// `{"data": value}`.
fn data<T: Serialize>(value: T) -> warp::reply::Json {
    warp::reply::json(&Data { data: value })
}

/// The live topic of a device (as published by the MQTT output).
fn topic(device: &str) -> String {
    format!("solarwire/{device}/samples")
}
