//! OTA fault injection, as the original server offered: what devices
//! download is corrupted on purpose (a chunk, the hash, the signature) so
//! their verification can be tested. Admins only; kept in memory.

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::{DEVICE_BODY, json, reply};
use crate::app::AppState;
use crate::auth::Access;
use crate::http::guard::gate;
use crate::http::with_state;
use crate::manage::OtaFault;

/// `/ota/test/status`, `/ota/test/enable`, `/ota/test/disable`.
pub(in crate::http) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let st = || with_state(state);
    let fault_status = warp::path!("ota" / "test" / "status")
        .and(warp::get())
        .and(gate(state, Access::Admin))
        .and(st())
        .map(|st: Arc<AppState>| fault_status(&st));
    let enable = warp::path!("ota" / "test" / "enable")
        .and(warp::post())
        .and(gate(state, Access::Admin))
        .and(st())
        .and(json::<FaultRequest>(state, DEVICE_BODY))
        .map(|st: Arc<AppState>, b: FaultRequest| set_fault(&st, Some(b.fault)));
    let disable = warp::path!("ota" / "test" / "disable")
        .and(warp::post())
        .and(gate(state, Access::Admin))
        .and(st())
        .map(|st: Arc<AppState>| disable_fault(&st));
    fault_status.or(enable).unify().or(disable).unify().boxed()
}

/// `POST /ota/test/enable`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::http) struct FaultRequest {
    /// `corrupt_chunk`, `bad_hash` or `bad_signature`.
    fault: OtaFault,
}

/// The fault being injected.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::http) struct FaultState {
    /// `null` when none.
    fault: Option<OtaFault>,
}

/// The OTA fault being injected.
#[utoipa::path(
    get,
    path = "/ota/test/status",
    operation_id = "ota_fault_status",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    responses((status = 200, description = "The fault", body = FaultState)),
)]
pub(in crate::http) fn fault_status(state: &AppState) -> Response {
    reply(
        StatusCode::OK,
        &FaultState {
            fault: state.manage.fault(),
        },
    )
}

/// Starts injecting an OTA fault into what devices download (a corrupted
/// middle chunk, a wrong hash, a wrong signature), to test their checks.
#[utoipa::path(
    post,
    path = "/ota/test/enable",
    operation_id = "ota_set_fault",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = FaultRequest,
    responses((status = 200, description = "Injecting", body = FaultState)),
)]
pub(in crate::http) fn set_fault(state: &AppState, fault: Option<OtaFault>) -> Response {
    state.manage.set_fault(fault);
    tracing::warn!(?fault, "OTA fault injection changed");
    fault_status(state)
}

/// Stops injecting OTA faults.
#[utoipa::path(
    post,
    path = "/ota/test/disable",
    operation_id = "ota_disable_fault",
    tag = "firmware-admin",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    responses((status = 200, description = "Not injecting", body = FaultState)),
)]
pub(in crate::http) fn disable_fault(state: &AppState) -> Response {
    set_fault(state, None)
}
