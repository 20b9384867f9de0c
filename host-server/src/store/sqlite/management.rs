//! Remote configuration, commands and device reports in SQLite.

use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::management::{
    Command, CommandState, ConfigEvent, ConfigRecord, ManagementStore, Report, ReportKind,
    RunningConfig,
};

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json_column(index: usize, text: String) -> rusqlite::Result<Value> {
    serde_json::from_str(&text)
        .map_err(|_| rusqlite::Error::InvalidColumnType(index, text, rusqlite::types::Type::Text))
}

fn object_column(index: usize, text: String) -> rusqlite::Result<Map<String, Value>> {
    match json_column(index, text)? {
        Value::Object(map) => Ok(map),
        other => Err(rusqlite::Error::InvalidColumnType(
            index,
            other.to_string(),
            rusqlite::types::Type::Text,
        )),
    }
}

fn config(conn: &Connection, device: &str) -> Result<ConfigRecord, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT running, pending, pending_ms FROM device_config WHERE device_id = ?1",
        )?
        .query_row([device], |r| {
            let running = r
                .get::<_, Option<String>>(0)?
                .map(|t| object_column(0, t))
                .transpose()?;
            let pending = match (r.get::<_, Option<String>>(1)?, r.get::<_, Option<u64>>(2)?) {
                (Some(text), Some(at)) => Some((object_column(1, text)?, at)),
                _ => None,
            };
            Ok(ConfigRecord { running, pending })
        })
        .optional()?;
    Ok(row.unwrap_or_default())
}

fn add_history(
    conn: &Connection,
    device: &str,
    event: &str,
    body: &Value,
    now_ms: u64,
    keep: usize,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO config_history (device_id, event, body, at_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![device, event, body.to_string(), now_ms])?;
    conn.prepare_cached(
        "DELETE FROM config_history WHERE device_id = ?1 AND id <= (
             SELECT id FROM config_history WHERE device_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![device, limit(keep)])?;
    Ok(())
}

const COMMAND_COLUMNS: &str = "command_id, device_id, command, state, created_ms, expires_ms, \
    dispatched_ms, finished_ms, executed_at";

fn command_row(r: &Row<'_>) -> rusqlite::Result<Command> {
    let state: String = r.get(3)?;
    Ok(Command {
        command_id: r.get(0)?,
        device_id: r.get(1)?,
        command: json_column(2, r.get(2)?)?,
        state: CommandState::parse(&state).ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(3, state.clone(), rusqlite::types::Type::Text)
        })?,
        created_ms: r.get(4)?,
        expires_ms: r.get(5)?,
        dispatched_ms: r.get(6)?,
        finished_ms: r.get(7)?,
        executed_at: r.get(8)?,
    })
}

fn command(conn: &Connection, command_id: &str) -> Result<Option<Command>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE command_id = ?1"
        ))?
        .query_row([command_id], command_row)
        .optional()?)
}

impl ManagementStore for SqliteStore {
    fn config(&self, device: &str) -> BoxFuture<'_, Result<ConfigRecord, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| config(c, &device))
    }

    fn add_pending_config(
        &self,
        device: &str,
        changes: Map<String, Value>,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, _| {
            let tx = c.transaction()?;
            let mut pending = config(&tx, &device)?
                .pending
                .map(|p| p.0)
                .unwrap_or_default();
            let update = Value::Object(changes.clone());
            pending.extend(changes);
            tx.execute(
                "INSERT INTO device_config (device_id, pending, pending_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id) DO UPDATE SET pending = ?2, pending_ms = ?3",
                params![device, Value::Object(pending).to_string(), now_ms],
            )?;
            add_history(&tx, &device, "update", &update, now_ms, keep)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn set_running_config(
        &self,
        device: &str,
        change: RunningConfig,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, _| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO device_config (device_id, running, reported_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id) DO UPDATE SET running = ?2, reported_ms = ?3,
                     pending = CASE WHEN ?4 THEN NULL ELSE pending END,
                     pending_ms = CASE WHEN ?4 THEN NULL ELSE pending_ms END",
                params![
                    device,
                    Value::Object(change.running).to_string(),
                    now_ms,
                    change.clear_pending
                ],
            )?;
            add_history(&tx, &device, change.event, &change.body, now_ms, keep)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn config_history(
        &self,
        device: &str,
        n: usize,
    ) -> BoxFuture<'_, Result<Vec<ConfigEvent>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT event, body, at_ms FROM config_history WHERE device_id = ?1
                 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![device, limit(n)], |r| {
                Ok(ConfigEvent {
                    event: r.get(0)?,
                    body: json_column(1, r.get(1)?)?,
                    at_ms: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn queue_command(&self, cmd: Command, keep: usize) -> BoxFuture<'_, Result<(), StoreError>> {
        self.admin(move |c, _| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO commands (command_id, device_id, command, state, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
                params![
                    cmd.command_id,
                    cmd.device_id,
                    cmd.command.to_string(),
                    cmd.created_ms,
                    cmd.expires_ms
                ],
            )?;
            tx.execute(
                "DELETE FROM commands WHERE device_id = ?1
                     AND state IN ('completed', 'failed', 'expired') AND id <= (
                     SELECT id FROM commands WHERE device_id = ?1
                         AND state IN ('completed', 'failed', 'expired')
                     ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                params![cmd.device_id, limit(keep)],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn dispatch_command(
        &self,
        device: &str,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Command>, StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, _| {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE commands SET state = 'expired', finished_ms = ?2
                 WHERE device_id = ?1 AND state = 'queued' AND expires_ms <= ?2",
                params![device, now_ms],
            )?;
            let next: Option<String> = tx
                .query_row(
                    "SELECT command_id FROM commands WHERE device_id = ?1 AND state = 'queued'
                     ORDER BY id LIMIT 1",
                    [&device],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = next else {
                tx.commit()?;
                return Ok(None);
            };
            tx.execute(
                "UPDATE commands SET state = 'dispatched', dispatched_ms = ?2 WHERE command_id = ?1",
                params![id, now_ms],
            )?;
            let dispatched = command(&tx, &id)?;
            tx.commit()?;
            Ok(dispatched)
        })
    }

    fn finish_command(
        &self,
        device: &str,
        command_id: &str,
        success: bool,
        executed_at: Option<String>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Command>, StoreError>> {
        let (device, command_id) = (device.to_owned(), command_id.to_owned());
        self.admin(move |c, _| {
            let state = if success {
                CommandState::Completed
            } else {
                CommandState::Failed
            };
            // Only a dispatched command takes a result; a repeated result
            // leaves the first one standing.
            c.execute(
                "UPDATE commands SET state = ?3, finished_ms = ?4, executed_at = ?5
                 WHERE command_id = ?1 AND device_id = ?2 AND state = 'dispatched'",
                params![command_id, device, state.as_str(), now_ms, executed_at],
            )?;
            Ok(command(c, &command_id)?.filter(|c| c.device_id == device))
        })
    }

    fn command(&self, command_id: &str) -> BoxFuture<'_, Result<Option<Command>, StoreError>> {
        let command_id = command_id.to_owned();
        self.read(move |c| command(c, &command_id))
    }

    fn commands(&self, device: &str, n: usize) -> BoxFuture<'_, Result<Vec<Command>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COMMAND_COLUMNS} FROM commands WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![device, limit(n)], command_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn add_report(
        &self,
        device: &str,
        kind: ReportKind,
        body: Value,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<i64, StoreError>> {
        let device = device.to_owned();
        self.admin(move |c, _| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO device_reports (device_id, kind, at_ms, body) VALUES (?1, ?2, ?3, ?4)",
                params![device, kind.as_str(), now_ms, body.to_string()],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "DELETE FROM device_reports WHERE device_id = ?1 AND kind = ?2 AND id <= (
                     SELECT id FROM device_reports WHERE device_id = ?1 AND kind = ?2
                     ORDER BY id DESC LIMIT 1 OFFSET ?3)",
                params![device, kind.as_str(), limit(keep)],
            )?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn reports(
        &self,
        device: &str,
        kind: ReportKind,
        n: usize,
    ) -> BoxFuture<'_, Result<Vec<Report>, StoreError>> {
        let device = device.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at_ms, body FROM device_reports WHERE device_id = ?1 AND kind = ?2
                 ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![device, kind.as_str(), limit(n)], |r| {
                Ok(Report {
                    report_id: r.get(0)?,
                    kind,
                    at_ms: r.get(1)?,
                    body: json_column(2, r.get(2)?)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}
