//! The SQLite backend: one writer thread with group commit for ingest, a
//! small pool of read-only connections for the API (WAL lets them read while
//! the writer writes), and one connection for operator changes. The only
//! place with SQLite's SQL; the current time comes from the store's clock,
//! read once per operation at the trait boundary.

mod access;
mod alerts;
mod blocks;
mod checkpoint;
mod clients;
mod devices;
mod envelope_keys;
mod firmware;
mod generic;
mod management;
mod profiles;
mod rollups;
mod schema;
mod telemetry;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use rusqlite::Connection;

use super::ingest::{IngestStore, UploadStats};
use super::telemetry::OpenRollups;
use super::{IngestError, IngestJob, IngestOutcome, StoreCounts, StoreError, StoreOptions};
use crate::clock::Clock;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if busy {
            Self::busy(e.to_string())
        } else {
            Self::new(e.to_string())
        }
    }
}

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("solarwire.sqlite")
}

/// Connections kept open for reads.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    const KEEP: usize = 4;

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match conn {
            Some(c) => c,
            None => schema::open(&self.path, schema::Role::Read)?,
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < Self::KEEP
        {
            idle.push(conn);
        }
        result
    }
}

/// The SQLite implementation of [`super::Store`].
pub struct SqliteStore {
    writer: writer::WriterHandle,
    _checkpoints: checkpoint::Alive,
    reads: Arc<ReadPool>,
    admin: Arc<Mutex<Connection>>,
    /// The writer's rollup buckets not yet stored, folded into reads.
    open_rollups: Arc<OpenRollups<i64>>,
    clock: Clock,
}

impl SqliteStore {
    /// Opens the database file at `path` (creating its directory, creating
    /// and migrating the database if needed) and starts the writer.
    pub(crate) fn open(path: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_file::create_dir(dir).map_err(StoreError::new)?;
        }
        let mut admin = schema::open(path, schema::Role::Write)?;
        schema::migrate(&mut admin)?;
        blocks::carry_samples(&mut admin)?;
        rollups::backfill(&mut admin)?;
        let mut writer_conn = schema::open(path, schema::Role::Write)?;
        checkpoint::take_over(&writer_conn)?;
        let rollups =
            rollups::RollupWriter::start(&mut writer_conn, path, options.ingest.max_gap_ms)?;
        let open_rollups = rollups.shared();
        let writer = writer::spawn(
            writer_conn,
            rollups,
            options.ingest,
            options.sink,
            options.telemetry,
        )?;
        let checkpoints: checkpoint::Alive = Arc::new(());
        checkpoint::spawn(path, Arc::downgrade(&checkpoints))?;
        Ok(Self {
            _checkpoints: checkpoints,
            writer,
            reads: Arc::new(ReadPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
            admin: Arc::new(Mutex::new(admin)),
            open_rollups,
            clock: options.clock,
        })
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let pool = self.reads.clone();
        blocking(move || pool.with(f))
    }

    /// Runs an operator change on the operator connection, with the time now.
    fn admin<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, u64) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let admin = self.admin.clone();
        let now = self.clock.now_ms();
        blocking(move || {
            let mut guard = admin
                .lock()
                .map_err(|_| StoreError::new("admin connection poisoned"))?;
            f(&mut guard, now)
        })
    }
}

/// Runs `f` on tokio's blocking pool once the future is polled (so a
/// future made outside a runtime is still fine to hand to one).
fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> BoxFuture<'static, Result<T, StoreError>> {
    async move {
        tokio::task::spawn_blocking(f)
            .await
            .unwrap_or_else(|e| Err(StoreError::new(format!("query task failed: {e}"))))
    }
    .boxed()
}

impl IngestStore for SqliteStore {
    fn ingest(&self, job: IngestJob) -> BoxFuture<'_, Result<IngestOutcome, IngestError>> {
        self.writer.ingest(job).boxed()
    }

    fn writable(&self) -> bool {
        self.writer.healthy()
    }

    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts, StoreError>> {
        self.read(blocks::counts)
    }

    fn upload_stats(
        &self,
        device: Option<&str>,
        since_ms: u64,
    ) -> BoxFuture<'_, Result<Option<UploadStats>, StoreError>> {
        let device = device.map(str::to_owned);
        self.read(move |c| devices::upload_stats(c, device.as_deref(), since_ms))
    }
}
