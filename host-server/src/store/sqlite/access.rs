//! Users, refresh tokens and API keys in SQLite. Writes go through the
//! operator connection (they are rare next to uploads); reads through the pool.

use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::access::{
    AccessStore, ApiKey, KeyUse, NewApiKey, NewRefresh, RefreshOutcome, RefreshState,
    RefreshVerdict, Role, Scope, TokenHash, User, judge_refresh,
};

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    user_row_at(r, 0)
}

/// A user from the four [`USER_COLUMNS`] starting at column `at`.
fn user_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    let role: String = r.get(at + 2)?;
    Ok(User {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        created_ms: r.get(at + 3)?,
    })
}

const USER_COLUMNS: &str = "id, name, role, created_ms";

fn add_user(
    conn: &Connection,
    name: &str,
    role: Role,
    hash: &str,
    created_ms: u64,
) -> Result<Option<User>, StoreError> {
    let added = conn.execute(
        "INSERT INTO users (name, role, password_hash, created_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO NOTHING",
        params![name, role.as_str(), hash, created_ms],
    )? == 1;
    Ok(added.then(|| User {
        id: conn.last_insert_rowid(),
        name: name.to_owned(),
        role,
        created_ms,
    }))
}

fn users(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
    let rows = stmt.query_map([], user_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn remove_user(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    conn.execute(
        "DELETE FROM refresh_tokens WHERE user IN (SELECT id FROM users WHERE name = ?1)",
        [name],
    )?;
    Ok(conn.execute("DELETE FROM users WHERE name = ?1", [name])? == 1)
}

fn set_password(conn: &Connection, name: &str, hash: &str, now: u64) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE name = ?1",
        params![name, hash],
    )? == 1;
    // A new password ends every session made with the old one.
    conn.execute(
        "UPDATE refresh_tokens SET revoked_ms = ?2
         WHERE revoked_ms IS NULL AND user IN (SELECT id FROM users WHERE name = ?1)",
        params![name, now],
    )?;
    Ok(changed)
}

fn insert_refresh(conn: &Connection, t: &NewRefresh) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO refresh_tokens (user, family, token_hash, created_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            t.user,
            t.family,
            t.hash.as_slice(),
            t.created_ms,
            t.expires_ms
        ],
    )?;
    Ok(())
}

fn rotate_refresh(
    conn: &mut Connection,
    presented: &TokenHash,
    mut next: NewRefresh,
    now: u64,
) -> Result<RefreshOutcome, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row = tx
        .query_row(
            "SELECT t.id, t.family, t.expires_ms, t.used_ms IS NOT NULL, t.revoked_ms IS NOT NULL,
                    u.id, u.name, u.role, u.created_ms
             FROM refresh_tokens t JOIN users u ON u.id = t.user WHERE t.token_hash = ?1",
            [presented.as_slice()],
            |r| {
                let state = RefreshState {
                    expires_ms: r.get(2)?,
                    spent: r.get(3)?,
                    revoked: r.get(4)?,
                };
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    state,
                    user_row_at(r, 5)?,
                ))
            },
        )
        .optional()?;
    let outcome = match (judge_refresh(row.as_ref().map(|r| &r.2), now), row) {
        (RefreshVerdict::RevokeFamily, Some((_, family, _, _))) => {
            revoke_family(&tx, &family, now)?;
            RefreshOutcome::Reused
        }
        (RefreshVerdict::Rotate, Some((id, family, _, user))) => {
            tx.execute(
                "UPDATE refresh_tokens SET used_ms = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            next.family = family;
            next.user = user.id;
            insert_refresh(&tx, &next)?;
            RefreshOutcome::Rotated(user)
        }
        _ => RefreshOutcome::Invalid,
    };
    tx.commit()?;
    Ok(outcome)
}

fn revoke_family(conn: &Connection, family: &str, now: u64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE refresh_tokens SET revoked_ms = ?2 WHERE family = ?1 AND revoked_ms IS NULL",
        params![family, now],
    )?)
}

fn revoke_refresh(conn: &Connection, presented: &TokenHash, now: u64) -> Result<bool, StoreError> {
    let family: Option<String> = conn
        .query_row(
            "SELECT family FROM refresh_tokens WHERE token_hash = ?1",
            [presented.as_slice()],
            |r| r.get(0),
        )
        .optional()?;
    match family {
        Some(family) => Ok(revoke_family(conn, &family, now)? > 0),
        None => Ok(false),
    }
}

const KEY_COLUMNS: &str = "id, name, prefix, scope, created_by, created_ms, expires_ms, \
    revoked_ms, last_used_ms, uses";

fn key_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let scope: String = r.get(3)?;
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        prefix: r.get(2)?,
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        created_by: r.get(4)?,
        created_ms: r.get(5)?,
        expires_ms: r.get(6)?,
        revoked_ms: r.get(7)?,
        last_used_ms: r.get(8)?,
        uses: r.get(9)?,
    })
}

fn add_api_key(conn: &Connection, key: &NewApiKey, now: u64) -> Result<ApiKey, StoreError> {
    conn.execute(
        "INSERT INTO api_keys (name, prefix, key_hash, scope, created_by, created_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            key.name,
            key.prefix,
            key.hash.as_slice(),
            key.scope.as_str(),
            key.created_by,
            now,
            key.expires_ms
        ],
    )?;
    Ok(conn.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"),
        [conn.last_insert_rowid()],
        key_row,
    )?)
}

fn record_key_uses(conn: &mut Connection, uses: &[KeyUse]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE api_keys SET uses = uses + ?2,
                last_used_ms = MAX(COALESCE(last_used_ms, 0), ?3) WHERE id = ?1",
        )?;
        for u in uses {
            stmt.execute(params![u.id, u.uses, u.last_used_ms])?;
        }
    }
    tx.commit()?;
    Ok(())
}

impl AccessStore for SqliteStore {
    fn add_user(
        &self,
        name: &str,
        role: Role,
        password_hash: String,
    ) -> BoxFuture<'_, Result<Option<User>, StoreError>> {
        let name = name.to_owned();
        self.admin(move |c, now| add_user(c, &name, role, &password_hash, now))
    }

    fn user_login(&self, name: &str) -> BoxFuture<'_, Result<Option<(User, String)>, StoreError>> {
        let name = name.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = ?1"
            ))?
            .query_row([name], |r| Ok((user_row(r)?, r.get(4)?)))
            .optional()?)
        })
    }

    fn user(&self, id: i64) -> BoxFuture<'_, Result<Option<User>, StoreError>> {
        self.read(move |c| {
            Ok(
                c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                    .query_row([id], user_row)
                    .optional()?,
            )
        })
    }

    fn users(&self) -> BoxFuture<'_, Result<Vec<User>, StoreError>> {
        self.read(users)
    }

    fn remove_user(&self, name: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let name = name.to_owned();
        self.admin(move |c, _| remove_user(c, &name))
    }

    fn set_password(
        &self,
        name: &str,
        password_hash: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let name = name.to_owned();
        self.admin(move |c, now| set_password(c, &name, &password_hash, now))
    }

    fn add_refresh(&self, token: NewRefresh) -> BoxFuture<'_, Result<(), StoreError>> {
        self.admin(move |c, _| insert_refresh(c, &token))
    }

    fn rotate_refresh(
        &self,
        presented: TokenHash,
        next: NewRefresh,
    ) -> BoxFuture<'_, Result<RefreshOutcome, StoreError>> {
        self.admin(move |c, now| rotate_refresh(c, &presented, next, now))
    }

    fn revoke_refresh(&self, presented: TokenHash) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.admin(move |c, now| revoke_refresh(c, &presented, now))
    }

    fn add_api_key(&self, key: NewApiKey) -> BoxFuture<'_, Result<ApiKey, StoreError>> {
        self.admin(move |c, now| add_api_key(c, &key, now))
    }

    fn api_key(&self, hash: TokenHash) -> BoxFuture<'_, Result<Option<ApiKey>, StoreError>> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"
            ))?
            .query_row([hash.as_slice()], key_row)
            .optional()?)
        })
    }

    fn api_keys(&self) -> BoxFuture<'_, Result<Vec<ApiKey>, StoreError>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"))?;
            let rows = stmt.query_map([], key_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn revoke_api_key(&self, id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.admin(move |c, now| {
            Ok(c.execute(
                "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
                params![id, now],
            )? == 1)
        })
    }

    fn record_key_uses(&self, uses: Vec<KeyUse>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.admin(move |c, _| record_key_uses(c, &uses))
    }
}
