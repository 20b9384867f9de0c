//! `/api/v1/devices/{id}/series` and `/energy`: the store is read here,
//! the arithmetic is `crate::query`'s.

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use solarwire_core::registers::{Register, RegisterRef};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::guard::gate;
use super::{device_path, with_state};
use crate::app::AppState;
use crate::auth::Access;
use crate::clock::now_ms;
use crate::duration::parse_duration;
use crate::query::buckets::Point;
use crate::query::calendar::{Period, calendar, zone};
use crate::query::energy::EnergyBucket;
use crate::query::series::{Agg, MAX_BUCKETS, SeriesPoint, rollup_level, series};
use crate::query::{csv, energy};
use crate::store::telemetry::Level;

/// Raw samples one query reads at most.
pub(super) const MAX_POINTS: usize = 2_000_000;
const DAY_MS: u64 = 86_400_000;

/// The query routes (viewers and up).
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let read = || gate(state, Access::Read);
    let series = device_path()
        .and(warp::path!("series"))
        .and(warp::get())
        .and(read())
        .and(warp::query::<SeriesParams>())
        .and(warp::header::optional::<String>("accept"))
        .and(with_state(state))
        .then(
            |id: String, q: SeriesParams, accept: Option<String>, st: Arc<AppState>| async move {
                respond(series_reply(&st, &id, q, accept.as_deref()).await)
            },
        );
    let energy = device_path()
        .and(warp::path!("energy"))
        .and(warp::get())
        .and(read())
        .and(warp::query::<EnergyParams>())
        .and(with_state(state))
        .then(
            |id: String, q: EnergyParams, st: Arc<AppState>| async move {
                respond(energy_reply(&st, &id, q).await)
            },
        );
    series.or(energy).unify().boxed()
}

/// Checks a device id and that the device exists; its fleet record.
pub(super) async fn known_device(
    state: &AppState,
    id: &str,
) -> Result<crate::store::devices::FleetDevice, ApiError> {
    crate::http::segment::check_device_id(id)?;
    match state
        .store
        .fleet_device(id)
        .await
        .map_err(ApiError::internal)?
    {
        Some(device) => Ok(device),
        None => Err(ApiError::unknown_device(id)),
    }
}

/// A register by device name (`Pac`), key (`REG_PAC`) or id.
pub(super) fn register(name: &str) -> Result<&'static Register, ApiError> {
    let reference = name
        .parse::<i64>()
        .map_or(RegisterRef::Name(name), RegisterRef::Id);
    crate::readings::profile().lookup(reference).map_err(|_| {
        ApiError::bad_request("unknown_register", format!("unknown register {name:?}"))
    })
}

/// Converted values of one register in `[from, to)`, plus the sample just
/// before `from` (within `lead_ms`) as the left end of the first segment.
pub(super) async fn converted(
    state: &AppState,
    device: &str,
    register: &Register,
    (from, to): (u64, u64),
    lead_ms: u64,
) -> Result<Vec<Point>, ApiError> {
    let store = &state.store;
    let before = match lead_ms {
        0 => None,
        lead => store
            .point_before(device, register.id, from.saturating_sub(lead), from)
            .await
            .map_err(ApiError::internal)?,
    };
    let raw = store
        .points(device, register.id, from, to, MAX_POINTS)
        .await
        .map_err(ApiError::internal)?;
    if raw.len() >= MAX_POINTS {
        return Err(too_many_samples());
    }
    Ok(before
        .iter()
        .chain(&raw)
        .filter_map(|p| {
            Some(Point {
                t_ms: p.t_ms,
                value: crate::readings::value(register, p.raw)?,
            })
        })
        .collect())
}

/// The unit of a generic device's named channel (empty when none was declared).
async fn channel_unit(state: &AppState, device: &str, channel: &str) -> Result<String, ApiError> {
    let channels = state
        .store
        .named_channels(device)
        .await
        .map_err(ApiError::internal)?;
    channels
        .into_iter()
        .find(|c| c.name == channel)
        .map(|c| c.unit.unwrap_or_default())
        .ok_or_else(|| {
            ApiError::bad_request(
                "unknown_channel",
                format!("device {device} has no channel {channel:?}"),
            )
        })
}

/// Values of a named channel in `[from, to)`.
async fn channel_points(
    state: &AppState,
    device: &str,
    channel: &str,
    (from, to): (u64, u64),
) -> Result<Vec<Point>, ApiError> {
    let points = state
        .store
        .channel_points(device, channel, (from, to), MAX_POINTS)
        .await
        .map_err(ApiError::internal)?;
    if points.len() >= MAX_POINTS {
        return Err(too_many_samples());
    }
    Ok(points
        .into_iter()
        .map(|(t_ms, value)| Point { t_ms, value })
        .collect())
}

fn too_many_samples() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_samples",
        format!("more than {MAX_POINTS} samples in range; ask for a shorter one"),
    )
}

/// Rollups of one register at `level` with buckets in `[from, to)`.
async fn rollups(
    state: &AppState,
    device: &str,
    register: &Register,
    level: Level,
    (from, to): (u64, u64),
) -> Result<Vec<crate::store::telemetry::Aggregate>, ApiError> {
    state
        .store
        .aggregates(device, register.id, level, from, to)
        .await
        .map_err(ApiError::internal)
}

/// `register`, `from`/`to` (Unix ms, `to` exclusive), `step` (`5m`), `agg`, `format`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SeriesParams {
    /// The register, by name, key or id (default `Pac`).
    #[param(example = "Pac")]
    register: Option<String>,
    /// A named channel of a generic device instead of a register (`temperature`).
    channel: Option<String>,
    /// Start, Unix ms (default: a day before `to`); aligned down to `step`.
    from: Option<u64>,
    /// End, Unix ms, exclusive (default: now).
    to: Option<u64>,
    /// Bucket length: `30s`, `5m`, `1h` … at least 1 s (default `5m`).
    #[param(example = "5m")]
    step: Option<String>,
    /// `avg`, `min`, `max` or `last` (default `avg`).
    #[param(value_type = Option<Agg>, inline)]
    agg: Option<String>,
    /// `csv` for a CSV download (as `Accept: text/csv`).
    #[param(example = "csv")]
    format: Option<String>,
}

/// An aligned series.
#[derive(Debug, Serialize, ToSchema)]
struct SeriesReply {
    /// The device.
    device_id: String,
    /// The register's (or named channel's) name.
    register: String,
    /// Its unit (empty when a channel declared none).
    unit: String,
    /// First bucket's start, Unix ms.
    from: u64,
    /// End, Unix ms (exclusive).
    to: u64,
    /// Bucket length, ms.
    step_ms: u64,
    /// How each bucket's samples became one value.
    agg: Agg,
    /// One point per bucket (`value: null` where there were no samples).
    points: Vec<SeriesPoint>,
}

/// One register's values in aligned time buckets (the 5-minute power
/// curve is the common case).
#[utoipa::path(
    get,
    path = "/api/v1/devices/{device_id}/series",
    operation_id = "series",
    tag = "queries",
    params(SeriesParams),
    responses(
        (status = 200, description = "The series (CSV with `format=csv` or `Accept: text/csv`)", content(
            (SeriesReply = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A bad register, step, aggregate or range (`unknown_register`, `unknown_channel`, `bad_step`, `bad_agg`, `bad_range`, `too_many_buckets`, `bad_query`)", body = ErrorBody),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
        (status = 422, description = "Too many samples in range (`too_many_samples`)", body = ErrorBody),
    ),
)]
async fn series_reply(
    state: &AppState,
    id: &str,
    q: SeriesParams,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    known_device(state, id).await?;
    let step = parse_duration(q.step.as_deref().unwrap_or("5m"))
        .map_err(|m| ApiError::bad_request("bad_step", m))?;
    let step_ms = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
    if step_ms < 1000 {
        return Err(ApiError::bad_request("bad_step", "step is at least 1s"));
    }
    let agg = Agg::parse(q.agg.as_deref().unwrap_or("avg"))
        .ok_or_else(|| ApiError::bad_request("bad_agg", "agg is avg, min, max or last"))?;
    let to = q.to.unwrap_or_else(now_ms).min(i64::MAX as u64);
    let from = q.from.unwrap_or(to.saturating_sub(DAY_MS));
    if from >= to {
        return Err(ApiError::bad_request("bad_range", "from must be before to"));
    }
    if (to - from) / step_ms > MAX_BUCKETS {
        return Err(ApiError::bad_request(
            "too_many_buckets",
            format!("at most {MAX_BUCKETS} buckets; use a larger step"),
        ));
    }
    let from = from - from % step_ms;
    let (name, unit, buckets) = match &q.channel {
        Some(channel) => {
            let unit = channel_unit(state, id, channel).await?;
            let points = channel_points(state, id, channel, (from, to)).await?;
            let buckets = series(from, to, step_ms, agg, &points, &[]);
            (channel.clone(), unit, buckets)
        }
        None => {
            let register = register(q.register.as_deref().unwrap_or("Pac"))?;
            let buckets = device_series(state, id, register, (from, to), step_ms, agg).await?;
            (register.name.clone(), register.unit.clone(), buckets)
        }
    };
    if csv::wanted(q.format.as_deref(), accept) {
        let mut out = String::new();
        csv::record(&mut out, ["t_ms", "time", &name, "count"]);
        for b in &buckets {
            csv::record(
                &mut out,
                [
                    b.t_ms.to_string(),
                    crate::query::calendar::iso(b.t_ms),
                    csv::number(b.value),
                    b.count.to_string(),
                ],
            );
        }
        return Ok(csv_reply(out, &format!("{id}-{name}-series.csv")));
    }
    Ok(warp::reply::json(&SeriesReply {
        device_id: id.to_owned(),
        register: name,
        unit,
        from,
        to,
        step_ms,
        agg,
        points: buckets,
    })
    .into_response())
}

/// One register's buckets of `step_ms` over `[from, to)` (`from` aligned to
/// the step), from rollups where they tile the buckets, else raw samples.
pub(super) async fn device_series(
    state: &AppState,
    id: &str,
    register: &Register,
    (from, to): (u64, u64),
    step_ms: u64,
    agg: Agg,
) -> Result<Vec<SeriesPoint>, ApiError> {
    let (points, aggregates) = match rollup_level(from, step_ms) {
        Some(level) => (
            Vec::new(),
            rollups(state, id, register, level, (from, to)).await?,
        ),
        None => (
            converted(state, id, register, (from, to), 0).await?,
            Vec::new(),
        ),
    };
    Ok(series(from, to, step_ms, agg, &points, &aggregates))
}

/// History as CSV: one row per sample, one converted column per register.
pub(super) fn history_csv(
    profile: &solarwire_core::registers::Profile,
    id: &str,
    samples: &[crate::store::StoredSample],
) -> Response {
    let mut ids: Vec<u8> = samples
        .iter()
        .flat_map(|s| s.registers.iter().map(|&(id, _)| id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let name = |id: u8| {
        profile
            .by_id(id)
            .map_or(format!("reg{id}"), |r| r.name.clone())
    };
    let mut out = String::new();
    csv::record(
        &mut out,
        ["t_ms", "time", "device_time", "approximate"]
            .into_iter()
            .map(str::to_owned)
            .chain(ids.iter().map(|&id| name(id))),
    );
    for s in samples {
        let value = |id: u8| {
            let raw = s
                .registers
                .iter()
                .find(|(r, _)| *r == id)
                .map(|&(_, raw)| raw);
            csv::number(raw.and_then(|raw| Some(profile.by_id(id)?.read(raw).value.to_f64())))
        };
        csv::record(
            &mut out,
            [
                s.t_ms.to_string(),
                crate::query::calendar::iso(s.t_ms),
                s.device_time.to_string(),
                s.approximate.to_string(),
            ]
            .into_iter()
            .chain(ids.iter().map(|&id| value(id))),
        );
    }
    csv_reply(out, &format!("{id}-history.csv"))
}

/// A CSV download.
pub(super) fn csv_reply(body: String, filename: &str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = http::HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(http::header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `period` (day|month|year), `at` (`2026-05-14`, `2026-05`, `2026`), `tz`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct EnergyParams {
    /// `day` (hourly buckets), `month` (daily) or `year` (monthly); default `day`.
    #[param(value_type = Option<Period>, inline)]
    period: Option<String>,
    /// Which one: `2026-05-14`, `2026-05` or `2026` (default: the current one).
    #[param(example = "2025-11")]
    at: Option<String>,
    /// Time zone of the calendar (IANA name; default: the server's).
    #[param(example = "UTC")]
    tz: Option<String>,
}

/// Energy per calendar bucket.
#[derive(Debug, Serialize, ToSchema)]
struct EnergyReply {
    /// The device.
    device_id: String,
    /// `day`, `month` or `year`.
    period: String,
    /// Which one (`2026-05-14`, `2026-05`, `2026`).
    at: String,
    /// The calendar's time zone.
    timezone: String,
    /// `Pac`: energy is integrated from AC power.
    register: &'static str,
    /// `Wh`.
    unit: &'static str,
    /// How power becomes energy.
    method: &'static str,
    /// Samples further apart are not joined, seconds.
    max_gap_s: u64,
    /// Energy over all buckets, Wh.
    total_wh: f64,
    /// Time without data over all buckets, seconds.
    missing_s: u64,
    /// One per hour, day or month.
    buckets: Vec<EnergyBucket>,
}

/// The time zone a request asks for, or the server's.
pub(super) fn request_zone(
    state: &AppState,
    tz: Option<&str>,
) -> Result<jiff::tz::TimeZone, ApiError> {
    zone(tz.unwrap_or(&state.policy.timezone)).map_err(|m| ApiError::bad_request("bad_timezone", m))
}

/// Energy in calendar buckets (Wh), with covered and missing time (none
/// before the device existed, see [`energy::Window`]).
pub(super) async fn device_energy(
    state: &AppState,
    device: &crate::store::devices::FleetDevice,
    calendar: &crate::query::calendar::Calendar,
) -> Result<Vec<EnergyBucket>, ApiError> {
    let id = device.device_id.as_str();
    let pac = register("Pac")?;
    let (Some(&start), Some(&end)) = (calendar.edges.first(), calendar.edges.last()) else {
        return Ok(Vec::new());
    };
    let max_gap = max_gap_ms(state);
    let (power, aggregates) = match Level::tiling(&calendar.edges) {
        Some(level) => (
            Vec::new(),
            rollups(state, id, pac, level, (start, end)).await?,
        ),
        None => (
            converted(state, id, pac, (start, end), max_gap).await?,
            Vec::new(),
        ),
    };
    Ok(energy::energy(
        calendar,
        &power,
        &aggregates,
        max_gap,
        energy::Window {
            registered_ms: device.created_ms,
            now_ms: now_ms(),
        },
    ))
}

/// Samples further apart are not joined when integrating.
pub(super) fn max_gap_ms(state: &AppState) -> u64 {
    u64::try_from(state.policy.energy_max_gap.as_millis()).unwrap_or(u64::MAX)
}

/// Energy produced per hour of a day, day of a month or month of a year,
/// integrated from AC power; each bucket says how much time has no data.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{device_id}/energy",
    operation_id = "energy",
    tag = "queries",
    params(EnergyParams),
    responses(
        (status = 200, description = "The energy buckets", body = EnergyReply),
        (status = 400, description = "A bad period, date or time zone (`bad_period`, `bad_at`, `bad_timezone`)", body = ErrorBody),
        (status = 404, description = "No such device (`unknown_device`)", body = ErrorBody),
        (status = 422, description = "Too many samples in range (`too_many_samples`)", body = ErrorBody),
    ),
)]
async fn energy_reply(state: &AppState, id: &str, q: EnergyParams) -> Result<Response, ApiError> {
    let device = known_device(state, id).await?;
    let period = Period::parse(q.period.as_deref().unwrap_or("day"))
        .ok_or_else(|| ApiError::bad_request("bad_period", "period is day, month or year"))?;
    let tz = request_zone(state, q.tz.as_deref())?;
    let calendar =
        calendar(period, q.at.as_deref(), &tz).map_err(|m| ApiError::bad_request("bad_at", m))?;
    let buckets = device_energy(state, &device, &calendar).await?;
    let total: f64 = buckets.iter().map(|b| b.energy_wh).sum();
    let missing: u64 = buckets.iter().map(|b| b.missing_s).sum();
    Ok(warp::reply::json(&EnergyReply {
        device_id: id.to_owned(),
        period: q.period.unwrap_or_else(|| "day".to_owned()),
        at: calendar.label,
        timezone: tz.iana_name().unwrap_or("UTC").to_owned(),
        register: "Pac",
        unit: "Wh",
        method: "trapezoids between consecutive samples",
        max_gap_s: max_gap_ms(state) / 1000,
        total_wh: total,
        missing_s: missing,
        buckets,
    })
    .into_response())
}
