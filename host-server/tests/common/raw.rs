//! Requests written byte for byte on a TCP connection, for what an HTTP
//! client library would tidy away (dot segments, bad bytes, odd framing).

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One parsed answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The error code of a JSON error answer.
    pub fn code(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
}

/// The server's `host:port` from its URL.
pub fn addr(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Sends `request` as is and reads until the server closes or `wait` passes.
pub async fn exchange(url: &str, request: &[u8], wait: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr(url)).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    out
}

/// Splits the first answer in `bytes` (needs a `Content-Length` body).
pub fn parse(bytes: &[u8]) -> Option<(Answer, &[u8])> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let rest = &bytes[end + 4..];
    let body = rest.get(..length)?.to_vec();
    Some((
        Answer {
            status,
            headers,
            body,
        },
        &rest[length..],
    ))
}

/// One request with `Connection: close` added: its answer.
pub async fn request(url: &str, method: &str, path: &[u8], headers: &str, body: &[u8]) -> Answer {
    let mut r = Vec::new();
    r.extend_from_slice(method.as_bytes());
    r.push(b' ');
    r.extend_from_slice(path);
    r.extend_from_slice(b" HTTP/1.1\r\nhost: test\r\nconnection: close\r\n");
    r.extend_from_slice(headers.as_bytes());
    r.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    r.extend_from_slice(body);
    let bytes = exchange(url, &r, Duration::from_secs(10)).await;
    parse(&bytes)
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&bytes)))
        .0
}
