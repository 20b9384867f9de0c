//! The HTTP ingest path under arbitrary requests. Shared by the fuzz target
//! `fuzz/fuzz_targets/http_ingest.rs` (`just fuzz`, which includes this
//! file) and the bounded test `tests/http_fuzz.rs`, so it uses only the
//! server's public API.
//!
//! A real server runs in this process (SQLite in a temporary directory,
//! one device with a known key, the fleet key on, one-second header and
//! body timeouts). Each input becomes one request written byte for byte on
//! a TCP connection, so it passes the accept loop's framing guard and
//! hyper's parser before the routes. For every input: the server answers
//! or closes the connection (it never hangs), and an error answer has the
//! JSON error shape with a listed code of its own status. A panic anywhere
//! (a server task too) aborts the process: the fuzzer's crash, a failed test.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser as _;
use serde_json::Value;
use solarwire_core::envelope::Keys;
use solarwire_server::cli::{Cli, Command};
use solarwire_server::http::error_codes::status_of;
use solarwire_server::serve::{Running, start};
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::store::{DeviceKeys, StoreOptions, data_dir_url, open_store};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The device whose key the seeds are sealed with.
pub const DEVICE: &str = "ESP32_001";
/// Its HMAC key.
pub const DEVICE_KEY: [u8; 32] = [0x42; 32];
/// The fleet key (`--compat-psk`).
pub const FLEET_KEY: [u8; 32] = [0x17; 32];
/// How long one exchange may take before the server counts as hung.
const DEADLINE: Duration = Duration::from_secs(10);

/// Byte 0 of an input picks the method.
const METHODS: [&str; 8] = [
    "POST", "POST", "POST", "GET", "PUT", "DELETE", "OPTIONS", "PATCH",
];
/// Byte 1 picks the request target: the firmware's surface.
const TARGETS: [&str; 8] = [
    "/aggregated/ESP32_001",
    "/aggregated/FLEET_9",
    "/api/v1/devices/ESP32_001/uploads",
    "/process",
    "/devices",
    "/security/ESP32_001/nonce",
    "/aggregated/ESP32%5F001",
    "/aggregated/ESP32_001/../FLEET_9",
];

/// A server to send fuzz inputs to.
pub struct IngestTarget {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    running: Option<Running>,
}

/// What the server answered.
#[derive(Debug)]
pub enum Outcome {
    /// A complete answer: its status and body.
    Answer(u16, Vec<u8>),
    /// The server closed the connection without a (complete) answer.
    Closed,
}

impl IngestTarget {
    /// Starts the server.
    pub fn start() -> Self {
        std::panic::set_hook(Box::new(|info| {
            // Not `eprintln!`: a test's captured output is lost on abort.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("panic: {info}\n").as_bytes(),
            );
            std::process::abort();
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = open_store(&data_dir_url(dir.path()), StoreOptions::command()).expect("store");
        let keys = DeviceKeys {
            hmac: Some(DEVICE_KEY.to_vec()),
            aes: None,
        };
        assert!(
            runtime
                .block_on(store.add_device(DEVICE, keys))
                .expect("device")
        );
        drop(store);
        let psk = hex::encode(FLEET_KEY);
        let argv = [
            "solarwire",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--compat-psk",
            psk.as_str(),
            "--header-timeout",
            "1s",
            "--body-timeout",
            "1s",
        ];
        let Some(Command::Serve(args)) = Cli::parse_from(argv).command else {
            unreachable!("a serve command");
        };
        let running = runtime
            .block_on(start(dir.path(), &args))
            .expect("server start");
        Self {
            runtime,
            addr: running.addr,
            dir,
            running: Some(running),
        }
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Sends one input and checks the answer; panics when a property fails.
    pub fn run(&self, input: &[u8]) -> Outcome {
        let request = request(input);
        let outcome = self.runtime.block_on(exchange(self.addr, &request));
        if let Outcome::Answer(status, body) = &outcome
            && *status >= 400
        {
            check_error(*status, body, &request);
        }
        outcome
    }

    /// Inputs that reach ingest: `device`'s next sealed upload on each of
    /// its routes, a fleet-key upload and a boot registration.
    pub fn seeds(&self, device: &mut FirmwareDevice, fleet: &mut FirmwareDevice) -> Vec<Vec<u8>> {
        let json = "content-type: application/json\n";
        vec![
            input(0, 0, json, &upload(device)),
            input(0, 2, json, &upload(device)),
            input(0, 3, json, &upload(device)),
            input(0, 1, json, &upload(fleet)),
            input(
                0,
                4,
                json,
                br#"{"device_id":"ESP32_001","firmware_version":"1.2.3"}"#,
            ),
        ]
    }
}

impl Drop for IngestTarget {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown());
        }
    }
}

/// The firmware of [`DEVICE`] (its nonce starts where a fresh device's does).
pub fn device() -> FirmwareDevice {
    FirmwareDevice::new(DEVICE, Keys::new(&DEVICE_KEY), vec![0, 1, 5, 6, 7, 9])
}

/// A firmware the fleet key admits (`FLEET_9`).
pub fn fleet_device() -> FirmwareDevice {
    FirmwareDevice::new("FLEET_9", Keys::new(&FLEET_KEY), vec![0, 1, 5, 6, 7, 9])
}

/// The next sealed upload of `device`, dated now.
fn upload(device: &mut FirmwareDevice) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let rows: Vec<Vec<u16>> = (0..3)
        .map(|i| vec![2300, 52, 71, 69, 452, 1200 + i])
        .collect();
    let packet = device.compress(&rows, now);
    let json = device.upload_json(&[packet], now / 1000, 5);
    device.seal(&json).expect("sealed").body.into_bytes()
}

/// An input in the encoding [`request`] reads.
pub fn input(method: u8, target: u8, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut input = vec![method, target];
    input.extend_from_slice(headers.as_bytes());
    input.push(0);
    input.extend_from_slice(body);
    input
}

/// The request bytes of an input: byte 0 picks the method, byte 1 the
/// target, then header bytes up to the first zero byte (`\n` ends a line),
/// then the body. `host`, `connection: close` and the body's true
/// `Content-Length` are added (the input's own `Content-Length` lines are
/// dropped, so a wrong one cannot make the server wait for bytes that never
/// come; `Transfer-Encoding` lines stay).
pub fn request(input: &[u8]) -> Vec<u8> {
    let method = METHODS[usize::from(input.first().copied().unwrap_or(0)) % METHODS.len()];
    let target = TARGETS[usize::from(input.get(1).copied().unwrap_or(0)) % TARGETS.len()];
    let rest = input.get(2..).unwrap_or_default();
    let (headers, body) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let mut out = format!("{method} {target} HTTP/1.1\r\nhost: fuzz\r\n").into_bytes();
    for line in headers.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if line.to_ascii_lowercase().starts_with(b"content-length") {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "connection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

/// Writes `request` and reads the first answer, or the close.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Outcome {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before it read everything.
    let _ = stream.write_all(request).await;
    let until = Instant::now() + DEADLINE;
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(answer) = parse(&received) {
            return answer;
        }
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return parse(&received).unwrap_or(Outcome::Closed),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "no answer within {DEADLINE:?} to {:?}; got {:?}",
                String::from_utf8_lossy(request),
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

/// The first complete answer in `bytes` (its body framed by `Content-Length`).
fn parse(bytes: &[u8]) -> Option<Outcome> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let body = bytes.get(end + 4..end + 4 + length)?;
    Some(Outcome::Answer(status, body.to_vec()))
}

/// An error answer: `{"error": code, "message": …}`, the code listed with this status.
fn check_error(status: u16, body: &[u8], request: &[u8]) {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = json["error"].as_str().unwrap_or_default();
    assert!(
        status_of(code).is_some_and(|s| s.as_u16() == status) && json["message"].is_string(),
        "status {status} with body {:?} for {:?}",
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(request)
    );
}
