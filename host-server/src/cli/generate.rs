//! `solarwire generate-history`: days of firmware-like uploads for a fleet,
//! stored through the real store (writer, decoding, group commit), for
//! benchmarks and demos. Run it with the server stopped.

use std::path::Path;

use bytes::Bytes;
use clap::Args;
use solarwire_core::envelope::Keys;
use solarwire_core::upload::{Format, Limits, Upload};

use super::{runtime, say};
use crate::clock::now_ms;
use crate::simulate::firmware::FirmwareDevice;
use crate::simulate::inverter::Inverter;
use crate::store::ingest::IngestConfig;
use crate::store::{IngestJob, Store, StoreOptions, open_store};

/// Registers sampled (the firmware's default selection).
const LAYOUT: [u8; 6] = [0, 1, 5, 6, 7, 9];
/// Samples per packet and packets per upload (the firmware sends at most 8).
const PER_PACKET: usize = 48;
const PER_UPLOAD: usize = 8;

/// History to generate.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Devices (ids GEN_0001, GEN_0002, …; added when missing).
    #[arg(long, default_value_t = 10)]
    devices: usize,
    /// Days of history, ending now.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Seconds between samples.
    #[arg(long, default_value_t = 5)]
    poll_interval: u32,
}

/// Generates and stores the history.
pub(super) fn run(data_dir: &Path, args: &GenerateArgs) -> Result<(), String> {
    if args.devices == 0 || args.days == 0 || args.poll_interval == 0 {
        return Err("--devices, --days and --poll-interval must be positive".into());
    }
    runtime()?.block_on(async {
        let limits = Limits {
            max_packets: PER_UPLOAD,
            max_values: 4096,
            // Generated history lies in the past on purpose.
            window: None,
        };
        let options = StoreOptions {
            ingest: IngestConfig {
                queue: 1024,
                batch: 64,
                limits,
                max_gap_ms: crate::store::DEFAULT_MAX_GAP_MS,
            },
            ..StoreOptions::command()
        };
        let store =
            open_store(&super::command_store_url(data_dir), options).map_err(|e| e.to_string())?;
        let poll_ms = u64::from(args.poll_interval) * 1000;
        let end = now_ms() - now_ms() % poll_ms;
        let start = end - u64::from(args.days) * 86_400_000;
        let mut tasks = Vec::new();
        for i in 1..=args.devices {
            let id = format!("GEN_{i:04}");
            let keys = crate::keys::generate(false).map_err(|e| e.to_string())?;
            store
                .add_device(&id, keys)
                .await
                .map_err(|e| e.to_string())?;
            let store = store.clone();
            let poll = args.poll_interval;
            tasks.push(tokio::spawn(async move {
                device_history(store.as_ref(), id, i as u64, (start, end), poll, &limits).await
            }));
        }
        let mut uploads = 0;
        let mut samples = 0;
        for task in tasks {
            let (u, s) = task.await.map_err(|e| e.to_string())??;
            uploads += u;
            samples += s;
        }
        say(format_args!(
            "stored {uploads} uploads, {samples} samples of {} devices over {} days in {}",
            args.devices,
            args.days,
            data_dir.display()
        ));
        Ok(())
    })
}

/// One device's uploads from `start` to `end`; `(uploads, samples)` stored.
async fn device_history(
    store: &dyn Store,
    id: String,
    seed: u64,
    (start, end): (u64, u64),
    poll_s: u32,
    limits: &Limits,
) -> Result<(u64, u64), String> {
    let mut inverter = Inverter::new(seed);
    let mut device = FirmwareDevice::new(id.clone(), Keys::new(&[0; 32]), LAYOUT.to_vec());
    let poll_ms = u64::from(poll_s) * 1000;
    let (mut t, mut uploads, mut samples) = (start, 0, 0);
    while t < end {
        let mut packets = Vec::with_capacity(PER_UPLOAD);
        for _ in 0..PER_UPLOAD {
            let rows: Vec<Vec<u16>> = (0..PER_PACKET)
                .map(|k| {
                    let at = t + k as u64 * poll_ms;
                    let all = inverter.read((at % 86_400_000) as f64 / 1000.0, f64::from(poll_s));
                    LAYOUT.iter().map(|&r| all[usize::from(r)]).collect()
                })
                .collect();
            t += PER_PACKET as u64 * poll_ms;
            packets.push(device.compress(&rows, t - poll_ms));
        }
        let json = device.upload_json(&packets, t / 1000, poll_s);
        let upload = Upload::parse(json.as_bytes(), limits).map_err(|e| e.to_string())?;
        store
            .ingest(IngestJob {
                device: id.clone(),
                auto_register: None,
                seal: None,
                format: Format::Aggregated,
                upload,
                raw: Bytes::from(json),
                received_ms: t,
            })
            .await
            .map_err(|e| format!("{id}: {e:?}"))?;
        uploads += 1;
        samples += (PER_UPLOAD * PER_PACKET) as u64;
    }
    Ok((uploads, samples))
}
