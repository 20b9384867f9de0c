//! Envelope v2 keys in the `devices` row (migration 0006).

use deadpool_postgres::{GenericClient, Pool};
use futures_util::future::BoxFuture;

use super::PgStore;
use super::devices::bump_epoch;
use crate::store::StoreError;
use crate::store::envelope_keys::{EnvelopeKeyStore, EnvelopeKeyUpdate, EnvelopeKeys};

/// The keys of a device that is not retired (`FOR UPDATE` inside a change):
/// `None` inside for a device without keys, `None` outside for an unknown
/// or retired device.
async fn read(
    c: &impl GenericClient,
    device: &str,
    lock: bool,
) -> Result<Option<Option<EnvelopeKeys>>, StoreError> {
    let sql = format!(
        "SELECT envelope_key_id, envelope_secret, envelope_prev_key_id, envelope_prev_secret,
            envelope_prev_until_ms
         FROM devices WHERE device_id = $1 AND retired_ms IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let Some(row) = c.query_opt(&sql, &[&device]).await? else {
        return Ok(None);
    };
    let columns = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
    );
    EnvelopeKeys::from_columns(device, columns).map(Some)
}

async fn update(
    pool: &Pool,
    device: &str,
    update: EnvelopeKeyUpdate,
    now: u64,
) -> Result<Option<EnvelopeKeys>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let Some(stored) = read(&tx, device, true).await? else {
        return Ok(None);
    };
    let keys = update(stored, now).map_err(StoreError::new)?;
    let (id, secret, previous_id, previous_secret, until) = keys.to_columns();
    tx.execute(
        "UPDATE devices SET envelope_key_id = $2, envelope_secret = $3,
            envelope_prev_key_id = $4, envelope_prev_secret = $5, envelope_prev_until_ms = $6
         WHERE device_id = $1",
        &[
            &device,
            &id,
            &secret,
            &previous_id,
            &previous_secret,
            &until,
        ],
    )
    .await?;
    bump_epoch(&tx).await?;
    tx.commit().await?;
    Ok(Some(keys))
}

impl EnvelopeKeyStore for PgStore {
    fn envelope_keys(
        &self,
        device: &str,
    ) -> BoxFuture<'_, Result<Option<EnvelopeKeys>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            Ok(read(&client, &device, false).await?.flatten())
        })
    }

    fn update_envelope_keys(
        &self,
        device: &str,
        change: EnvelopeKeyUpdate,
    ) -> BoxFuture<'_, Result<Option<EnvelopeKeys>, StoreError>> {
        let device = device.to_owned();
        self.run_now(move |pool, now| async move { update(&pool, &device, change, now).await })
    }
}
