//! The single writer thread: group commit of verified uploads.
//!
//! Requests queue on a bounded channel. The writer takes everything queued
//! (up to a batch size), runs ONE immediate transaction in which the
//! backend-neutral [`IngestBatch`] takes, per upload, the replay decision
//! against the device's stored nonce and MAC and decodes with its stored
//! stream state, while this module inserts the upload row and its sample
//! blocks, then writes back the devices' state and codec counters; it
//! commits (WAL, `synchronous=FULL`), and only then answers each request.
//! While one batch commits the next one queues, so one fsync serves many
//! uploads. The batch's rollups go to the writer's open buckets in memory
//! ([`RollupWriter`]), flushed in their own transactions every few seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use solarwire_core::upload::Format;
use tokio::sync::{mpsc, oneshot};

use super::rollups::{FLUSH_EVERY, RollupWriter};
use crate::store::blocks;
use crate::store::ingest::{
    Accepted, Admission, CommitSink, DeviceLedger, IngestBatch, IngestConfig, counter_to_stored,
    duplicate_key, duplicate_summary,
};
use crate::store::{
    Committed, IngestError, IngestJob, IngestOutcome, Seal, StoreError, UploadSummary,
};
use crate::telemetry::Telemetry;

/// The answer to one queued upload.
type Answer = Result<IngestOutcome, IngestError>;

/// One queued upload and where its answer goes.
pub(crate) struct Queued {
    job: IngestJob,
    answer: oneshot::Sender<Answer>,
}

/// Maintenance run on the writer's connection between batches (retention,
/// device removal), with the writer's open rollups.
type Task = Box<dyn FnOnce(&mut Connection, &mut RollupWriter) + Send>;

/// What the writer thread is asked to do.
pub(crate) enum Work {
    /// Store an upload.
    Upload(Queued),
    /// Run maintenance.
    Task(Task),
    /// Flush the open rollups if due.
    Tick,
}

/// The request side of the writer.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    queue: mpsc::Sender<Work>,
    healthy: Arc<AtomicBool>,
}

impl WriterHandle {
    /// Queues an upload and waits for its commit.
    pub(crate) async fn ingest(&self, job: IngestJob) -> Answer {
        let (answer, rx) = oneshot::channel();
        self.queue
            .try_send(Work::Upload(Queued { job, answer }))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => IngestError::Busy,
                mpsc::error::TrySendError::Closed(_) => {
                    IngestError::Unavailable("the writer has stopped".into())
                }
            })?;
        rx.await
            .unwrap_or_else(|_| Err(IngestError::Unavailable("the writer has stopped".into())))
    }

    /// Runs `f` on the writer's connection and open rollups between
    /// batches and returns its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &mut RollupWriter) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, rx) = oneshot::channel();
        let task: Task = Box::new(move |conn, rollups| {
            let _ = answer.send(f(conn, rollups));
        });
        let stopped = || StoreError::new("the writer has stopped");
        self.queue
            .send(Work::Task(task))
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Whether the last batch committed and the writer is running.
    pub(crate) fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.queue.is_closed()
    }
}

/// Starts the writer thread on its own connection with its rollups, and
/// the ticker that has it flush them while uploads pause.
pub(crate) fn spawn(
    conn: Connection,
    rollups: RollupWriter,
    config: IngestConfig,
    sink: Option<CommitSink>,
    telemetry: Arc<Telemetry>,
) -> Result<WriterHandle, StoreError> {
    let (queue, rx) = mpsc::channel(config.queue.max(1));
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    std::thread::Builder::new()
        .name("solarwire-writer".into())
        .spawn(move || run(conn, rollups, rx, config, sink, &flag, &telemetry))
        .map_err(|e| StoreError::new(format!("cannot start the writer thread: {e}")))?;
    let ticks = queue.downgrade();
    std::thread::Builder::new()
        .name("solarwire-rollup-tick".into())
        .spawn(move || {
            loop {
                std::thread::sleep(FLUSH_EVERY);
                // Stops once the store is gone; a full queue flushes by itself.
                let Some(queue) = ticks.upgrade() else { break };
                let _ = queue.try_send(Work::Tick);
            }
        })
        .map_err(|e| StoreError::new(format!("cannot start the rollup ticker: {e}")))?;
    Ok(WriterHandle { queue, healthy })
}

fn run(
    mut conn: Connection,
    mut rollups: RollupWriter,
    mut rx: mpsc::Receiver<Work>,
    config: IngestConfig,
    sink: Option<CommitSink>,
    healthy: &AtomicBool,
    telemetry: &Telemetry,
) {
    let mut batch = Vec::with_capacity(config.batch);
    let mut task = None;
    while let Some(first) = rx.blocking_recv() {
        match first {
            Work::Upload(queued) => batch.push(queued),
            Work::Task(t) => task = Some(t),
            Work::Tick => {}
        }
        while batch.len() < config.batch && task.is_none() {
            match rx.try_recv() {
                Ok(Work::Upload(next)) => batch.push(next),
                Ok(Work::Task(t)) => task = Some(t),
                Ok(Work::Tick) => {}
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit(
                &mut conn,
                &mut rollups,
                &mut batch,
                &config,
                sink.as_ref(),
                healthy,
                telemetry,
            );
        }
        if let Some(task) = task.take() {
            task(&mut conn, &mut rollups);
        }
        if rollups.due()
            && let Err(e) = rollups.flush(&mut conn)
        {
            tracing::warn!(error = %e, "rollups not flushed; kept open");
        }
    }
    if let Err(e) = rollups.flush(&mut conn) {
        tracing::warn!(error = %e, "rollups not flushed at shutdown; rebuilt at the next start");
    }
}

/// Commits one batch and answers its requests.
fn commit(
    conn: &mut Connection,
    rollups: &mut RollupWriter,
    batch: &mut Vec<Queued>,
    config: &IngestConfig,
    sink: Option<&CommitSink>,
    healthy: &AtomicBool,
    telemetry: &Telemetry,
) {
    let started = std::time::Instant::now();
    let jobs: Vec<&IngestJob> = batch.iter().map(|q| &q.job).collect();
    let result = commit_batch(conn, rollups, &jobs, config);
    telemetry.batch_committed(batch.len(), started.elapsed(), result.is_ok());
    match result {
        Ok(results) => {
            healthy.store(true, Ordering::Relaxed);
            let wanted = sink.filter(|s| (s.wanted)());
            for (queued, (answer, committed)) in batch.drain(..).zip(results) {
                let _ = queued.answer.send(answer);
                if let (Some(sink), Some(committed)) = (wanted, committed)
                    && sink.events.try_send(committed).is_err()
                {
                    telemetry.live_dropped();
                }
            }
        }
        Err(e) => {
            healthy.store(false, Ordering::Relaxed);
            tracing::error!(error = %e, uploads = batch.len(), "batch not committed");
            for queued in batch.drain(..) {
                let _ = queued
                    .answer
                    .send(Err(IngestError::Unavailable(e.to_string())));
            }
        }
    }
}

type JobResult = (Answer, Option<Committed>);

/// One immediate transaction: the backend-neutral rules decide, this
/// function reads and writes the rows they ask for, then commits; the
/// batch's rollups then join the open ones.
fn commit_batch(
    conn: &mut Connection,
    rollups: &mut RollupWriter,
    jobs: &[&IngestJob],
    config: &IngestConfig,
) -> Result<Vec<JobResult>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let max_id: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM uploads", [], |r| r.get(0))?;
    let mut next_upload_id = max_id + 1;
    let first_block = rollups.next_block(&tx)?;
    let mut next_block = first_block;
    let mut batch = IngestBatch::new(config);
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        if !batch.knows(&job.device)
            && let Some((id, mut ledger)) = load_device(&tx, job)?
        {
            // The stored tails are as of the last rollup flush.
            if let Some(tails) = rollups.tails(id) {
                ledger.tails = tails.clone();
            }
            batch.load(&job.device, id, ledger);
        }
        let result = match batch.admit(job) {
            Admission::Unknown => (Err(IngestError::UnknownDevice), None),
            Admission::Replay(e) => (Err(IngestError::Replay(e)), None),
            Admission::Duplicate(device, seal) => {
                let stored = stored_summary(&tx, device, &seal)?;
                let summary = duplicate_summary(stored, &job.device, &seal);
                (Ok(IngestOutcome::Duplicate(summary)), None)
            }
            Admission::Fresh => {
                let Some(accepted) = batch.accept(job, next_upload_id) else {
                    results.push((Err(IngestError::UnknownDevice), None));
                    continue;
                };
                next_upload_id += 1;
                insert_upload(&tx, job, &accepted)?;
                for block in blocks::split(&accepted.samples, job.received_ms) {
                    let (device, upload) = (accepted.device, accepted.summary.upload_id);
                    super::blocks::insert(&tx, next_block, device, upload, &block)?;
                    next_block += 1;
                }
                let reply = Ok(IngestOutcome::Stored(accepted.summary.clone()));
                (reply, Some(accepted.committed(job.received_ms)))
            }
        };
        results.push(result);
    }
    write_back(&tx, &batch)?;
    rollups.in_commit(&tx, &batch, first_block..next_block)?;
    tx.commit()?;
    rollups.committed(&batch, next_block - 1);
    Ok(results)
}

/// A device's row id and ledger; a fleet-key device is created on its first
/// valid upload, at the upload's receive time.
fn load_device(
    tx: &Transaction<'_>,
    job: &IngestJob,
) -> Result<Option<(i64, DeviceLedger)>, StoreError> {
    let device = job.device.as_str();
    let row = tx
        .prepare_cached(
            "SELECT id, last_nonce, last_mac, stream_state, rollup_tail, last_counter, last_tag,
                    profile
             FROM devices WHERE device_id = ?1 AND retired_ms IS NULL",
        )?
        .query_row([device], |r| {
            let blob = |i| r.get::<_, Option<Vec<u8>>>(i);
            let ledger = DeviceLedger::from_stored(
                device,
                r.get(1)?,
                blob(2)?.as_deref(),
                blob(3)?.as_deref(),
                blob(4)?.as_deref(),
            )
            .with_counter(r.get(5)?, blob(6)?.as_deref())
            .with_profile(r.get(7)?);
            Ok((r.get::<_, i64>(0)?, ledger))
        })
        .optional()?;
    match row {
        Some(loaded) => Ok(Some(loaded)),
        None if job.auto_register.is_some() => {
            // A retired device keeps its row (and data): never re-register it.
            if tx.execute(
                "INSERT INTO devices (device_id, created_ms, admitted_by) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id) DO NOTHING",
                params![device, job.received_ms, job.auto_register],
            )? == 0
            {
                return Ok(None);
            }
            tracing::info!(device, "device registered on its first valid upload");
            Ok(Some((tx.last_insert_rowid(), DeviceLedger::default())))
        }
        None => Ok(None),
    }
}

fn insert_upload(
    tx: &Transaction<'_>,
    job: &IngestJob,
    accepted: &Accepted<i64>,
) -> Result<(), StoreError> {
    let summary = &accepted.summary;
    let report = serde_json::to_string(summary).map_err(|e| StoreError::new(e.to_string()))?;
    let format = match job.format {
        Format::Aggregated => "aggregated",
        Format::LegacyProcess => "legacy_process",
    };
    tx.prepare_cached(
        "INSERT INTO uploads (id, device, nonce, counter, received_ms, format, body, report)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        summary.upload_id,
        accepted.device,
        summary.nonce,
        summary.counter.map(counter_to_stored),
        job.received_ms,
        format,
        job.raw.as_ref(),
        report
    ])?;
    Ok(())
}

fn write_back(tx: &Transaction<'_>, batch: &IngestBatch<i64>) -> Result<(), StoreError> {
    let mut update = tx.prepare_cached(
        "UPDATE devices SET last_nonce = ?2, last_mac = ?3, stream_state = ?4,
            last_seen_ms = MAX(COALESCE(last_seen_ms, 0), COALESCE(?5, 0)),
            uploads = uploads + ?6, duplicates = duplicates + ?7, samples = samples + ?8,
            last_counter = ?9, last_tag = ?10
         WHERE id = ?1",
    )?;
    for state in batch.devices() {
        let last = state.ledger.last;
        let (counter, tag) = state.ledger.counter_columns();
        update.execute(params![
            state.key,
            last.map(|l| l.nonce.0),
            last.and_then(|l| l.mac).map(|m| m.0.to_vec()),
            state.ledger.stream.to_bytes(),
            state.last_seen_ms,
            state.uploads,
            state.duplicates,
            state.samples,
            counter,
            tag
        ])?;
    }
    let mut upsert = tx.prepare_cached(
        "INSERT INTO device_codecs (device, method, packets, failed, bytes, original_bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (device, method) DO UPDATE SET
            packets = packets + excluded.packets, failed = failed + excluded.failed,
            bytes = bytes + excluded.bytes,
            original_bytes = original_bytes + excluded.original_bytes",
    )?;
    for ((device, method), d) in batch.codecs() {
        upsert.execute(params![
            device,
            method,
            d.packets,
            d.failed,
            d.bytes,
            d.original_bytes
        ])?;
    }
    Ok(())
}

/// The stored reply to the upload a device sent under `seal`'s nonce or counter.
fn stored_summary(
    tx: &Transaction<'_>,
    device: i64,
    seal: &Seal,
) -> Result<Option<UploadSummary>, StoreError> {
    let (column, value) = duplicate_key(seal);
    let report: Option<String> = tx
        .prepare_cached(&format!(
            "SELECT report FROM uploads WHERE device = ?1 AND {column} = ?2 ORDER BY id DESC LIMIT 1"
        ))?
        .query_row(params![device, value], |r| r.get(0))
        .optional()?;
    Ok(report.and_then(|r| serde_json::from_str::<UploadSummary>(&r).ok()))
}
