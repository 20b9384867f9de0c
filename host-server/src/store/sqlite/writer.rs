//! The single writer thread: group commit of verified uploads.
//!
//! Requests queue on a bounded channel. The writer takes everything queued
//! (up to a batch size), runs ONE immediate transaction in which, per upload,
//! it takes the replay decision against the device's stored nonce and MAC,
//! decodes with the device's stored stream state, and inserts the raw body,
//! the samples and the updated state; it commits (WAL, `synchronous=FULL`),
//! and only then answers each request. While one batch commits the next
//! one queues, so one fsync serves many uploads.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use solarwire_core::envelope::Nonce;
use solarwire_core::replay::{Freshness, LastAccepted, MacTag, decide};
use solarwire_core::upload::{Format, Limits, Sample, StreamState};
use tokio::sync::{mpsc, oneshot};

use crate::store::{Committed, IngestError, IngestJob, IngestOutcome, StoreError, UploadSummary};
use crate::telemetry::Telemetry;

/// The answer to one queued upload.
type Answer = Result<IngestOutcome, IngestError>;

/// One queued upload and where its answer goes.
pub(crate) struct Queued {
    job: IngestJob,
    answer: oneshot::Sender<Answer>,
}

/// Maintenance run on the writer's connection between batches (retention),
/// so every write to the database goes through this one thread.
type Task = Box<dyn FnOnce(&mut Connection) + Send>;

/// What the writer thread is asked to do.
pub(crate) enum Work {
    /// Store an upload.
    Upload(Queued),
    /// Run maintenance.
    Task(Task),
}

/// Where committed uploads go for the live outputs; `wanted` says whether
/// anyone listens, so nothing is handed over for nobody.
#[derive(Clone)]
pub(crate) struct CommitSink {
    pub(crate) events: mpsc::Sender<Committed>,
    pub(crate) wanted: Arc<dyn Fn() -> bool + Send + Sync>,
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

    /// Runs `f` on the writer's connection between batches and returns its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, rx) = oneshot::channel();
        let task: Task = Box::new(move |conn| {
            let _ = answer.send(f(conn));
        });
        let stopped = || StoreError("the writer has stopped".into());
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

/// Writer settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterConfig {
    /// Queued uploads before requests get 503.
    pub(crate) queue: usize,
    /// Uploads per transaction at most.
    pub(crate) batch: usize,
    /// Bounds for decoding.
    pub(crate) limits: Limits,
}

/// Starts the writer thread on its own connection.
pub(crate) fn spawn(
    conn: Connection,
    config: WriterConfig,
    sink: Option<CommitSink>,
    telemetry: Arc<Telemetry>,
) -> Result<WriterHandle, StoreError> {
    let (queue, rx) = mpsc::channel(config.queue.max(1));
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    std::thread::Builder::new()
        .name("solarwire-writer".into())
        .spawn(move || run(conn, rx, config, sink, &flag, &telemetry))
        .map_err(|e| StoreError(format!("cannot start the writer thread: {e}")))?;
    Ok(WriterHandle { queue, healthy })
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Work>,
    config: WriterConfig,
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
        }
        while batch.len() < config.batch && task.is_none() {
            match rx.try_recv() {
                Ok(Work::Upload(next)) => batch.push(next),
                Ok(Work::Task(t)) => task = Some(t),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            if let Some(task) = task.take() {
                task(&mut conn);
            }
            continue;
        }
        let started = std::time::Instant::now();
        let jobs: Vec<&IngestJob> = batch.iter().map(|q| &q.job).collect();
        let result = commit_batch(&mut conn, &jobs, &config.limits);
        telemetry.batch_committed(batch.len(), started.elapsed(), result.is_ok());
        match result {
            Ok(results) => {
                healthy.store(true, Ordering::Relaxed);
                let wanted = sink.as_ref().filter(|s| (s.wanted)());
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
        if let Some(task) = task.take() {
            task(&mut conn);
        }
    }
}

/// A device's replay and decoding state while a batch runs.
struct DeviceState {
    id: i64,
    last: Option<LastAccepted>,
    stream: StreamState,
    last_seen_ms: Option<u64>,
    uploads: u64,
    duplicates: u64,
    samples: u64,
}

/// Per-codec counters accumulated over a batch.
#[derive(Default)]
struct CodecDelta {
    packets: u64,
    failed: u64,
    bytes: u64,
    original_bytes: u64,
}

/// The batch's working set, written back once before the commit.
struct Batch<'t> {
    tx: Transaction<'t>,
    limits: Limits,
    devices: HashMap<String, DeviceState>,
    codecs: HashMap<(i64, String), CodecDelta>,
    next_upload_id: i64,
}

type JobResult = (Answer, Option<Committed>);

fn commit_batch(
    conn: &mut Connection,
    jobs: &[&IngestJob],
    limits: &Limits,
) -> Result<Vec<JobResult>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let max_id: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM uploads", [], |r| r.get(0))?;
    let mut batch = Batch {
        tx,
        limits: *limits,
        devices: HashMap::new(),
        codecs: HashMap::new(),
        next_upload_id: max_id + 1,
    };
    let results = jobs
        .iter()
        .map(|job| batch.ingest(job))
        .collect::<Result<Vec<_>, _>>()?;
    batch.write_back()?;
    batch.tx.commit()?;
    Ok(results)
}

impl Batch<'_> {
    fn ingest(&mut self, job: &IngestJob) -> Result<JobResult, StoreError> {
        if !self.devices.contains_key(&job.device) {
            match self.load_device(&job.device, job.auto_register)? {
                Some(state) => self.devices.insert(job.device.clone(), state),
                None => return Ok((Err(IngestError::UnknownDevice), None)),
            };
        }
        let Some(state) = self.devices.get_mut(&job.device) else {
            return Ok((Err(IngestError::UnknownDevice), None));
        };
        if let Some((nonce, mac)) = &job.seal {
            match decide(state.last.as_ref(), *nonce, mac) {
                Err(e) => return Ok((Err(IngestError::Replay(e)), None)),
                Ok(Freshness::Duplicate) => {
                    state.duplicates += 1;
                    let id = state.id;
                    let summary = stored_summary(&self.tx, id, &job.device, *nonce)?;
                    return Ok((Ok(IngestOutcome::Duplicate(summary)), None));
                }
                Ok(Freshness::Fresh) => {
                    state.last = Some(LastAccepted {
                        nonce: *nonce,
                        mac: Some(*mac),
                    });
                }
            }
        }
        let mut decoded = job
            .upload
            .decode(&mut state.stream, &self.limits, Some(job.received_ms));
        crate::readings::drop_sentinels(&mut decoded.samples);

        let upload_id = self.next_upload_id;
        self.next_upload_id += 1;
        let nonce = job.seal.as_ref().map(|(n, _)| n.0);
        let summary = UploadSummary::new(upload_id, &job.device, nonce, &decoded);
        state.uploads += 1;
        state.samples += decoded.samples.len() as u64;
        state.last_seen_ms = state.last_seen_ms.max(Some(job.received_ms));
        let device = state.id;
        self.insert_upload(device, job, &summary)?;
        self.insert_samples(device, upload_id, job.received_ms, &decoded.samples)?;
        for p in &summary.packets {
            let method = p.method.clone().unwrap_or_else(|| "unknown".into());
            let delta = self.codecs.entry((device, method)).or_default();
            delta.packets += 1;
            delta.failed += u64::from(p.outcome == "failed");
            delta.bytes += p.size as u64;
            delta.original_bytes += p.original_size as u64;
        }
        let committed = Committed {
            received_ms: job.received_ms,
            summary: summary.clone(),
            samples: decoded.samples,
        };
        Ok((Ok(IngestOutcome::Stored(summary)), Some(committed)))
    }

    fn load_device(
        &self,
        device: &str,
        auto_register: bool,
    ) -> Result<Option<DeviceState>, StoreError> {
        let row = self
            .tx
            .prepare_cached(
                "SELECT id, last_nonce, last_mac, stream_state FROM devices
                 WHERE device_id = ?1 AND retired_ms IS NULL",
            )?
            .query_row([device], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<u32>>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            })
            .optional()?;
        let (id, nonce, mac, stream) = match row {
            Some(row) => row,
            None if auto_register => {
                // A retired device keeps its row (and data): never re-register it.
                if self.tx.execute(
                    "INSERT INTO devices (device_id, created_ms) VALUES (?1, ?2)
                     ON CONFLICT (device_id) DO NOTHING",
                    params![device, crate::clock::now_ms()],
                )? == 0
                {
                    return Ok(None);
                }
                tracing::info!(device, "device registered on its first valid upload");
                (self.tx.last_insert_rowid(), None, None, None)
            }
            None => return Ok(None),
        };
        let stream = match stream.map(|b| StreamState::from_bytes(&b)) {
            Some(Ok(state)) => state,
            Some(Err(e)) => {
                tracing::warn!(device, error = %e, "stored stream state unreadable; history dropped");
                StreamState::new()
            }
            None => StreamState::new(),
        };
        let last = nonce.map(|n| LastAccepted {
            nonce: Nonce(n),
            mac: mac.and_then(|m| <[u8; 32]>::try_from(m.as_slice()).ok().map(MacTag)),
        });
        Ok(Some(DeviceState {
            id,
            last,
            stream,
            last_seen_ms: None,
            uploads: 0,
            duplicates: 0,
            samples: 0,
        }))
    }

    fn insert_upload(
        &self,
        device: i64,
        job: &IngestJob,
        summary: &UploadSummary,
    ) -> Result<(), StoreError> {
        let report = serde_json::to_string(summary).map_err(|e| StoreError(e.to_string()))?;
        let format = match job.format {
            Format::Aggregated => "aggregated",
            Format::LegacyProcess => "legacy_process",
        };
        self.tx
            .prepare_cached(
                "INSERT INTO uploads (id, device, nonce, received_ms, format, body, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                summary.upload_id,
                device,
                summary.nonce,
                job.received_ms,
                format,
                job.raw.as_ref(),
                report
            ])?;
        Ok(())
    }

    fn insert_samples(
        &self,
        device: i64,
        upload_id: i64,
        received_ms: u64,
        samples: &[Sample],
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO samples (device, t_ms, upload, packet, flags, registers)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut blob = Vec::new();
        for s in samples {
            super::samples::encode_registers(&s.registers, &mut blob);
            let flags = super::samples::flags(s.approximate, s.t_ms.is_some());
            stmt.execute(params![
                device,
                s.t_ms.unwrap_or(received_ms),
                upload_id,
                s.packet,
                flags,
                blob
            ])?;
        }
        Ok(())
    }

    fn write_back(&self) -> Result<(), StoreError> {
        let mut update = self.tx.prepare_cached(
            "UPDATE devices SET last_nonce = ?2, last_mac = ?3, stream_state = ?4,
                last_seen_ms = MAX(COALESCE(last_seen_ms, 0), COALESCE(?5, 0)),
                uploads = uploads + ?6, duplicates = duplicates + ?7, samples = samples + ?8
             WHERE id = ?1",
        )?;
        for state in self.devices.values() {
            update.execute(params![
                state.id,
                state.last.map(|l| l.nonce.0),
                state.last.and_then(|l| l.mac).map(|m| m.0.to_vec()),
                state.stream.to_bytes(),
                state.last_seen_ms,
                state.uploads,
                state.duplicates,
                state.samples
            ])?;
        }
        let mut upsert = self.tx.prepare_cached(
            "INSERT INTO device_codecs (device, method, packets, failed, bytes, original_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (device, method) DO UPDATE SET
                packets = packets + excluded.packets, failed = failed + excluded.failed,
                bytes = bytes + excluded.bytes,
                original_bytes = original_bytes + excluded.original_bytes",
        )?;
        for ((device, method), d) in &self.codecs {
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
}

/// The stored answer to the upload a device sent under `nonce`.
fn stored_summary(
    tx: &Transaction<'_>,
    device: i64,
    device_id: &str,
    nonce: Nonce,
) -> Result<UploadSummary, StoreError> {
    let report: Option<String> = tx
        .prepare_cached(
            "SELECT report FROM uploads WHERE device = ?1 AND nonce = ?2 ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![device, nonce.0], |r| r.get(0))
        .optional()?;
    let parsed = report.and_then(|r| serde_json::from_str::<UploadSummary>(&r).ok());
    Ok(parsed.unwrap_or_else(|| UploadSummary {
        upload_id: 0,
        device_id: device_id.to_owned(),
        nonce: Some(nonce.0),
        samples: 0,
        values: 0,
        packets: Vec::new(),
    }))
}
