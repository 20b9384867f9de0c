//! Remote configuration, commands and device reports. A command is
//! dispatched with `FOR UPDATE SKIP LOCKED`, so two servers polled at once
//! never hand out the same command.

use deadpool_postgres::GenericClient;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use tokio_postgres::Row;

use super::PgStore;
use super::num::{RowExt as _, big, limit};
use crate::store::StoreError;
use crate::store::management::{
    Command, CommandState, ConfigEvent, ConfigRecord, ManagementStore, Report, ReportKind,
    RunningConfig,
};

fn json(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::new(format!("stored JSON: {e}")))
}

fn object(text: &str) -> Result<Map<String, Value>, StoreError> {
    match json(text)? {
        Value::Object(map) => Ok(map),
        other => Err(StoreError::new(format!(
            "stored JSON is not an object: {other}"
        ))),
    }
}

async fn config(c: &impl GenericClient, device: &str) -> Result<ConfigRecord, StoreError> {
    let Some(r) = c
        .query_opt(
            "SELECT running, pending, pending_ms FROM device_config WHERE device_id = $1",
            &[&device],
        )
        .await?
    else {
        return Ok(ConfigRecord::default());
    };
    let running = r.try_get::<_, Option<&str>>(0)?.map(object).transpose()?;
    let pending = match (r.try_get::<_, Option<&str>>(1)?, r.opt_u64(2)?) {
        (Some(text), Some(at)) => Some((object(text)?, at)),
        _ => None,
    };
    Ok(ConfigRecord { running, pending })
}

async fn add_history(
    c: &impl GenericClient,
    device: &str,
    event: &str,
    body: &Value,
    now_ms: u64,
    keep: usize,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO config_history (device_id, event, body, at_ms) VALUES ($1, $2, $3, $4)",
        &[&device, &event, &body.to_string(), &big(now_ms)],
    )
    .await?;
    c.execute(
        "DELETE FROM config_history WHERE device_id = $1 AND id <= (
             SELECT id FROM config_history WHERE device_id = $1
             ORDER BY id DESC LIMIT 1 OFFSET $2)",
        &[&device, &limit(keep)],
    )
    .await?;
    Ok(())
}

const COMMAND_COLUMNS: &str = "command_id, device_id, command, state, created_ms, expires_ms, \
    dispatched_ms, finished_ms, executed_at";

fn command_row(r: &Row) -> Result<Command, StoreError> {
    let state: &str = r.try_get(3)?;
    Ok(Command {
        command_id: r.try_get(0)?,
        device_id: r.try_get(1)?,
        command: json(r.try_get(2)?)?,
        state: CommandState::parse(state)
            .ok_or_else(|| StoreError::new(format!("unknown stored command state {state:?}")))?,
        created_ms: r.u64(4)?,
        expires_ms: r.u64(5)?,
        dispatched_ms: r.opt_u64(6)?,
        finished_ms: r.opt_u64(7)?,
        executed_at: r.try_get(8)?,
    })
}

async fn command(c: &impl GenericClient, command_id: &str) -> Result<Option<Command>, StoreError> {
    c.query_opt(
        &format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE command_id = $1"),
        &[&command_id],
    )
    .await?
    .as_ref()
    .map(command_row)
    .transpose()
}

impl ManagementStore for PgStore {
    fn config(&self, device: &str) -> BoxFuture<'_, Result<ConfigRecord, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move { config(&pool.get().await?, &device).await })
    }

    fn add_pending_config(
        &self,
        device: &str,
        changes: Map<String, Value>,
        now_ms: u64,
        keep: usize,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            // Lock (or create) the row so concurrent changes merge, not overwrite.
            tx.execute(
                "INSERT INTO device_config (device_id) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&device],
            )
            .await?;
            tx.execute(
                "SELECT 1 FROM device_config WHERE device_id = $1 FOR UPDATE",
                &[&device],
            )
            .await?;
            let mut pending = config(&tx, &device)
                .await?
                .pending
                .map(|p| p.0)
                .unwrap_or_default();
            let update = Value::Object(changes.clone());
            pending.extend(changes);
            tx.execute(
                "UPDATE device_config SET pending = $2, pending_ms = $3 WHERE device_id = $1",
                &[&device, &Value::Object(pending).to_string(), &big(now_ms)],
            )
            .await?;
            add_history(&tx, &device, "update", &update, now_ms, keep).await?;
            tx.commit().await?;
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
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO device_config (device_id, running, reported_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (device_id) DO UPDATE SET running = $2, reported_ms = $3,
                     pending = CASE WHEN $4 THEN NULL ELSE device_config.pending END,
                     pending_ms = CASE WHEN $4 THEN NULL ELSE device_config.pending_ms END",
                &[
                    &device,
                    &Value::Object(change.running).to_string(),
                    &big(now_ms),
                    &change.clear_pending,
                ],
            )
            .await?;
            add_history(&tx, &device, change.event, &change.body, now_ms, keep).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn config_history(
        &self,
        device: &str,
        n: usize,
    ) -> BoxFuture<'_, Result<Vec<ConfigEvent>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT event, body, at_ms FROM config_history WHERE device_id = $1
                     ORDER BY id DESC LIMIT $2",
                    &[&device, &limit(n)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(ConfigEvent {
                        event: r.try_get(0)?,
                        body: json(r.try_get(1)?)?,
                        at_ms: r.u64(2)?,
                    })
                })
                .collect()
        })
    }

    fn queue_command(&self, cmd: Command, keep: usize) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO commands (command_id, device_id, command, state, created_ms,
                                       expires_ms)
                 VALUES ($1, $2, $3, 'queued', $4, $5)",
                &[
                    &cmd.command_id,
                    &cmd.device_id,
                    &cmd.command.to_string(),
                    &big(cmd.created_ms),
                    &big(cmd.expires_ms),
                ],
            )
            .await?;
            tx.execute(
                "DELETE FROM commands WHERE device_id = $1
                     AND state IN ('completed', 'failed', 'expired') AND id <= (
                     SELECT id FROM commands WHERE device_id = $1
                         AND state IN ('completed', 'failed', 'expired')
                     ORDER BY id DESC LIMIT 1 OFFSET $2)",
                &[&cmd.device_id, &limit(keep)],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn dispatch_command(
        &self,
        device: &str,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Command>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "UPDATE commands SET state = 'expired', finished_ms = $2
                 WHERE device_id = $1 AND state = 'queued' AND expires_ms <= $2",
                &[&device, &big(now_ms)],
            )
            .await?;
            let dispatched = tx
                .query_opt(
                    &format!(
                        "UPDATE commands SET state = 'dispatched', dispatched_ms = $2
                         WHERE id = (SELECT id FROM commands WHERE device_id = $1
                                     AND state = 'queued' ORDER BY id LIMIT 1
                                     FOR UPDATE SKIP LOCKED)
                         RETURNING {COMMAND_COLUMNS}"
                    ),
                    &[&device, &big(now_ms)],
                )
                .await?
                .as_ref()
                .map(command_row)
                .transpose()?;
            tx.commit().await?;
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
        self.run(move |pool| async move {
            let state = if success {
                CommandState::Completed
            } else {
                CommandState::Failed
            };
            let client = pool.get().await?;
            // Only a dispatched command takes a result; a repeated result
            // leaves the first one standing.
            client
                .execute(
                    "UPDATE commands SET state = $3, finished_ms = $4, executed_at = $5
                     WHERE command_id = $1 AND device_id = $2 AND state = 'dispatched'",
                    &[
                        &command_id,
                        &device,
                        &state.as_str(),
                        &big(now_ms),
                        &executed_at,
                    ],
                )
                .await?;
            Ok(command(&client, &command_id)
                .await?
                .filter(|c| c.device_id == device))
        })
    }

    fn command(&self, command_id: &str) -> BoxFuture<'_, Result<Option<Command>, StoreError>> {
        let command_id = command_id.to_owned();
        self.run(move |pool| async move { command(&pool.get().await?, &command_id).await })
    }

    fn commands(&self, device: &str, n: usize) -> BoxFuture<'_, Result<Vec<Command>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {COMMAND_COLUMNS} FROM commands WHERE device_id = $1
                         ORDER BY id DESC LIMIT $2"
                    ),
                    &[&device, &limit(n)],
                )
                .await?;
            rows.iter().map(command_row).collect()
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
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let row = tx
                .query_one(
                    "INSERT INTO device_reports (device_id, kind, at_ms, body)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&device, &kind.as_str(), &big(now_ms), &body.to_string()],
                )
                .await?;
            tx.execute(
                "DELETE FROM device_reports WHERE device_id = $1 AND kind = $2 AND id <= (
                     SELECT id FROM device_reports WHERE device_id = $1 AND kind = $2
                     ORDER BY id DESC LIMIT 1 OFFSET $3)",
                &[&device, &kind.as_str(), &limit(keep)],
            )
            .await?;
            tx.commit().await?;
            Ok(row.try_get(0)?)
        })
    }

    fn reports(
        &self,
        device: &str,
        kind: ReportKind,
        n: usize,
    ) -> BoxFuture<'_, Result<Vec<Report>, StoreError>> {
        let device = device.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT id, at_ms, body FROM device_reports WHERE device_id = $1 AND kind = $2
                     ORDER BY id DESC LIMIT $3",
                    &[&device, &kind.as_str(), &limit(n)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Report {
                        report_id: r.try_get(0)?,
                        kind,
                        at_ms: r.u64(1)?,
                        body: json(r.try_get(2)?)?,
                    })
                })
                .collect()
        })
    }
}
