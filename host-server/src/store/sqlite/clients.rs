//! Signed API clients in SQLite: records, spent nonces, subscriptions.
//! Writes go through the operator connection; reads through the pool.

use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::access::TokenHash;
use crate::store::clients::{ApiClient, ClientStore, NewApiClient};

const COLUMNS: &str = "id, client_id, name, created_by, created_ms, revoked_ms";

fn client_row(r: &Row<'_>) -> rusqlite::Result<ApiClient> {
    Ok(ApiClient {
        id: r.get(0)?,
        client_id: r.get(1)?,
        name: r.get(2)?,
        created_by: r.get(3)?,
        created_ms: r.get(4)?,
        revoked_ms: r.get(5)?,
    })
}

fn add_client(conn: &Connection, c: &NewApiClient, now: u64) -> Result<ApiClient, StoreError> {
    conn.execute(
        "INSERT INTO api_clients (client_id, name, key_hash, created_by, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![c.client_id, c.name, c.key.as_slice(), c.created_by, now],
    )?;
    Ok(conn.query_row(
        &format!("SELECT {COLUMNS} FROM api_clients WHERE id = ?1"),
        [conn.last_insert_rowid()],
        client_row,
    )?)
}

fn client(
    conn: &Connection,
    client_id: &str,
) -> Result<Option<(ApiClient, TokenHash)>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, key_hash FROM api_clients WHERE client_id = ?1"
        ))?
        .query_row([client_id], |r| {
            Ok((client_row(r)?, r.get::<_, Vec<u8>>(6)?))
        })
        .optional()?;
    row.map(|(client, key)| {
        let key = TokenHash::try_from(key.as_slice())
            .map_err(|_| StoreError::new("a client's stored key is not 32 bytes"))?;
        Ok((client, key))
    })
    .transpose()
}

fn spend_nonce(
    conn: &mut Connection,
    client_id: &str,
    nonce: &str,
    expires_ms: u64,
    now: u64,
) -> Result<bool, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(client) = tx
        .query_row(
            "SELECT id FROM api_clients WHERE client_id = ?1",
            [client_id],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
    else {
        return Ok(false);
    };
    tx.execute(
        "DELETE FROM client_nonces WHERE client = ?1 AND expires_ms <= ?2",
        params![client, now],
    )?;
    let fresh = tx.execute(
        "INSERT INTO client_nonces (client, nonce, expires_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![client, nonce, expires_ms],
    )? == 1;
    tx.commit()?;
    Ok(fresh)
}

impl ClientStore for SqliteStore {
    fn add_client(&self, client: NewApiClient) -> BoxFuture<'_, Result<ApiClient, StoreError>> {
        self.admin(move |c, now| add_client(c, &client, now))
    }

    fn client(
        &self,
        client_id: &str,
    ) -> BoxFuture<'_, Result<Option<(ApiClient, TokenHash)>, StoreError>> {
        let client_id = client_id.to_owned();
        self.read(move |c| client(c, &client_id))
    }

    fn clients(&self) -> BoxFuture<'_, Result<Vec<ApiClient>, StoreError>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM api_clients ORDER BY id"))?;
            let rows = stmt.query_map([], client_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn revoke_client(&self, client_id: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let client_id = client_id.to_owned();
        self.admin(move |c, now| {
            Ok(c.execute(
                "UPDATE api_clients SET revoked_ms = ?2 WHERE client_id = ?1 AND revoked_ms IS NULL",
                params![client_id, now],
            )? == 1)
        })
    }

    fn spend_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        keep_ms: u64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let (client_id, nonce) = (client_id.to_owned(), nonce.to_owned());
        self.admin(move |c, now| {
            spend_nonce(c, &client_id, &nonce, now.saturating_add(keep_ms), now)
        })
    }

    fn subscribe(&self, client_id: &str, device: &str) -> BoxFuture<'_, Result<(), StoreError>> {
        let (client_id, device) = (client_id.to_owned(), device.to_owned());
        self.admin(move |c, now| {
            c.execute(
                "INSERT INTO client_topics (client, device_id, created_ms)
                 SELECT id, ?2, ?3 FROM api_clients WHERE client_id = ?1
                 ON CONFLICT DO NOTHING",
                params![client_id, device, now],
            )?;
            Ok(())
        })
    }

    fn subscriptions(&self, client_id: &str) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        let client_id = client_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT t.device_id FROM client_topics t JOIN api_clients a ON a.id = t.client
                 WHERE a.client_id = ?1 ORDER BY t.device_id",
            )?;
            let rows = stmt.query_map([client_id], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}
