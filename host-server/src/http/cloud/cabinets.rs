//! Cabinets and components: `GET /api/v1/dev` (sites: devices grouped by
//! their `location`; a device without one is a cabinet of its own, named
//! by its id), `GET /api/v1/dev/{sn}` (its devices as components) and
//! `POST /api/v1/dev/topic/{device_id}/{sn}` (a client subscribes to a
//! device's live topic).

use std::collections::BTreeMap;
use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::{data, topic};
use crate::app::AppState;
use crate::auth::{Access, Principal};
use crate::clock::now_ms;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::guard::{gate, require};
use crate::http::{segment, with_state};
use crate::query::calendar::iso;
use crate::query::status::status;
use crate::store::devices::FleetDevice;

/// Cabinets per page by default, and at most.
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;
/// The component code and description of every solarwire device.
const PV_CODE: &str = "pv.inv";
const PV_DESC: &str = "PV";

pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let list = warp::path!("api" / "v1" / "dev")
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<PageParams>())
        .and(with_state(state))
        .then(|q: PageParams, st: Arc<AppState>| async move { respond(list(&st, q).await) });
    let components = warp::path!("api" / "v1" / "dev" / ..)
        .and(segment::text())
        .and(warp::path::end())
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(with_state(state))
        .then(|sn: String, st: Arc<AppState>| async move { respond(components(&st, &sn).await) });
    let subscribe = warp::path!("api" / "v1" / "dev" / "topic" / ..)
        .and(segment::device_id())
        .and(segment::text())
        .and(warp::path::end())
        .and(warp::post())
        .and(require(state, Access::Read))
        .and(with_state(state))
        .then(
            |device: String, sn: String, p: Principal, st: Arc<AppState>| async move {
                respond(subscribe(&st, &p, &device, &sn).await)
            },
        );
    list.or(components).unify().or(subscribe).unify().boxed()
}

/// The cabinet a device belongs to: its location, else its own id.
fn cabinet_of(device: &FleetDevice) -> &str {
    device
        .location
        .as_deref()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or(&device.device_id)
}

/// Devices in service grouped into cabinets, by cabinet serial number.
async fn cabinets(state: &AppState) -> Result<BTreeMap<String, Vec<FleetDevice>>, ApiError> {
    let fleet = state.store.fleet().await.map_err(ApiError::internal)?;
    let mut groups: BTreeMap<String, Vec<FleetDevice>> = BTreeMap::new();
    for device in fleet.into_iter().filter(|d| d.retired_ms.is_none()) {
        groups
            .entry(cabinet_of(&device).to_owned())
            .or_default()
            .push(device);
    }
    Ok(groups)
}

/// `page` (from 1) and `page_size` (1 to 1000, default 100).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// Page number, from 1 (default 1).
    page: Option<usize>,
    /// Cabinets per page, 1 to 1000 (default 100).
    page_size: Option<usize>,
}

/// A cabinet: a site's devices.
#[derive(Debug, Serialize, ToSchema)]
struct Cabinet {
    /// Its id (the serial number).
    id: String,
    /// Serial number: the site's location, or the lone device's id.
    sn: String,
    /// Display name: the location, or the lone device's name.
    name: String,
    /// `solarwire`.
    model: &'static str,
    /// The server's calendar time zone.
    time_zone: String,
    /// The oldest device's registration, RFC 3339.
    created_at: String,
    /// The newest upload (or registration), RFC 3339.
    updated_at: String,
    /// Devices in it.
    components: usize,
}

/// A page of cabinets.
#[derive(Debug, Serialize, ToSchema)]
struct CabinetPage {
    /// The cabinets, by serial number.
    data: Vec<Cabinet>,
    /// This page, from 1.
    page: usize,
    /// Cabinets per page.
    page_size: usize,
    /// Cabinets in all.
    total: usize,
}

/// Cabinets (sites: devices grouped by location), a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/dev",
    operation_id = "cabinets",
    tag = "cloud",
    params(PageParams),
    responses(
        (status = 200, description = "A page of cabinets", body = CabinetPage),
        (status = 400, description = "A bad page or page size (`bad_page`)", body = ErrorBody),
    ),
)]
async fn list(state: &AppState, q: PageParams) -> Result<Response, ApiError> {
    let page = q.page.unwrap_or(1);
    let page_size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if page == 0 || !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(ApiError::bad_request(
            "bad_page",
            format!("page is at least 1 and page_size 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    let groups = cabinets(state).await?;
    let total = groups.len();
    let data = groups
        .into_iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|(sn, devices)| cabinet(state, sn, &devices))
        .collect();
    Ok(warp::reply::json(&CabinetPage {
        data,
        page,
        page_size,
        total,
    })
    .into_response())
}

fn cabinet(state: &AppState, sn: String, devices: &[FleetDevice]) -> Cabinet {
    let created = devices.iter().map(|d| d.created_ms).min().unwrap_or(0);
    let updated = devices
        .iter()
        .map(|d| d.last_seen_ms.unwrap_or(d.created_ms))
        .max()
        .unwrap_or(created);
    let name = match devices {
        [lone] if lone.location.is_none() => lone.name.clone().unwrap_or_else(|| sn.clone()),
        _ => sn.clone(),
    };
    Cabinet {
        id: sn.clone(),
        sn,
        name,
        model: "solarwire",
        time_zone: state.policy.timezone.clone(),
        created_at: iso(created),
        updated_at: iso(updated),
        components: devices.len(),
    }
}

/// A component: one device of a cabinet.
#[derive(Debug, Serialize, ToSchema)]
struct Component {
    /// The device id.
    sn: String,
    /// Its display name (the id when unnamed).
    name: String,
    /// Its firmware version.
    model: Option<String>,
    /// `inverter`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// `online`, `offline` or `never` (no upload yet).
    state: &'static str,
    /// Its location.
    location_code: Option<String>,
    /// The cabinet's serial number.
    cabinet_sn: String,
    /// Component code: `pv.inv`.
    component: &'static str,
    /// Component description: `PV`.
    component_desc: &'static str,
}

/// The components (devices) of a cabinet.
#[utoipa::path(
    get,
    path = "/api/v1/dev/{sn}",
    operation_id = "cabinet_components",
    tag = "cloud",
    params(("sn" = String, Path, description = "The cabinet's serial number", example = "Roof A")),
    responses(
        (status = 200, description = "The components", body = inline(super::Data<Vec<Component>>)),
        (status = 404, description = "No such cabinet (`unknown_cabinet`)", body = ErrorBody),
    ),
)]
async fn components(state: &AppState, sn: &str) -> Result<Response, ApiError> {
    let devices = cabinets(state)
        .await?
        .remove(sn)
        .ok_or_else(|| unknown_cabinet(sn))?;
    let now = now_ms();
    let components: Vec<Component> = devices
        .into_iter()
        .map(|d| Component {
            state: status(&d, state.policy.upload_interval, now).as_str(),
            name: d.name.unwrap_or_else(|| d.device_id.clone()),
            sn: d.device_id,
            model: d.firmware_version,
            kind: "inverter",
            location_code: d.location,
            cabinet_sn: sn.to_owned(),
            component: PV_CODE,
            component_desc: PV_DESC,
        })
        .collect();
    Ok(data(components).into_response())
}

fn unknown_cabinet(sn: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_cabinet",
        format!("no cabinet {sn:?}"),
    )
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
struct Subscribed {
    /// The device.
    device_id: String,
    /// Its cabinet.
    sn: String,
    /// The live topic.
    topic: String,
    /// `read`.
    access: &'static str,
}

/// Subscribes the calling client to a device's live topic (listed from
/// then on by `/comm/client`); the device must be in cabinet `sn`.
#[utoipa::path(
    post,
    path = "/api/v1/dev/topic/{device_id}/{sn}",
    operation_id = "subscribe_topic",
    tag = "cloud",
    params(("sn" = String, Path, description = "The device's cabinet", example = "Roof A")),
    responses(
        (status = 200, description = "Subscribed (again: no change)", body = inline(super::Data<Subscribed>)),
        (status = 403, description = "Not a signed client (`client_only`)", body = ErrorBody),
        (status = 404, description = "No such device in that cabinet (`unknown_device`, `unknown_cabinet`)", body = ErrorBody),
    ),
)]
async fn subscribe(
    state: &AppState,
    by: &Principal,
    device: &str,
    sn: &str,
) -> Result<Response, ApiError> {
    let Principal::Client { client_id, .. } = by else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "client_only",
            "topics are subscribed by signed clients (GET /comm/client)",
        ));
    };
    let found = crate::http::queries::known_device(state, device).await?;
    if found.retired_ms.is_some() || cabinet_of(&found) != sn {
        return Err(unknown_cabinet(sn));
    }
    state
        .store
        .subscribe(client_id, device)
        .await
        .map_err(ApiError::internal)?;
    Ok(data(Subscribed {
        device_id: device.to_owned(),
        sn: sn.to_owned(),
        topic: topic(device),
        access: "read",
    })
    .into_response())
}
