//! `GET /ws[?device=ID]`: stored samples as JSON messages, live.
//!
//! Each client reads from a bounded broadcast; a client that falls behind
//! is closed (1008) rather than buffered without end. Inbound frames are
//! capped small: clients have nothing to say but close.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::ws::{Message, WebSocket, Ws};
use warp::{Filter, Reply};

use super::error::ApiError;
use super::with_state;
use crate::app::AppState;

/// Largest frame or message a client may send.
const MAX_INBOUND: usize = 4096;
/// A send not accepted within this time closes the client.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
struct Params {
    device: Option<String>,
}

/// The WebSocket route.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    warp::path!("ws")
        .and(warp::get())
        .and(warp::ws())
        .and(warp::query::<Params>())
        .and(with_state(state))
        .map(|ws: Ws, params: Params, st: Arc<AppState>| {
            if let Some(Err(m)) = params.device.as_deref().map(crate::device_id::check) {
                return ApiError::bad_request("bad_device_id", m).into_response();
            }
            ws.max_message_size(MAX_INBOUND)
                .max_frame_size(MAX_INBOUND)
                .on_upgrade(move |socket| client(socket, st, params.device))
                .into_response()
        })
        .boxed()
}

async fn client(socket: WebSocket, state: Arc<AppState>, device: Option<String>) {
    let mut feed = state.live.subscribe();
    state.telemetry.ws_clients(1);
    let (mut tx, mut rx) = socket.split();
    let hello = json!({ "type": "hello", "device": device }).to_string();
    let mut ok = send(&mut tx, Message::text(hello)).await;
    while ok {
        tokio::select! {
            msg = feed.recv() => match msg {
                Ok(m) if device.as_deref().is_none_or(|d| d == &*m.device_id) => {
                    ok = send(&mut tx, Message::text(m.json.as_ref())).await;
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    let _ = send(&mut tx, Message::close_with(1008u16, "too slow: messages were dropped")).await;
                    ok = false;
                }
                Err(RecvError::Closed) => ok = false,
            },
            inbound = rx.next() => match inbound {
                None | Some(Err(_)) => ok = false,
                Some(Ok(m)) if m.is_close() => ok = false,
                Some(Ok(_)) => {}
            },
        }
    }
    state.telemetry.ws_clients(-1);
}

async fn send(tx: &mut (impl futures_util::Sink<Message> + Unpin), message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, tx.send(message)).await,
        Ok(Ok(()))
    )
}
