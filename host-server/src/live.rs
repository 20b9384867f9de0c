//! Live outputs fed after each commit: WebSocket clients (a bounded
//! broadcast; lagging clients are closed) and MQTT (a bounded queue; a
//! broker outage drops messages and never touches ingest).

use std::sync::Arc;

use serde_json::{Value, json};
use solarwire_core::codec::Method;
use tokio::sync::{broadcast, mpsc};

use crate::clock::now_ms;
use crate::mqtt::MqttPublisher;
use crate::readings::{SampleJson, SampleMeta, sample_json};
use crate::store::Committed;

/// One stored upload as a JSON text, ready to send.
#[derive(Debug, Clone)]
pub struct LiveMessage {
    /// The device it belongs to (for `?device=` filters).
    pub device_id: Arc<str>,
    /// The `samples` message.
    pub json: Arc<str>,
}

/// The broadcast WebSocket clients subscribe to.
#[derive(Debug, Clone)]
pub struct LiveHub {
    ws: broadcast::Sender<LiveMessage>,
}

impl LiveHub {
    /// A hub holding at most `capacity` messages per slow client.
    pub fn new(capacity: usize) -> Self {
        Self {
            ws: broadcast::channel(capacity.max(1)).0,
        }
    }

    /// A new client's feed.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveMessage> {
        self.ws.subscribe()
    }

    /// Whether any client listens.
    pub fn has_clients(&self) -> bool {
        self.ws.receiver_count() > 0
    }

    /// Sends a message about `device_id` (an alert, a status change) to the clients.
    pub fn publish(&self, device_id: &str, json: String) {
        // No client listening is fine: nobody missed it.
        let _ = self.ws.send(LiveMessage {
            device_id: device_id.into(),
            json: json.into(),
        });
    }
}

/// Where committed uploads go.
pub struct Outputs {
    /// WebSocket clients.
    pub hub: LiveHub,
    /// The MQTT publisher, when configured.
    pub mqtt: Option<MqttPublisher>,
    /// Also publish the legacy `ecowatt/data/{id}` shape.
    pub mqtt_compat: bool,
}

/// Turns committed uploads into messages until the writer stops.
pub async fn fan_out(mut committed: mpsc::Receiver<Committed>, outputs: Outputs) {
    while let Some(c) = committed.recv().await {
        let ws = outputs.hub.has_clients();
        if !ws && outputs.mqtt.is_none() {
            continue;
        }
        let device = c.summary.device_id.clone();
        let text: Arc<str> = samples_message(&c).to_string().into();
        if ws {
            // No receiver left between the check and the send is fine: nobody missed it.
            let _ = outputs.hub.ws.send(LiveMessage {
                device_id: device.as_str().into(),
                json: text.clone(),
            });
        }
        if let Some(mqtt) = &outputs.mqtt {
            mqtt.publish(
                format!("solarwire/{device}/samples"),
                text.as_bytes().to_vec(),
            );
            if outputs.mqtt_compat {
                let legacy = legacy_message(&c).to_string();
                mqtt.publish(format!("ecowatt/data/{device}"), legacy.into_bytes());
            }
        }
    }
}

/// `{"type": "sample", "device_id", "upload_id", "nonce", "received_ms", "samples": […]}`.
fn samples_message(c: &Committed) -> Value {
    let samples: Vec<SampleJson> = c
        .samples
        .iter()
        .map(|s| {
            let meta = SampleMeta {
                t_ms: Some(s.t_ms.unwrap_or(c.received_ms)),
                device_time: s.t_ms.is_some(),
                approximate: s.approximate,
                upload_id: c.summary.upload_id,
                packet: s.packet,
            };
            sample_json(c.profile, meta, &s.registers)
        })
        .collect();
    json!({
        "type": "sample",
        "device_id": c.summary.device_id,
        "upload_id": c.summary.upload_id,
        "nonce": c.summary.nonce,
        "received_ms": c.received_ms,
        "samples": samples,
    })
}

/// The modular server's MQTT message (spec §8).
fn legacy_message(c: &Committed) -> Value {
    let values: Vec<u16> = c
        .samples
        .iter()
        .flat_map(|s| s.registers.iter().map(|&(_, v)| v))
        .collect();
    let layout: Vec<u8> = c
        .samples
        .first()
        .map(|s| s.registers.iter().map(|&(id, _)| id).collect())
        .unwrap_or_default();
    let methods: Vec<&str> = c
        .summary
        .packets
        .iter()
        .filter_map(|p| p.method.map(Method::code))
        .collect();
    json!({
        "device_id": c.summary.device_id,
        "timestamp": now_ms() as f64 / 1000.0,
        "values": values,
        "sample_count": c.samples.len(),
        "registers_per_sample": layout.len(),
        "register_layout": layout,
        "packet_count": c.summary.packets.len(),
        "compression_stats": {
            "methods": methods,
            "total_samples": c.samples.len(),
            "packets_processed": c.summary.packets.len(),
        },
    })
}
