//! The PostgreSQL backend: several servers on one database.
//!
//! Every server keeps a small connection pool (deadpool + tokio-postgres)
//! and one ingest writer that commits queued uploads in batches. The replay
//! decision is taken in the database: the writer locks the batch's device
//! rows (`SELECT … FOR UPDATE`, in device-id order) before the
//! backend-neutral [`super::ingest::IngestBatch`] decides, so two servers
//! receiving the same envelope serialise on that row and answer one `fresh`
//! and one `duplicate`. Operator changes bump the device epoch, which every
//! server's key ring polls; commits are announced with `NOTIFY` so the live
//! streams of every server see uploads landing on any of them.
//!
//! The store runs its queries on a runtime of its own (two worker threads),
//! so it can be opened and used from any thread or runtime, as the SQLite
//! store can. The only place with PostgreSQL's SQL.

mod access;
mod alerts;
mod clients;
mod devices;
mod envelope_keys;
mod firmware;
mod generic;
mod management;
mod notify;
mod profiles;
mod rollups;
mod schema;
mod telemetry;
mod writer;

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::{Config, ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::ingest::{IngestStore, UploadStats};
use super::{IngestError, IngestJob, IngestOutcome, StoreCounts, StoreError, StoreOptions};
use crate::clock::Clock;

/// Connections per server.
const POOL_SIZE: usize = 16;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let retry = e.code().is_some_and(|c| {
            [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::TOO_MANY_CONNECTIONS,
                SqlState::LOCK_NOT_AVAILABLE,
            ]
            .contains(c)
        });
        let message = match e.as_db_error() {
            Some(db) => format!("postgres: {}", db.message()),
            None => format!("postgres: {e}"),
        };
        if retry || e.is_closed() {
            Self::busy(message)
        } else {
            Self::new(message)
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self::busy(format!("postgres pool: {other}")),
        }
    }
}

/// Whether a URL names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The store's own runtime, shut down in the background when dropped (so a
/// store may be dropped inside another runtime).
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl OwnRuntime {
    fn handle(&self) -> tokio::runtime::Handle {
        self.0
            .as_ref()
            .map(|r| r.handle().clone())
            .expect("the runtime lives as long as the store")
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The PostgreSQL implementation of [`super::Store`].
pub struct PgStore {
    pool: Pool,
    writer: writer::WriterHandle,
    clock: Clock,
    runtime: Arc<OwnRuntime>,
}

impl PgStore {
    /// Connects to `url`, applies the migrations the database lacks, and
    /// starts the ingest writer and the commit listener.
    pub(crate) fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("solarwire-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::new(format!("cannot start the store's runtime: {e}")))?;
        let runtime = Arc::new(OwnRuntime(Some(runtime)));
        let handle = runtime.handle();
        let mut config = Config::new();
        config.url = Some(url.to_owned());
        config.manager = Some(ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        });
        config.pool = Some(PoolConfig::new(POOL_SIZE));
        let pool = config
            .create_pool(Some(Runtime::Tokio1), NoTls)
            .map_err(|e| StoreError::new(format!("postgres pool: {e}")))?;
        let origin = notify::Origin::new()?;
        {
            let pool = pool.clone();
            on_thread(&handle, async move { schema::migrate(&pool).await })?;
        }
        let writer = writer::spawn(
            &handle,
            pool.clone(),
            options.ingest,
            options.sink,
            options.telemetry,
            origin.clone(),
        );
        if let Some(remote) = options.remote {
            handle.spawn(notify::listen(url.to_owned(), pool.clone(), origin, remote));
        }
        Ok(Self {
            pool,
            writer,
            clock: options.clock,
            runtime,
        })
    }

    /// Runs `f` with the pool on the store's runtime.
    fn run<T, F>(&self, f: impl FnOnce(Pool) -> F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let task = self.runtime.handle().spawn(f(self.pool.clone()));
        async move {
            task.await
                .unwrap_or_else(|e| Err(StoreError::new(format!("query task failed: {e}"))))
        }
        .boxed()
    }

    /// Like [`Self::run`], with the time now (read once, at the call).
    fn run_now<T, F>(
        &self,
        f: impl FnOnce(Pool, u64) -> F,
    ) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let now = self.clock.now_ms();
        self.run(move |pool| f(pool, now))
    }
}

/// Blocks on `f` on a thread outside any runtime (opening is synchronous).
fn on_thread<T: Send>(
    handle: &tokio::runtime::Handle,
    f: impl Future<Output = Result<T, StoreError>> + Send,
) -> Result<T, StoreError> {
    std::thread::scope(|s| {
        s.spawn(|| handle.block_on(f))
            .join()
            .unwrap_or_else(|_| Err(StoreError::new("opening the database panicked")))
    })
}

/// Conversions between the store's unsigned values and PostgreSQL's signed columns.
pub(super) mod num {
    use tokio_postgres::Row;

    use crate::store::StoreError;

    /// A `u64` for a BIGINT column (values beyond `i64::MAX` saturate).
    pub(crate) fn big(v: u64) -> i64 {
        i64::try_from(v).unwrap_or(i64::MAX)
    }

    fn out_of_range(column: usize) -> StoreError {
        StoreError::new(format!("column {column}: stored value out of range"))
    }

    /// Reads unsigned values from signed columns.
    pub(crate) trait RowExt {
        /// A BIGINT as `u64`.
        fn u64(&self, i: usize) -> Result<u64, StoreError>;
        /// A nullable BIGINT as `u64`.
        fn opt_u64(&self, i: usize) -> Result<Option<u64>, StoreError>;
        /// A BIGINT as `u32`.
        fn u32(&self, i: usize) -> Result<u32, StoreError>;
        /// A nullable BIGINT as `u32`.
        fn opt_u32(&self, i: usize) -> Result<Option<u32>, StoreError>;
        /// A SMALLINT as `u8`.
        fn u8(&self, i: usize) -> Result<u8, StoreError>;
        /// A nullable SMALLINT as `u8`.
        fn opt_u8(&self, i: usize) -> Result<Option<u8>, StoreError>;
    }

    impl RowExt for Row {
        fn u64(&self, i: usize) -> Result<u64, StoreError> {
            u64::try_from(self.try_get::<_, i64>(i)?).map_err(|_| out_of_range(i))
        }
        fn opt_u64(&self, i: usize) -> Result<Option<u64>, StoreError> {
            self.try_get::<_, Option<i64>>(i)?
                .map(|v| u64::try_from(v).map_err(|_| out_of_range(i)))
                .transpose()
        }
        fn u32(&self, i: usize) -> Result<u32, StoreError> {
            u32::try_from(self.try_get::<_, i64>(i)?).map_err(|_| out_of_range(i))
        }
        fn opt_u32(&self, i: usize) -> Result<Option<u32>, StoreError> {
            self.try_get::<_, Option<i64>>(i)?
                .map(|v| u32::try_from(v).map_err(|_| out_of_range(i)))
                .transpose()
        }
        fn u8(&self, i: usize) -> Result<u8, StoreError> {
            u8::try_from(self.try_get::<_, i16>(i)?).map_err(|_| out_of_range(i))
        }
        fn opt_u8(&self, i: usize) -> Result<Option<u8>, StoreError> {
            self.try_get::<_, Option<i16>>(i)?
                .map(|v| u8::try_from(v).map_err(|_| out_of_range(i)))
                .transpose()
        }
    }

    /// A row limit for a BIGINT parameter.
    pub(crate) fn limit(n: usize) -> i64 {
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

impl IngestStore for PgStore {
    fn ingest(&self, job: IngestJob) -> BoxFuture<'_, Result<IngestOutcome, IngestError>> {
        self.writer.ingest(job).boxed()
    }

    fn writable(&self) -> bool {
        self.writer.healthy()
    }

    fn counts(&self) -> BoxFuture<'_, Result<StoreCounts, StoreError>> {
        self.run(|pool| async move { telemetry::counts(&pool).await })
    }

    fn upload_stats(
        &self,
        device: Option<&str>,
        since_ms: u64,
    ) -> BoxFuture<'_, Result<Option<UploadStats>, StoreError>> {
        let device = device.map(str::to_owned);
        self.run(move |pool| async move {
            devices::upload_stats(&pool, device.as_deref(), since_ms).await
        })
    }
}
