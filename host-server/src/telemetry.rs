//! What the server counts, for `/status` (JSON) and `/metrics` (Prometheus).
//!
//! The counters live here as plain atomics (one source of truth); `/metrics`
//! copies them into a per-server Prometheus recorder when rendered, so two
//! servers in one process (the tests) never mix their numbers.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metrics::{Histogram, Key, Label, Metadata, Recorder as _};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use serde::Serialize;
use solarwire_core::codec::Method;
use solarwire_core::upload::Outcome;

use crate::store::UploadSummary;

/// Packets and bytes of one codec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CodecCounters {
    /// Packets received.
    pub packets: u64,
    /// Packets that failed to decode.
    pub failed: u64,
    /// Compressed bytes.
    pub bytes: u64,
    /// Raw size of the decoded values.
    pub original_bytes: u64,
}

/// The server's counters.
pub struct Telemetry {
    started: Instant,
    recorder: PrometheusRecorder,
    stored: AtomicU64,
    duplicates: AtomicU64,
    samples: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
    live_dropped: AtomicU64,
    mqtt_published: AtomicU64,
    mqtt_dropped: AtomicU64,
    mqtt_connected: AtomicBool,
    mqtt_ingest_subscribed: AtomicBool,
    ws_clients: AtomicI64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    codecs: Mutex<BTreeMap<String, CodecCounters>>,
    batch_size: Histogram,
    commit_seconds: Histogram,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

impl Telemetry {
    /// Fresh counters.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let batch_size =
            recorder.register_histogram(&Key::from_name("solarwire_batch_uploads"), &metadata());
        let commit_seconds =
            recorder.register_histogram(&Key::from_name("solarwire_commit_seconds"), &metadata());
        Self {
            started: Instant::now(),
            recorder,
            stored: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            samples: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
            live_dropped: AtomicU64::new(0),
            mqtt_published: AtomicU64::new(0),
            mqtt_dropped: AtomicU64::new(0),
            mqtt_connected: AtomicBool::new(false),
            mqtt_ingest_subscribed: AtomicBool::new(false),
            ws_clients: AtomicI64::new(0),
            rejected: Mutex::new(BTreeMap::new()),
            codecs: Mutex::new(BTreeMap::new()),
            batch_size,
            commit_seconds,
        }
    }

    /// A committed upload.
    pub fn stored(&self, summary: &UploadSummary) {
        self.stored.fetch_add(1, Ordering::Relaxed);
        self.samples
            .fetch_add(summary.samples as u64, Ordering::Relaxed);
        if let Ok(mut codecs) = self.codecs.lock() {
            for p in &summary.packets {
                let c = codecs
                    .entry(p.method.map_or("unknown", Method::code).to_owned())
                    .or_default();
                c.packets += 1;
                c.failed += u64::from(p.outcome == Outcome::Failed);
                c.bytes += p.size as u64;
                c.original_bytes += p.original_size as u64;
            }
        }
    }

    /// An identical resend answered as a duplicate.
    pub fn duplicate(&self) {
        self.duplicates.fetch_add(1, Ordering::Relaxed);
    }

    /// A refused request, by error code.
    pub fn rejected(&self, reason: &'static str) {
        if let Ok(mut r) = self.rejected.lock() {
            *r.entry(reason).or_default() += 1;
        }
    }

    /// One writer transaction.
    pub fn batch_committed(&self, uploads: usize, took: Duration, ok: bool) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        self.batch_size.record(uploads as f64);
        self.commit_seconds.record(took.as_secs_f64());
    }

    /// A committed upload not passed to the live outputs (their queue was full).
    pub fn live_dropped(&self) {
        self.live_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// An MQTT message handed to the client, or dropped because its queue was full.
    pub fn mqtt_message(&self, queued: bool) {
        let counter = if queued {
            &self.mqtt_published
        } else {
            &self.mqtt_dropped
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The broker connection went up or down.
    pub fn mqtt_connected(&self, up: bool) {
        self.mqtt_connected.store(up, Ordering::Relaxed);
    }

    /// The MQTT ingest subscription was granted, or its connection dropped.
    pub fn mqtt_ingest_subscribed(&self, up: bool) {
        self.mqtt_ingest_subscribed.store(up, Ordering::Relaxed);
    }

    /// A WebSocket client connected (+1) or left (−1).
    pub fn ws_clients(&self, delta: i64) {
        self.ws_clients.fetch_add(delta, Ordering::Relaxed);
    }

    /// Seconds since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// A snapshot for `/status`.
    pub fn snapshot(&self) -> Snapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            uptime_s: self.uptime().as_secs(),
            uploads_stored: load(&self.stored),
            uploads_duplicate: load(&self.duplicates),
            samples_stored: load(&self.samples),
            batches: load(&self.batches),
            failed_batches: load(&self.failed_batches),
            live_dropped: load(&self.live_dropped),
            rejected: self.rejected.lock().map(|r| r.clone()).unwrap_or_default(),
            codecs: self.codecs.lock().map(|c| c.clone()).unwrap_or_default(),
            mqtt_connected: self.mqtt_connected.load(Ordering::Relaxed),
            mqtt_ingest_subscribed: self.mqtt_ingest_subscribed.load(Ordering::Relaxed),
            mqtt_published: load(&self.mqtt_published),
            mqtt_dropped: load(&self.mqtt_dropped),
            ws_clients: self.ws_clients.load(Ordering::Relaxed),
        }
    }

    /// The Prometheus text exposition of every counter.
    pub fn render_prometheus(&self) -> String {
        let s = self.snapshot();
        let set = |name: &'static str, labels: Vec<Label>, v: u64| {
            self.recorder
                .register_counter(&Key::from_parts(name, labels), &metadata())
                .absolute(v);
        };
        let gauge = |name: &'static str, v: f64| {
            self.recorder
                .register_gauge(&Key::from_name(name), &metadata())
                .set(v);
        };
        let outcome = |o: &'static str| vec![Label::new("outcome", o)];
        set(
            "solarwire_uploads_total",
            outcome("stored"),
            s.uploads_stored,
        );
        set(
            "solarwire_uploads_total",
            outcome("duplicate"),
            s.uploads_duplicate,
        );
        set("solarwire_samples_total", vec![], s.samples_stored);
        set("solarwire_batches_total", vec![], s.batches);
        set("solarwire_batches_failed_total", vec![], s.failed_batches);
        set("solarwire_live_dropped_total", vec![], s.live_dropped);
        set("solarwire_mqtt_published_total", vec![], s.mqtt_published);
        set("solarwire_mqtt_dropped_total", vec![], s.mqtt_dropped);
        for (reason, n) in &s.rejected {
            set(
                "solarwire_rejected_total",
                vec![Label::new("reason", *reason)],
                *n,
            );
        }
        for (method, c) in &s.codecs {
            let m = || vec![Label::new("method", method.clone())];
            set("solarwire_packets_total", m(), c.packets);
            set("solarwire_packets_failed_total", m(), c.failed);
            set("solarwire_packet_bytes_total", m(), c.bytes);
            set(
                "solarwire_packet_original_bytes_total",
                m(),
                c.original_bytes,
            );
        }
        gauge(
            "solarwire_mqtt_connected",
            f64::from(u8::from(s.mqtt_connected)),
        );
        gauge("solarwire_ws_clients", s.ws_clients as f64);
        gauge("solarwire_uptime_seconds", s.uptime_s as f64);
        self.recorder.handle().render()
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Seconds since start.
    pub uptime_s: u64,
    /// Uploads committed since start.
    pub uploads_stored: u64,
    /// Identical resends answered since start.
    pub uploads_duplicate: u64,
    /// Samples committed since start.
    pub samples_stored: u64,
    /// Writer transactions.
    pub batches: u64,
    /// Writer transactions that failed.
    pub failed_batches: u64,
    /// Committed uploads the live outputs missed (queue full).
    pub live_dropped: u64,
    /// Refused requests by error code.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Packets per codec since start.
    pub codecs: BTreeMap<String, CodecCounters>,
    /// Whether the MQTT broker is connected.
    pub mqtt_connected: bool,
    /// Whether the MQTT ingest subscription is in place.
    pub mqtt_ingest_subscribed: bool,
    /// MQTT messages queued for the broker.
    pub mqtt_published: u64,
    /// MQTT messages dropped (queue full).
    pub mqtt_dropped: u64,
    /// Open WebSocket connections.
    pub ws_clients: i64,
}
