//! The ingest writer: group commit of verified uploads, safe across servers.
//!
//! Requests queue on a bounded channel; the writer takes what is queued (up
//! to a batch), and in ONE transaction locks the batch's device rows in
//! device-id order (`FOR UPDATE`: another server's batch touching the same
//! device waits for this commit and then reads the advanced nonce), lets the
//! backend-neutral [`IngestBatch`] decide and decode, writes uploads, samples
//! (COPY), rollups, codec counters and the devices' ledgers with one
//! statement each, announces the commit (`NOTIFY`, delivered at commit) and
//! commits; only then does it answer each request.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::{Pool, Transaction};
use solarwire_core::upload::Format;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::notify::Origin;
use super::num::big;
use super::{rollups, telemetry};
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
struct Queued {
    job: IngestJob,
    answer: oneshot::Sender<Answer>,
}

/// Attempts of a batch that lost a deadlock or lock race to another server.
const ATTEMPTS: usize = 3;

/// The request side of the writer.
#[derive(Clone)]
pub(super) struct WriterHandle {
    queue: mpsc::Sender<Queued>,
    healthy: Arc<AtomicBool>,
}

impl WriterHandle {
    /// Queues an upload and waits for its commit.
    pub(super) async fn ingest(&self, job: IngestJob) -> Answer {
        let (answer, rx) = oneshot::channel();
        self.queue
            .try_send(Queued { job, answer })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => IngestError::Busy,
                mpsc::error::TrySendError::Closed(_) => {
                    IngestError::Unavailable("the writer has stopped".into())
                }
            })?;
        rx.await
            .unwrap_or_else(|_| Err(IngestError::Unavailable("the writer has stopped".into())))
    }

    /// Whether the last batch committed and the writer is running.
    pub(super) fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.queue.is_closed()
    }
}

/// Starts the writer task on the store's runtime.
pub(super) fn spawn(
    runtime: &tokio::runtime::Handle,
    pool: Pool,
    config: IngestConfig,
    sink: Option<CommitSink>,
    telemetry: Arc<Telemetry>,
    origin: Origin,
) -> WriterHandle {
    let (queue, rx) = mpsc::channel(config.queue.max(1));
    let healthy = Arc::new(AtomicBool::new(true));
    let writer = Writer {
        pool,
        config,
        sink,
        telemetry,
        origin,
        healthy: healthy.clone(),
    };
    runtime.spawn(writer.run(rx));
    WriterHandle { queue, healthy }
}

struct Writer {
    pool: Pool,
    config: IngestConfig,
    sink: Option<CommitSink>,
    telemetry: Arc<Telemetry>,
    origin: Origin,
    healthy: Arc<AtomicBool>,
}

type JobResult = (Answer, Option<Committed>);

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Queued>) {
        let mut batch = Vec::with_capacity(self.config.batch);
        while rx.recv_many(&mut batch, self.config.batch).await > 0 {
            let started = std::time::Instant::now();
            let jobs: Vec<&IngestJob> = batch.iter().map(|q| &q.job).collect();
            let mut result = self.commit(&jobs).await;
            for _ in 1..ATTEMPTS {
                match &result {
                    Err(e) if e.is_busy() => result = self.commit(&jobs).await,
                    _ => break,
                }
            }
            self.telemetry
                .batch_committed(batch.len(), started.elapsed(), result.is_ok());
            self.answer(&mut batch, result);
        }
    }

    fn answer(&self, batch: &mut Vec<Queued>, result: Result<Vec<JobResult>, StoreError>) {
        match result {
            Ok(results) => {
                self.healthy.store(true, Ordering::Relaxed);
                let wanted = self.sink.as_ref().filter(|s| (s.wanted)());
                for (queued, (answer, committed)) in batch.drain(..).zip(results) {
                    let _ = queued.answer.send(answer);
                    if let (Some(sink), Some(committed)) = (wanted, committed)
                        && sink.events.try_send(committed).is_err()
                    {
                        self.telemetry.live_dropped();
                    }
                }
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Relaxed);
                tracing::error!(error = %e, uploads = batch.len(), "batch not committed");
                for queued in batch.drain(..) {
                    let _ = queued
                        .answer
                        .send(Err(IngestError::Unavailable(e.to_string())));
                }
            }
        }
    }

    /// One transaction: lock, decide, write, announce, commit.
    async fn commit(&self, jobs: &[&IngestJob]) -> Result<Vec<JobResult>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut batch = IngestBatch::new(&self.config);
        lock_devices(&tx, jobs, &mut batch).await?;
        let mut ids = reserve_ids(&tx, jobs.len()).await?.into_iter();
        let mut results = Vec::with_capacity(jobs.len());
        let mut fresh: Vec<(&IngestJob, Accepted<i64>)> = Vec::new();
        for job in jobs {
            let result = match batch.admit(job) {
                Admission::Unknown => Err(IngestError::UnknownDevice),
                Admission::Replay(e) => Err(IngestError::Replay(e)),
                Admission::Duplicate(device, seal) => {
                    let stored = stored_summary(&tx, device, &seal).await?;
                    Ok(IngestOutcome::Duplicate(duplicate_summary(
                        stored,
                        &job.device,
                        &seal,
                    )))
                }
                Admission::Fresh => {
                    let id = ids
                        .next()
                        .ok_or_else(|| StoreError::new("upload ids ran out"))?;
                    match batch.accept(job, id) {
                        Some(accepted) => {
                            let reply = Ok(IngestOutcome::Stored(accepted.summary.clone()));
                            fresh.push((job, accepted));
                            reply
                        }
                        None => Err(IngestError::UnknownDevice),
                    }
                }
            };
            results.push(result);
        }
        insert_uploads(&tx, &fresh).await?;
        insert_samples(&tx, &fresh).await?;
        write_back(&tx, &batch).await?;
        if !fresh.is_empty() {
            let ids: Vec<i64> = fresh.iter().map(|(_, a)| a.summary.upload_id).collect();
            self.origin.announce(&tx, &ids).await?;
        }
        tx.commit().await?;
        // Pair each answer with what the live outputs get, in request order.
        let mut fresh = fresh.into_iter();
        Ok(results
            .into_iter()
            .map(|answer| {
                let committed = match &answer {
                    Ok(IngestOutcome::Stored(_)) => fresh
                        .next()
                        .map(|(job, accepted)| accepted.committed(job.received_ms)),
                    _ => None,
                };
                (answer, committed)
            })
            .collect())
    }
}

/// A device's ledger columns, read after its id and device id.
const LEDGER: &str =
    "last_nonce, last_mac, stream_state, rollup_tail, last_counter, last_tag, profile";

/// The ledger in a row of `id, device_id, {LEDGER}`.
fn ledger(row: &tokio_postgres::Row, device: &str) -> Result<DeviceLedger, StoreError> {
    let nonce = row
        .try_get::<_, Option<i64>>(2)?
        .and_then(|n| u32::try_from(n).ok());
    Ok(DeviceLedger::from_stored(
        device,
        nonce,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
    )
    .with_counter(row.try_get(6)?, row.try_get(7)?)
    .with_profile(row.try_get(8)?))
}

/// Locks the ledgers of the batch's devices in device-id order (the same
/// order on every server, so two batches never wait on each other in a
/// circle) and loads them; a fleet-key device is created on its first valid
/// upload. A retired device is never loaded, nor created again.
async fn lock_devices(
    tx: &Transaction<'_>,
    jobs: &[&IngestJob],
    batch: &mut IngestBatch<i64>,
) -> Result<(), StoreError> {
    let names: BTreeSet<&str> = jobs.iter().map(|j| j.device.as_str()).collect();
    let names: Vec<&str> = names.into_iter().collect();
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT id, device_id, {LEDGER} FROM devices
                 WHERE device_id = ANY($1) AND retired_ms IS NULL ORDER BY device_id FOR UPDATE"
        ))
        .await?;
    for row in tx.query(&stmt, &[&names]).await? {
        let device: &str = row.try_get(1)?;
        batch.load(device, row.try_get(0)?, ledger(&row, device)?);
    }
    for job in jobs {
        if job.auto_register.is_some() && !batch.knows(&job.device) {
            register(tx, job, batch).await?;
        }
    }
    Ok(())
}

/// Creates a fleet-key device at the upload's receive time (or locks the
/// row another server created a moment ago).
async fn register(
    tx: &Transaction<'_>,
    job: &IngestJob,
    batch: &mut IngestBatch<i64>,
) -> Result<(), StoreError> {
    let device = job.device.as_str();
    let created = tx
        .query_opt(
            "INSERT INTO devices (device_id, created_ms, admitted_by) VALUES ($1, $2, $3)
             ON CONFLICT (device_id) DO NOTHING RETURNING id",
            &[&device, &big(job.received_ms), &job.auto_register],
        )
        .await?;
    if let Some(row) = created {
        tracing::info!(device, "device registered on its first valid upload");
        batch.load(device, row.try_get(0)?, DeviceLedger::default());
        return Ok(());
    }
    let existing = tx
        .query_opt(
            &format!(
                "SELECT id, device_id, {LEDGER} FROM devices
                 WHERE device_id = $1 AND retired_ms IS NULL FOR UPDATE"
            ),
            &[&device],
        )
        .await?;
    if let Some(row) = existing {
        batch.load(device, row.try_get(0)?, ledger(&row, device)?);
    }
    Ok(())
}

/// Reserves `n` upload ids (unused ones are gaps, as after a rollback).
async fn reserve_ids(tx: &Transaction<'_>, n: usize) -> Result<Vec<i64>, StoreError> {
    let stmt = tx
        .prepare_cached("SELECT nextval('uploads_id_seq') FROM generate_series(1, $1)")
        .await?;
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    let rows = tx.query(&stmt, &[&n]).await?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(StoreError::from))
        .collect()
}

/// The uploads' rows, one statement.
async fn insert_uploads(
    tx: &Transaction<'_>,
    fresh: &[(&IngestJob, Accepted<i64>)],
) -> Result<(), StoreError> {
    if fresh.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(fresh.len());
    let mut devices = Vec::with_capacity(fresh.len());
    let mut nonces = Vec::with_capacity(fresh.len());
    let mut counters = Vec::with_capacity(fresh.len());
    let mut received = Vec::with_capacity(fresh.len());
    let mut formats = Vec::with_capacity(fresh.len());
    let mut bodies = Vec::with_capacity(fresh.len());
    let mut reports = Vec::with_capacity(fresh.len());
    for (job, accepted) in fresh {
        let summary = &accepted.summary;
        ids.push(summary.upload_id);
        devices.push(accepted.device);
        nonces.push(summary.nonce.map(i64::from));
        counters.push(summary.counter.map(counter_to_stored));
        received.push(big(job.received_ms));
        formats.push(match job.format {
            Format::Aggregated => "aggregated",
            Format::LegacyProcess => "legacy_process",
        });
        bodies.push(job.raw.as_ref());
        reports.push(serde_json::to_string(summary).map_err(|e| StoreError::new(e.to_string()))?);
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO uploads (id, device, nonce, counter, received_ms, format, body, report)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                                  $5::bigint[], $6::text[], $7::bytea[], $8::text[])",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &ids, &devices, &nonces, &counters, &received, &formats, &bodies, &reports,
        ],
    )
    .await?;
    Ok(())
}

/// The samples' rows, streamed with binary COPY.
async fn insert_samples(
    tx: &Transaction<'_>,
    fresh: &[(&IngestJob, Accepted<i64>)],
) -> Result<(), StoreError> {
    if fresh.iter().all(|(_, a)| a.samples.is_empty()) {
        return Ok(());
    }
    let sink = tx
        .copy_in(
            "COPY samples (device, t_ms, upload, pos, packet, flags, registers) FROM STDIN BINARY",
        )
        .await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT8,
            Type::INT8,
            Type::INT4,
            Type::INT4,
            Type::INT2,
            Type::INT4_ARRAY,
        ],
    );
    futures_util::pin_mut!(writer);
    for (job, accepted) in fresh {
        for (pos, s) in accepted.samples.iter().enumerate() {
            let t_ms = big(s.t_ms.unwrap_or(job.received_ms));
            let pos = i32::try_from(pos).unwrap_or(i32::MAX);
            let packet = i32::try_from(s.packet).unwrap_or(i32::MAX);
            let flags = telemetry::flags(s.approximate, s.t_ms.is_some());
            let registers = telemetry::encode_registers(&s.registers);
            writer
                .as_mut()
                .write(&[
                    &accepted.device,
                    &t_ms,
                    &accepted.summary.upload_id,
                    &pos,
                    &packet,
                    &flags,
                    &registers,
                ])
                .await?;
        }
    }
    writer.as_mut().finish().await?;
    Ok(())
}

/// The devices' ledgers and counters, the rollups and the codec counters.
async fn write_back(tx: &Transaction<'_>, batch: &IngestBatch<i64>) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    let mut nonces = Vec::new();
    let mut macs = Vec::new();
    let mut streams = Vec::new();
    let mut seen = Vec::new();
    let mut uploads = Vec::new();
    let mut duplicates = Vec::new();
    let mut samples = Vec::new();
    let mut tails = Vec::new();
    let mut counters = Vec::new();
    let mut tags = Vec::new();
    for state in batch.devices() {
        let last = state.ledger.last;
        let (counter, tag) = state.ledger.counter_columns();
        counters.push(counter);
        tags.push(tag);
        ids.push(state.key);
        nonces.push(last.map(|l| i64::from(l.nonce.0)));
        macs.push(last.and_then(|l| l.mac).map(|m| m.0.to_vec()));
        streams.push(state.ledger.stream.to_bytes());
        seen.push(state.last_seen_ms.map(big));
        uploads.push(big(state.uploads));
        duplicates.push(big(state.duplicates));
        samples.push(big(state.samples));
        tails.push(state.ledger.tails.to_bytes());
    }
    if !ids.is_empty() {
        let stmt = tx
            .prepare_cached(
                "UPDATE devices d SET last_nonce = v.nonce, last_mac = v.mac,
                    stream_state = v.stream, rollup_tail = v.tail,
                    last_seen_ms = GREATEST(d.last_seen_ms, v.seen),
                    uploads = d.uploads + v.uploads, duplicates = d.duplicates + v.duplicates,
                    samples = d.samples + v.samples,
                    last_counter = v.counter, last_tag = v.tag
                 FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[], $5::bigint[],
                             $6::bigint[], $7::bigint[], $8::bigint[], $9::bytea[],
                             $10::bigint[], $11::bytea[])
                      AS v(id, nonce, mac, stream, seen, uploads, duplicates, samples, tail,
                           counter, tag)
                 WHERE d.id = v.id",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &ids,
                &nonces,
                &macs,
                &streams,
                &seen,
                &uploads,
                &duplicates,
                &samples,
                &tails,
                &counters,
                &tags,
            ],
        )
        .await?;
    }
    rollups::merge(tx, batch.rollups()).await?;
    write_codecs(tx, batch).await
}

async fn write_codecs(tx: &Transaction<'_>, batch: &IngestBatch<i64>) -> Result<(), StoreError> {
    let mut devices = Vec::new();
    let mut methods = Vec::new();
    let mut counts: [Vec<i64>; 4] = Default::default();
    for ((device, method), d) in batch.codecs() {
        devices.push(*device);
        methods.push(method.as_str());
        for (column, value) in
            counts
                .iter_mut()
                .zip([d.packets, d.failed, d.bytes, d.original_bytes])
        {
            column.push(big(value));
        }
    }
    if devices.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO device_codecs AS c (device, method, packets, failed, bytes, original_bytes)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[],
                                  $5::bigint[], $6::bigint[])
             ON CONFLICT (device, method) DO UPDATE SET
                packets = c.packets + excluded.packets, failed = c.failed + excluded.failed,
                bytes = c.bytes + excluded.bytes,
                original_bytes = c.original_bytes + excluded.original_bytes",
        )
        .await?;
    let [packets, failed, bytes, original] = &counts;
    tx.execute(
        &stmt,
        &[&devices, &methods, packets, failed, bytes, original],
    )
    .await?;
    Ok(())
}

/// The stored reply to the upload a device sent under `seal`'s nonce or counter.
async fn stored_summary(
    tx: &Transaction<'_>,
    device: i64,
    seal: &Seal,
) -> Result<Option<UploadSummary>, StoreError> {
    let (column, value) = duplicate_key(seal);
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT report FROM uploads WHERE device = $1 AND {column} = $2 ORDER BY id DESC LIMIT 1"
        ))
        .await?;
    let row = tx.query_opt(&stmt, &[&device, &value]).await?;
    Ok(row
        .map(|r| r.try_get::<_, String>(0))
        .transpose()?
        .and_then(|r| serde_json::from_str::<UploadSummary>(&r).ok()))
}
