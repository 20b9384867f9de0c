//! A connection's bytes as hyper reads and writes them, for the two checks
//! hyper cannot be asked to make:
//!
//! - **Ambiguous framing.** hyper accepts a request with both
//!   `Content-Length` and `Transfer-Encoding` (it drops the length), which
//!   a proxy in front may have framed the other way: request smuggling.
//!   Each request head is scanned as it arrives; the request handler then
//!   refuses a flagged one with 400 `bad_framing`.
//! - **hyper's own answers.** For a request it cannot parse, hyper writes
//!   400, 414 or 431 with an empty body; they are rewritten here into the
//!   server's JSON error shape.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http::error::ErrorBody;

/// Bytes of a request head kept for scanning, at most.
const MAX_SCAN: usize = 128 * 1024;

/// Set when the head just read declares both `Content-Length` and
/// `Transfer-Encoding`; the request handler reads and clears it.
#[derive(Debug, Clone, Default)]
pub struct FramingFlag(Arc<AtomicBool>);

impl FramingFlag {
    /// Whether the current request's framing is ambiguous (clears the flag).
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// Wraps a connection's stream.
pub struct Guarded<S> {
    inner: S,
    flag: FramingFlag,
    /// Reading a request head (re-armed whenever an answer is written).
    scanning: bool,
    head: Vec<u8>,
    /// A rewritten answer still to be written.
    pending: Vec<u8>,
}

impl<S> Guarded<S> {
    /// Wraps `inner`; `flag` is shared with the request handler.
    pub fn new(inner: S, flag: FramingFlag) -> Self {
        Self {
            inner,
            flag,
            scanning: true,
            head: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        if !self.scanning {
            return;
        }
        let room = MAX_SCAN.saturating_sub(self.head.len());
        self.head
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(bytes));
        if let Some(end) = find(&self.head, b"\r\n\r\n") {
            let head = self.head.get(..end).unwrap_or_default();
            if declares_both_lengths(head) {
                self.flag.0.store(true, Ordering::Release);
            }
            self.scanning = false;
            self.head.clear();
        } else if self.head.len() >= MAX_SCAN {
            // hyper refuses such a head itself (431).
            self.scanning = false;
            self.head.clear();
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether a request head has both a `Content-Length` and a
/// `Transfer-Encoding` header line.
fn declares_both_lengths(head: &[u8]) -> bool {
    let mut length = false;
    let mut transfer = false;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let name = name.trim_ascii();
        length |= name.eq_ignore_ascii_case(b"content-length");
        transfer |= name.eq_ignore_ascii_case(b"transfer-encoding");
    }
    length && transfer
}

/// hyper's automatic answer (a 4xx head with an empty body) in the JSON
/// error shape; `None` for any other write.
fn rewrite(answer: &[u8]) -> Option<Vec<u8>> {
    let end = find(answer, b"\r\n\r\n")?;
    if end + 4 != answer.len() {
        return None;
    }
    let head = answer.get(..end)?;
    if !head
        .windows(19)
        .any(|w| w.eq_ignore_ascii_case(b"\ncontent-length: 0\r"))
    {
        return None;
    }
    let (status, code, message) = match head.get(..12)? {
        b"HTTP/1.1 400" | b"HTTP/1.0 400" => (
            "400 Bad Request",
            "bad_request",
            "the request could not be parsed",
        ),
        b"HTTP/1.1 414" | b"HTTP/1.0 414" => {
            ("414 URI Too Long", "uri_too_long", "the URI is too long")
        }
        b"HTTP/1.1 431" | b"HTTP/1.0 431" => (
            "431 Request Header Fields Too Large",
            "headers_too_large",
            "the request headers are too large",
        ),
        _ => return None,
    };
    let body = serde_json::to_string(&ErrorBody {
        error: code,
        message: message.to_owned(),
    })
    .ok()?;
    Some(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result {
            let fresh = buf.filled().get(before..).unwrap_or_default().to_vec();
            self.scan(&fresh);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> Guarded<S> {
    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_pending(cx))?;
        // An answer is on its way: what is read next is a new request head.
        self.scanning = true;
        self.head.clear();
        if let Some(answer) = rewrite(buf) {
            self.pending = answer;
            std::task::ready!(self.poll_pending(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_lengths_are_spotted_in_any_case() {
        assert!(declares_both_lengths(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\ntransfer-encoding: chunked"
        ));
        assert!(!declares_both_lengths(
            b"POST / HTTP/1.1\r\ncontent-length: 3"
        ));
        assert!(!declares_both_lengths(
            b"POST /content-length HTTP/1.1\r\ntransfer-encoding: chunked"
        ));
    }

    #[test]
    fn only_hypers_empty_4xx_answers_are_rewritten() {
        let hyper =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let text = String::from_utf8(rewrite(hyper).unwrap()).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 "));
        assert!(text.ends_with(
            r#"{"error":"headers_too_large","message":"the request headers are too large"}"#
        ));
        assert!(rewrite(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 10\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
