//! The `solarwire` command line: one binary for the server and its tools.

mod client;
mod device;
mod firmware;
mod generate;
mod simulate;
mod site;
mod tools;
mod user;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ServeArgs;

/// solarwire: a durable ingest server for EcoWatt solar inverters, and its tools.
///
/// Without a command it runs `serve`.
#[derive(Debug, Parser)]
#[command(name = "solarwire", version)]
pub struct Cli {
    /// Directory holding the SQLite database.
    #[arg(
        long,
        global = true,
        env = "SOLARWIRE_DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,

    /// Log filter (`info`, `debug`, `solarwire_server=debug,warn` …); logs go to stderr.
    #[arg(long, global = true, env = "SOLARWIRE_LOG", default_value = "info")]
    pub log: String,

    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Server settings when no command is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ingest server (the default).
    Serve(Box<ServeArgs>),
    /// Add, list, show, re-key or remove devices.
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// Firmware updates: keys, publishing images, rollouts.
    #[command(subcommand)]
    Firmware(firmware::FirmwareCommand),
    /// Simulated inverters uploading like the firmware: the demo and the load tool.
    Simulate(Box<crate::simulate::SimulateArgs>),
    /// Explain an envelope, upload body or packet (file or stdin).
    Inspect(tools::InspectArgs),
    /// Seal a payload into an envelope as the firmware does.
    Seal(tools::SealArgs),
    /// Print fresh random keys.
    Keygen(tools::KeygenArgs),
    /// Add, list, re-password or remove dashboard and API users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Create, list or revoke signed API clients (the cloud API's `/comm/client`).
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Store days of simulated fleet history (benchmarks, demos; server stopped).
    GenerateHistory(generate::GenerateArgs),
    /// Storage-plant site files: a demo to start from, checks.
    #[command(subcommand)]
    Site(site::SiteCommand),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let _ = DATABASE_URL.set(cli.serve.database_url.clone());
    let result = match cli.command {
        None => serve(cli.data_dir, cli.serve),
        Some(Command::Serve(args)) => serve(cli.data_dir, *args),
        Some(Command::Device(cmd)) => device::run(&cli.data_dir, cmd),
        Some(Command::Firmware(cmd)) => firmware::run(&cli.data_dir, cmd),
        Some(Command::Simulate(args)) => simulate::run(&cli.data_dir, &args),
        Some(Command::Inspect(args)) => tools::run_inspect(&args),
        Some(Command::Seal(args)) => tools::run_seal(&args),
        Some(Command::Keygen(args)) => tools::run_keygen(&args),
        Some(Command::User(cmd)) => user::run(&cli.data_dir, cmd),
        Some(Command::Client(cmd)) => client::run(&cli.data_dir, cmd),
        Some(Command::GenerateHistory(args)) => generate::run(&cli.data_dir, &args),
        Some(Command::Site(cmd)) => site::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "solarwire: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// `--database-url` (`SOLARWIRE_DATABASE_URL`) as given before the command,
/// set once by [`main`] for the one-off commands.
static DATABASE_URL: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// The store a one-off command uses: `--database-url`, else the data directory's.
fn command_store_url(data_dir: &std::path::Path) -> String {
    crate::store::store_url(data_dir, DATABASE_URL.get().and_then(Option::as_deref))
}

/// Opens the store of a data directory (or `--database-url`) for a one-off command.
fn open_store(
    data_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn crate::store::Store>, String> {
    let url = command_store_url(data_dir);
    crate::store::open_store(&url, crate::store::StoreOptions::command()).map_err(|e| {
        let place = if crate::store::postgres::is_postgres_url(&url) {
            "the PostgreSQL database"
        } else {
            url.as_str()
        };
        format!("cannot open {place}: {e}")
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Writes lines to standard output (a closed pipe is not an error worth a panic).
fn say(text: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn serve(data_dir: PathBuf, args: ServeArgs) -> Result<(), String> {
    runtime()?.block_on(async move {
        let running = crate::serve::start(&data_dir, &args).await?;
        let db = std::fs::canonicalize(&running.database).unwrap_or(running.database.clone());
        say(format_args!("solarwire {} listening on http://{}", env!("CARGO_PKG_VERSION"), running.addr));
        match args.database_url.as_deref() {
            // The URL may hold a password: not printed.
            Some(url) if crate::store::postgres::is_postgres_url(url) => {
                say(format_args!("data: PostgreSQL (--database-url)"));
            }
            _ => say(format_args!("data: {}", db.display())),
        }
        if running.fleet_mode {
            say(format_args!("fleet key mode: any device id with the fleet key is registered on its first valid upload"));
        }
        say(format_args!(
            "add a device: solarwire --data-dir {} device add ESP32_001   (prints its key once)",
            data_dir.display()
        ));
        say(format_args!(
            "try it:       solarwire simulate --url http://{} --devices 3",
            running.addr
        ));
        say(format_args!(
            "dashboard:    http://{}/  (first admin: solarwire --data-dir {} user add NAME --role admin)",
            running.addr,
            data_dir.display()
        ));
        running.run_until(shutdown_signal()).await;
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
