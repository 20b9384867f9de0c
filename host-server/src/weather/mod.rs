//! External weather: an OpenWeather-compatible provider (base URL and key
//! configurable; answers cached per city, requests to it rate-limited) and
//! what the weather predicts the fleet produces (see [`solar`]).
//!
//! The provider is asked `GET {url}/data/2.5/weather?q=CITY&appid=KEY&units=metric`
//! and must answer OpenWeather's current-weather shape (`coord`, `main`,
//! `weather`, `clouds`, `dt`, `name`).

pub mod solar;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::duration::parse_duration;
use crate::ratelimit::DeviceLimiter;

/// Weather settings.
#[derive(Debug, Clone, Args)]
pub struct WeatherArgs {
    /// Base URL of an OpenWeather-compatible API (`http://` only: this build
    /// has no TLS client; use a local proxy for https).
    #[arg(
        long,
        env = "SOLARWIRE_WEATHER_URL",
        default_value = "http://api.openweathermap.org"
    )]
    pub weather_url: String,

    /// The provider's API key (`appid`). Without it the weather routes answer 503 `weather_off`.
    #[arg(long, env = "SOLARWIRE_WEATHER_API_KEY", hide_env_values = true)]
    pub weather_api_key: Option<String>,

    /// City asked for when a request names none.
    #[arg(long, env = "SOLARWIRE_WEATHER_CITY", default_value = "London")]
    pub weather_city: String,

    /// How long an answer of the provider is reused.
    #[arg(long, env = "SOLARWIRE_WEATHER_CACHE", default_value = "10m", value_parser = parse_duration)]
    pub weather_cache: Duration,

    /// Requests per minute sent to the provider at most (cached answers do not count).
    #[arg(long, env = "SOLARWIRE_WEATHER_RATE", default_value_t = 30)]
    pub weather_rate: u32,

    /// Rated power of each device, W (at 1000 W/m² and 25 °C), for the prediction.
    #[arg(long, env = "SOLARWIRE_WEATHER_CAPACITY_W", default_value_t = 5000.0)]
    pub weather_capacity_w: f64,

    /// Measured power below this share of the prediction raises an alert.
    #[arg(long, env = "SOLARWIRE_WEATHER_ALERT_RATIO", default_value_t = 0.5)]
    pub weather_alert_ratio: f64,
}

/// The weather at a place, as the provider reported it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Weather {
    /// The city.
    pub city: String,
    /// Air temperature, °C.
    pub temperature: f64,
    /// Relative humidity, %.
    pub humidity: f64,
    /// Pressure, hPa.
    pub pressure: f64,
    /// Cloud cover, %.
    pub clouds: f64,
    /// What it looks like.
    pub description: String,
    /// When it was observed, RFC 3339.
    pub timestamp: String,
    /// Observation time, Unix seconds.
    #[serde(skip)]
    pub t_s: i64,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Global horizontal irradiance it implies, W/m².
    pub irradiance_wm2: f64,
}

/// Why there is no weather.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeatherError {
    /// No API key configured.
    Off,
    /// Not a city name.
    BadCity,
    /// No such city (the provider's 404).
    UnknownCity,
    /// Over the provider rate, nothing cached: retry after this long.
    RateLimited(Duration),
    /// The provider failed or answered nonsense (for the log).
    Provider(String),
}

/// The provider's answer (the fields used).
#[derive(Debug, Deserialize)]
struct Current {
    coord: Coord,
    main: Main,
    #[serde(default)]
    weather: Vec<Sky>,
    #[serde(default)]
    clouds: Option<Clouds>,
    dt: i64,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
struct Coord {
    lat: f64,
    lon: f64,
}

#[derive(Debug, Deserialize)]
struct Main {
    temp: f64,
    humidity: f64,
    pressure: f64,
}

#[derive(Debug, Deserialize)]
struct Sky {
    description: String,
}

#[derive(Debug, Deserialize)]
struct Clouds {
    all: f64,
}

/// Longest city name.
const MAX_CITY: usize = 100;
/// Largest provider answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// Cities cached at most.
const MAX_CACHED: usize = 1024;

/// The provider, its cache and its rate.
pub struct WeatherService {
    args: WeatherArgs,
    http: reqwest::Client,
    rate: Option<DeviceLimiter>,
    cache: Mutex<HashMap<String, (Instant, Weather)>>,
}

impl WeatherService {
    /// The service of `args`.
    ///
    /// # Errors
    /// A message for an `https://` or malformed URL.
    pub fn new(args: WeatherArgs) -> Result<Self, String> {
        if !args.weather_url.starts_with("http://") {
            return Err(format!(
                "--weather-url {:?} must be http:// (no TLS client in this build)",
                args.weather_url
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the weather client: {e}"))?;
        let rate = DeviceLimiter::new(
            f64::from(args.weather_rate) / 60.0,
            args.weather_rate.clamp(1, 10),
        );
        Ok(Self {
            args,
            http,
            rate,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The settings.
    pub fn args(&self) -> &WeatherArgs {
        &self.args
    }

    /// The weather in `city` (default: the configured one), cached.
    ///
    /// # Errors
    /// See [`WeatherError`].
    pub async fn current(&self, city: Option<&str>) -> Result<Weather, WeatherError> {
        let key = self
            .args
            .weather_api_key
            .as_deref()
            .ok_or(WeatherError::Off)?;
        let city = city.unwrap_or(&self.args.weather_city).trim();
        let named = |c: char| c.is_alphanumeric() || matches!(c, ' ' | ',' | '-' | '.' | '\'');
        if city.is_empty() || city.len() > MAX_CITY || !city.chars().all(named) {
            return Err(WeatherError::BadCity);
        }
        let slot = city.to_lowercase();
        let cached = self.cached(&slot);
        if let Some((at, weather)) = &cached
            && at.elapsed() < self.args.weather_cache
        {
            return Ok(weather.clone());
        }
        if let Some(rate) = &self.rate
            && let Err(wait) = rate.check("provider")
        {
            // Over the provider's rate: a stale answer beats none.
            return cached
                .map(|(_, w)| w)
                .ok_or(WeatherError::RateLimited(wait));
        }
        let weather = self.fetch(city, key).await?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, (at, _)| at.elapsed() < self.args.weather_cache);
            }
            cache.insert(slot, (Instant::now(), weather.clone()));
        }
        Ok(weather)
    }

    fn cached(&self, slot: &str) -> Option<(Instant, Weather)> {
        self.cache.lock().ok()?.get(slot).cloned()
    }

    async fn fetch(&self, city: &str, key: &str) -> Result<Weather, WeatherError> {
        let failed = |e: &dyn std::fmt::Display| WeatherError::Provider(e.to_string());
        let query = serde_urlencoded::to_string([("q", city), ("appid", key), ("units", "metric")])
            .map_err(|e| failed(&e))?;
        let base = self.args.weather_url.trim_end_matches('/');
        let answer = self
            .http
            .get(format!("{base}/data/2.5/weather?{query}"))
            .send()
            .await
            .map_err(|e| failed(&e.without_url()))?;
        match answer.status().as_u16() {
            200 => {}
            404 => return Err(WeatherError::UnknownCity),
            status => {
                return Err(WeatherError::Provider(format!(
                    "the provider answered {status}"
                )));
            }
        }
        let body = answer.bytes().await.map_err(|e| failed(&e.without_url()))?;
        if body.len() > MAX_ANSWER {
            return Err(WeatherError::Provider(
                "the provider's answer is too large".into(),
            ));
        }
        let current: Current = serde_json::from_slice(&body).map_err(|e| failed(&e))?;
        Ok(observed(current, city))
    }
}

fn observed(c: Current, asked: &str) -> Weather {
    let clouds = c.clouds.map_or(0.0, |c| c.all);
    let cos_z = solar::cos_zenith(c.coord.lat, c.coord.lon, c.dt);
    Weather {
        city: if c.name.is_empty() {
            asked.to_owned()
        } else {
            c.name
        },
        temperature: c.main.temp,
        humidity: c.main.humidity,
        pressure: c.main.pressure,
        clouds,
        description: c
            .weather
            .into_iter()
            .next()
            .map(|s| s.description)
            .unwrap_or_default(),
        timestamp: crate::query::calendar::iso(u64::try_from(c.dt).unwrap_or(0) * 1000),
        t_s: c.dt,
        lat: c.coord.lat,
        lon: c.coord.lon,
        irradiance_wm2: solar::irradiance(cos_z, clouds / 100.0),
    }
}
