//! Alert rules and alerts.

use deadpool_postgres::GenericClient;
use futures_util::future::BoxFuture;
use tokio_postgres::Row;

use super::PgStore;
use super::num::{RowExt as _, big, limit};
use crate::store::StoreError;
use crate::store::alerts::{Alert, AlertFilter, AlertStore, NewRule, Rule, RuleKind, RuleSource};

const RULE_COLUMNS: &str = "id, source, name, device_id, kind, register, threshold, window_s";

fn rule_row(r: &Row) -> Result<Rule, StoreError> {
    let source: String = r.try_get(1)?;
    let kind: String = r.try_get(4)?;
    Ok(Rule {
        id: r.try_get(0)?,
        source: if source == "config" {
            RuleSource::Config
        } else {
            RuleSource::Api
        },
        rule: NewRule {
            name: r.try_get(2)?,
            device_id: r.try_get(3)?,
            kind: RuleKind::parse(&kind)
                .ok_or_else(|| StoreError::new(format!("unknown stored rule kind {kind:?}")))?,
            register: r.opt_u8(5)?,
            threshold: r.try_get(6)?,
            window_s: r.opt_u32(7)?,
        },
    })
}

async fn insert_rule(
    c: &impl GenericClient,
    rule: &NewRule,
    source: RuleSource,
    now: u64,
) -> Result<i64, StoreError> {
    let source = match source {
        RuleSource::Api => "api",
        RuleSource::Config => "config",
    };
    let row = c
        .query_one(
            "INSERT INTO alert_rules (name, source, device_id, kind, register, threshold,
                                      window_s, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &rule.name,
                &source,
                &rule.device_id,
                &rule.kind.as_str(),
                &rule.register.map(i16::from),
                &rule.threshold,
                &rule.window_s.map(i64::from),
                &big(now),
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}

const ALERT_COLUMNS: &str = "id, rule, device_id, opened_ms, closed_ms, value, message";

fn alert_row(r: &Row) -> Result<Alert, StoreError> {
    Ok(Alert {
        id: r.try_get(0)?,
        rule_id: r.try_get(1)?,
        device_id: r.try_get(2)?,
        opened_ms: r.u64(3)?,
        closed_ms: r.opt_u64(4)?,
        value: r.try_get(5)?,
        message: r.try_get(6)?,
    })
}

const CLOSE_RULE_ALERTS: &str =
    "UPDATE alerts SET closed_ms = $2 WHERE rule = $1 AND closed_ms IS NULL";

impl AlertStore for PgStore {
    fn alert_rules(&self) -> BoxFuture<'_, Result<Vec<Rule>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!("SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY id"),
                    &[],
                )
                .await?;
            rows.iter().map(rule_row).collect()
        })
    }

    fn add_alert_rule(&self, rule: NewRule) -> BoxFuture<'_, Result<Rule, StoreError>> {
        self.run_now(move |pool, now| async move {
            let id = insert_rule(&pool.get().await?, &rule, RuleSource::Api, now).await?;
            Ok(Rule {
                id,
                source: RuleSource::Api,
                rule,
            })
        })
    }

    fn remove_alert_rule(&self, id: i64, now_ms: u64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let removed = tx
                .execute("DELETE FROM alert_rules WHERE id = $1", &[&id])
                .await?
                == 1;
            tx.execute(CLOSE_RULE_ALERTS, &[&id, &big(now_ms)]).await?;
            tx.commit().await?;
            Ok(removed)
        })
    }

    fn replace_config_rules(&self, rules: Vec<NewRule>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run_now(move |pool, now| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "UPDATE alerts SET closed_ms = $1 WHERE closed_ms IS NULL
                 AND rule IN (SELECT id FROM alert_rules WHERE source = 'config')",
                &[&big(now)],
            )
            .await?;
            tx.execute("DELETE FROM alert_rules WHERE source = 'config'", &[])
                .await?;
            for rule in &rules {
                insert_rule(&tx, rule, RuleSource::Config, now).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn open_alert(
        &self,
        rule_id: i64,
        device_id: &str,
        opened_ms: u64,
        value: Option<f64>,
        message: String,
    ) -> BoxFuture<'_, Result<Alert, StoreError>> {
        let device_id = device_id.to_owned();
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let row = client
                .query_one(
                    "INSERT INTO alerts (rule, device_id, opened_ms, value, message)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&rule_id, &device_id, &big(opened_ms), &value, &message],
                )
                .await?;
            Ok(Alert {
                id: row.try_get(0)?,
                rule_id,
                device_id,
                opened_ms,
                closed_ms: None,
                value,
                message,
            })
        })
    }

    fn close_alert(
        &self,
        id: i64,
        closed_ms: u64,
    ) -> BoxFuture<'_, Result<Option<Alert>, StoreError>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            client
                .query_opt(
                    &format!(
                        "UPDATE alerts SET closed_ms = $2 WHERE id = $1 AND closed_ms IS NULL
                         RETURNING {ALERT_COLUMNS}"
                    ),
                    &[&id, &big(closed_ms)],
                )
                .await?
                .as_ref()
                .map(alert_row)
                .transpose()
        })
    }

    fn alerts(&self, filter: AlertFilter) -> BoxFuture<'_, Result<Vec<Alert>, StoreError>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {ALERT_COLUMNS} FROM alerts
                         WHERE ($1::boolean IS NULL OR $1 = (closed_ms IS NULL))
                           AND ($2::text IS NULL OR device_id = $2)
                         ORDER BY opened_ms DESC, id DESC LIMIT $3"
                    ),
                    &[&filter.open, &filter.device_id, &limit(filter.limit)],
                )
                .await?;
            rows.iter().map(alert_row).collect()
        })
    }
}
