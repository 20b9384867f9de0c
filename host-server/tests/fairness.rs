//! Finding: one client could take every connection slot (1,100 idle
//! sockets from one address left every other client with 503 `busy`), and
//! WebSocket streams left the cap when they upgraded and were not limited.
//! Each address now has its share of connections and of WebSocket streams,
//! counted from accept to close, and there is a global WebSocket cap.

mod common;

use std::time::Duration;

use common::Server;
use common::raw;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection from another loopback address (127.0.0.2).
async fn connect_from(ip: &str, url: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    socket
        .connect(raw::addr(url).parse().unwrap())
        .await
        .unwrap()
}

async fn health(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let server = Server::start(&[
        "--max-connections",
        "20",
        "--max-connections-per-address",
        "4",
        "--header-timeout",
        "30s",
    ])
    .await;
    // 127.0.0.1 opens many idle sockets.
    let mut idle = Vec::new();
    for _ in 0..30 {
        idle.push(connect_from("127.0.0.1", &server.url).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another address is still served.
    let mut other = connect_from("127.0.0.2", &server.url).await;
    let answer = health(&mut other).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The greedy address itself is told it is over its share.
    let mut more = connect_from("127.0.0.1", &server.url).await;
    let answer = health(&mut more).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"busy\""), "{answer}");
    // Its share comes back when its sockets close.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = connect_from("127.0.0.1", &server.url).await;
    assert!(health(&mut again).await.starts_with("HTTP/1.1 200"));
    server.stop().await;
}

async fn open_ws(server: &Server) -> Result<impl Sized + use<>, u16> {
    let url = format!(
        "{}/ws?api_key={}",
        server.url.replace("http://", "ws://"),
        server.key
    );
    match tokio_tungstenite::connect_async(url).await {
        Ok((stream, _)) => Ok(stream),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn websocket_streams_are_capped_and_keep_their_connection_slot() {
    let server = Server::start(&[
        "--max-connections",
        "3",
        "--max-ws-per-address",
        "2",
        "--max-ws",
        "10",
    ])
    .await;
    let a = open_ws(&server).await.unwrap();
    let b = open_ws(&server).await.unwrap();
    // The address's third stream is refused.
    assert_eq!(open_ws(&server).await.err(), Some(429));
    // Two upgraded streams still hold two of the three connection slots.
    let mut first = TcpStream::connect(raw::addr(&server.url)).await.unwrap();
    let mut second = TcpStream::connect(raw::addr(&server.url)).await.unwrap();
    let ok = health(&mut first).await;
    let busy = health(&mut second).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    drop((a, b));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(open_ws(&server).await.is_ok());
    let r = server
        .anon
        .get(format!("{}/health", server.url))
        .send()
        .await;
    assert_eq!(r.unwrap().status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn the_global_websocket_cap_holds() {
    let server = Server::start(&["--max-ws", "2", "--max-ws-per-address", "5"]).await;
    let _a = open_ws(&server).await.unwrap();
    let _b = open_ws(&server).await.unwrap();
    assert_eq!(open_ws(&server).await.err(), Some(503));
    server.stop().await;
}
