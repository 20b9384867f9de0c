//! Retention: raw samples and upload bodies older than the configured days
//! are rolled into 5-minute aggregates and deleted; aggregates are deleted
//! after their own, longer, period. Runs in bounded steps on the store's
//! single writer, between ingest batches.

use std::sync::Arc;

use crate::clock::now_ms;
use crate::policy::PolicyArgs;
use crate::store::telemetry::RetentionStep;
use crate::store::{Store, StoreError};

const DAY_MS: u64 = 86_400_000;
/// Steps one run takes at most (each is one day of one device).
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
    let max_gap = u64::try_from(policy.energy_max_gap.as_millis()).unwrap_or(u64::MAX);
    let mut total = RetentionStep::default();
    for _ in 0..MAX_STEPS {
        let step = store
            .retention_step(raw_before, aggregates_before, max_gap)
            .await?;
        total.aggregated += step.aggregated;
        total.samples_deleted += step.samples_deleted;
        total.uploads_deleted += step.uploads_deleted;
        total.aggregates_deleted += step.aggregates_deleted;
        if !step.more {
            break;
        }
        total.more = true;
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
                    aggregates_written = done.aggregated,
                    aggregates_deleted = done.aggregates_deleted,
                    "retention enforced"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention step failed"),
        }
    }
}
