//! The admin routes that manage devices over HTTP: add (keys shown once),
//! rotate keys, remove or retire, reset the nonce.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::accounts::json_body;
use super::error::{ApiError, ErrorBody, respond};
use super::guard::gate;
use super::segment::check_device_id;
use super::{device_path, with_state};
use crate::app::AppState;
use crate::auth::Access;
use crate::store::profiles::{self, ProfileError};
use crate::store::{DeviceKeys, Store, StoreError};

/// Adding, re-keying and removing devices (admins).
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let add = warp::path!("api" / "v1" / "devices")
        .and(warp::post())
        .and(admin(state))
        .and(json_body::<NewDevice>(state.body_timeout))
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
                respond(remove(&st, &id, o).await)
            },
        );
    let reset = device_path()
        .and(warp::path!("nonce"))
        .and(warp::delete())
        .and(admin(state))
        .and(with_state(state))
        .then(|id: String, st: Arc<AppState>| async move { respond(reset_nonce(&st, &id).await) });
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

/// A device to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    /// Its id.
    #[schema(schema_with = crate::device_id::schema)]
    device_id: String,
    /// Also generate an AES-128 key (encrypted uploads).
    #[serde(default)]
    aes: bool,
    /// The register profile its uploads are read with, which says its kind
    /// (`bess-rack-1`, `pcs-1`, `meter-3ph-1`, `string-inverter-1`;
    /// default `ecowatt-1.3`).
    #[serde(default)]
    profile: Option<String>,
}

/// `keep_data=true` retires the device (keys erased, uploads refused,
/// data kept); otherwise its data is deleted with it.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RemoveOptions {
    /// Retire the device and keep its data instead of deleting it.
    #[serde(default)]
    keep_data: bool,
}

/// Which keys a rotation makes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct KeyOptions {
    /// Also generate an AES-128 key.
    #[serde(default)]
    aes: bool,
}

/// A device's new keys, shown once.
#[derive(Debug, Serialize, ToSchema)]
struct KeysReply {
    /// The device.
    device_id: String,
    /// The HMAC key, hex.
    hmac_key: Option<String>,
    /// The AES-128 key, hex (`null` without encryption).
    aes_key: Option<String>,
    /// A reminder that they are shown once.
    message: &'static str,
}

fn keys_reply(id: &str, keys: &DeviceKeys, status: StatusCode) -> Response {
    let body = KeysReply {
        device_id: id.to_owned(),
        hmac_key: keys.hmac.as_deref().map(hex::encode),
        aes_key: keys.aes.map(hex::encode),
        message: "the keys are shown once; store them in the device",
    };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn new_keys(aes: bool) -> Result<DeviceKeys, ApiError> {
    crate::keys::generate(aes).map_err(ApiError::internal)
}

/// Adds a device with fresh keys, shown once.
#[utoipa::path(
    post,
    path = "/api/v1/devices",
    operation_id = "add_device",
    tag = "devices",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = NewDevice,
    responses(
        (status = 201, description = "Added; the keys are in the answer, and nowhere else", body = KeysReply),
        (status = 400, description = "Malformed, a bad device id or an unknown profile (`malformed`, `bad_device_id`, `unknown_profile`)", body = ErrorBody),
        (status = 409, description = "The id is taken (`device_exists`)", body = ErrorBody),
    ),
)]
async fn add(state: &AppState, req: NewDevice) -> Result<Response, ApiError> {
    check_device_id(&req.device_id)?;
    let keys = new_keys(req.aes)?;
    let sealed = state
        .keys
        .seal(&req.device_id, &keys)
        .map_err(ApiError::internal)?;
    let added = profiles::add_device(
        state.store.as_ref(),
        &req.device_id,
        sealed,
        req.profile.as_deref(),
    )
    .await
    .map_err(|e| match e {
        ProfileError::Unknown(_) => ApiError::coded("unknown_profile", e.to_string()),
        ProfileError::Store(e) => ApiError::internal(e),
    })?;
    if !added {
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

/// Replaces a device's keys; the old ones stop working at once. A device
/// the fleet key admitted gets its own key this way: from then on the fleet
/// key no longer verifies it (its `admitted_by` stays).
#[utoipa::path(
    post,
    path = "/api/v1/devices/{device_id}/rotate-key",
    operation_id = "rotate_device_keys",
    tag = "devices",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(KeyOptions),
    responses(
        (status = 200, description = "The new keys, shown once", body = KeysReply),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
    ),
)]
async fn rotate(state: &AppState, id: &str, aes: bool) -> Result<Response, ApiError> {
    check_device_id(id)?;
    let keys = new_keys(aes)?;
    let sealed = state.keys.seal(id, &keys).map_err(ApiError::internal)?;
    if !state
        .store
        .rotate_keys(id, sealed)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::unknown_device(id));
    }
    state.keys.invalidate();
    tracing::info!(device = id, "device keys rotated over the admin API");
    Ok(keys_reply(id, &keys, StatusCode::OK))
}

/// Deletes a device with its data, or retires it (`keep_data=true`).
#[utoipa::path(
    delete,
    path = "/api/v1/devices/{device_id}",
    operation_id = "remove_device",
    tag = "devices",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(RemoveOptions),
    responses(
        (status = 200, description = "Done: `removed` or `retired`", body = DeviceDone),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
    ),
)]
async fn remove(state: &AppState, id: &str, o: RemoveOptions) -> Result<impl Reply, ApiError> {
    if o.keep_data {
        change(state, id, "retired", |s, id| s.retire_device(id)).await
    } else {
        change(state, id, "removed", |s, id| s.remove_device(id)).await
    }
}

/// Forgets a device's last nonce, so a device that lost its counter can
/// start again from 1.
#[utoipa::path(
    delete,
    path = "/api/v1/devices/{device_id}/nonce",
    tag = "devices",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    responses(
        (status = 200, description = "Done: `nonce_reset`", body = DeviceDone),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
    ),
)]
async fn reset_nonce(state: &AppState, id: &str) -> Result<impl Reply, ApiError> {
    change(state, id, "nonce_reset", |s, id| s.reset_nonce(id)).await
}

/// An operator change done to a device.
#[derive(Debug, Serialize, ToSchema)]
struct DeviceDone {
    /// The device.
    device_id: String,
    /// `removed`, `retired` or `nonce_reset`.
    done: &'static str,
}

/// An operator change to one device; `false` when the device is unknown.
type DeviceOp = for<'a> fn(&'a dyn Store, &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

async fn change(
    state: &AppState,
    id: &str,
    what: &'static str,
    op: DeviceOp,
) -> Result<impl Reply, ApiError> {
    check_device_id(id)?;
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
    Ok(warp::reply::json(&DeviceDone {
        device_id: id.to_owned(),
        done: what,
    }))
}
