//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated
//! from the `#[utoipa::path]` annotations beside the handlers and the
//! `ToSchema` derives of the types they read and answer with.
//!
//! Access is declared on each operation. The document's default is a
//! viewer (any valid access token or API key); admin routes ask for the
//! `admin` role or scope; public routes (firmware, health, dashboard, login)
//! for nothing. What every operation shares is added once by
//! [`conventions`]: 401 and 403 where credentials are needed, the error
//! shape for every other failure, the `device_id` path parameter, and the
//! routes served under a second name.

mod conventions;
mod wire;

use std::sync::LazyLock;

use conventions::Conventions;
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use utoipa::OpenApi;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::management::{commands, config, firmware_admin, ota, ota_faults, ota_progress, reports};
use super::{
    accounts, alerts, auth, clients, cloud, dashboard, device_admin, device_reads, docs,
    firmware_surface, fleet, ops, queries, stats, weather, ws,
};

/// Said on top of the document.
const DESCRIPTION: &str = "\
The solarwire ingest server: EcoWatt devices upload sealed envelopes; operators \
read devices, samples, energy, statistics and alerts.\n\n\
**Authentication.** Device uploads carry no token: each is authenticated by its \
envelope's HMAC-SHA256 (the `mac` over the nonce and the payload, with the device's \
own key or the fleet key), and replays are refused by the nonce. Every `/api/v1` read \
needs a viewer: an access token from `POST /api/v1/auth/login` \
(`Authorization: Bearer …`) or an API key (`X-API-Key`). Managing devices, users, \
keys and alert rules needs the `admin` role or an admin-scoped key. Every credential \
a request carries must be valid: a bad token next to a good key is 401.\n\n\
**Errors** are JSON `{\"error\": code, \"message\": …}` with a stable snake_case code; \
405 carries `Allow`; 429 and 503 carry `Retry-After`. Device ids in paths may be \
percent-encoded; JSON bodies sent with another `Content-Type` are refused (415).\n\n\
**CORS** preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered on \
every path: 204 for a configured origin, 403 `cors_forbidden` otherwise.";

/// The document: every operation, its schemas, and the shared conventions.
#[derive(OpenApi)]
#[openapi(
    info(title = "solarwire", description = DESCRIPTION),
    paths(
        firmware_surface::aggregated_upload,
        firmware_surface::legacy_upload,
        firmware_surface::register,
        firmware_surface::last_nonce,
        fleet::list,
        device_admin::add,
        device_reads::show,
        fleet::update,
        device_admin::remove,
        device_admin::rotate,
        device_admin::reset_nonce,
        device_reads::latest,
        device_reads::history,
        queries::series_reply,
        queries::energy_reply,
        stats::device_stats,
        stats::fleet_stats,
        weather::external,
        weather::compare,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::me,
        accounts::list_users,
        accounts::add_user,
        accounts::remove_user,
        accounts::list_keys,
        accounts::add_key,
        accounts::revoke_key,
        clients::list_clients,
        clients::add_client,
        clients::revoke_client,
        cloud::token::client_token,
        cloud::cabinets::list,
        cloud::cabinets::components,
        cloud::cabinets::subscribe,
        cloud::pv::power_cap,
        cloud::pv::power_gen,
        alerts::list,
        alerts::list_rules,
        alerts::add_rule,
        alerts::remove_rule,
        ota::check,
        ota::initiate,
        ota::chunk,
        ota_progress::progress,
        ota_progress::complete,
        ota_progress::self_test,
        ota_faults::fault_status,
        ota_faults::set_fault,
        ota_faults::disable_fault,
        firmware_admin::images,
        firmware_admin::publish,
        firmware_admin::image,
        firmware_admin::delete_image,
        firmware_admin::rollout,
        firmware_admin::rollout_action,
        firmware_admin::rollouts,
        firmware_admin::device_firmware,
        config::poll,
        config::update,
        config::acknowledge,
        config::current,
        config::config_history,
        config::legacy_changes,
        commands::queue,
        commands::dispatch,
        commands::result,
        commands::status,
        commands::history,
        reports::add_fault,
        reports::add_energy,
        reports::add_diagnostics,
        reports::faults,
        reports::energy,
        reports::diagnostics,
        ws::connect,
        ops::live,
        ops::ready,
        ops::status,
        ops::metrics,
        dashboard::index,
        dashboard::asset,
        dashboard::inspector,
        document,
        docs::page,
        docs::file,
    ),
    security(("bearer" = []), ("api_key" = [])),
    modifiers(&Conventions),
    tags(
        (name = "firmware", description = "Device-facing routes, wire-compatible with the EcoWatt firmware (spec §6–§7)"),
        (name = "devices", description = "The fleet and its devices"),
        (name = "firmware-admin", description = "Firmware images and rollouts, remote configuration, commands and device reports (operators)"),
        (name = "queries", description = "Samples, aligned series, energy and statistics"),
        (name = "auth", description = "Logging in: access and refresh tokens"),
        (name = "accounts", description = "Users, API keys and signed API clients (admins)"),
        (name = "alerts", description = "Alerts and their rules"),
        (name = "cloud", description = "The Elecnova-style cloud API: signed client tokens, cabinets, components, PV power and generation"),
        (name = "live", description = "The WebSocket stream"),
        (name = "operations", description = "Health, status and metrics"),
        (name = "dashboard", description = "The dashboard and the wasm inspector"),
        (name = "docs", description = "This document and its viewer"),
    )
)]
pub struct ApiDoc;

/// The document as served, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the document is plain data and always serializes")
});

/// The document's method keys and their HTTP names, in the order `Allow` lists them.
pub(super) const METHODS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("head", "HEAD"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("trace", "TRACE"),
];

/// Every documented path template (`/api/v1/devices/{device_id}`) with its
/// methods (`GET`, `HEAD` …): what a 405 answer's `Allow` header lists.
pub(super) fn methods_by_path() -> Vec<(String, Vec<&'static str>)> {
    let doc: serde_json::Value =
        serde_json::from_str(&DOCUMENT).expect("the document is valid JSON");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    paths
        .into_iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|(key, _)| item.get(key).is_some())
                .map(|(_, name)| *name)
                .collect();
            (path, methods)
        })
        .collect()
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "docs",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value)),
)]
fn document() -> Response {
    let mut r = DOCUMENT.as_str().into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /openapi.json`.
pub(super) fn routes() -> BoxedFilter<(Response,)> {
    warp::path!("openapi.json")
        .and(warp::get())
        .map(document)
        .boxed()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    /// Every `$ref` in `v`.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn operations_are_unique_tagged_and_answer_something() {
        let doc: Value = serde_json::from_str(&super::DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let tags: BTreeSet<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id), "{method} {path}: operation id {id} twice");
                let tag = op["tags"][0].as_str().unwrap();
                assert!(tags.contains(tag), "{method} {path}: tag {tag} undeclared");
                assert!(op["summary"].is_string(), "{method} {path}: no summary");
                let answers = op["responses"].as_object().unwrap();
                assert!(
                    answers.keys().any(|s| s.starts_with('2') || s == "101"),
                    "{method} {path}: no success answer"
                );
                assert!(answers.contains_key("default"), "{method} {path}");
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc: Value = serde_json::from_str(&super::DOCUMENT).unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }
}
