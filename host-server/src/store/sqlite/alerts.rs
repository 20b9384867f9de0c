//! Alert rules and alerts in SQLite (operator connection for writes).

use futures_util::future::BoxFuture;
use rusqlite::{Connection, Row, params};

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::alerts::{Alert, AlertFilter, AlertStore, NewRule, Rule, RuleKind, RuleSource};

const RULE_COLUMNS: &str = "id, source, name, device_id, kind, register, threshold, window_s";

fn rule_row(r: &Row<'_>) -> rusqlite::Result<Rule> {
    let source: String = r.get(1)?;
    let kind: String = r.get(4)?;
    Ok(Rule {
        id: r.get(0)?,
        source: if source == "config" {
            RuleSource::Config
        } else {
            RuleSource::Api
        },
        rule: NewRule {
            name: r.get(2)?,
            device_id: r.get(3)?,
            kind: RuleKind::parse(&kind).ok_or_else(|| {
                rusqlite::Error::InvalidColumnType(4, kind.clone(), rusqlite::types::Type::Text)
            })?,
            register: r.get(5)?,
            threshold: r.get(6)?,
            window_s: r.get(7)?,
        },
    })
}

fn insert_rule(
    conn: &Connection,
    rule: &NewRule,
    source: RuleSource,
    now: u64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO alert_rules (name, source, device_id, kind, register, threshold, window_s,
                                  created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            rule.name,
            match source {
                RuleSource::Api => "api",
                RuleSource::Config => "config",
            },
            rule.device_id,
            rule.kind.as_str(),
            rule.register,
            rule.threshold,
            rule.window_s,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

const ALERT_COLUMNS: &str = "id, rule, device_id, opened_ms, closed_ms, value, message";

fn alert_row(r: &Row<'_>) -> rusqlite::Result<Alert> {
    Ok(Alert {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        device_id: r.get(2)?,
        opened_ms: r.get(3)?,
        closed_ms: r.get(4)?,
        value: r.get(5)?,
        message: r.get(6)?,
    })
}

fn close_rule_alerts(conn: &Connection, rule: i64, now: u64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE alerts SET closed_ms = ?2 WHERE rule = ?1 AND closed_ms IS NULL",
        params![rule, now],
    )?;
    Ok(())
}

impl AlertStore for SqliteStore {
    fn alert_rules(&self) -> BoxFuture<'_, Result<Vec<Rule>, StoreError>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY id"
            ))?;
            let rows = stmt.query_map([], rule_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn add_alert_rule(&self, rule: NewRule) -> BoxFuture<'_, Result<Rule, StoreError>> {
        self.admin(move |c, now| {
            let id = insert_rule(c, &rule, RuleSource::Api, now)?;
            Ok(Rule {
                id,
                source: RuleSource::Api,
                rule,
            })
        })
    }

    fn remove_alert_rule(&self, id: i64, now_ms: u64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.admin(move |c, _| {
            let tx = c.transaction()?;
            let removed = tx.execute("DELETE FROM alert_rules WHERE id = ?1", [id])? == 1;
            close_rule_alerts(&tx, id, now_ms)?;
            tx.commit()?;
            Ok(removed)
        })
    }

    fn replace_config_rules(&self, rules: Vec<NewRule>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.admin(move |c, now| {
            let tx = c.transaction()?;
            let old: Vec<i64> = tx
                .prepare("SELECT id FROM alert_rules WHERE source = 'config'")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in old {
                close_rule_alerts(&tx, id, now)?;
            }
            tx.execute("DELETE FROM alert_rules WHERE source = 'config'", [])?;
            for rule in &rules {
                insert_rule(&tx, rule, RuleSource::Config, now)?;
            }
            tx.commit()?;
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
        self.admin(move |c, _| {
            c.execute(
                "INSERT INTO alerts (rule, device_id, opened_ms, value, message)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![rule_id, device_id, opened_ms, value, message],
            )?;
            Ok(Alert {
                id: c.last_insert_rowid(),
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
        self.admin(move |c, _| {
            let closed = c.execute(
                "UPDATE alerts SET closed_ms = ?2 WHERE id = ?1 AND closed_ms IS NULL",
                params![id, closed_ms],
            )? == 1;
            if !closed {
                return Ok(None);
            }
            Ok(Some(c.query_row(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"),
                [id],
                alert_row,
            )?))
        })
    }

    fn alerts(&self, filter: AlertFilter) -> BoxFuture<'_, Result<Vec<Alert>, StoreError>> {
        self.read(move |c| {
            let open = filter.open.map(i64::from);
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts
                 WHERE (?1 IS NULL OR (?1 = 1) = (closed_ms IS NULL))
                   AND (?2 IS NULL OR device_id = ?2)
                 ORDER BY opened_ms DESC, id DESC LIMIT ?3"
            ))?;
            let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
            let rows = stmt.query_map(params![open, filter.device_id, limit], alert_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}
