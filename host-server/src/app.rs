//! What every request handler shares.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use solarwire_core::upload::Limits;

use crate::keys::KeyRing;
use crate::live::LiveHub;
use crate::ratelimit::DeviceLimiter;
use crate::store::Store;
use crate::telemetry::Telemetry;

/// The server's shared state.
pub struct AppState {
    /// Durable storage.
    pub store: Arc<dyn Store>,
    /// Device keys.
    pub keys: Arc<KeyRing>,
    /// Whether a fleet key is configured (compat mode).
    pub fleet_mode: bool,
    /// Packet and value bounds.
    pub limits: Limits,
    /// Largest request body.
    pub body_limit: usize,
    /// Time allowed for a body.
    pub body_timeout: Duration,
    /// Accept unsigned legacy bodies from known devices.
    pub allow_unsigned_legacy: bool,
    /// How far an envelope v2's device time may be from the server's.
    pub clock_skew: solarwire_core::envelope_v2::SkewWindow,
    /// Per-device rate limit, when on.
    pub rate: Option<DeviceLimiter>,
    /// Requests per signed API client, when on.
    pub client_rate: Option<DeviceLimiter>,
    /// Boot registrations per client address (keyed by the address text).
    pub registrations: Option<DeviceLimiter>,
    /// Counters.
    pub telemetry: Arc<Telemetry>,
    /// Live outputs (WebSocket clients).
    pub live: LiveHub,
    /// Whether stored uploads are published to MQTT.
    pub mqtt_enabled: bool,
    /// Users, access tokens, API keys and the break-glass admin token.
    pub auth: Arc<crate::auth::Auth>,
    /// Access, query, retention and alert settings.
    pub policy: crate::policy::PolicyArgs,
    /// Refused uploads per device.
    pub rejections: crate::rejections::Rejections,
    /// Alert rules and open alerts.
    pub alerts: Arc<crate::alerts::AlertEngine>,
    /// Where the data lives.
    pub data_dir: PathBuf,
    /// Caps on open WebSocket streams.
    pub ws_limits: crate::fairness::WsLimits,
    /// Turns `true` when the server shuts down (live streams close).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// External weather (provider, cache, rate).
    pub weather: Arc<crate::weather::WeatherService>,
    /// Device management: settings, per-device limits, OTA fault injection.
    pub manage: Arc<crate::manage::Manage>,
    /// Generic (API-key) devices: registration, rates, channel limit.
    pub generic: crate::generic::GenericArgs,
    /// The storage plant of `--site` (the SolarHub routes).
    pub site: Option<Arc<crate::site::Site>>,
}
