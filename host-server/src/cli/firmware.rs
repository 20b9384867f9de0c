//! `solarwire firmware …`: the fleet firmware keys, publishing images and
//! rolling them out, through the store (`open_store`, any backend). Safe
//! beside a running server: it reads rollouts on every device check.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{open_store, runtime, say};
use crate::clock::now_ms;
use crate::fota::{AES_KEY_FILE, FirmwareKeys, SIGNING_KEY_FILE};
use crate::manage::publish::new_firmware;
use crate::manage::rollout::check_target;
use crate::store::Store;
use crate::store::firmware::{Rollout, RolloutState, RolloutTarget};

/// Firmware commands.
#[derive(Debug, Subcommand)]
pub enum FirmwareCommand {
    /// Create the RSA-2048 signing key and the 32-byte AES-256 firmware key
    /// in the data directory, if missing (files 0600, never served or logged).
    Keygen,
    /// Print what a device build embeds, as JSON:
    /// `{"public_key_pem": …, "aes_key_hex": …}`.
    DeviceKeys,
    /// Publish an image: pad, encrypt (AES-256-CBC, random IV), hash, sign.
    Publish {
        /// The plain ESP32 image (first byte 0xE9).
        file: PathBuf,
        /// The version string devices will report.
        #[arg(long)]
        version: String,
        /// Release notes.
        #[arg(long, default_value = "")]
        notes: String,
        /// Largest image accepted, in bytes.
        #[arg(long, env = "SOLARWIRE_FIRMWARE_MAX_BYTES", default_value_t = 4 * 1024 * 1024)]
        max_bytes: usize,
    },
    /// Offer a published version to devices (again: retarget it and reset
    /// its failure count).
    Rollout {
        /// The version.
        version: String,
        /// These device ids (comma-separated).
        #[arg(
            long,
            value_delimiter = ',',
            required_unless_present = "percent",
            conflicts_with = "percent"
        )]
        devices: Vec<String>,
        /// This share of the fleet, 0–100, chosen stably by device id.
        #[arg(long)]
        percent: Option<u8>,
        /// Verification failures or rollbacks that pause it by itself (0: never).
        #[arg(long, default_value_t = 3)]
        max_failures: u32,
    },
    /// Stop offering a version until resumed.
    Pause {
        /// The version.
        version: String,
    },
    /// Offer a paused version again (failure count reset).
    Resume {
        /// The version.
        version: String,
    },
    /// End a rollout for good.
    Cancel {
        /// The version.
        version: String,
    },
    /// Images, rollouts and update counts per version; with --device, that
    /// device's update history.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// One device's history (check, initiate, each phase, complete or rollback).
        #[arg(long)]
        device: Option<String>,
    },
}

/// Runs one firmware command.
pub(super) fn run(data_dir: &Path, cmd: FirmwareCommand) -> Result<(), String> {
    match cmd {
        FirmwareCommand::Keygen => keygen(data_dir),
        FirmwareCommand::DeviceKeys => device_keys(data_dir),
        cmd => runtime()?.block_on(async {
            let store = open_store(data_dir)?;
            run_on_store(store.as_ref(), data_dir, cmd).await
        }),
    }
}

/// Prints what a device build embeds (the key commands never open the store).
fn device_keys(data_dir: &Path) -> Result<(), String> {
    let keys = FirmwareKeys::load(data_dir)?.for_device_build()?;
    let text = serde_json::to_string_pretty(&keys).map_err(|e| e.to_string())?;
    say(format_args!("{text}"));
    Ok(())
}

fn keygen(data_dir: &Path) -> Result<(), String> {
    if FirmwareKeys::create_if_missing(data_dir)? {
        say(format_args!(
            "created {SIGNING_KEY_FILE} and {AES_KEY_FILE} in {} (mode 0600); \
             `solarwire firmware device-keys` prints what a device build embeds",
            data_dir.display()
        ));
    } else {
        say(format_args!(
            "firmware keys already exist in {}",
            data_dir.display()
        ));
    }
    Ok(())
}

/// The commands that read or change the store (the key commands never open it).
async fn run_on_store(
    store: &dyn Store,
    data_dir: &Path,
    cmd: FirmwareCommand,
) -> Result<(), String> {
    match cmd {
        FirmwareCommand::Keygen => keygen(data_dir),
        FirmwareCommand::DeviceKeys => device_keys(data_dir),
        FirmwareCommand::Publish {
            file,
            version,
            notes,
            max_bytes,
        } => publish(store, data_dir, &file, &version, &notes, max_bytes).await,
        FirmwareCommand::Rollout {
            version,
            devices,
            percent,
            max_failures,
        } => {
            let devices = (!devices.is_empty()).then_some(devices);
            let target = check_target(devices, percent).map_err(|(_, m)| m)?;
            let rollout = store
                .set_rollout(&version, target, max_failures, now_ms())
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no firmware version {version}; publish it first"))?;
            say(format_args!(
                "rollout of {}: {}",
                rollout.version,
                describe(&rollout)
            ));
            Ok(())
        }
        FirmwareCommand::Pause { version } => change(store, &version, RolloutState::Paused).await,
        FirmwareCommand::Resume { version } => change(store, &version, RolloutState::Active).await,
        FirmwareCommand::Cancel { version } => {
            change(store, &version, RolloutState::Cancelled).await
        }
        FirmwareCommand::Status {
            json,
            device: Some(id),
        } => device_history(store, &id, json).await,
        FirmwareCommand::Status { json, device: None } => status(store, json).await,
    }
}

async fn publish(
    store: &dyn Store,
    data_dir: &Path,
    file: &Path,
    version: &str,
    notes: &str,
    max_bytes: usize,
) -> Result<(), String> {
    let mut image = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(max_bytes as u64 + 1).read_to_end(&mut image))
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let keys = FirmwareKeys::load(data_dir)?;
    let prepared = new_firmware(&image, version, notes, &keys, max_bytes)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let info = store
        .publish_firmware(prepared, now_ms())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("version {version} is already published"))?;
    say(format_args!(
        "published {}: {} bytes, {} encrypted in {} chunks of {}, sha256 {}",
        info.version,
        info.original_size,
        info.encrypted_size,
        info.total_chunks,
        info.chunk_size,
        info.sha256
    ));
    say(format_args!(
        "offer it: solarwire firmware rollout {} --percent 10   (or --devices ID,ID)",
        info.version
    ));
    Ok(())
}

async fn change(store: &dyn Store, version: &str, state: RolloutState) -> Result<(), String> {
    let reason =
        (state != RolloutState::Active).then(|| format!("{} by an operator", state.as_str()));
    let rollout = store
        .set_rollout_state(version, state, reason, now_ms())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("version {version} has no rollout"))?;
    say(format_args!("rollout of {version}: {}", describe(&rollout)));
    Ok(())
}

fn describe(r: &Rollout) -> String {
    let target = match &r.target {
        RolloutTarget::Devices(list) => format!("{} device(s)", list.len()),
        RolloutTarget::Percent(p) => format!("{p}% of the fleet"),
    };
    let reason = r
        .reason
        .as_deref()
        .map(|why| format!(" ({why})"))
        .unwrap_or_default();
    format!(
        "{} to {target}, {}/{} failures{reason}",
        r.state.as_str(),
        r.failures,
        r.max_failures
    )
}

/// Entries of a device's history the CLI shows.
const HISTORY: usize = 50;

async fn device_history(store: &dyn Store, id: &str, json: bool) -> Result<(), String> {
    crate::device_id::check(id).map_err(|m| format!("bad device id {id:?}: {m}"))?;
    let events = store
        .ota_history(id, HISTORY)
        .await
        .map_err(|e| e.to_string())?;
    if json {
        let text = serde_json::to_string_pretty(&events).map_err(|e| e.to_string())?;
        say(format_args!("{text}"));
        return Ok(());
    }
    for e in events.iter().rev() {
        let at = jiff::Timestamp::from_millisecond(i64::try_from(e.at_ms).unwrap_or(i64::MAX))
            .map_or_else(|_| e.at_ms.to_string(), |t| t.to_string());
        say(format_args!(
            "{at}  {:<22} {:<10} {}",
            e.kind,
            e.version.as_deref().unwrap_or("-"),
            e.detail.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}

async fn status(store: &dyn Store, json: bool) -> Result<(), String> {
    let images = store.firmware_images().await.map_err(|e| e.to_string())?;
    let rollouts = store.rollouts().await.map_err(|e| e.to_string())?;
    let versions = store.ota_stats().await.map_err(|e| e.to_string())?;
    if json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "images": images,
            "rollouts": rollouts,
            "versions": versions,
        }))
        .map_err(|e| e.to_string())?;
        say(format_args!("{text}"));
        return Ok(());
    }
    say(format_args!(
        "{:<16} {:>10} {:>7}  {}",
        "VERSION", "BYTES", "CHUNKS", "ROLLOUT"
    ));
    for image in &images {
        let rollout = rollouts
            .iter()
            .find(|r| r.version == image.version)
            .map_or_else(|| "-".to_owned(), describe);
        say(format_args!(
            "{:<16} {:>10} {:>7}  {rollout}",
            image.version, image.original_size, image.total_chunks
        ));
    }
    if !versions.is_empty() {
        say(format_args!(
            "\n{:<16} {:>8} {:>11} {:>9} {:>6} {:>11}",
            "VERSION", "SESSIONS", "IN PROGRESS", "SUCCEEDED", "FAILED", "ROLLED BACK"
        ));
        for v in versions {
            say(format_args!(
                "{:<16} {:>8} {:>11} {:>9} {:>6} {:>11}",
                v.version, v.sessions, v.in_progress, v.succeeded, v.failed, v.rolled_back
            ));
        }
    }
    Ok(())
}
