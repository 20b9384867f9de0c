//! Debian's PostgreSQL for a test run: one cluster per test process, started
//! on first use (`initdb` into a temporary directory, as the `postgres` user
//! when the tests run as root, `pg_ctl start` on 127.0.0.1 with a random free
//! port and the socket in that directory), and a fresh database per test.
//! A watchdog stops the cluster and deletes its directory when the test
//! process exits, however it exits.
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running cluster.
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

/// The newest installed PostgreSQL's binaries (`just setup-postgres` installs them).
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run `just setup-postgres`")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no initdb under /usr/lib/postgresql: run `just setup-postgres`")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A command run as the cluster's owner (`postgres` when we are root).
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("solarwire-pg-")
            .tempdir()
            .expect("temporary directory")
            .keep();
        if is_root() {
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:postgres"]).arg(&dir);
            run(chown, "chown of the cluster directory");
        }
        let data = dir.join("data");
        let mut initdb = as_owner(&bin.join("initdb"));
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data);
        run(initdb, "initdb");
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 \
                 -c shared_buffers=64MB",
                dir.display()
            );
            let mut start = as_owner(&bin.join("pg_ctl"));
            start
                .args(["-w", "-t", "60", "-l"])
                .arg(dir.join("log"))
                .arg("-D")
                .arg(&data)
                .args(["-o", &options, "start"])
                .stdout(Stdio::null());
            match start.status() {
                Ok(s) if s.success() => {
                    let cluster = Self { bin, dir, port };
                    cluster.watch_parent();
                    return cluster;
                }
                other => {
                    last_error = format!("{other:?}: {}", read_log(&dir));
                }
            }
        }
        panic!("PostgreSQL did not start: {last_error}");
    }

    /// Stops the cluster and removes its directory once this process is gone.
    fn watch_parent(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.dir.join("data");
        let stop = if is_root() {
            format!(
                "runuser -u postgres -- {} -D {} -m immediate stop",
                pg_ctl.display(),
                data.display()
            )
        } else {
            format!(
                "{} -D {} -m immediate stop",
                pg_ctl.display(),
                data.display()
            )
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            dir = self.dir.display()
        );
        // `setsid -f` forks the watchdog off and returns at once.
        let started = Command::new("setsid")
            .args(["-f", "bash", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("the cluster's watchdog");
        assert!(started.success(), "the cluster's watchdog did not start");
    }

    /// A new empty database and its URL.
    pub fn database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}", NEXT.fetch_add(1, Ordering::SeqCst));
        let mut create = Command::new(self.bin.join("createdb"));
        create.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            &name,
        ]);
        run(create, "createdb");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("log")).unwrap_or_default()
}

/// This process's cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(Cluster::start)
}

/// The URL of a fresh, empty database on this process's cluster.
pub fn fresh_database() -> String {
    cluster().database()
}
