//! `GET /ws[?device=ID]`: live JSON messages for viewers: `sample` (a stored
//! upload's samples), `alert` (opened or closed), `device_status`, and
//! `pong` (the answer to a client's `{"type": "ping"}`). A token is needed:
//! `?token=` (an access token), `?api_key=`, or the usual headers; it is
//! checked when the connection opens and again every `--ws-recheck`, so an
//! expired token, a revoked key or a removed user closes the stream (1008).
//!
//! Each client reads from a bounded broadcast; a client that falls behind
//! is closed (1008) rather than buffered without end. Inbound frames are
//! capped small: clients only ping and close.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::header::HeaderMap;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::ws::{Message, WebSocket, Ws};
use warp::{Filter, Reply};

use super::credentials::Presented;
use super::error::{ApiError, ErrorBody};
use super::guard::admit;
use super::peer::{PeerAddr, peer};
use super::with_state;
use crate::app::AppState;
use crate::auth::Access;
use crate::fairness::{ConnectionSlot, WsRefusal};

/// Largest frame or message a client may send.
const MAX_INBOUND: usize = 4096;
/// A send not accepted within this time closes the client.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// `device` filters; `token` (an access token) or `api_key` authenticate
/// browsers, which cannot set headers on a WebSocket request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// Only this device's messages.
    #[param(schema_with = crate::device_id::schema)]
    device: Option<String>,
    /// An access token (instead of `Authorization: Bearer …`).
    token: Option<String>,
    /// An API key (instead of `X-API-Key`).
    api_key: Option<String>,
}

/// The WebSocket route.
pub(super) fn routes(state: &Arc<AppState>) -> BoxedFilter<(Response,)> {
    warp::path!("ws")
        .and(warp::get())
        .and(warp::ws())
        .and(warp::query::<Params>())
        .and(warp::header::headers_cloned())
        .and(peer())
        .and(warp::ext::optional::<ConnectionSlot>())
        .and(with_state(state))
        .then(connect)
        .boxed()
}

/// The live stream: JSON text messages `hello`, then `sample` (a stored
/// upload's samples), `alert` (opened or closed), `device_status`, and
/// `pong` (the answer to `{"type": "ping"}`). Credentials are checked when
/// the connection opens; browsers send them in the query.
#[utoipa::path(
    get,
    path = "/ws",
    operation_id = "websocket",
    tag = "live",
    params(Params),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket request (`not_websocket`), or a bad device id (`bad_device_id`)", body = ErrorBody),
        (status = 403, description = "A browser page of another origin (`forbidden_origin`)", body = ErrorBody),
        (status = 429, description = "This address has its share of live streams open (`too_many_streams`)", body = ErrorBody),
        (status = 503, description = "Every live stream slot is taken (`busy`)", body = ErrorBody),
    ),
)]
async fn connect(
    ws: Ws,
    params: Params,
    headers: HeaderMap,
    peer: Option<PeerAddr>,
    connection: Option<ConnectionSlot>,
    st: Arc<AppState>,
) -> Response {
    if let Some(Err(e)) = params
        .device
        .as_deref()
        .map(crate::http::segment::check_device_id)
    {
        return e.into_response();
    }
    if !origin_allowed(&headers, &st.policy.cors_origins) {
        return ApiError::new(
            http::StatusCode::FORBIDDEN,
            "forbidden_origin",
            "this origin may not open a live stream",
        )
        .into_response();
    }
    if let Err(e) = authorise(&st, &params, &headers).await {
        return e.into_response();
    }
    let ip = peer.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |p| p.0.ip());
    let slot = match st.ws_limits.try_open(ip) {
        Ok(slot) => slot,
        Err(refusal) => return refused(refusal).into_response(),
    };
    // The stream holds its connection's slots and its own until it closes.
    let held = (connection, slot);
    ws.max_message_size(MAX_INBOUND)
        .max_frame_size(MAX_INBOUND)
        .on_upgrade(move |socket| async move {
            client(socket, st, params, headers).await;
            drop(held);
        })
        .into_response()
}

fn refused(refusal: WsRefusal) -> ApiError {
    match refusal {
        WsRefusal::Full => ApiError::unavailable("busy", "too many live streams; retry shortly", 5),
        WsRefusal::AddressFull => ApiError {
            retry_after: Some(5),
            ..ApiError::new(
                http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                "this address has too many live streams open",
            )
        },
    }
}

/// A browser's upgrade must come from this server's own origin (same
/// host) or a configured CORS origin; otherwise any page a logged-in user
/// visits could read the stream with their cookie-less query token.
/// Clients that send no `Origin` (not browsers) are not affected.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let same = origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest.eq_ignore_ascii_case(host));
    same || allowed.iter().any(|a| a.trim_end_matches('/') == origin)
}

/// Every credential presented, in the query or the headers, must be valid.
async fn authorise(st: &AppState, params: &Params, headers: &HeaderMap) -> Result<(), ApiError> {
    let mut presented = Presented::from_headers(headers)?;
    if let Some(token) = &params.token {
        presented.add_bearer(token)?;
    }
    if let Some(key) = &params.api_key {
        presented.add_api_key(key.trim())?;
    }
    admit(st, presented.credentials(), Access::Read).await?;
    Ok(())
}

async fn client(socket: WebSocket, state: Arc<AppState>, params: Params, headers: HeaderMap) {
    let mut feed = state.live.subscribe();
    state.telemetry.ws_clients(1);
    let (mut tx, mut rx) = socket.split();
    let device = params.device.clone();
    let hello = json!({ "type": "hello", "device": device }).to_string();
    let mut ok = send(&mut tx, Message::text(hello)).await;
    let mut stopping = state.stopping.clone();
    let mut recheck = tokio::time::interval(state.policy.ws_recheck);
    recheck.reset(); // the first check is one period after the one at connect
    while ok {
        tokio::select! {
            // The stream holds a connection slot the shutdown waits for.
            _ = stopping.changed() => {
                let _ = send(&mut tx, Message::close_with(1001u16, "server shutting down")).await;
                ok = false;
            },
            _ = recheck.tick() => {
                if let Err(e) = authorise(&state, &params, &headers).await {
                    let reason = format!("credentials no longer valid: {}", e.code);
                    let _ = send(&mut tx, Message::close_with(1008u16, reason)).await;
                    ok = false;
                }
            },
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
                Some(Err(e)) if e.to_string().contains("Space limit exceeded") => {
                    let _ = send(&mut tx, Message::close_with(1009u16, "message too big")).await;
                    ok = false;
                }
                None | Some(Err(_)) => ok = false,
                Some(Ok(m)) if m.is_close() => ok = false,
                Some(Ok(m)) if is_ping(&m) => {
                    let pong = json!({ "type": "pong", "t_ms": crate::clock::now_ms() });
                    ok = send(&mut tx, Message::text(pong.to_string())).await;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    state.telemetry.ws_clients(-1);
}

/// A `{"type": "ping"}` text message (the dashboard's keep-alive).
fn is_ping(message: &Message) -> bool {
    message
        .to_str()
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .is_some_and(|v| v["type"] == "ping")
}

async fn send(tx: &mut (impl futures_util::Sink<Message> + Unpin), message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, tx.send(message)).await,
        Ok(Ok(()))
    )
}
