//! `solarwire simulate`: provisions the simulated devices' keys, runs, prints the summary.

use std::path::Path;

use solarwire_core::envelope::Keys;
use solarwire_core::registers::Profile;

use super::{open_store, runtime, say};
use crate::keys::{generate, parse_hmac_key};
use crate::simulate::SimulateArgs;
use crate::simulate::firmware::FirmwareDevice;
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
    let devices = units
        .into_iter()
        .zip(keys)
        .map(|((id, profile), keys)| match profile {
            Some(profile) => {
                let layout = profile.registers.iter().map(|r| r.id).collect();
                let mut device = FirmwareDevice::new(id, keys, layout);
                device.profile = profile;
                device
            }
            None => FirmwareDevice::new(id, keys, args.registers.clone()),
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
    let master = crate::key_vault::from_env(data_dir)?;
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
