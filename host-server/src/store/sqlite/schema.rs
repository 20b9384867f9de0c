//! Connections and append-only schema migrations (versioned by `PRAGMA user_version`).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// The migrations, in order. Never edit one that has shipped: append.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: devices, uploads (raw bodies), samples, per-codec counters, meta.
    "
    CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL UNIQUE,
        hmac_key BLOB,
        aes_key BLOB,
        created_ms INTEGER NOT NULL,
        name TEXT,
        firmware_version TEXT,
        location TEXT,
        description TEXT,
        last_nonce INTEGER,
        last_mac BLOB,
        stream_state BLOB,
        last_seen_ms INTEGER,
        uploads INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        samples INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE uploads (
        id INTEGER PRIMARY KEY,
        device INTEGER NOT NULL,
        nonce INTEGER,
        received_ms INTEGER NOT NULL,
        format TEXT NOT NULL,
        body BLOB NOT NULL,
        report TEXT NOT NULL
    );
    CREATE INDEX uploads_device_nonce ON uploads(device, nonce);
    CREATE TABLE samples (
        device INTEGER NOT NULL,
        t_ms INTEGER NOT NULL,
        upload INTEGER NOT NULL,
        packet INTEGER NOT NULL,
        flags INTEGER NOT NULL,
        registers BLOB NOT NULL
    );
    CREATE INDEX samples_device_time ON samples(device, t_ms);
    CREATE INDEX samples_upload ON samples(upload);
    CREATE TABLE device_codecs (
        device INTEGER NOT NULL,
        method TEXT NOT NULL,
        packets INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        original_bytes INTEGER NOT NULL,
        PRIMARY KEY (device, method)
    ) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta VALUES ('device_epoch', 0);
    ",
    include_str!("migrations/0002_access_alerts_aggregates.sql"),
    include_str!("migrations/0003_rollups.sql"),
    include_str!("migrations/0004_device_management.sql"),
    include_str!("migrations/0005_api_clients.sql"),
    include_str!("migrations/0006_blocks.sql"),
    include_str!("migrations/0007_admitted_by.sql"),
    include_str!("migrations/0008_generic_devices.sql"),
    include_str!("migrations/0009_device_profiles.sql"),
    include_str!("migrations/0010_envelope_v2.sql"),
];

/// How a connection will be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Reads only (the API).
    Read,
    /// Writes (the ingest writer, operator changes, the CLI).
    Write,
}

/// Opens a connection with the settings every connection needs: WAL,
/// `synchronous=FULL` (a commit survives power loss), a busy timeout.
/// Creates the database file readable by its owner only, and narrows an
/// existing one (and its WAL and shared-memory files, which SQLite creates
/// with the database file's mode) to 0600: it holds device data and keys.
fn private_files(path: &Path) -> Result<(), StoreError> {
    let created = crate::private_file::options()
        .write(true)
        .create_new(true)
        .open(path);
    match created {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(StoreError::new(format!(
                "cannot create {}: {e}",
                path.display()
            )));
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        crate::private_file::restrict(Path::new(&file)).map_err(StoreError::new)?;
    }
    Ok(())
}

pub(crate) fn open(path: &Path, role: Role) -> Result<Connection, StoreError> {
    let flags = match role {
        Role::Read => OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        Role::Write => {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        }
    };
    if role == Role::Write {
        private_files(path)?;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    if role == Role::Write {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Checkpoint less often than the default 1000 pages: fewer stalls of the writer.
        conn.pragma_update(None, "wal_autocheckpoint", 8000)?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Applies every migration the database has not seen, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::new(format!(
            "database schema version {version} is newer than this server ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_refuse_newer_databases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let mut conn = open(&path, Role::Write).unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        conn.pragma_update(None, "user_version", MIGRATIONS.len() + 1)
            .unwrap();
        assert!(migrate(&mut conn).is_err());
    }
}
