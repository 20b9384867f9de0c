//! Versioned, append-only migrations (`schema_migrations` records each).
//! Servers starting together take an advisory lock, so one migrates and
//! the others find the work done.

use deadpool_postgres::Pool;

use crate::store::StoreError;

/// The migrations, in order. Never edit one that has shipped: append.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_schema.sql"),
    include_str!("migrations/0002_api_clients.sql"),
    include_str!("migrations/0003_admitted_by.sql"),
    include_str!("migrations/0004_generic_devices.sql"),
    include_str!("migrations/0005_device_profiles.sql"),
    include_str!("migrations/0006_envelope_v2.sql"),
];

/// The advisory lock key serialising migrations ("solarwir").
const MIGRATION_LOCK: i64 = 0x736f_6c61_7277_6972;

/// Applies every migration the database has not seen, in one transaction.
pub(super) async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    let version: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if version > known {
        return Err(StoreError::new(format!(
            "database schema version {version} is newer than this server ({known})"
        )));
    }
    for (index, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&index],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
