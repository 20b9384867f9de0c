//! `/api/v1/alerts` (viewers) and `/api/v1/alerts/rules` (admins change them).

use std::sync::Arc;

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::accounts::json_body;
use super::error::{ApiError, respond};
use super::guard::gate;
use super::with_state;
use crate::alerts::alert_json;
use crate::alerts::rules::{MAX_RULES, RuleSpec};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::store::alerts::AlertFilter;

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
        .then(|st: Arc<AppState>| async move {
            respond(
                st.store
                    .alert_rules()
                    .await
                    .map(|r| warp::reply::json(&json!({ "rules": r })))
                    .map_err(ApiError::internal),
            )
        });
    let add_rule = rules
        .and(warp::post())
        .and(gate(state, Access::Admin))
        .and(json_body::<RuleSpec>())
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
#[derive(Debug, Deserialize)]
struct AlertParams {
    open: Option<bool>,
    device: Option<String>,
    limit: Option<usize>,
}

async fn list(state: &AppState, q: AlertParams) -> Result<Response, ApiError> {
    if let Some(device) = &q.device {
        crate::device_id::check(device).map_err(|m| ApiError::bad_request("bad_device_id", m))?;
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
    Ok(warp::reply::json(&json!({ "count": alerts.len(), "alerts": alerts })).into_response())
}

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
    Ok(warp::reply::json(&json!({ "id": id, "done": "removed" })).into_response())
}
