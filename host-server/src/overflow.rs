//! Connections over the cap: answered at once with 503 `busy` and a
//! `Retry-After`, in the server's error shape, rather than left waiting in
//! the listen backlog with no answer.
//!
//! Refusing costs a short task per connection; at most [`MAX_REFUSING`]
//! run at once, and a connection beyond that is closed without an answer.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::http::error::ErrorBody;

/// Refusals in progress at most.
pub const MAX_REFUSING: usize = 256;
/// Time a refused client gets to read the answer.
const LINGER: Duration = Duration::from_secs(1);
/// Seconds a refused client is asked to wait.
const RETRY_AFTER_S: u64 = 1;

/// The whole answer, built once.
static BUSY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = serde_json::to_string(&ErrorBody {
        error: "busy",
        message: "too many open connections; retry shortly".to_owned(),
    })
    .unwrap_or_default();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: {RETRY_AFTER_S}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// Slots for connections being refused.
pub fn slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_REFUSING))
}

/// Answers `stream` with 503 `busy` and closes it, in the background.
pub fn refuse(stream: TcpStream, slots: &Arc<Semaphore>) {
    let Ok(permit) = slots.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(LINGER, answer(stream)).await;
    });
}

async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    stream.write_all(&BUSY).await?;
    stream.shutdown().await?;
    // Drain what the client sent: closing with unread data would reset the
    // connection and could discard the answer before the client reads it.
    let mut sink = [0u8; 1024];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_answer_is_a_complete_json_error() {
        let text = String::from_utf8(super::BUSY.clone()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("retry-after: 1"));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "busy");
    }
}
