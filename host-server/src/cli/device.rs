//! `solarwire device …`: operator commands on the database. They are safe
//! beside a running server, which notices changes within a second.

use std::io::Read;
use std::path::Path;

use clap::{Args, Subcommand};

use super::{open_store, runtime, say};
use crate::key_vault;
use crate::keys::{generate, parse_hmac_key};
use crate::store::{DeviceKeys, Store, profiles};

/// Device commands.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Add a device and print its new key (shown once).
    Add {
        /// Device id: 1–64 characters of A-Z a-z 0-9 _ . : -
        id: String,
        #[command(flatten)]
        keys: KeyArgs,
        /// The register profile its uploads are read with, which says its
        /// kind (`bess-rack-1`, `pcs-1`, `meter-3ph-1`,
        /// `string-inverter-1`; default `ecowatt-1.3`).
        #[arg(long)]
        profile: Option<String>,
    },
    /// List devices.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one device with its statistics.
    Show {
        /// Device id.
        id: String,
    },
    /// Give a device new keys (printed once); the old ones stop working. A
    /// device admitted by the fleet key gets its own key this way (the fleet
    /// key no longer verifies it).
    RotateKey {
        /// Device id.
        id: String,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Delete a device with all its uploads and samples.
    Remove {
        /// Device id.
        id: String,
    },
    /// Replace the master key that encrypts device keys at rest: every
    /// device's keys are re-sealed under a new random key in one
    /// transaction (all or none), then it replaces DATA_DIR/master-key.
    /// With SOLARWIRE_MASTER_KEY set, the new key is printed once instead;
    /// it takes effect only if the command succeeds: then set the variable
    /// to it and restart the servers.
    RotateMasterKey,
    /// Forget a device's last nonce, for a device whose counter wrapped or
    /// was wiped (it then restarts at 11001 and would be refused as a replay).
    ResetNonce {
        /// Device id.
        id: String,
    },
    /// Give a device a new envelope v2 key (its secret printed once) under
    /// the next key id; envelopes sealed with its current key are still
    /// accepted for the overlap.
    EnvelopeKey {
        /// Device id.
        id: String,
        /// How long the current key stays valid (e.g. `0s`, `30m`, `24h`).
        #[arg(long, default_value = "1h", value_parser = crate::duration::parse_duration)]
        overlap: std::time::Duration,
    },
}

/// How a device's keys are made.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Also create an AES-128 key (for encrypted envelopes).
    #[arg(long)]
    aes: bool,
    /// Read the HMAC key (hex, at least 16 bytes) from standard input instead
    /// of generating one: for devices whose key is built into the firmware.
    #[arg(long)]
    import_key: bool,
}

/// Runs one device command.
pub(super) fn run(data_dir: &Path, cmd: DeviceCommand) -> Result<(), String> {
    runtime()?.block_on(run_with(data_dir, cmd))
}

async fn run_with(data_dir: &Path, cmd: DeviceCommand) -> Result<(), String> {
    let store = open_store(data_dir)?;
    match cmd {
        DeviceCommand::Add { id, keys, profile } => {
            check(&id)?;
            let keys = make_keys(&keys)?;
            let sealed = key_vault::for_command(data_dir, store.as_ref())
                .await?
                .seal(&id, &keys)?;
            if !profiles::add_device(store.as_ref(), &id, sealed, profile.as_deref())
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "device {id} already exists (see `solarwire device rotate-key`)"
                ));
            }
            say(format_args!("added device {id}"));
            print_keys(&keys);
        }
        DeviceCommand::RotateKey { id, keys } => {
            check(&id)?;
            let keys = make_keys(&keys)?;
            let sealed = key_vault::for_command(data_dir, store.as_ref())
                .await?
                .seal(&id, &keys)?;
            found(&id, store.rotate_keys(&id, sealed).await)?;
            say(format_args!(
                "new keys for device {id}; the old ones no longer verify"
            ));
            print_keys(&keys);
        }
        DeviceCommand::Remove { id } => {
            found(&id, store.remove_device(&id).await)?;
            say(format_args!("removed device {id} and its data"));
        }
        DeviceCommand::ResetNonce { id } => {
            found(&id, store.reset_nonce(&id).await)?;
            say(format_args!(
                "device {id}: nonce reset; its next upload is accepted with any nonce"
            ));
        }
        DeviceCommand::RotateMasterKey => rotate_master_key(data_dir, store.as_ref()).await?,
        DeviceCommand::EnvelopeKey { id, overlap } => {
            let master = key_vault::for_command(data_dir, store.as_ref()).await?;
            let overlap_ms = u64::try_from(overlap.as_millis()).unwrap_or(u64::MAX);
            let (key_id, secret) =
                crate::keys::rotate_envelope_key(store.as_ref(), &master, &id, overlap_ms)
                    .await?
                    .ok_or_else(|| format!("no device {id}"))?;
            say(format_args!(
                "device {id}: envelope v2 key id {key_id}; the previous key (if any) stays valid for {} s",
                overlap.as_secs()
            ));
            say(format_args!(
                "envelope v2 secret (hex, shown once): {}",
                hex::encode(secret)
            ));
        }
        DeviceCommand::List { json } => list(store.as_ref(), json).await?,
        DeviceCommand::Show { id } => {
            let detail = store
                .device(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no device {id}"))?;
            let text = serde_json::to_string_pretty(&detail).map_err(|e| e.to_string())?;
            say(format_args!("{text}"));
        }
    }
    Ok(())
}

fn check(id: &str) -> Result<(), String> {
    crate::device_id::check(id).map_err(|m| format!("bad device id {id:?}: {m}"))
}

fn found(id: &str, result: Result<bool, crate::store::StoreError>) -> Result<(), String> {
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("no device {id}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn rotate_master_key(data_dir: &Path, store: &dyn Store) -> Result<(), String> {
    let env = key_vault::MASTER_KEY_ENV;
    if std::env::var_os(env).is_none() {
        let count = key_vault::rotate_file(data_dir, store).await?;
        say(format_args!(
            "{count} devices re-sealed under a new master key in {}",
            key_vault::key_path(data_dir).display()
        ));
        return Ok(());
    }
    let old = key_vault::for_command(data_dir, store).await?;
    let secret = key_vault::generate()?;
    // Shown before the transaction: a crash after it commits loses nothing.
    say(format_args!(
        "new master key (shown once; it takes effect only if this command succeeds): {}",
        hex::encode(&secret)
    ));
    let count = key_vault::reseal_all(store, &old, &key_vault::MasterKey::from_secret(&secret))
        .await
        .map_err(|e| format!("{e}; nothing changed, {env} stays as it is"))?;
    say(format_args!(
        "{count} devices re-sealed; set {env} to the new master key and restart the servers"
    ));
    Ok(())
}

fn make_keys(args: &KeyArgs) -> Result<DeviceKeys, String> {
    let mut keys = generate(args.aes).map_err(|e| format!("no OS randomness: {e}"))?;
    if args.import_key {
        let mut text = String::new();
        std::io::stdin()
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the key from stdin: {e}"))?;
        keys.hmac = Some(parse_hmac_key(&text)?);
    }
    Ok(keys)
}

fn print_keys(keys: &DeviceKeys) {
    if let Some(hmac) = &keys.hmac {
        say(format_args!(
            "HMAC key (shown once; store it in the device): {}",
            hex::encode(hmac)
        ));
    }
    if let Some(aes) = &keys.aes {
        say(format_args!("AES key (shown once): {}", hex::encode(aes)));
    }
}

async fn list(store: &dyn Store, json: bool) -> Result<(), String> {
    let devices = store.devices().await.map_err(|e| e.to_string())?;
    if json {
        let text = serde_json::to_string_pretty(&devices).map_err(|e| e.to_string())?;
        say(format_args!("{text}"));
        return Ok(());
    }
    say(format_args!(
        "{:<24} {:>10} {:>10} {:>12} {:<5} {:<26} {}",
        "DEVICE", "UPLOADS", "SAMPLES", "LAST NONCE", "KEY", "ADMITTED BY", "FIRMWARE"
    ));
    for d in devices {
        say(format_args!(
            "{:<24} {:>10} {:>10} {:>12} {:<5} {:<26} {}",
            d.device_id,
            d.uploads,
            d.samples,
            d.last_nonce.map_or("-".into(), |n| n.to_string()),
            d.key,
            d.admitted_by.as_deref().unwrap_or("operator"),
            // Written by devices: control characters are shown escaped.
            d.firmware_version
                .as_deref()
                .map_or("-".into(), |v| v.escape_debug().to_string())
        ));
    }
    Ok(())
}
