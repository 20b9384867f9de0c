//! `solarwire serve` as a separate process, killed with SIGKILL on demand
//! and when dropped (also when an assertion fails).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_solarwire");

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server process.
pub struct ServerProcess {
    child: Child,
    /// Its address, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl ServerProcess {
    /// Starts `solarwire serve` on `port` for `data_dir` (and its database,
    /// see [`super::database_env`]) and waits until it accepts connections.
    pub fn start(data_dir: &Path, port: u16, extra: &[&str]) -> Self {
        let child = Command::new(BIN)
            .args([
                "--data-dir",
                data_dir.to_str().unwrap(),
                "--log",
                "warn",
                "serve",
            ])
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--device-rate",
                "0",
            ])
            .args(extra)
            .envs(super::database_env(data_dir))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        // Ready when it answers; the port may take a moment after a kill.
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the server did not start on port {port}");
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
