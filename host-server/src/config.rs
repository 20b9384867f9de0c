//! `solarwire serve` settings: every flag also reads a `SOLARWIRE_*` variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::duration::parse_duration;

/// How the server runs.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The database: `postgres://user@host/db` for PostgreSQL (several servers
    /// can share it), `sqlite://PATH`; default the SQLite file in `--data-dir`.
    #[arg(long, env = "SOLARWIRE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Address and port to listen on.
    #[arg(long, env = "SOLARWIRE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// A second address serving `/status` and `/metrics` without
    /// credentials (for a scraper on a private network); on the main
    /// address they need an admin credential.
    #[arg(long, env = "SOLARWIRE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// MQTT broker to publish every stored upload to (`mqtt://host:port`).
    #[arg(long, env = "SOLARWIRE_MQTT_URL")]
    pub mqtt_url: Option<String>,

    /// Subscribe to this MQTT topic filter on the `--mqtt-url` broker (QoS 1,
    /// shared as `$share/solarwire/FILTER`) and ingest its
    /// `{"device_id", "envelope"}` messages like HTTP uploads; answers go to
    /// `solarwire/reply/{device_id}`.
    #[arg(long, env = "SOLARWIRE_MQTT_INGEST", requires = "mqtt_url")]
    pub mqtt_ingest: Option<String>,

    /// MQTT client id of the ingest subscription: the broker keeps
    /// unacknowledged messages under it across restarts, so it must stay
    /// the same for one server and differ between servers (default: derived
    /// from the host name, data directory and listen address).
    #[arg(long, env = "SOLARWIRE_MQTT_CLIENT_ID", requires = "mqtt_ingest")]
    pub mqtt_client_id: Option<String>,

    /// Also publish the legacy `ecowatt/data/{device_id}` message shape.
    #[arg(long, env = "SOLARWIRE_MQTT_COMPAT")]
    pub mqtt_compat: bool,

    /// Fleet-wide HMAC key (hex) as the real firmware uses: any device id
    /// verifies with it and is registered on its first valid upload. Prefer
    /// the environment variable: command lines are visible to other users.
    #[arg(long, env = "SOLARWIRE_COMPAT_PSK", hide_env_values = true)]
    pub compat_psk: Option<String>,

    /// The master key (64+ hex digits) that encrypts device keys at rest.
    /// Without it, a random one is kept in DATA_DIR/master-key (mode 0600);
    /// `solarwire device rotate-master-key` replaces it.
    #[arg(long, env = "SOLARWIRE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Fleet-wide AES-128 key (hex) for encrypted envelopes in compat mode.
    #[arg(long, env = "SOLARWIRE_COMPAT_AES_KEY", hide_env_values = true)]
    pub compat_aes_key: Option<String>,

    /// Accept unsigned legacy `/process` bodies from known devices
    /// (firmware before 2025-10-16 sent no envelope).
    #[arg(long, env = "SOLARWIRE_ALLOW_UNSIGNED_LEGACY")]
    pub allow_unsigned_legacy: bool,

    /// How far an envelope v2's device time may be from the server's clock,
    /// either way, before the upload is refused (`clock_skew`).
    #[arg(long, env = "SOLARWIRE_CLOCK_SKEW", default_value = "5m", value_parser = parse_duration)]
    pub clock_skew: Duration,

    /// Break-glass bearer token with admin rights, for recovery when no
    /// admin user can log in. Prefer users (`solarwire user add`) and API
    /// keys; every use of this token is logged.
    #[arg(long, env = "SOLARWIRE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Largest request body in bytes.
    #[arg(long, env = "SOLARWIRE_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Most packets in one upload (the firmware sends at most 8).
    #[arg(long, env = "SOLARWIRE_MAX_PACKETS", default_value_t = 32)]
    pub max_packets: usize,

    /// Most values one packet may declare (the firmware's largest is 500).
    #[arg(long, env = "SOLARWIRE_MAX_VALUES", default_value_t = 4096)]
    pub max_values: usize,

    /// Time allowed for a request's headers (also the keep-alive idle time).
    #[arg(long, env = "SOLARWIRE_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Time allowed for a request's body.
    #[arg(long, env = "SOLARWIRE_BODY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_timeout: Duration,

    /// Open connections at most; more are answered 503 `busy` (with Retry-After) and closed.
    #[arg(long, env = "SOLARWIRE_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Open connections one client address may hold (counted from accept to
    /// close, WebSocket streams included); more are answered 503 `busy`.
    /// Half the global cap by default, so one address cannot starve others.
    #[arg(
        long,
        env = "SOLARWIRE_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 512
    )]
    pub max_connections_per_address: usize,

    /// Open WebSocket streams at most; more are answered 503 `busy`.
    #[arg(long, env = "SOLARWIRE_MAX_WS", default_value_t = 256)]
    pub max_ws: usize,

    /// Open WebSocket streams one client address may hold; more are answered
    /// 429 `too_many_streams`.
    #[arg(long, env = "SOLARWIRE_MAX_WS_PER_ADDRESS", default_value_t = 32)]
    pub max_ws_per_address: usize,

    /// Largest request head (request line and headers) in bytes; a larger
    /// one is answered 431 `headers_too_large`.
    #[arg(long, env = "SOLARWIRE_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,

    /// Uploads per second each device may sustain (0 turns the limit off).
    #[arg(long, env = "SOLARWIRE_DEVICE_RATE", default_value_t = 5.0)]
    pub device_rate: f64,

    /// Uploads a device may send at once above its rate.
    #[arg(long, env = "SOLARWIRE_DEVICE_BURST", default_value_t = 20)]
    pub device_burst: u32,

    /// Boot registrations (`POST /devices`) per second one client address
    /// may sustain, after a burst of 30 (0 turns the limit off).
    #[arg(long, env = "SOLARWIRE_REGISTRATION_RATE", default_value_t = 1.0)]
    pub registration_rate: f64,

    /// Uploads waiting for the writer before requests get 503.
    #[arg(long, env = "SOLARWIRE_WRITE_QUEUE", default_value_t = 8192)]
    pub write_queue: usize,

    /// Access, query, retention and alert settings.
    #[command(flatten)]
    pub policy: crate::policy::PolicyArgs,

    /// Firmware updates, remote configuration, commands and reports.
    #[command(flatten)]
    pub manage: crate::manage::ManageArgs,

    /// External weather and the comparison with it.
    #[command(flatten)]
    pub weather: crate::weather::WeatherArgs,

    #[command(flatten)]
    pub generic: crate::generic::GenericArgs,

    /// Uploads committed together in one transaction at most.
    #[arg(long, env = "SOLARWIRE_WRITE_BATCH", default_value_t = 1024)]
    pub write_batch: usize,

    /// The storage plant this server watches (a site file, TOML: `solarwire
    /// site demo`): its BESS, PCS, meters and inverters answer on the
    /// SolarHub routes (`/api/v1/bess/{n}`, `/api/v1/pcs/{n}`, …).
    #[arg(long, env = "SOLARWIRE_SITE")]
    pub site: Option<std::path::PathBuf>,
}
