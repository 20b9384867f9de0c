//! Rollup rows (`aggregates_5m`, `aggregates_1h`, `aggregates_1d`): reads,
//! and the merge of a batch's delta (read the touched rows, fold them with
//! [`Aggregate::merged`], write them back with one upsert per level). The
//! writer holds the devices' row locks, so no other server merges into the
//! same rows meanwhile.

use std::collections::HashMap;

use deadpool_postgres::{Pool, Transaction};
use tokio_postgres::Row;

use super::num::{RowExt as _, big};
use crate::store::StoreError;
use crate::store::telemetry::{Aggregate, Level, RollupDelta, RollupKey};

/// The table of a level.
pub(super) fn table(level: Level) -> &'static str {
    match level {
        Level::Minutes5 => "aggregates_5m",
        Level::Hour => "aggregates_1h",
        Level::Day => "aggregates_1d",
    }
}

const COLUMNS: &str =
    "bucket_ms, count, sum, min, max, last, last_t_ms, area, covered_ms, first_t_ms";

/// An aggregate from the [`COLUMNS`] starting at column `at`.
fn row_at(r: &Row, at: usize) -> Result<Aggregate, StoreError> {
    Ok(Aggregate {
        bucket_ms: r.u64(at)?,
        count: r.u64(at + 1)?,
        sum: r.try_get(at + 2)?,
        min: r.try_get(at + 3)?,
        max: r.try_get(at + 4)?,
        last: r.try_get(at + 5)?,
        last_t_ms: r.u64(at + 6)?,
        area: r.try_get(at + 7)?,
        covered_ms: r.u64(at + 8)?,
        first_t_ms: r.u64(at + 9)?,
    })
}

/// Rollups of one register of a device at `level`, buckets in `[from, to)`.
pub(super) async fn read(
    pool: &Pool,
    device: &str,
    register: u8,
    level: Level,
    (from, to): (u64, u64),
) -> Result<Vec<Aggregate>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {} WHERE device = (SELECT id FROM devices WHERE device_id = $1)
             AND register = $2 AND bucket_ms >= $3 AND bucket_ms < $4 ORDER BY bucket_ms",
            table(level)
        ))
        .await?;
    let rows = client
        .query(
            &stmt,
            &[&device, &i16::from(register), &big(from), &big(to)],
        )
        .await?;
    rows.iter().map(|r| row_at(r, 0)).collect()
}

/// Folds a batch's delta into the stored rows.
pub(super) async fn merge(
    tx: &Transaction<'_>,
    delta: &RollupDelta<i64>,
) -> Result<(), StoreError> {
    let mut by_level: HashMap<Level, Vec<(RollupKey<i64>, Aggregate)>> = HashMap::new();
    for (key, more) in delta.rows() {
        by_level.entry(key.level).or_default().push((key, more));
    }
    for (level, rows) in by_level {
        merge_level(tx, level, rows).await?;
    }
    Ok(())
}

async fn merge_level(
    tx: &Transaction<'_>,
    level: Level,
    rows: Vec<(RollupKey<i64>, Aggregate)>,
) -> Result<(), StoreError> {
    let name = table(level);
    let devices: Vec<i64> = rows.iter().map(|(k, _)| k.device).collect();
    let registers: Vec<i16> = rows.iter().map(|(k, _)| i16::from(k.register)).collect();
    let buckets: Vec<i64> = rows.iter().map(|(k, _)| big(k.bucket_ms)).collect();
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT t.device, t.register, {COLUMNS} FROM {name} t
             JOIN unnest($1::bigint[], $2::smallint[], $3::bigint[]) AS k(device, register, bucket)
               ON t.device = k.device AND t.register = k.register AND t.bucket_ms = k.bucket"
        ))
        .await?;
    let mut stored: HashMap<(i64, u8, u64), Aggregate> = HashMap::new();
    for r in tx.query(&stmt, &[&devices, &registers, &buckets]).await? {
        let a = row_at(&r, 2)?;
        stored.insert((r.try_get(0)?, r.u8(1)?, a.bucket_ms), a);
    }
    let mut columns = Columns::default();
    for (key, more) in &rows {
        let a = match stored.get(&(key.device, key.register, key.bucket_ms)) {
            Some(s) => s.merged(more, level),
            None => *more,
        };
        columns.push(key.device, key.register, &a);
    }
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO {name} (device, register, {COLUMNS})
             SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::bigint[],
                 $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::bigint[],
                 $10::float8[], $11::bigint[], $12::bigint[])
             ON CONFLICT (device, register, bucket_ms) DO UPDATE SET
                count = excluded.count, sum = excluded.sum, min = excluded.min,
                max = excluded.max, last = excluded.last, last_t_ms = excluded.last_t_ms,
                area = excluded.area, covered_ms = excluded.covered_ms,
                first_t_ms = excluded.first_t_ms"
        ))
        .await?;
    let c = &columns;
    tx.execute(
        &stmt,
        &[
            &c.device,
            &c.register,
            &c.bucket,
            &c.count,
            &c.sum,
            &c.min,
            &c.max,
            &c.last,
            &c.last_t,
            &c.area,
            &c.covered,
            &c.first_t,
        ],
    )
    .await?;
    Ok(())
}

/// Rollup rows as column arrays, for one `unnest` upsert.
#[derive(Default)]
struct Columns {
    device: Vec<i64>,
    register: Vec<i16>,
    bucket: Vec<i64>,
    count: Vec<i64>,
    sum: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
    last: Vec<f64>,
    last_t: Vec<i64>,
    area: Vec<f64>,
    covered: Vec<i64>,
    first_t: Vec<i64>,
}

impl Columns {
    fn push(&mut self, device: i64, register: u8, a: &Aggregate) {
        self.device.push(device);
        self.register.push(i16::from(register));
        self.bucket.push(big(a.bucket_ms));
        self.count.push(big(a.count));
        self.sum.push(a.sum);
        self.min.push(a.min);
        self.max.push(a.max);
        self.last.push(a.last);
        self.last_t.push(big(a.last_t_ms));
        self.area.push(a.area);
        self.covered.push(big(a.covered_ms));
        self.first_t.push(big(a.first_t_ms));
    }
}
