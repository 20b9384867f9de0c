//! Users, refresh tokens and API keys. A refresh-token rotation locks the
//! presented token's row, so two servers handed the same token at once
//! rotate it once and see the second use as reuse.

use deadpool_postgres::{GenericClient, Pool};
use futures_util::future::BoxFuture;
use tokio_postgres::Row;

use super::PgStore;
use super::num::{RowExt as _, big};
use crate::store::StoreError;
use crate::store::access::{
    AccessStore, ApiKey, KeyUse, NewApiKey, NewRefresh, RefreshOutcome, RefreshState,
    RefreshVerdict, Role, Scope, TokenHash, User, judge_refresh,
};

const USER_COLUMNS: &str = "id, name, role, created_ms";

fn user_row_at(r: &Row, at: usize) -> Result<User, StoreError> {
    let role: String = r.try_get(at + 2)?;
    Ok(User {
        id: r.try_get(at)?,
        name: r.try_get(at + 1)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        created_ms: r.u64(at + 3)?,
    })
}

fn user_row(r: &Row) -> Result<User, StoreError> {
    user_row_at(r, 0)
}

async fn insert_refresh(c: &impl GenericClient, t: &NewRefresh) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO refresh_tokens (user_id, family, token_hash, created_ms, expires_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &t.user,
            &t.family,
            &t.hash.as_slice(),
            &big(t.created_ms),
            &big(t.expires_ms),
        ],
    )
    .await?;
    Ok(())
}

async fn revoke_family(c: &impl GenericClient, family: &str, now: u64) -> Result<u64, StoreError> {
    Ok(c.execute(
        "UPDATE refresh_tokens SET revoked_ms = $2 WHERE family = $1 AND revoked_ms IS NULL",
        &[&family, &big(now)],
    )
    .await?)
}

async fn rotate_refresh(
    pool: &Pool,
    presented: &TokenHash,
    mut next: NewRefresh,
    now: u64,
) -> Result<RefreshOutcome, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT t.id, t.family, t.expires_ms, t.used_ms IS NOT NULL, t.revoked_ms IS NOT NULL,
                    u.id, u.name, u.role, u.created_ms
             FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1
             FOR UPDATE OF t",
            &[&presented.as_slice()],
        )
        .await?;
    let row = row
        .map(|r| -> Result<_, StoreError> {
            let state = RefreshState {
                expires_ms: r.u64(2)?,
                spent: r.try_get(3)?,
                revoked: r.try_get(4)?,
            };
            Ok((
                r.try_get::<_, i64>(0)?,
                r.try_get::<_, String>(1)?,
                state,
                user_row_at(&r, 5)?,
            ))
        })
        .transpose()?;
    let outcome = match (judge_refresh(row.as_ref().map(|r| &r.2), now), row) {
        (RefreshVerdict::RevokeFamily, Some((_, family, _, _))) => {
            revoke_family(&tx, &family, now).await?;
            RefreshOutcome::Reused
        }
        (RefreshVerdict::Rotate, Some((id, family, _, user))) => {
            tx.execute(
                "UPDATE refresh_tokens SET used_ms = $2 WHERE id = $1",
                &[&id, &big(now)],
            )
            .await?;
            next.family = family;
            next.user = user.id;
            insert_refresh(&tx, &next).await?;
            RefreshOutcome::Rotated(user)
        }
        _ => RefreshOutcome::Invalid,
    };
    tx.commit().await?;
    Ok(outcome)
}

const KEY_COLUMNS: &str = "id, name, prefix, scope, created_by, created_ms, expires_ms, \
    revoked_ms, last_used_ms, uses";

fn key_row(r: &Row) -> Result<ApiKey, StoreError> {
    let scope: String = r.try_get(3)?;
    Ok(ApiKey {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        prefix: r.try_get(2)?,
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        created_by: r.try_get(4)?,
        created_ms: r.u64(5)?,
        expires_ms: r.opt_u64(6)?,
        revoked_ms: r.opt_u64(7)?,
        last_used_ms: r.opt_u64(8)?,
        uses: r.u64(9)?,
    })
}

impl AccessStore for PgStore {
    fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: String,
    ) -> BoxFuture<'_, Result<Option<User>, StoreError>> {
        let name = name.to_owned();
        self.run_now(move |pool, now| async move {
            let client = pool.get().await?;
            client
                .query_opt(
                    &format!(
                        "INSERT INTO users (name, role, password_hash, created_ms)
                         VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING
                         RETURNING {USER_COLUMNS}"
                    ),
                    &[&name, &role.as_str(), &password_hash, &big(now)],
                )
                .await?
                .as_ref()
                .map(user_row)
                .transpose()
        })
    }

    fn user_login(&self, name: &str) -> BoxFuture<'_, Result<Option<(User, String)>, StoreError>> {
        let name = name.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            client
                .query_opt(
                    &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = $1"),
                    &[&name],
                )
                .await?
                .map(|r| Ok((user_row(&r)?, r.try_get(4)?)))
                .transpose()
        })
    }

    fn user(&self, id: i64) -> BoxFuture<'_, Result<Option<User>, StoreError>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            client
                .query_opt(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                    &[&id],
                )
                .await?
                .as_ref()
                .map(user_row)
                .transpose()
        })
    }

    fn users(&self) -> BoxFuture<'_, Result<Vec<User>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"),
                    &[],
                )
                .await?;
            rows.iter().map(user_row).collect()
        })
    }

    fn set_password(
        &self,
        name: &str,
        password_hash: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let name = name.to_owned();
        self.run_now(move |pool, now| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let changed = tx
                .execute(
                    "UPDATE users SET password_hash = $2 WHERE name = $1",
                    &[&name, &password_hash],
                )
                .await?
                == 1;
            // A new password ends every session made with the old one.
            tx.execute(
                "UPDATE refresh_tokens SET revoked_ms = $2
                 WHERE revoked_ms IS NULL AND user_id IN (SELECT id FROM users WHERE name = $1)",
                &[&name, &big(now)],
            )
            .await?;
            tx.commit().await?;
            Ok(changed)
        })
    }

    fn remove_user(&self, name: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let name = name.to_owned();
        self.run(move |pool| async move {
            // Its refresh tokens go with it (ON DELETE CASCADE).
            let client = pool.get().await?;
            Ok(client
                .execute("DELETE FROM users WHERE name = $1", &[&name])
                .await?
                == 1)
        })
    }

    fn add_refresh(&self, token: NewRefresh) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |pool| async move { insert_refresh(&pool.get().await?, &token).await })
    }

    fn rotate_refresh(
        &self,
        presented: TokenHash,
        next: NewRefresh,
    ) -> BoxFuture<'_, Result<RefreshOutcome, StoreError>> {
        self.run_now(
            move |pool, now| async move { rotate_refresh(&pool, &presented, next, now).await },
        )
    }

    fn revoke_refresh(&self, presented: TokenHash) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run_now(move |pool, now| async move {
            let client = pool.get().await?;
            let family = client
                .query_opt(
                    "SELECT family FROM refresh_tokens WHERE token_hash = $1",
                    &[&presented.as_slice()],
                )
                .await?;
            match family {
                Some(r) => Ok(revoke_family(&client, r.try_get(0)?, now).await? > 0),
                None => Ok(false),
            }
        })
    }

    fn add_api_key(&self, key: NewApiKey) -> BoxFuture<'_, Result<ApiKey, StoreError>> {
        self.run_now(move |pool, now| async move {
            let client = pool.get().await?;
            let row = client
                .query_one(
                    &format!(
                        "INSERT INTO api_keys (name, prefix, key_hash, scope, created_by,
                                               created_ms, expires_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {KEY_COLUMNS}"
                    ),
                    &[
                        &key.name,
                        &key.prefix,
                        &key.hash.as_slice(),
                        &key.scope.as_str(),
                        &key.created_by,
                        &big(now),
                        &key.expires_ms.map(big),
                    ],
                )
                .await?;
            key_row(&row)
        })
    }

    fn api_key(&self, hash: TokenHash) -> BoxFuture<'_, Result<Option<ApiKey>, StoreError>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
                ))
                .await?;
            client
                .query_opt(&stmt, &[&hash.as_slice()])
                .await?
                .as_ref()
                .map(key_row)
                .transpose()
        })
    }

    fn api_keys(&self) -> BoxFuture<'_, Result<Vec<ApiKey>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"),
                    &[],
                )
                .await?;
            rows.iter().map(key_row).collect()
        })
    }

    fn revoke_api_key(&self, id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run_now(move |pool, now| async move {
            let client = pool.get().await?;
            Ok(client
                .execute(
                    "UPDATE api_keys SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL",
                    &[&id, &big(now)],
                )
                .await?
                == 1)
        })
    }

    fn record_key_uses(&self, uses: Vec<KeyUse>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |pool| async move {
            let ids: Vec<i64> = uses.iter().map(|u| u.id).collect();
            let counts: Vec<i64> = uses.iter().map(|u| big(u.uses)).collect();
            let last: Vec<i64> = uses.iter().map(|u| big(u.last_used_ms)).collect();
            let client = pool.get().await?;
            client
                .execute(
                    "UPDATE api_keys k SET uses = k.uses + v.uses,
                        last_used_ms = GREATEST(k.last_used_ms, v.last)
                     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v(id, uses, last)
                     WHERE k.id = v.id",
                    &[&ids, &counts, &last],
                )
                .await?;
            Ok(())
        })
    }
}
