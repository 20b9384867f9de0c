//! Envelope v2 keys in the `devices` row (migration 0010).

use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::devices::bump_epoch;
use crate::store::StoreError;
use crate::store::envelope_keys::{EnvelopeKeyStore, EnvelopeKeyUpdate, EnvelopeKeys};

/// The keys of a device that is not retired: `None` inside for a device
/// without keys, `None` outside for an unknown or retired device.
fn read(conn: &Connection, device: &str) -> Result<Option<Option<EnvelopeKeys>>, StoreError> {
    let columns = conn
        .prepare_cached(
            "SELECT envelope_key_id, envelope_secret, envelope_prev_key_id, envelope_prev_secret,
                envelope_prev_until_ms
             FROM devices WHERE device_id = ?1 AND retired_ms IS NULL",
        )?
        .query_row([device], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    columns
        .map(|c| EnvelopeKeys::from_columns(device, c))
        .transpose()
}

fn update(
    conn: &mut Connection,
    device: &str,
    update: EnvelopeKeyUpdate,
    now: u64,
) -> Result<Option<EnvelopeKeys>, StoreError> {
    let tx = conn.transaction()?;
    let Some(stored) = read(&tx, device)? else {
        return Ok(None);
    };
    let keys = update(stored, now).map_err(StoreError::new)?;
    let (id, secret, previous_id, previous_secret, until) = keys.to_columns();
    tx.execute(
        "UPDATE devices SET envelope_key_id = ?2, envelope_secret = ?3,
            envelope_prev_key_id = ?4, envelope_prev_secret = ?5, envelope_prev_until_ms = ?6
         WHERE device_id = ?1",
        params![device, id, secret, previous_id, previous_secret, until],
    )?;
    bump_epoch(&tx)?;
    tx.commit()?;
    Ok(Some(keys))
}

impl EnvelopeKeyStore for SqliteStore {
    fn envelope_keys(
        &self,
        device: &str,
    ) -> BoxFuture<'_, Result<Option<EnvelopeKeys>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| Ok(read(c, &device)?.flatten()))
    }

    fn update_envelope_keys(
        &self,
        device: &str,
        change: EnvelopeKeyUpdate,
    ) -> BoxFuture<'_, Result<Option<EnvelopeKeys>, StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, now| update(c, &device, change, now))
    }
}
