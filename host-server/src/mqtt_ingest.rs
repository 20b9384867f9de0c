//! Uploads arriving over MQTT (`--mqtt-ingest FILTER`).
//!
//! The server subscribes to `$share/solarwire/FILTER` with QoS 1, so
//! replicas on one broker split the messages. Each message is
//! `{"device_id": "...", "envelope": {...}}`, the envelope being exactly the
//! body of `POST /aggregated/{device_id}`; it runs through
//! [`crate::ingest::ingest`] like an HTTP upload, and the answer the HTTP
//! route would give (the reply JSON, or `{"error", "message"}`) is published
//! to [`reply_topic`]. The message is acknowledged to the broker only after
//! that: a crash before the commit means the broker redelivers it (the
//! session is persistent under a stable client id), and a redelivered
//! envelope that was already stored is answered as a duplicate.
//!
//! Messages of one device are handled in arrival order (a lane per hash of
//! the device id), different devices concurrently. A full write queue or an
//! unavailable store is retried in place rather than answered: the broker
//! still holds the message. Messages waiting in the lanes are bounded by the
//! broker's in-flight window for this client (unacknowledged messages).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::ingest::{Refusal, Route, ingest};

/// Replies go to `solarwire/reply/{device_id}`, or to `solarwire/reply`
/// itself for a message naming no valid device.
pub const REPLY_PREFIX: &str = "solarwire/reply";
/// The shared-subscription group every server joins.
const SHARE: &str = "$share/solarwire/";
/// Lanes handling messages concurrently (one device always in the same lane).
const LANES: usize = 16;
/// Bytes a message may add around its envelope (`device_id` and the keys).
const WRAPPER_BYTES: usize = 1024;
/// Largest MQTT packet read from the broker. A larger one breaks the
/// connection (and would be redelivered): set the broker's own message
/// size limit (mosquitto `message_size_limit`) at or below this.
const MAX_PACKET: usize = 16 << 20;
/// Outgoing requests (replies, acks) queued for the event loop.
const REQUESTS: usize = 1024;

/// A message's fields.
#[derive(Deserialize)]
struct Message<'a> {
    device_id: String,
    #[serde(borrow)]
    envelope: &'a RawValue,
}

/// A message read: the device it names (when valid) and its envelope, or
/// the error to answer.
struct Incoming {
    publish: Publish,
    device: Option<String>,
    envelope: Result<Bytes, ApiError>,
}

/// The topic a device's answers are published to.
pub fn reply_topic(device: Option<&str>) -> String {
    match device {
        Some(device) => format!("{REPLY_PREFIX}/{device}"),
        None => REPLY_PREFIX.to_owned(),
    }
}

/// Checks an ingest topic filter: valid MQTT, not a `$` topic, and unable
/// to match the reply topics (the server would consume its own replies).
///
/// # Errors
/// A message for people.
pub fn check_filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() || filter.starts_with('$') || !rumqttc::valid_filter(filter) {
        return Err(format!(
            "--mqtt-ingest {filter:?} is not a valid MQTT topic filter (e.g. solarwire/ingest/+)"
        ));
    }
    if may_match_replies(filter) {
        return Err(format!(
            "--mqtt-ingest {filter:?} would also match the reply topics {REPLY_PREFIX}/…"
        ));
    }
    Ok(())
}

/// Whether `filter` can match `solarwire/reply` or a topic below it.
fn may_match_replies(filter: &str) -> bool {
    let mut levels = filter.split('/');
    for prefix in REPLY_PREFIX.split('/') {
        match levels.next() {
            Some("#") => return true,
            Some("+") => {}
            Some(level) if level == prefix => {}
            _ => return false,
        }
    }
    true
}

/// A client id that stays the same across restarts of this server (the
/// broker keeps its session and unacknowledged messages under it) and
/// differs between servers: derived from the host name, the data directory
/// and the listen address (several servers may share one host and directory).
pub fn default_client_id(data_dir: &std::path::Path, listen: std::net::SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let mut hash = Sha256::new();
    hash.update(host.trim().as_bytes());
    hash.update([0]);
    hash.update(dir.as_os_str().as_encoded_bytes());
    hash.update([0]);
    hash.update(listen.to_string().as_bytes());
    format!("solarwire-ingest-{}", hex::encode(&hash.finalize()[..8]))
}

/// Connects, subscribes and starts handling messages.
///
/// # Errors
/// A bad URL or filter.
pub fn start(
    url: &str,
    filter: &str,
    client_id: String,
    state: Arc<AppState>,
) -> Result<Vec<JoinHandle<()>>, String> {
    check_filter(filter)?;
    let (host, port) = crate::mqtt::parse_url(url)?;
    let mut options = MqttOptions::new(client_id, host, port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    let (client, mut events) = AsyncClient::new(options, REQUESTS);
    let mut tasks = Vec::with_capacity(LANES + 1);
    let mut lanes = Vec::with_capacity(LANES);
    for _ in 0..LANES {
        // Unbounded: the broker's in-flight window bounds what arrives unacknowledged.
        let (tx, rx) = mpsc::unbounded_channel();
        lanes.push(tx);
        tasks.push(tokio::spawn(lane(rx, client.clone(), state.clone())));
    }
    let shared = format!("{SHARE}{filter}");
    let body_limit = state.body_limit;
    let telemetry = state.telemetry.clone();
    tasks.push(tokio::spawn(async move {
        let mut was_up = true;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!(filter = %shared, "MQTT ingest connected");
                    was_up = true;
                    if client.try_subscribe(shared.clone(), QoS::AtLeastOnce).is_err() {
                        tracing::warn!("MQTT ingest could not queue its subscription");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => telemetry.mqtt_ingest_subscribed(true),
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let incoming = read(publish, body_limit);
                    let lane = lane_of(incoming.device.as_deref());
                    // A lane ends only with the runtime.
                    let _ = lanes[lane].send(incoming);
                }
                Ok(_) => {}
                Err(e) => {
                    telemetry.mqtt_ingest_subscribed(false);
                    if was_up {
                        tracing::warn!(error = %e, "MQTT ingest broker unreachable; retrying every second");
                        was_up = false;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }));
    Ok(tasks)
}

/// Reads a message within the size limits of an HTTP upload.
fn read(publish: Publish, body_limit: usize) -> Incoming {
    let (device, envelope) = parse(&publish.payload, body_limit);
    Incoming {
        publish,
        device,
        envelope,
    }
}

fn parse(payload: &[u8], body_limit: usize) -> (Option<String>, Result<Bytes, ApiError>) {
    if payload.len() > body_limit.saturating_add(WRAPPER_BYTES) {
        let e = ApiError::too_large(format!(
            "the message is over {body_limit} bytes (and {WRAPPER_BYTES} for its wrapper)"
        ));
        return (None, Err(e));
    }
    let message: Message<'_> = match serde_json::from_slice(payload) {
        Ok(message) => message,
        Err(e) => {
            let e = ApiError::bad_request(
                "malformed",
                format!("the message is not {{\"device_id\", \"envelope\"}} JSON: {e}"),
            );
            return (None, Err(e));
        }
    };
    if let Err(m) = crate::device_id::check(&message.device_id) {
        return (None, Err(ApiError::bad_request("bad_device_id", m)));
    }
    let envelope = message.envelope.get();
    let envelope = if envelope.len() > body_limit {
        Err(ApiError::too_large(format!(
            "the envelope is over {body_limit} bytes"
        )))
    } else {
        Ok(Bytes::copy_from_slice(envelope.as_bytes()))
    };
    (Some(message.device_id), envelope)
}

/// The lane of a device (messages naming none share lane 0).
fn lane_of(device: Option<&str>) -> usize {
    // FNV-1a: stable, and enough to spread device ids.
    let hash = device.map_or(0, |d| {
        d.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    });
    usize::try_from(hash % LANES as u64).unwrap_or(0)
}

/// Handles a lane's messages one after another: ingest, reply, then ack.
async fn lane(
    mut messages: mpsc::UnboundedReceiver<Incoming>,
    client: AsyncClient,
    state: Arc<AppState>,
) {
    while let Some(incoming) = messages.recv().await {
        let answer = match incoming.envelope {
            Ok(body) => answer(&state, incoming.device.clone().unwrap_or_default(), body).await,
            Err(e) => {
                state.telemetry.rejected(e.code);
                error_json(&e)
            }
        };
        let topic = reply_topic(incoming.device.as_deref());
        if let Err(e) = client.publish(topic, QoS::AtLeastOnce, false, answer).await {
            tracing::warn!(error = %e, "MQTT ingest reply not queued");
        }
        if let Err(e) = client.ack(&incoming.publish).await {
            tracing::warn!(error = %e, "MQTT ingest ack not queued");
        }
    }
}

/// Ingests until the answer is final: a full write queue or an unavailable
/// store is retried after its `Retry-After` (the message stays unacked).
async fn answer(state: &AppState, device: String, body: Bytes) -> Vec<u8> {
    loop {
        match ingest(state, Route::Aggregated(device.clone()), body.clone()).await {
            Ok(outcome) => {
                return serde_json::to_vec(&crate::reply::aggregated(&outcome)).unwrap_or_default();
            }
            Err(Refusal::Busy | Refusal::Unavailable) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return error_json(&ApiError::from(e)),
        }
    }
}

fn error_json(e: &ApiError) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody {
        error: e.code,
        message: e.message.clone(),
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_that_could_eat_replies_are_refused() {
        for ok in [
            "solarwire/ingest/+",
            "devices/+/upload",
            "devices/#",
            "solarwire",
        ] {
            assert_eq!(check_filter(ok), Ok(()), "{ok}");
        }
        for bad in [
            "#",
            "+/#",
            "solarwire/#",
            "solarwire/+",
            "solarwire/+/upload",
            "+/reply/x",
            "solarwire/reply",
            "$SYS/#",
            "a/#/b",
            "",
        ] {
            assert!(check_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_are_read_within_limits() {
        let (device, envelope) = parse(br#"{"device_id":"D1","envelope":{"a": 1}}"#, 64);
        assert_eq!(device.as_deref(), Some("D1"));
        assert_eq!(envelope.unwrap(), Bytes::from_static(br#"{"a": 1}"#));
        let (device, envelope) = parse(br#"{"device_id":"D1","envelope":{"a":"xxxxxxxx"}}"#, 8);
        assert_eq!(device.as_deref(), Some("D1"));
        assert_eq!(envelope.unwrap_err().code, "too_large");
        let (device, envelope) = parse(b"not json", 64);
        assert_eq!((device, envelope.unwrap_err().code), (None, "malformed"));
        let (device, envelope) = parse(br#"{"device_id":"a/b","envelope":{}}"#, 64);
        assert_eq!(
            (device, envelope.unwrap_err().code),
            (None, "bad_device_id")
        );
        let big = vec![b' '; 64 + WRAPPER_BYTES + 1];
        assert_eq!(parse(&big, 64).1.unwrap_err().code, "too_large");
    }

    #[test]
    fn a_device_keeps_its_lane() {
        assert_eq!(lane_of(Some("ESP32_001")), lane_of(Some("ESP32_001")));
        assert!(lane_of(Some("x")) < LANES);
        assert_eq!(reply_topic(Some("D1")), "solarwire/reply/D1");
        assert_eq!(reply_topic(None), "solarwire/reply");
    }
}
