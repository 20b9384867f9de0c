//! Publishing to an MQTT broker (rumqttc). The event loop runs in its own
//! task and is polled continuously; publishing only `try_publish`es into
//! the client's bounded queue, so a slow or absent broker costs dropped
//! messages (counted), never a blocked upload.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use crate::telemetry::Telemetry;

/// Messages queued for the broker before new ones are dropped.
const QUEUE: usize = 4096;

/// A connected (or reconnecting) publisher.
#[derive(Clone)]
pub struct MqttPublisher {
    client: AsyncClient,
    telemetry: Arc<Telemetry>,
}

/// Splits `mqtt://host:port` (port 1883 when absent).
///
/// # Errors
/// A message for anything else.
pub fn parse_url(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| format!("MQTT URL {url:?} must start with mqtt://"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse()
                .map_err(|_| format!("bad port in MQTT URL {url:?}"))?,
        ),
        None => (rest, 1883),
    };
    if host.is_empty() {
        return Err(format!("no host in MQTT URL {url:?}"));
    }
    Ok((host.to_owned(), port))
}

impl MqttPublisher {
    /// Starts the client and its event loop task.
    ///
    /// # Errors
    /// When the URL cannot be parsed.
    pub fn start(url: &str, telemetry: Arc<Telemetry>) -> Result<Self, String> {
        let (host, port) = parse_url(url)?;
        let id = format!(
            "solarwire-{}-{}",
            std::process::id(),
            crate::clock::now_ms()
        );
        let mut options = MqttOptions::new(id, host, port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut events) = AsyncClient::new(options, QUEUE);
        let status = telemetry.clone();
        tokio::spawn(async move {
            let mut was_up = true;
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        tracing::info!("MQTT broker connected");
                        was_up = true;
                        status.mqtt_connected(true);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        status.mqtt_connected(false);
                        if was_up {
                            tracing::warn!(error = %e, "MQTT broker unreachable; retrying every second");
                            was_up = false;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Self { client, telemetry })
    }

    /// Queues a message; drops it (and counts the drop) when the queue is full.
    pub fn publish(&self, topic: String, payload: Vec<u8>) {
        let queued = self
            .client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
            .is_ok();
        self.telemetry.mqtt_message(queued);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_parse() {
        assert_eq!(
            super::parse_url("mqtt://127.0.0.1:18830"),
            Ok(("127.0.0.1".into(), 18830))
        );
        assert_eq!(
            super::parse_url("mqtt://broker"),
            Ok(("broker".into(), 1883))
        );
        assert!(super::parse_url("http://x").is_err());
        assert!(super::parse_url("mqtt://:1").is_err());
    }
}
