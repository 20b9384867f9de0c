//! A real server on 127.0.0.1:0 with a temporary SQLite file, or a fresh
//! PostgreSQL database when `SOLARWIRE_TEST_BACKEND=postgres` (the same
//! test bodies on both backends), and helpers.
#![allow(dead_code, unreachable_pub)]

pub mod broker;
pub mod http_fuzz;
pub mod postgres;
pub mod process;
pub mod raw;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};
use solarwire_core::envelope::Keys;
use solarwire_server::auth::opaque;
use solarwire_server::cli::{Cli, Command};
use solarwire_server::serve::{Running, start};
use solarwire_server::simulate::firmware::FirmwareDevice;
use solarwire_server::store::access::{NewApiKey, Scope};
use solarwire_server::store::sqlite::database_path;
use solarwire_server::store::{DeviceKeys, Store, StoreOptions, open_store, store_url};
use tempfile::TempDir;

/// The firmware's default register layout (Vac1, Iac1, Ipv1, Ipv2, Temp, Pac).
pub const LAYOUT: [u8; 6] = [0, 1, 5, 6, 7, 9];

pub struct Server {
    pub url: String,
    pub dir: TempDir,
    /// Sends an admin-scoped API key with every request.
    pub client: reqwest::Client,
    /// Sends no credentials.
    pub anon: reqwest::Client,
    /// The admin API key `client` sends.
    pub key: String,
    running: Option<Running>,
}

/// `solarwire serve` settings from command-line words.
pub fn serve_args(extra: &[&str]) -> solarwire_server::config::ServeArgs {
    let mut argv = vec!["solarwire", "serve", "--listen", "127.0.0.1:0"];
    // Test data is dated 2025-11-23: keep it unless a test asks for retention.
    if !extra.contains(&"--retention-days") {
        argv.extend_from_slice(&["--retention-days", "0"]);
    }
    argv.extend_from_slice(extra);
    match Cli::parse_from(argv).command {
        Some(Command::Serve(args)) => *args,
        other => panic!("not a serve command: {other:?}"),
    }
}

impl Server {
    pub async fn start(extra: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), extra).await
    }

    pub async fn start_in(dir: TempDir, extra: &[&str]) -> Self {
        let mut args = serve_args(extra);
        args.database_url = prepare_backend(dir.path());
        let running = start(dir.path(), &args).await.unwrap();
        let key = add_api_key(dir.path(), Scope::Admin, None);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-api-key", key.parse().unwrap());
        Self {
            url: format!("http://{}", running.addr),
            dir,
            client: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
            anon: reqwest::Client::new(),
            key,
            running: Some(running),
        }
    }

    /// Stops the server, keeping its data directory.
    pub async fn stop(mut self) -> TempDir {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        self.dir
    }

    pub fn add_device_keys(&self, id: &str, keys: DeviceKeys) {
        add_device_keys(self.dir.path(), id, keys);
    }

    /// Adds a device with a fresh random key and returns a firmware for it.
    pub fn add_device(&self, id: &str) -> FirmwareDevice {
        add_device(self.dir.path(), id)
    }

    pub async fn post(&self, path: &str, body: impl Into<String>) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.into())
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A JSON POST without credentials.
    /// Posts a binary body (an envelope v2) as `application/octet-stream`.
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Gives device `id` a new envelope v2 key (the current one stays valid
    /// for `overlap_ms`), as `solarwire device envelope-key` does: its key id
    /// and secret.
    pub fn envelope_key(&self, id: &str, overlap_ms: u64) -> (u32, [u8; 32]) {
        let (dir, id) = (self.dir.path().to_path_buf(), id.to_owned());
        on_store(self.dir.path(), move |store| async move {
            let master = solarwire_server::key_vault::for_command(&dir, store.as_ref())
                .await
                .unwrap();
            solarwire_server::keys::rotate_envelope_key(store.as_ref(), &master, &id, overlap_ms)
                .await
                .unwrap()
                .expect("a known device")
        })
    }

    pub async fn anon_post(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let r = self
            .anon
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub fn db(&self) -> Db {
        db(self.dir.path())
    }

    /// The SQLite file itself, for tests of SQLite's own behaviour.
    pub fn sqlite(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(database_path(self.dir.path())).unwrap()
    }

    pub fn count(&self, table: &str) -> i64 {
        count(self.dir.path(), table)
    }

    pub fn last_nonce(&self, device: &str) -> Option<u32> {
        self.db()
            .i64(&format!(
                "SELECT last_nonce FROM devices WHERE device_id = '{device}'"
            ))
            .map(|n| u32::try_from(n).unwrap())
    }
}

/// Runs `f` on the store of `data_dir` on a thread and runtime of its own,
/// so sync and async tests alike can make operator changes.
pub fn on_store<T, F>(data_dir: &Path, f: impl FnOnce(Arc<dyn Store>) -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let url = store_url(data_dir, database_url(data_dir).as_deref());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = open_store(&url, StoreOptions::command()).unwrap();
        runtime.block_on(f(store))
    })
    .join()
    .unwrap()
}

/// Stores a new API key of `scope` and returns it.
pub fn add_api_key(data_dir: &Path, scope: Scope, expires_ms: Option<u64>) -> String {
    let (key, hash) = opaque::generate(opaque::API_KEY_PREFIX).unwrap();
    let new = NewApiKey {
        name: format!("test {}", scope.as_str()),
        prefix: key[..10].to_owned(),
        hash,
        scope,
        created_by: "tests".into(),
        expires_ms,
    };
    on_store(data_dir, |store| async move {
        store.add_api_key(new).await.unwrap()
    });
    key
}

/// Adds a device with a fresh random key and returns a firmware for it.
pub fn add_device(data_dir: &Path, id: &str) -> FirmwareDevice {
    let keys = solarwire_server::keys::generate(false).unwrap();
    let core = Keys::new(keys.hmac.as_ref().unwrap());
    add_device_keys(data_dir, id, keys);
    FirmwareDevice::new(id, core, LAYOUT.to_vec())
}

pub fn add_device_keys(data_dir: &Path, id: &str, keys: DeviceKeys) {
    let id = id.to_owned();
    assert!(on_store(data_dir, |store| async move {
        store.add_device(&id, keys).await.unwrap()
    }));
}

/// Whether the tests run on PostgreSQL (`SOLARWIRE_TEST_BACKEND=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("SOLARWIRE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

fn url_file(data_dir: &Path) -> PathBuf {
    data_dir.join("database-url")
}

/// The `--database-url` of the server with this data directory, if any.
pub fn database_url(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(url_file(data_dir)).ok()
}

/// A data directory whose servers and commands use a fresh PostgreSQL database.
pub fn postgres_data_dir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(url_file(dir.path()), postgres::fresh_database()).unwrap();
    dir
}

/// On PostgreSQL, gives a data directory a fresh database (kept across
/// restarts in the directory) and returns its URL; on SQLite, `None`.
pub fn prepare_backend(data_dir: &Path) -> Option<String> {
    if let Some(url) = database_url(data_dir) {
        return Some(url);
    }
    if !on_postgres() {
        return None;
    }
    let url = postgres::fresh_database();
    std::fs::write(url_file(data_dir), &url).unwrap();
    Some(url)
}

/// `SOLARWIRE_DATABASE_URL` for a `solarwire` process on this data directory.
pub fn database_env(data_dir: &Path) -> Vec<(&'static str, String)> {
    prepare_backend(data_dir)
        .map(|url| ("SOLARWIRE_DATABASE_URL", url))
        .into_iter()
        .collect()
}

/// A test server's database, for checks in SQL both backends understand
/// (no parameters: tests inline their constants).
pub enum Db {
    /// The SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database URL.
    Postgres(String),
}

impl Db {
    /// The first column of every row, as integers.
    pub fn i64s(&self, sql: &str) -> Vec<Option<i64>> {
        match self {
            Self::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Self::Postgres(url) => pg_rows(url, sql, |r| r.get::<_, Option<i64>>(0)),
        }
    }

    /// Every row, each column as text (the query casts: `CAST(x AS TEXT)`).
    pub fn texts(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Self::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let columns = stmt.column_count();
                stmt.query_map([], |r| (0..columns).map(|i| r.get(i)).collect())
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Self::Postgres(url) => pg_rows(url, sql, |r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            }),
        }
    }

    /// Runs a statement.
    pub fn execute(&self, sql: &str) {
        match self {
            Self::Sqlite(path) => {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            Self::Postgres(url) => {
                pg_rows(url, sql, |_| ());
            }
        }
    }

    /// The first column of the first row, as an integer.
    pub fn i64(&self, sql: &str) -> Option<i64> {
        self.i64s(sql).into_iter().next().flatten()
    }

    /// The first column of the first row, as bytes.
    pub fn bytes(&self, sql: &str) -> Option<Vec<u8>> {
        match self {
            Self::Sqlite(path) => rusqlite::Connection::open(path)
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Self::Postgres(url) => pg_rows(url, sql, |r| r.get::<_, Option<Vec<u8>>>(0))
                .into_iter()
                .next()
                .flatten(),
        }
    }
}

/// Runs one query on a thread and runtime of its own.
fn pg_rows<T: Send + 'static>(
    url: &str,
    sql: &str,
    f: impl Fn(&tokio_postgres::Row) -> T + Send + 'static,
) -> Vec<T> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let driver = tokio::spawn(connection);
            let rows = client.query(sql.as_str(), &[]).await.unwrap();
            drop(client);
            let _ = driver.await;
            rows.iter().map(f).collect()
        })
    })
    .join()
    .unwrap()
}

pub fn db(data_dir: &Path) -> Db {
    match database_url(data_dir) {
        Some(url) => Db::Postgres(url),
        None => Db::Sqlite(database_path(data_dir)),
    }
}

/// Rows of `table`; for `samples`, the samples stored in blocks.
pub fn count(data_dir: &Path, table: &str) -> i64 {
    let db = db(data_dir);
    // SQLite stores samples in blocks; PostgreSQL one row per sample (so far).
    let sql = match (table, &db) {
        ("samples", Db::Sqlite(_)) => "SELECT COALESCE(SUM(samples), 0) FROM blocks".to_owned(),
        _ => format!("SELECT COUNT(*) FROM {table}"),
    };
    db.i64(&sql).unwrap()
}

/// A plausible reading row for the default layout, varying with `i`.
pub fn row(i: u64) -> Vec<u16> {
    let i = (i % 200) as u16;
    vec![
        2300 + i % 7,
        52 + i % 3,
        71 + i % 5,
        69,
        452 + i % 2,
        1205 + 3 * i,
    ]
}

/// The next sealed upload of `device`: three samples, times from `cycle`.
pub fn next_upload(device: &mut FirmwareDevice, cycle: u64) -> (u32, String) {
    let rows: Vec<Vec<u16>> = (0..3).map(|j| row(cycle * 3 + j)).collect();
    let t = 1_763_884_800_000 + cycle * 15_000;
    let packet = device.compress(&rows, t);
    let json = device.upload_json(&[packet], t / 1000, 5);
    let sealed = device.seal(&json).unwrap();
    (sealed.nonce, sealed.body)
}

/// The password test users get.
pub const PASSWORD: &str = "correct horse battery staple";

/// Adds a user with [`PASSWORD`] through the admin API.
pub async fn add_user(server: &Server, name: &str, role: &str) {
    let r = server
        .client
        .post(format!("{}/api/v1/users", server.url))
        .json(&json!({ "name": name, "role": role, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

/// Logs in with a JSON body; the status and the answer.
pub async fn login_json(server: &Server, name: &str, password: &str) -> (StatusCode, Value) {
    let r = server
        .anon
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({ "username": name, "password": password }))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}
