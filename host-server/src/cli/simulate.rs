//! `solarwire simulate`: provisions the simulated devices' keys, runs, prints the summary.

use std::path::Path;

use solarwire_core::envelope::Keys;
use solarwire_core::registers::Profile;

use super::{open_store, runtime, say};
use crate::keys::{generate, parse_hmac_key, rotate_envelope_key};
use crate::simulate::SimulateArgs;
use crate::simulate::firmware::{FirmwareDevice, PacketFormat};
use crate::site::profile_for;
use crate::store::profiles;

/// Runs a simulation.
pub(super) fn run(data_dir: &Path, args: &SimulateArgs) -> Result<(), String> {
    let units = units(args)?;
    for (id, _) in &units {
        crate::device_id::check(id).map_err(|m| format!("bad device id {id:?}: {m}"))?;
    }
    let runtime = runtime()?;
    let keys = runtime.block_on(device_keys(data_dir, args, &units))?;
    let envelope = if args.format == PacketFormat::V2 && args.key.is_none() {
        let ids: Vec<String> = units.iter().map(|(id, _)| id.clone()).collect();
        runtime.block_on(envelope_keys(data_dir, &ids))?
    } else {
        vec![None; units.len()]
    };
    let devices = units
        .into_iter()
        .zip(keys)
        .zip(envelope)
        .map(|(((id, profile), keys), envelope)| {
            let device = match profile {
                Some(profile) => {
                    let layout = profile.registers.iter().map(|r| r.id).collect();
                    let mut device = FirmwareDevice::new(id, keys, layout);
                    device.profile = profile;
                    device
                }
                None => FirmwareDevice::new(id, keys, args.registers.clone()),
            };
            match envelope {
                Some((key_id, secret)) => device.with_envelope_v2(key_id, &secret),
                None => device,
            }
        })
        .collect();
    // What the devices' build embeds, when this data directory has the fleet
    // firmware keys: the simulated devices then verify updates as the firmware does.
    let firmware = crate::fota::FirmwareKeys::load(data_dir)
        .ok()
        .and_then(|k| k.for_device_build().ok());
    let summary = runtime.block_on(crate::simulate::run(args, devices, firmware.as_ref()))?;
    if args.json {
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        say(format_args!("{text}"));
    } else {
        say(format_args!("{summary}"));
    }
    Ok(())
}

/// The devices to simulate: the site's, each with its profile, or the
/// inverter loggers of `--devices`/`--device` (the default profile).
fn units(args: &SimulateArgs) -> Result<Vec<(String, Option<&'static Profile>)>, String> {
    let Some(site) = args.load_site()? else {
        return Ok(args.ids().into_iter().map(|id| (id, None)).collect());
    };
    site.devices()
        .map(|(id, kind)| {
            let profile = crate::readings::profile_named(Some(profile_for(kind)))
                .map_err(|e| e.to_string())?;
            Ok((id.to_owned(), Some(profile)))
        })
        .collect()
}

/// The given key for every device, or each device's key from the local
/// database (adding devices that do not exist yet, with their profile).
async fn device_keys(
    data_dir: &Path,
    args: &SimulateArgs,
    units: &[(String, Option<&'static Profile>)],
) -> Result<Vec<Keys>, String> {
    if let Some(hex) = &args.key {
        let key = parse_hmac_key(hex)?;
        return Ok(units.iter().map(|_| Keys::new(&key)).collect());
    }
    let store = open_store(data_dir)?;
    let master = crate::key_vault::for_command(data_dir, store.as_ref()).await?;
    let mut added = 0;
    let mut keys = Vec::with_capacity(units.len());
    for (id, profile) in units {
        let stored = store
            .device_keys(id)
            .await
            .map_err(|e| e.to_string())?
            .map(|k| master.open(id, &k))
            .transpose()?;
        let hmac = match stored {
            Some(k) => k
                .hmac
                .ok_or_else(|| format!("device {id} uses the fleet key: pass it with --key"))?,
            None => {
                let new = generate(false).map_err(|e| format!("no OS randomness: {e}"))?;
                let profile = profile.map(|p| p.name.as_str());
                profiles::add_device(store.as_ref(), id, master.seal(id, &new)?, profile)
                    .await
                    .map_err(|e| e.to_string())?;
                added += 1;
                new.hmac.unwrap_or_default()
            }
        };
        keys.push(Keys::new(&hmac));
    }
    if added > 0 {
        say(format_args!(
            "added {added} simulated device(s) to {}",
            data_dir.display()
        ));
    }
    Ok(keys)
}

/// Each device's current envelope v2 key (id and secret) from the local
/// database; a device without one gets its first.
async fn envelope_keys(
    data_dir: &Path,
    ids: &[String],
) -> Result<Vec<Option<(u32, [u8; 32])>>, String> {
    let store = open_store(data_dir)?;
    let master = crate::key_vault::for_command(data_dir, store.as_ref()).await?;
    let mut keys = Vec::with_capacity(ids.len());
    for id in ids {
        let stored = store.envelope_keys(id).await.map_err(|e| e.to_string())?;
        let key = match stored {
            Some(stored) => Some((
                stored.current.id,
                master.open_envelope_key(id, &stored.current)?,
            )),
            None => rotate_envelope_key(store.as_ref(), &master, id, 0).await?,
        };
        keys.push(key);
    }
    Ok(keys)
}
