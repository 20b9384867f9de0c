//! Signed API clients in PostgreSQL: records, spent nonces, subscriptions.
//! A nonce is spent by one INSERT under its primary key, so two servers
//! handed the same token request at once accept it once.

use futures_util::future::BoxFuture;
use tokio_postgres::Row;

use super::PgStore;
use super::num::{RowExt as _, big};
use crate::store::StoreError;
use crate::store::access::TokenHash;
use crate::store::clients::{ApiClient, ClientStore, NewApiClient};

const COLUMNS: &str = "id, client_id, name, created_by, created_ms, revoked_ms";

fn client_row(r: &Row) -> Result<ApiClient, StoreError> {
    Ok(ApiClient {
        id: r.try_get(0)?,
        client_id: r.try_get(1)?,
        name: r.try_get(2)?,
        created_by: r.try_get(3)?,
        created_ms: r.u64(4)?,
        revoked_ms: r.opt_u64(5)?,
    })
}

impl ClientStore for PgStore {
    fn add_client(&self, c: NewApiClient) -> BoxFuture<'_, Result<ApiClient, StoreError>> {
        self.run_now(move |pool, now| async move {
            let client = pool.get().await?;
            let row = client
                .query_one(
                    &format!(
                        "INSERT INTO api_clients (client_id, name, key_hash, created_by, created_ms)
                         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
                    ),
                    &[
                        &c.client_id,
                        &c.name,
                        &c.key.as_slice(),
                        &c.created_by,
                        &big(now),
                    ],
                )
                .await?;
            client_row(&row)
        })
    }

    fn client(
        &self,
        client_id: &str,
    ) -> BoxFuture<'_, Result<Option<(ApiClient, TokenHash)>, StoreError>> {
        let client_id = client_id.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_opt(
                    &format!("SELECT {COLUMNS}, key_hash FROM api_clients WHERE client_id = $1"),
                    &[&client_id],
                )
                .await?;
            row.map(|r| {
                let key: Vec<u8> = r.try_get(6)?;
                let key = TokenHash::try_from(key.as_slice())
                    .map_err(|_| StoreError::new("a client's stored key is not 32 bytes"))?;
                Ok((client_row(&r)?, key))
            })
            .transpose()
        })
    }

    fn clients(&self) -> BoxFuture<'_, Result<Vec<ApiClient>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!("SELECT {COLUMNS} FROM api_clients ORDER BY id"),
                    &[],
                )
                .await?;
            rows.iter().map(client_row).collect()
        })
    }

    fn revoke_client(&self, client_id: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let client_id = client_id.to_owned();
        self.run_now(move |pool, now| async move {
            let client = pool.get().await?;
            Ok(client
                .execute(
                    "UPDATE api_clients SET revoked_ms = $2
                     WHERE client_id = $1 AND revoked_ms IS NULL",
                    &[&client_id, &big(now)],
                )
                .await?
                == 1)
        })
    }

    fn spend_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        keep_ms: u64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let (client_id, nonce) = (client_id.to_owned(), nonce.to_owned());
        self.run_now(move |pool, now| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let Some(row) = tx
                .query_opt(
                    "SELECT id FROM api_clients WHERE client_id = $1",
                    &[&client_id],
                )
                .await?
            else {
                return Ok(false);
            };
            let id: i64 = row.try_get(0)?;
            tx.execute(
                "DELETE FROM client_nonces WHERE client = $1 AND expires_ms <= $2",
                &[&id, &big(now)],
            )
            .await?;
            let fresh = tx
                .execute(
                    "INSERT INTO client_nonces (client, nonce, expires_ms) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&id, &nonce, &big(now.saturating_add(keep_ms))],
                )
                .await?
                == 1;
            tx.commit().await?;
            Ok(fresh)
        })
    }

    fn subscribe(&self, client_id: &str, device: &str) -> BoxFuture<'_, Result<(), StoreError>> {
        let (client_id, device) = (client_id.to_owned(), device.to_owned());
        self.run_now(move |pool, now| async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO client_topics (client, device_id, created_ms)
                     SELECT id, $2, $3 FROM api_clients WHERE client_id = $1
                     ON CONFLICT DO NOTHING",
                    &[&client_id, &device, &big(now)],
                )
                .await?;
            Ok(())
        })
    }

    fn subscriptions(&self, client_id: &str) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        let client_id = client_id.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT t.device_id FROM client_topics t JOIN api_clients a ON a.id = t.client
                     WHERE a.client_id = $1 ORDER BY t.device_id",
                    &[&client_id],
                )
                .await?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }
}
