//! Device management (issue 14): the rules of firmware rollouts, remote
//! configuration and commands, pure functions with the time passed in, and
//! the settings and in-memory state the HTTP handlers share.

pub mod commands;
pub mod config;
pub mod publish;
pub mod rollout;

use std::sync::Mutex;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::duration::parse_duration;
use crate::ratelimit::DeviceLimiter;

/// Device-management settings (`solarwire serve` flags).
#[derive(Debug, Clone, Args)]
pub struct ManageArgs {
    /// Largest firmware image accepted, in bytes.
    #[arg(long, env = "SOLARWIRE_FIRMWARE_MAX_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub firmware_max_bytes: usize,

    /// A queued command not dispatched within this time expires.
    #[arg(long, env = "SOLARWIRE_COMMAND_TTL", default_value = "1h", value_parser = parse_duration)]
    pub command_ttl: Duration,

    /// Verification failures or rollbacks that pause a rollout by itself
    /// (when the rollout names none).
    #[arg(long, env = "SOLARWIRE_ROLLOUT_MAX_FAILURES", default_value_t = 3)]
    pub rollout_max_failures: u32,

    /// Management requests per second each device may sustain (polls,
    /// chunks, reports; 0 turns the limit off).
    #[arg(long, env = "SOLARWIRE_DEVICE_POLL_RATE", default_value_t = 50.0)]
    pub device_poll_rate: f64,

    /// Management requests a device may send at once above its rate.
    #[arg(long, env = "SOLARWIRE_DEVICE_POLL_BURST", default_value_t = 100)]
    pub device_poll_burst: u32,

    /// Fault, energy and diagnostic reports kept per device and kind.
    #[arg(long, env = "SOLARWIRE_REPORTS_PER_DEVICE", default_value_t = 1000)]
    pub reports_per_device: usize,

    /// Update, configuration and command history entries kept per device.
    #[arg(long, env = "SOLARWIRE_HISTORY_PER_DEVICE", default_value_t = 500)]
    pub history_per_device: usize,
}

/// An OTA fault the server injects, as the original server offered, so a
/// device's verification can be tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OtaFault {
    /// One byte of the middle chunk flipped.
    CorruptChunk,
    /// The manifest's SHA-256 altered.
    BadHash,
    /// The manifest's signature altered.
    BadSignature,
}

/// Settings and shared state of the management routes.
pub struct Manage {
    /// The settings.
    pub args: ManageArgs,
    /// Per-device request limit (`None`: off).
    pub limiter: Option<DeviceLimiter>,
    fault: Mutex<Option<OtaFault>>,
}

impl Manage {
    /// The state for `args`.
    pub fn new(args: ManageArgs) -> Self {
        Self {
            limiter: DeviceLimiter::new(args.device_poll_rate, args.device_poll_burst),
            args,
            fault: Mutex::new(None),
        }
    }

    /// The OTA fault being injected.
    pub fn fault(&self) -> Option<OtaFault> {
        self.fault.lock().ok().and_then(|f| *f)
    }

    /// Starts (`Some`) or stops (`None`) injecting an OTA fault.
    pub fn set_fault(&self, fault: Option<OtaFault>) {
        if let Ok(mut f) = self.fault.lock() {
            *f = fault;
        }
    }
}
