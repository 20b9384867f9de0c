//! `/api/v1/alerts` (viewers) and `/api/v1/alerts/rules` (admins change them).

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::accounts::{Done, json_body};
use super::error::{ApiError, ErrorBody, respond};
use super::guard::gate;
use super::with_state;
use crate::alerts::rules::{MAX_RULES, RuleSpec};
use crate::alerts::{AlertJson, alert_json};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::store::alerts::{AlertFilter, Rule};

/// Alerts per answer by default, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The alert routes.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let list = warp::path!("api" / "v1" / "alerts")
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<AlertParams>())
        .and(with_state(state))
        .then(|q: AlertParams, st: Arc<AppState>| async move { respond(list(&st, q).await) });
    let rules = warp::path!("api" / "v1" / "alerts" / "rules");
    let list_rules = rules
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(with_state(state))
        .then(|st: Arc<AppState>| async move { respond(list_rules(&st).await) });
    let add_rule = rules
        .and(warp::post())
        .and(gate(state, Access::Admin))
        .and(json_body::<RuleSpec>(state.body_timeout))
        .and(with_state(state))
        .then(
            |spec: RuleSpec, st: Arc<AppState>| async move { respond(add_rule(&st, spec).await) },
        );
    let remove_rule = warp::path!("api" / "v1" / "alerts" / "rules" / i64)
        .and(warp::delete())
        .and(gate(state, Access::Admin))
        .and(with_state(state))
        .then(|id: i64, st: Arc<AppState>| async move { respond(remove_rule(&st, id).await) });
    list.or(list_rules)
        .unify()
        .or(add_rule)
        .unify()
        .or(remove_rule)
        .unify()
        .boxed()
}

/// `open=true|false`, `device`, `limit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AlertParams {
    /// Only open (`true`) or closed (`false`) alerts.
    open: Option<bool>,
    /// Only this device's.
    #[param(schema_with = crate::device_id::schema)]
    device: Option<String>,
    /// Alerts at most, 1 to 1000 (default 100), newest first.
    limit: Option<usize>,
}

/// Alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
struct AlertsReply {
    /// Alerts returned.
    count: usize,
    /// The alerts.
    alerts: Vec<AlertJson>,
}

/// The alert rules.
#[derive(Debug, Serialize, ToSchema)]
struct RulesReply {
    /// Every rule, by id.
    rules: Vec<Rule>,
}

/// Alerts, newest first, with their rules' names.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    operation_id = "list_alerts",
    tag = "alerts",
    params(AlertParams),
    responses(
        (status = 200, description = "The alerts", body = AlertsReply),
        (status = 400, description = "A bad query or device id (`bad_query`, `bad_device_id`)", body = ErrorBody),
    ),
)]
async fn list(state: &AppState, q: AlertParams) -> Result<Response, ApiError> {
    if let Some(device) = &q.device {
        crate::http::segment::check_device_id(device)?;
    }
    let alerts = state
        .store
        .alerts(AlertFilter {
            open: q.open,
            device_id: q.device,
            limit: q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        })
        .await
        .map_err(ApiError::internal)?;
    let rules = state
        .store
        .alert_rules()
        .await
        .map_err(ApiError::internal)?;
    let alerts: Vec<_> = alerts
        .iter()
        .map(|a| alert_json(a, rules.iter().find(|r| r.id == a.rule_id)))
        .collect();
    Ok(warp::reply::json(&AlertsReply {
        count: alerts.len(),
        alerts,
    })
    .into_response())
}

/// The alert rules (from the API and from the rules file).
#[utoipa::path(
    get,
    path = "/api/v1/alerts/rules",
    tag = "alerts",
    responses((status = 200, description = "The rules", body = RulesReply)),
)]
async fn list_rules(state: &AppState) -> Result<impl Reply, ApiError> {
    let rules = state
        .store
        .alert_rules()
        .await
        .map_err(ApiError::internal)?;
    Ok(warp::reply::json(&RulesReply { rules }))
}

/// Adds a rule; it is judged from the next sample on.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/rules",
    tag = "alerts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    request_body = RuleSpec,
    responses(
        (status = 201, description = "The stored rule", body = Rule),
        (status = 400, description = "Malformed or inconsistent (`malformed`, `bad_rule`)", body = ErrorBody),
        (status = 409, description = "Too many rules (`too_many_rules`)", body = ErrorBody),
    ),
)]
async fn add_rule(state: &AppState, spec: RuleSpec) -> Result<Response, ApiError> {
    let rule = spec
        .check()
        .map_err(|m| ApiError::bad_request("bad_rule", m))?;
    if state
        .store
        .alert_rules()
        .await
        .map_err(ApiError::internal)?
        .len()
        >= MAX_RULES
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_rules",
            format!("at most {MAX_RULES} rules"),
        ));
    }
    let rule = state
        .store
        .add_alert_rule(rule)
        .await
        .map_err(ApiError::internal)?;
    state.alerts.reload().await.map_err(ApiError::internal)?;
    tracing::info!(rule = rule.id, name = rule.rule.name, "alert rule added");
    Ok(warp::reply::with_status(warp::reply::json(&rule), StatusCode::CREATED).into_response())
}

/// Removes a rule and closes its open alerts.
#[utoipa::path(
    delete,
    path = "/api/v1/alerts/rules/{id}",
    tag = "alerts",
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])),
    params(("id" = i64, Path, description = "The rule's id", example = 1)),
    responses(
        (status = 200, description = "Done: `removed`", body = Done),
        (status = 404, description = "No such rule (`unknown_rule`)", body = ErrorBody),
    ),
)]
async fn remove_rule(state: &AppState, id: i64) -> Result<Response, ApiError> {
    if !state
        .store
        .remove_alert_rule(id, now_ms())
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_rule",
            format!("no alert rule {id}"),
        ));
    }
    state.alerts.reload().await.map_err(ApiError::internal)?;
    Ok(warp::reply::json(&Done {
        id,
        done: "removed",
    })
    .into_response())
}
