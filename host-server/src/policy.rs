//! Settings of access, queries, retention and alerts (`solarwire serve`
//! flags; each also reads a `SOLARWIRE_*` variable).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use solarwire_core::upload::TimeWindow;

use crate::duration::parse_duration;

impl PolicyArgs {
    /// The accepted window of device sample times (synced clocks only).
    pub fn time_window(&self) -> TimeWindow {
        let retention = match self.retention_days {
            0 => Duration::MAX,
            days => Duration::from_secs(u64::from(days) * 86_400),
        };
        TimeWindow {
            max_ahead_ms: millis(self.max_clock_ahead),
            max_age_ms: millis(self.max_sample_age.unwrap_or(retention)),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Who may read, how long data is kept, what raises alerts.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// Secret (at least 32 characters) signing access tokens. Without it a
    /// random one is generated on first start and kept in DATA_DIR/jwt-secret
    /// (mode 0600). Prefer the variable: command lines are visible to others.
    #[arg(long, env = "SOLARWIRE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Origins allowed to call the API from a browser (repeat or comma-separate;
    /// default: same origin only, no CORS headers).
    #[arg(
        long = "cors-origin",
        env = "SOLARWIRE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Requests per second allowed per signed API client (`/comm/client`
    /// and the routes its token opens); over it, 429 with `Retry-After`. 0: no limit.
    #[arg(long, env = "SOLARWIRE_CLIENT_RATE", default_value_t = 100.0)]
    pub client_rate: f64,

    /// Login attempts per minute allowed per account and, doubled, per client address.
    #[arg(long, env = "SOLARWIRE_LOGIN_RATE", default_value_t = 10)]
    pub login_rate: u32,

    /// Days raw samples and upload bodies are kept (older ones are rolled
    /// into 5-minute aggregates, then deleted).
    #[arg(long, env = "SOLARWIRE_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,

    /// Sample times further ahead of the server's receive time refuse their
    /// packet (`time_out_of_window`; the upload's other packets are stored).
    #[arg(long, env = "SOLARWIRE_MAX_CLOCK_AHEAD", default_value = "5m", value_parser = parse_duration)]
    pub max_clock_ahead: Duration,

    /// Sample times older than this (before the receive time) refuse their
    /// packet (`time_out_of_window`). Default: the retention period (none
    /// when retention keeps data forever).
    #[arg(long, env = "SOLARWIRE_MAX_SAMPLE_AGE", value_parser = parse_duration)]
    pub max_sample_age: Option<Duration>,

    /// Days 5-minute aggregates are kept.
    #[arg(
        long,
        env = "SOLARWIRE_AGGREGATE_RETENTION_DAYS",
        default_value_t = 730
    )]
    pub aggregate_retention_days: u32,

    /// How often retention runs.
    #[arg(long, env = "SOLARWIRE_RETENTION_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub retention_interval: Duration,

    /// Expected upload period of devices that set none (a device is offline
    /// after three periods without an upload).
    #[arg(long, env = "SOLARWIRE_UPLOAD_INTERVAL", default_value = "15s", value_parser = parse_duration)]
    pub upload_interval: Duration,

    /// Two samples further apart than this are not joined when integrating
    /// energy: the time between them is reported as missing.
    #[arg(long, env = "SOLARWIRE_ENERGY_MAX_GAP", default_value = "2m", value_parser = parse_duration)]
    pub energy_max_gap: Duration,

    /// Time zone of calendar buckets (days, months) when a request names none.
    #[arg(long, env = "SOLARWIRE_TIMEZONE", default_value = "UTC")]
    pub timezone: String,

    /// Alert rules file (JSON: `{"rules": [{"name", "kind", "register", "threshold", …}]}`),
    /// loaded at start; its rules replace those loaded from it before.
    #[arg(long, env = "SOLARWIRE_ALERT_RULES")]
    pub alert_rules: Option<PathBuf>,

    /// The wasm inspector's build (a directory with `www/` and `pkg/web/`),
    /// served at `/inspector/` when present. Default: host-wasm of the
    /// source tree this binary was built from, if it is there.
    #[arg(long, env = "SOLARWIRE_INSPECTOR_DIR")]
    pub inspector_dir: Option<PathBuf>,

    /// How often an open WebSocket's credentials are checked again: an
    /// expired token, a revoked key or a removed user closes it (1008).
    #[arg(long, env = "SOLARWIRE_WS_RECHECK", default_value = "30s", value_parser = parse_duration)]
    pub ws_recheck: Duration,

    /// How often offline devices and status changes are checked.
    #[arg(long, env = "SOLARWIRE_ALERT_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub alert_interval: Duration,
}
