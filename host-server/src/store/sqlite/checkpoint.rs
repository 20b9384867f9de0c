//! WAL checkpoints off the ingest path.
//!
//! Copying the WAL into the database inside the writer's commits would make
//! uploads wait; this thread runs PASSIVE checkpoints (which never block the
//! writer) on its own connection until the store is dropped, and the writer
//! keeps only a rare checkpoint of its own so the WAL restarts instead of growing.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::Connection;

use super::schema;
use crate::store::StoreError;

const EVERY: Duration = Duration::from_millis(250);
/// WAL pages after which the writer checkpoints itself (64 MiB). By then
/// this thread has copied almost every page, so that checkpoint is short,
/// completes, and lets the next commit start the WAL over.
const WRITER_CHECKPOINT_PAGES: i64 = 16_384;

/// Leaves the writer's connection only a rare, short checkpoint of its own.
pub(super) fn take_over(writer: &Connection) -> Result<(), StoreError> {
    writer.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
    Ok(())
}

/// Starts the checkpoint thread; it stops once `alive` has no strong owner.
pub(super) fn spawn(path: &Path, alive: Weak<()>) -> Result<(), StoreError> {
    let conn = schema::open(path, schema::Role::Write)?;
    std::thread::Builder::new()
        .name("solarwire-checkpoint".into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(EVERY);
                if let Err(e) =
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map_err(|e| StoreError::new(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

/// Keeps the checkpoint thread running while held.
pub(super) type Alive = Arc<()>;
