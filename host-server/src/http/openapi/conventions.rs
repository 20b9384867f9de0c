//! What every operation shares, written once instead of on each handler:
//! the security schemes, 401 and 403 where credentials are needed, the
//! error shape for every other failure, the `device_id` path parameter,
//! and the operations the router serves under a second path.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, Parameter, ParameterIn, PathItem};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr, Response};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::http::error::ErrorBody;
use crate::http::error_codes::ERROR_CODES;

use super::wire::parse;

/// Adds the shared parts to the generated document.
pub(super) struct Conventions;

/// Operations served under a second path (the router's `or`), documented
/// once: `(documented path, second path, its operation id)`.
const ALIASES: &[(&str, &str, &str)] = &[
    (
        "/aggregated/{device_id}",
        "/api/v1/devices/{device_id}/uploads",
        "native_upload",
    ),
    ("/health/ready", "/health", "health"),
    ("/changes", "/device_settings", "legacy_device_settings"),
    ("/inspector/{file}", "/inspector/", "inspector_page"),
    ("/inspector/{file}", "/pkg/web/{file}", "inspector_build"),
    ("/inspector/{file}", "/vectors/{file}", "inspector_vectors"),
];

/// The scope or role an admin route asks for.
const ADMIN: &str = "admin";

impl Modify for Conventions {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let schemes: BTreeMap<String, RefOr<SecurityScheme>> = parse(security_schemes());
        components.security_schemes.extend(schemes);
        components
            .schemas
            .insert(ErrorBody::name().into_owned(), error_body());
        components.schemas.extend(super::wire::schemas());
        for (name, description) in [
            (
                "Unauthorized",
                "No valid credentials (`unauthorized`, `token_expired`)",
            ),
            (
                "Forbidden",
                "Valid credentials without the admin role or scope (`forbidden`)",
            ),
            (
                "Error",
                "Any other failure, in the error shape (`bad_query`, `too_large`, `internal`, `unavailable` …)",
            ),
        ] {
            components
                .responses
                .insert(name.to_owned(), error_response(description));
        }
        for (from, to, id) in ALIASES {
            alias(doc, from, to, id);
        }
        let default_security = doc.security.clone().unwrap_or_default();
        for (path, item) in doc.paths.paths.iter_mut() {
            if path.contains("{device_id}") {
                item.parameters
                    .get_or_insert_with(Vec::new)
                    .push(RefOr::T(parse::<Parameter>(device_id_parameter())));
            }
            for (method, op) in operations(item) {
                share_errors(op, &default_security);
                // One handler answers GET and HEAD: their ids must differ.
                if method == "head"
                    && let Some(id) = &mut op.operation_id
                {
                    id.push_str("_head");
                }
            }
        }
    }
}

/// Reads a fixed OpenAPI object written as JSON.
/// `ErrorBody` with its `error` property as the enum of every code the
/// server answers, and each code's status in `x-status`.
fn error_body() -> RefOr<utoipa::openapi::Schema> {
    let mut schema = serde_json::to_value(ErrorBody::schema()).expect("a schema is JSON");
    let codes: Vec<&str> = ERROR_CODES.iter().map(|(code, _, _)| *code).collect();
    let statuses: serde_json::Map<String, Value> = ERROR_CODES
        .iter()
        .map(|(code, status, _)| ((*code).to_owned(), json!(status)))
        .collect();
    schema["properties"]["error"]["enum"] = json!(codes);
    schema["properties"]["error"]["x-status"] = Value::Object(statuses);
    parse(schema)
}

fn security_schemes() -> Value {
    json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token (HS256 JWT, 30 min) from `POST /api/v1/auth/login` \
                or `/refresh`; its role is `viewer` or `admin`. The break-glass admin token, \
                when configured, is sent the same way."
        },
        "api_key": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key created by an admin (`POST /api/v1/keys`), scope `read` or `admin`."
        }
    })
}

fn device_id_parameter() -> Value {
    json!({
        "name": "device_id",
        "in": "path",
        "required": true,
        "description": "The device",
        "schema": crate::device_id::schema(),
        "example": "ESP32_001"
    })
}

fn error_response(description: &str) -> RefOr<Response> {
    parse(json!({
        "description": description,
        "content": {
            "application/json": {
                "schema": { "$ref": format!("#/components/schemas/{}", ErrorBody::name()) }
            }
        }
    }))
}

/// The operations of a path, with their methods.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
    ]
    .into_iter()
    .filter_map(|(method, op)| Some((method, op.as_mut()?)))
}

/// The schemes of a security requirement, each with its scopes.
fn schemes(requirement: &SecurityRequirement) -> serde_json::Map<String, Value> {
    match serde_json::to_value(requirement) {
        Ok(Value::Object(schemes)) => schemes,
        _ => serde_json::Map::new(),
    }
}

/// Adds 401 (credentials needed), 403 (admin needed) and the error shape
/// as the `default` answer.
fn share_errors(op: &mut Operation, default_security: &[SecurityRequirement]) {
    let security: Vec<_> = op
        .security
        .as_deref()
        .unwrap_or(default_security)
        .iter()
        .map(schemes)
        .collect();
    // An empty requirement (`{}`) lets anyone in.
    let credentials = !security.is_empty() && security.iter().all(|s| !s.is_empty());
    let admin = security
        .iter()
        .flat_map(|s| s.values())
        .any(|scopes| scopes.as_array().is_some_and(|a| a.contains(&json!(ADMIN))));
    let mut shared = vec![("default", "Error")];
    if credentials {
        shared.push(("401", "Unauthorized"));
    }
    if admin {
        shared.push(("403", "Forbidden"));
    }
    for (status, name) in shared {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| parse(json!({ "$ref": format!("#/components/responses/{name}") })));
    }
}

/// Documents the operations of `from` again under `to`, keeping only the
/// path parameters `to` has.
fn alias(doc: &mut OpenApi, from: &str, to: &str, id: &str) {
    let Some(mut item) = doc.paths.paths.get(from).cloned() else {
        return;
    };
    for (_, op) in operations(&mut item) {
        op.operation_id = Some(id.to_owned());
        if let Some(parameters) = &mut op.parameters {
            parameters.retain(|p| match p {
                RefOr::T(p) => {
                    p.parameter_in != ParameterIn::Path || to.contains(&format!("{{{}}}", p.name))
                }
                RefOr::Ref(_) => true,
            });
        }
    }
    doc.paths.paths.insert(to.to_owned(), item);
}
