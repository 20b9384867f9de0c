//! Retention: raw samples and upload bodies older than the configured days
//! are deleted (their rollups, kept at ingest, stay); 5-minute rollups are
//! deleted after their own, longer, period, hourly and daily ones are kept.
//! Runs in small bounded steps, each one short write.

use std::sync::Arc;

use crate::clock::now_ms;
use crate::policy::PolicyArgs;
use crate::store::telemetry::RetentionStep;
use crate::store::{Store, StoreError};

const DAY_MS: u64 = 86_400_000;
/// Pause between two steps of one run.
const STEP_PAUSE: std::time::Duration = std::time::Duration::from_millis(150);
/// Steps one run takes at most (each deletes a bounded number of rows).
const MAX_STEPS: usize = 100_000;

/// Enforces retention once, as of `now_ms`; the totals of what it did.
///
/// # Errors
/// When a step cannot be committed.
pub async fn enforce(
    store: &dyn Store,
    policy: &PolicyArgs,
    now_ms: u64,
) -> Result<RetentionStep, StoreError> {
    let days = |d: u32| now_ms.saturating_sub(u64::from(d) * DAY_MS);
    // 0 days means "keep forever".
    let raw_before = if policy.retention_days == 0 {
        0
    } else {
        days(policy.retention_days)
    };
    let aggregates_before = if policy.aggregate_retention_days == 0 {
        0
    } else {
        days(policy.aggregate_retention_days)
    };
    let mut total = RetentionStep::default();
    for _ in 0..MAX_STEPS {
        let step = store.retention_step(raw_before, aggregates_before).await?;
        total.samples_deleted += step.samples_deleted;
        total.uploads_deleted += step.uploads_deleted;
        total.aggregates_deleted += step.aggregates_deleted;
        if !step.more {
            break;
        }
        total.more = true;
        // Leave the write lock free for a while: SQLite's busy handler polls
        // every 100 ms at most, so logins and admin writes waiting on it get in.
        tokio::time::sleep(STEP_PAUSE).await;
    }
    Ok(total)
}

/// Enforces retention every `retention_interval`, starting now.
pub async fn run(store: Arc<dyn Store>, policy: PolicyArgs) {
    let mut ticker = tokio::time::interval(
        policy
            .retention_interval
            .max(std::time::Duration::from_secs(1)),
    );
    loop {
        ticker.tick().await;
        match enforce(store.as_ref(), &policy, now_ms()).await {
            Ok(done)
                if done.samples_deleted + done.uploads_deleted + done.aggregates_deleted > 0 =>
            {
                tracing::info!(
                    samples = done.samples_deleted,
                    uploads = done.uploads_deleted,
                    aggregates_deleted = done.aggregates_deleted,
                    "retention enforced"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention step failed"),
        }
    }
}
