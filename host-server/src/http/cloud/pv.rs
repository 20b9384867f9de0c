//! PV power and generation of one device (`{sn}` is its id):
//! `/api/v1/dev/pv/power-cap/{sn}` (mean AC power per 5 minutes, W) and
//! `/api/v1/dev/pv/power-gen/daily|monthly|yearly/{sn}` (energy, kWh), from
//! the same series and energy code as `/api/v1/devices/{id}/…`.

use std::sync::Arc;

use jiff::{Timestamp, ToSpan, Zoned};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::data;
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::http::error::{ApiError, ErrorBody, respond};
use crate::http::guard::gate;
use crate::http::queries::{device_energy, device_series, known_device, register, request_zone};
use crate::http::{segment, with_state};
use crate::query::calendar::{Calendar, Period, calendar, iso, start_of_day};
use crate::query::series::Agg;

/// The power curve's step.
const STEP_MS: u64 = 300_000;
/// Longest power curve: 31 days.
const MAX_SPAN_MS: u64 = 31 * 86_400_000;
/// Days of `power-gen/daily`.
const DAILY_DAYS: i64 = 7;

pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let cap = warp::path!("api" / "v1" / "dev" / "pv" / "power-cap" / ..)
        .and(segment::device_id())
        .and(warp::path::end())
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<CapParams>())
        .and(with_state(state))
        .then(|sn: String, q: CapParams, st: Arc<AppState>| async move {
            respond(power_cap(&st, &sn, q).await)
        });
    let generation = warp::path!("api" / "v1" / "dev" / "pv" / "power-gen" / ..)
        .and(segment::text())
        .and(segment::device_id())
        .and(warp::path::end())
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<GenParams>())
        .and(with_state(state))
        .then(
            |span: String, sn: String, q: GenParams, st: Arc<AppState>| async move {
                respond(power_gen(&st, &span, &sn, q).await)
            },
        );
    cap.or(generation).unify().boxed()
}

/// A point of a PV curve (Elecnova's `PowerDataPoint`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
struct PowerDataPoint {
    /// Start of the interval, RFC 3339.
    time: String,
    /// W (power-cap) or kWh (power-gen); `null` where there is no data.
    value: Option<f64>,
}

/// `begin` and `end`, RFC 3339 (default: today in the server's time zone).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CapParams {
    /// Start, RFC 3339 (aligned down to 5 minutes).
    #[param(example = "2025-11-01T00:00:00Z")]
    begin: Option<String>,
    /// End, RFC 3339, exclusive; at most 31 days after `begin`.
    #[param(example = "2025-11-02T00:00:00Z")]
    end: Option<String>,
}

fn instant(text: &str, name: &str) -> Result<u64, ApiError> {
    text.parse::<Timestamp>()
        .ok()
        .and_then(|t| u64::try_from(t.as_millisecond()).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_time",
                format!("{name} is an RFC 3339 time, not {text:?}"),
            )
        })
}

/// Mean AC power per 5 minutes over `[begin, end)`, W.
#[utoipa::path(
    get,
    path = "/api/v1/dev/pv/power-cap/{sn}",
    operation_id = "pv_power_cap",
    tag = "cloud",
    params(("sn" = String, Path, description = "The device id", example = "ESP32_001"), CapParams),
    responses(
        (status = 200, description = "One point per 5 minutes", body = inline(super::Data<Vec<PowerDataPoint>>)),
        (status = 400, description = "A bad time or range (`bad_time`, `bad_range`)", body = ErrorBody),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
    ),
)]
async fn power_cap(state: &AppState, sn: &str, q: CapParams) -> Result<Response, ApiError> {
    known_device(state, sn).await?;
    let tz = request_zone(state, None)?;
    let begin = match &q.begin {
        Some(text) => instant(text, "begin")?,
        None => start_of_day(now_ms(), &tz),
    };
    let end = match &q.end {
        Some(text) => instant(text, "end")?,
        None => begin + 86_400_000,
    };
    if begin >= end || end - begin > MAX_SPAN_MS {
        return Err(ApiError::bad_request(
            "bad_range",
            "begin is before end, at most 31 days apart",
        ));
    }
    let begin = begin - begin % STEP_MS;
    let points =
        device_series(state, sn, register("Pac")?, (begin, end), STEP_MS, Agg::Avg).await?;
    let curve: Vec<PowerDataPoint> = points
        .iter()
        .map(|p| PowerDataPoint {
            time: iso(p.t_ms),
            value: p.value,
        })
        .collect();
    Ok(data(curve).into_response())
}

/// `month` (`YYYY-MM`, for `monthly`) or `year` (`YYYY`, for `yearly`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct GenParams {
    /// For `monthly`: `YYYY-MM` (default: this month).
    #[param(example = "2025-11")]
    month: Option<String>,
    /// For `yearly`: `YYYY` (default: this year).
    #[param(example = "2025")]
    year: Option<String>,
}

/// Energy generated, kWh: per day of the past 7 days (`daily`, today
/// last), per day of a month (`monthly`) or per month of a year (`yearly`).
#[utoipa::path(
    get,
    path = "/api/v1/dev/pv/power-gen/{span}/{sn}",
    operation_id = "pv_power_gen",
    tag = "cloud",
    params(
        ("span" = String, Path, description = "`daily`, `monthly` or `yearly`", example = "monthly"),
        ("sn" = String, Path, description = "The device id", example = "ESP32_001"),
        GenParams,
    ),
    responses(
        (status = 200, description = "One point per day or month, kWh", body = inline(super::Data<Vec<PowerDataPoint>>)),
        (status = 400, description = "A bad month or year (`bad_at`)", body = ErrorBody),
        (status = 404, description = "No such device or span (`unknown_device`, `not_found`)", body = ErrorBody),
    ),
)]
async fn power_gen(
    state: &AppState,
    span: &str,
    sn: &str,
    q: GenParams,
) -> Result<Response, ApiError> {
    let tz = request_zone(state, None)?;
    let bad_at = |m: String| ApiError::bad_request("bad_at", m);
    let cal = match span {
        "daily" => past_days(&tz).map_err(bad_at)?,
        "monthly" => {
            let month = shaped(q.month.as_deref(), 7, "month is YYYY-MM")?;
            calendar(Period::Month, month, &tz).map_err(bad_at)?
        }
        "yearly" => {
            let year = shaped(q.year.as_deref(), 4, "year is YYYY")?;
            calendar(Period::Year, year, &tz).map_err(bad_at)?
        }
        _ => {
            return Err(ApiError::new(
                http::StatusCode::NOT_FOUND,
                "not_found",
                crate::http::error::NO_ROUTE,
            ));
        }
    };
    let device = known_device(state, sn).await?;
    let buckets = device_energy(state, &device, &cal).await?;
    let points: Vec<PowerDataPoint> = buckets
        .iter()
        .map(|b| PowerDataPoint {
            time: iso(b.start_ms),
            value: Some(b.energy_wh / 1000.0),
        })
        .collect();
    Ok(data(points).into_response())
}

/// A `month` or `year` parameter of the right length (the calendar checks the rest).
fn shaped<'a>(
    text: Option<&'a str>,
    len: usize,
    message: &str,
) -> Result<Option<&'a str>, ApiError> {
    match text {
        Some(t) if t.len() != len => Err(ApiError::bad_request("bad_at", message)),
        _ => Ok(text),
    }
}

/// The past 7 days (today last) as one calendar of daily buckets.
fn past_days(tz: &jiff::tz::TimeZone) -> Result<Calendar, String> {
    let today = Zoned::now().with_time_zone(tz.clone()).date();
    let mut edges = Vec::new();
    let mut labels = Vec::new();
    for back in (0..DAILY_DAYS).rev() {
        let day = today
            .checked_sub(back.days())
            .map_err(|e| e.to_string())?
            .to_string();
        let one = calendar(Period::Day, Some(&day), tz)?;
        edges.push(one.edges.first().copied().unwrap_or_default());
        if back == 0 {
            edges.push(one.edges.last().copied().unwrap_or_default());
        }
        labels.push(day);
    }
    Ok(Calendar {
        label: labels.first().cloned().unwrap_or_default(),
        edges,
        labels,
    })
}
