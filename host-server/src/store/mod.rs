//! Durable storage: backend-neutral rules and traits grouped by data, with
//! one module per backend (the only places with SQL).
//!
//! ```text
//!  ingest / http / cli ─► Store = DeviceStore + EnvelopeKeyStore + IngestStore + TelemetryStore
//!                                  + AccessStore + AlertStore + FirmwareStore
//!                                  + ManagementStore + ClientStore + GenericStore
//!                                  + ProfileStore
//!                          │  rules every backend applies (pure, time passed in):
//!                          │  ingest::IngestBatch (replay, decode, duplicates,
//!                          │  summaries, codec stats), telemetry::RollupDelta
//!                          │  and OpenRollups (rollups kept open between
//!                          │  flushes), blocks (the telemetry block codec),
//!                          │  access::judge_refresh
//!                          ▼
//!                        sqlite/   (open_store("sqlite://…"))
//!                        postgres/ (open_store("postgres://…"): many servers, one database)
//! ```
//!
//! A backend is complete when it passes the conformance suite
//! (`tests/conformance/`), one test body per behaviour.

pub mod access;
pub mod alerts;
pub mod blocks;
pub mod clients;
pub mod devices;
pub mod envelope_keys;
pub mod firmware;
pub mod generic;
pub mod ingest;
pub mod management;
mod model;
pub mod postgres;
pub mod profiles;
pub mod sqlite;
pub mod telemetry;

use std::path::Path;
use std::sync::Arc;

pub use model::{
    CodecStats, Committed, DeviceDetail, DeviceKeys, DeviceSummary, HistoryQuery, IngestError,
    IngestJob, IngestOutcome, PacketSummary, Registration, RegistrationOutcome, Replayed, Seal,
    StoreCounts, StoreError, StoredSample, UploadSummary,
};

use crate::clock::Clock;
use crate::telemetry::Telemetry;

/// What every storage backend offers the server.
pub trait Store:
    devices::DeviceStore
    + envelope_keys::EnvelopeKeyStore
    + ingest::IngestStore
    + telemetry::TelemetryStore
    + access::AccessStore
    + alerts::AlertStore
    + clients::ClientStore
    + firmware::FirmwareStore
    + management::ManagementStore
    + generic::GenericStore
    + profiles::ProfileStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: devices::DeviceStore
        + envelope_keys::EnvelopeKeyStore
        + ingest::IngestStore
        + telemetry::TelemetryStore
        + access::AccessStore
        + alerts::AlertStore
        + clients::ClientStore
        + firmware::FirmwareStore
        + management::ManagementStore
        + generic::GenericStore
        + profiles::ProfileStore
        + Send
        + Sync
        + 'static
{
}

/// Samples further apart are not joined in energy integrals unless
/// configured otherwise (`--energy-max-gap`'s default).
pub const DEFAULT_MAX_GAP_MS: u64 = 120_000;

/// How a store is opened besides its URL.
#[derive(Clone)]
pub struct StoreOptions {
    /// The ingest writer's queue, batch and decoding limits.
    pub ingest: ingest::IngestConfig,
    /// Where committed uploads go (the server's live outputs).
    pub sink: Option<ingest::CommitSink>,
    /// Where uploads committed by other servers on the same database go
    /// (the live streams); only shared backends fill it.
    pub remote: Option<ingest::CommitSink>,
    /// Counters.
    pub telemetry: Arc<Telemetry>,
    /// The time every stored timestamp comes from.
    pub clock: Clock,
}

impl StoreOptions {
    /// Options for one-off commands: default limits, no live outputs, the system clock.
    pub fn command() -> Self {
        Self {
            ingest: ingest::IngestConfig {
                queue: 1024,
                batch: 64,
                limits: solarwire_core::upload::Limits::default(),
                max_gap_ms: DEFAULT_MAX_GAP_MS,
            },
            sink: None,
            remote: None,
            telemetry: Arc::new(Telemetry::new()),
            clock: Clock::system(),
        }
    }
}

/// The URL of the default store in a data directory.
pub fn data_dir_url(data_dir: &Path) -> String {
    format!("sqlite://{}", sqlite::database_path(data_dir).display())
}

/// The store a server or command uses: `database_url` when given
/// (`--database-url`), else the SQLite file in the data directory.
pub fn store_url(data_dir: &Path, database_url: Option<&str>) -> String {
    database_url.map_or_else(|| data_dir_url(data_dir), str::to_owned)
}

/// Opens (creating and migrating if needed) the store at `url`:
/// `sqlite://PATH` (or `sqlite:PATH`) is the SQLite database file at PATH;
/// `postgres://…` (or `postgresql://…`) a PostgreSQL database.
///
/// # Errors
/// An unknown scheme, or a database that cannot be opened or migrated.
pub fn open_store(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if postgres::is_postgres_url(url) {
        return Ok(Arc::new(postgres::PgStore::open(url, options)?));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    match path {
        Some(path) if !path.is_empty() => Ok(Arc::new(sqlite::SqliteStore::open(
            Path::new(path),
            options,
        )?)),
        _ => Err(StoreError::new(format!(
            "unsupported store URL {url:?} (expected sqlite://PATH or postgres://…)"
        ))),
    }
}
