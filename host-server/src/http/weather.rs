//! `/api/v1/sensors/external/weather` (the provider's weather, cached) and
//! `/api/v1/sensors/compare/weather` (each device's newest power and
//! temperature next to what the weather predicts, with an alert where the
//! output is far below it), in the FastAPI backend's shapes.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::error::{ApiError, ErrorBody, respond};
use super::guard::gate;
use super::queries::register;
use super::with_state;
use crate::app::AppState;
use crate::auth::Access;
use crate::query::calendar::iso;
use crate::weather::solar::predicted_power;
use crate::weather::{Weather, WeatherError};

/// A sample further than this from the observation is not compared, ms.
const SAME_TIME_MS: u64 = 3_600_000;
/// Below this share of the rated power nothing is judged (night, dusk).
const MIN_PREDICTED_SHARE: f64 = 0.1;

/// The weather routes (viewers and up).
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    let external = warp::path!("api" / "v1" / "sensors" / "external" / "weather")
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<WeatherParams>())
        .and(with_state(state))
        .then(|q: WeatherParams, st: Arc<AppState>| async move { respond(external(&st, q).await) });
    let compare = warp::path!("api" / "v1" / "sensors" / "compare" / "weather")
        .and(warp::get())
        .and(gate(state, Access::Read))
        .and(warp::query::<WeatherParams>())
        .and(with_state(state))
        .then(|q: WeatherParams, st: Arc<AppState>| async move { respond(compare(&st, q).await) });
    external.or(compare).unify().boxed()
}

/// `city` (default: `--weather-city`), `device` (compare: default every device).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct WeatherParams {
    /// City name, as the provider knows it.
    #[param(example = "London")]
    city: Option<String>,
    /// Only this device (compare).
    device: Option<String>,
}

async fn weather(state: &AppState, city: Option<&str>) -> Result<Weather, ApiError> {
    state.weather.current(city).await.map_err(|e| match e {
        WeatherError::Off => ApiError::unavailable(
            "weather_off",
            "no weather provider is configured (--weather-api-key)",
            3600,
        ),
        WeatherError::BadCity => ApiError::bad_request(
            "bad_city",
            "a city is 1 to 100 letters, digits, spaces and , - . '",
        ),
        WeatherError::UnknownCity => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_city",
            "the provider knows no such city",
        ),
        WeatherError::RateLimited(wait) => {
            ApiError::rate_limited("the weather provider's rate is spent; retry later", wait)
        }
        WeatherError::Provider(log) => {
            tracing::warn!(error = %log, "weather provider failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "weather_unavailable",
                "the weather provider failed",
            )
        }
    })
}

/// The weather at a city, from the configured provider (cached).
#[utoipa::path(
    get,
    path = "/api/v1/sensors/external/weather",
    operation_id = "external_weather",
    tag = "queries",
    params(WeatherParams),
    responses(
        (status = 200, description = "The weather and the irradiance it implies", body = Weather),
        (status = 400, description = "A bad city name (`bad_city`)", body = ErrorBody),
        (status = 404, description = "No such city (`unknown_city`)", body = ErrorBody),
        (status = 429, description = "The provider's rate is spent (`rate_limited`)", body = ErrorBody),
        (status = 502, description = "The provider failed (`weather_unavailable`)", body = ErrorBody),
        (status = 503, description = "No provider configured (`weather_off`)", body = ErrorBody),
    ),
)]
async fn external(state: &AppState, q: WeatherParams) -> Result<Response, ApiError> {
    Ok(warp::reply::json(&weather(state, q.city.as_deref()).await?).into_response())
}

/// A measured value.
#[derive(Debug, Serialize, ToSchema)]
struct Reading {
    /// The value (`null`: not measured).
    value: Option<f64>,
    /// When, RFC 3339.
    timestamp: String,
    /// The device.
    sensor_id: String,
}

/// One device against the weather.
#[derive(Debug, Serialize, ToSchema)]
struct DeviceComparison {
    /// The device.
    device_id: String,
    /// Newest AC power, W.
    measured_w: Option<f64>,
    /// What the weather predicts for `--weather-capacity-w`, W (`null`: the
    /// newest sample is more than an hour from the observation).
    predicted_w: Option<f64>,
    /// Measured over predicted.
    ratio: Option<f64>,
    /// Inverter temperature minus air temperature, °C.
    temperature_difference: Option<f64>,
}

/// An alert of the comparison.
#[derive(Debug, Serialize, ToSchema)]
struct WeatherAlert {
    /// `output_below_prediction`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The device.
    device_id: String,
    /// For people.
    message: String,
    /// `warning`.
    severity: &'static str,
}

/// The comparison.
#[derive(Debug, Serialize, ToSchema)]
struct Comparison {
    /// Irradiance the weather implies, W/m².
    irradiance_wm2: f64,
    /// Per device.
    devices: Vec<DeviceComparison>,
    /// Devices producing less than `--weather-alert-ratio` of the prediction.
    alerts: Vec<WeatherAlert>,
}

/// `GET /api/v1/sensors/compare/weather`.
#[derive(Debug, Serialize, ToSchema)]
struct CompareReply {
    /// The weather.
    weather_data: Weather,
    /// Each device's newest power and temperature, by device id.
    sensor_data: BTreeMap<String, BTreeMap<&'static str, Reading>>,
    /// Measured against predicted.
    comparison: Comparison,
}

/// Each device's newest power and temperature next to the weather's
/// prediction; an alert where the output is far below it.
#[utoipa::path(
    get,
    path = "/api/v1/sensors/compare/weather",
    operation_id = "compare_weather",
    tag = "queries",
    params(WeatherParams),
    responses(
        (status = 200, description = "The comparison", body = CompareReply),
        (status = 400, description = "A bad city or device id (`bad_city`, `bad_device_id`)", body = ErrorBody),
        (status = 404, description = "No such city or device (`unknown_city`, `unknown_device`)", body = ErrorBody),
        (status = 429, description = "The provider's rate is spent (`rate_limited`)", body = ErrorBody),
        (status = 502, description = "The provider failed (`weather_unavailable`)", body = ErrorBody),
        (status = 503, description = "No provider configured (`weather_off`)", body = ErrorBody),
    ),
)]
async fn compare(state: &AppState, q: WeatherParams) -> Result<Response, ApiError> {
    let devices = match &q.device {
        Some(id) => vec![super::queries::known_device(state, id).await?],
        None => state.store.fleet().await.map_err(ApiError::internal)?,
    };
    let weather = weather(state, q.city.as_deref()).await?;
    let args = state.weather.args();
    let predicted = predicted_power(
        args.weather_capacity_w,
        weather.irradiance_wm2,
        weather.temperature,
    );
    let observed_ms = u64::try_from(weather.t_s).unwrap_or(0) * 1000;
    let (pac, temp) = (register("Pac")?, register("Temp")?);
    let mut sensor_data = BTreeMap::new();
    let mut compared = Vec::new();
    let mut alerts = Vec::new();
    for device in devices.iter().filter(|d| d.retired_ms.is_none()) {
        let id = &device.device_id;
        let Some(sample) = state.store.latest(id).await.map_err(ApiError::internal)? else {
            continue;
        };
        let value_of = |r: &solarwire_core::registers::Register| {
            let raw = sample.registers.iter().find(|(i, _)| *i == r.id)?.1;
            crate::readings::value(r, raw)
        };
        let (power, inverter_c) = (value_of(pac), value_of(temp));
        let reading = |value| Reading {
            value,
            timestamp: iso(sample.t_ms),
            sensor_id: id.clone(),
        };
        sensor_data.insert(
            id.clone(),
            BTreeMap::from([
                ("power", reading(power)),
                ("temperature", reading(inverter_c)),
            ]),
        );
        let same_time = sample.t_ms.abs_diff(observed_ms) <= SAME_TIME_MS;
        let predicted_w = same_time.then_some(predicted);
        let ratio = predicted_w
            .zip(power)
            .filter(|(p, _)| *p >= MIN_PREDICTED_SHARE * args.weather_capacity_w)
            .map(|(p, m)| m / p);
        if let Some(ratio) = ratio.filter(|r| *r < args.weather_alert_ratio) {
            alerts.push(WeatherAlert {
                kind: "output_below_prediction",
                device_id: id.clone(),
                message: format!(
                    "{id} produces {:.0} W, {:.0} % of the {predicted:.0} W the weather predicts",
                    power.unwrap_or(0.0),
                    ratio * 100.0
                ),
                severity: "warning",
            });
        }
        compared.push(DeviceComparison {
            device_id: id.clone(),
            measured_w: power,
            predicted_w,
            ratio,
            temperature_difference: inverter_c.map(|c| c - weather.temperature),
        });
    }
    Ok(warp::reply::json(&CompareReply {
        comparison: Comparison {
            irradiance_wm2: weather.irradiance_wm2,
            devices: compared,
            alerts,
        },
        weather_data: weather,
        sensor_data,
    })
    .into_response())
}
