//! A Debian mosquitto broker on a loopback port, started by the test, and
//! an MQTT client that publishes uploads the way `--mqtt-ingest` reads them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The ingest topic filter the tests' servers subscribe to.
pub const INGEST_FILTER: &str = "solarwire/ingest/+";

pub fn mosquitto() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file())
        .expect("mosquitto is not installed: run `just setup-services`")
}

/// A broker process, stopped when dropped.
pub struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start_broker(dir: &Path, port: u16) -> Broker {
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .unwrap();
    let child = Command::new(mosquitto())
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let broker = Broker(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return broker;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("mosquitto did not start");
}

/// Waits for a condition that must come true (an event, not a deadline to meet).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..1200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// A test client: publishes uploads on `solarwire/ingest/{device}` and
/// receives every reply as (topic, JSON).
pub struct MqttDevice {
    client: AsyncClient,
    /// Replies in arrival order.
    pub replies: mpsc::UnboundedReceiver<(String, Value)>,
}

impl MqttDevice {
    /// Connects as `id` and subscribes to every reply topic.
    pub async fn connect(port: u16, id: &str) -> Self {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut events) = AsyncClient::new(options, 1024);
        for filter in ["solarwire/reply/#", "solarwire/reply"] {
            client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        }
        let (tx, replies) = mpsc::unbounded_channel();
        let (ready_tx, mut ready) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut acks = 0;
            while let Ok(event) = events.poll().await {
                match event {
                    Event::Incoming(Packet::SubAck(_)) => {
                        acks += 1;
                        if acks == 2 {
                            let _ = ready_tx.send(());
                        }
                    }
                    Event::Incoming(Packet::Publish(p)) => {
                        let json = serde_json::from_slice(&p.payload).unwrap();
                        let _ = tx.send((p.topic, json));
                    }
                    _ => {}
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), ready.recv())
            .await
            .expect("no SUBACK");
        Self { client, replies }
    }

    /// Publishes a raw message on the device's ingest topic (QoS 1).
    pub async fn publish(&self, device: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(
                format!("solarwire/ingest/{device}"),
                QoS::AtLeastOnce,
                false,
                payload.into(),
            )
            .await
            .unwrap();
    }

    /// Publishes an envelope as `{device_id, envelope}`.
    pub async fn upload(&self, device: &str, envelope: &str) {
        let envelope: Value = serde_json::from_str(envelope).unwrap();
        let message = json!({ "device_id": device, "envelope": envelope });
        self.publish(device, serde_json::to_vec(&message).unwrap())
            .await;
    }

    /// The next reply (a minute at most).
    pub async fn reply(&mut self) -> (String, Value) {
        tokio::time::timeout(Duration::from_secs(60), self.replies.recv())
            .await
            .expect("no reply")
            .expect("the reply stream ended")
    }
}
