//! The SQLite backend: one writer thread with group commit for ingest, a
//! small pool of read-only connections for the API (WAL lets them read while
//! the writer writes), and one connection for operator changes.

mod access;
mod alerts;
mod analytics;
mod checkpoint;
mod devices;
mod firmware;
mod management;
mod samples;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use rusqlite::Connection;

use crate::telemetry::Telemetry;

pub(crate) use writer::{CommitSink, WriterConfig};

use super::{
    DeviceDetail, DeviceKeys, DeviceSummary, HistoryQuery, IngestError, IngestJob, IngestOutcome,
    Registration, RegistrationOutcome, Store, StoreCounts, StoreError, StoredSample,
};

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("solarwire.sqlite")
}

/// Opens (creating and migrating if needed) a database for one-off
/// operator commands; they run beside a live server safely (SQLite locks).
pub fn open_for_admin(data_dir: &Path) -> Result<Admin, StoreError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| StoreError(format!("cannot create {}: {e}", data_dir.display())))?;
    let mut conn = schema::open(&database_path(data_dir), schema::Role::Write)?;
    schema::migrate(&mut conn)?;
    Ok(Admin(conn))
}

/// Synchronous operator access (the `solarwire device` commands).
pub struct Admin(Connection);

impl Admin {
    /// Adds a device; `false` when the id is taken.
    pub fn add_device(&self, device: &str, keys: &DeviceKeys) -> Result<bool, StoreError> {
        devices::add(&self.0, device, keys)
    }
    /// Replaces a device's keys; `false` for an unknown device.
    pub fn rotate_keys(&self, device: &str, keys: &DeviceKeys) -> Result<bool, StoreError> {
        devices::rotate(&self.0, device, keys)
    }
    /// Deletes a device and its data; `false` for an unknown device.
    pub fn remove_device(&mut self, device: &str) -> Result<bool, StoreError> {
        devices::remove(&mut self.0, device)
    }
    /// Forgets a device's last nonce; `false` for an unknown device.
    pub fn reset_nonce(&self, device: &str) -> Result<bool, StoreError> {
        devices::reset_nonce(&self.0, device)
    }
    /// A device's keys (`None`: unknown device).
    pub fn device_keys(&self, device: &str) -> Result<Option<DeviceKeys>, StoreError> {
        devices::keys(&self.0, device)
    }
    /// Every device.
    pub fn devices(&self) -> Result<Vec<DeviceSummary>, StoreError> {
        devices::list(&self.0)
    }
    /// One device with its statistics.
    pub fn device(&self, device: &str) -> Result<Option<DeviceDetail>, StoreError> {
        devices::detail(&self.0, device)
    }
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

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    writer: writer::WriterHandle,
    _checkpoints: checkpoint::Alive,
    reads: Arc<ReadPool>,
    admin: Arc<Mutex<Admin>>,
}

impl SqliteStore {
    /// Opens the database in `data_dir`, migrates it and starts the writer.
    pub(crate) fn open(
        data_dir: &Path,
        config: WriterConfig,
        sink: Option<CommitSink>,
        telemetry: Arc<Telemetry>,
    ) -> Result<Self, StoreError> {
        let admin = open_for_admin(data_dir)?;
        let path = database_path(data_dir);
        let writer_conn = schema::open(&path, schema::Role::Write)?;
        checkpoint::take_over(&writer_conn)?;
        let writer = writer::spawn(writer_conn, config, sink, telemetry)?;
        let checkpoints: checkpoint::Alive = Arc::new(());
        checkpoint::spawn(&path, Arc::downgrade(&checkpoints))?;
        Ok(Self {
            _checkpoints: checkpoints,
            writer,
            reads: Arc::new(ReadPool {
                path,
                idle: Mutex::new(Vec::new()),
            }),
            admin: Arc::new(Mutex::new(admin)),
        })
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let pool = self.reads.clone();
        blocking(move || pool.with(f))
    }

    fn admin<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Admin) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let admin = self.admin.clone();
        blocking(move || {
            let mut guard = admin
                .lock()
                .map_err(|_| StoreError("admin connection poisoned".into()))?;
            f(&mut guard)
        })
    }
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> BoxFuture<'static, Result<T, StoreError>> {
    tokio::task::spawn_blocking(f)
        .map(|joined| joined.unwrap_or_else(|e| Err(StoreError(format!("query task failed: {e}")))))
        .boxed()
}

impl Store for SqliteStore {
    fn ingest(&self, job: IngestJob) -> BoxFuture<'_, Result<IngestOutcome, IngestError>> {
        self.writer.ingest(job).boxed()
    }

    fn device_keys(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceKeys>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| devices::keys(c, &device))
    }

    fn device_epoch(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.read(devices::epoch)
    }

    fn register(
        &self,
        registration: Registration,
    ) -> BoxFuture<'_, Result<RegistrationOutcome, StoreError>> {
        self.admin(move |a| devices::register(&a.0, &registration))
    }

    fn last_nonce(&self, device: &str) -> BoxFuture<'_, Result<Option<u32>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| devices::last_nonce(c, &device))
    }

    fn add_device(
        &self,
        device: &str,
        keys: DeviceKeys,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |a| a.add_device(&device, &keys))
    }

    fn rotate_keys(
        &self,
        device: &str,
        keys: DeviceKeys,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |a| a.rotate_keys(&device, &keys))
    }

    fn remove_device(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |a| a.remove_device(&device))
    }

    fn reset_nonce(&self, device: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let device = device.to_owned();
        self.admin(move |a| a.reset_nonce(&device))
    }

    fn devices(&self) -> BoxFuture<'_, Result<Vec<DeviceSummary>, StoreError>> {
        self.read(devices::list)
    }

    fn device(&self, device: &str) -> BoxFuture<'_, Result<Option<DeviceDetail>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| devices::detail(c, &device))
    }

    fn history(
        &self,
        device: &str,
        query: HistoryQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredSample>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| samples::history(c, &device, &query))
    }

    fn latest(&self, device: &str) -> BoxFuture<'_, Result<Option<StoredSample>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| samples::latest(c, &device))
    }

    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts, StoreError>> {
        self.read(samples::counts)
    }

    fn writable(&self) -> bool {
        self.writer.healthy()
    }
}
