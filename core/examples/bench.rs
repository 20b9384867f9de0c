//! `just bench`: P1 (full processing of a firmware upload vs HMAC alone),
//! per-codec decode throughput, and compression ratios on real PV data.
//!
//! Every figure is a ratio against a baseline measured in the same run.
//! `--json` prints the headline numbers as one JSON object for the host
//! benchmarks (wasm, Python) to compare against: P1 and its stages, and the
//! packets of [`batch_cases`] with their native batch decode times. `just
//! bench-wasm` runs it twice, the second time built with sha2's software
//! SHA-256 (what wasm has), to compare like with like.
#![allow(clippy::print_stdout)] // a benchmark report is printed output

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use solarwire_core::codec::{
    self, DecodeOptions, TemporalState, decode_batch, encode_bit_packed, encode_dictionary,
    encode_semantic_rle, encode_smart,
};
use solarwire_core::envelope::{Envelope, Keys};
use solarwire_core::registers::Catalog;
use solarwire_core::upload::{Limits, StreamState, Upload};

fn main() {
    let json_only = std::env::args().any(|a| a == "--json");
    let (body, key) = firmware_upload();
    let keys = Keys::new(&key);
    let catalog = Catalog::builtin();
    let profile = catalog.default_profile().expect("builtin profile");
    let limits = Limits::default();

    let process = || {
        let verified = Envelope::parse(&body)
            .and_then(|e| e.open(&keys))
            .expect("valid envelope");
        let upload = Upload::parse(&verified.payload, &limits).expect("valid upload");
        let decoded = upload.decode(&mut StreamState::new(), &limits, None);
        let mut sum = 0.0;
        for sample in &decoded.samples {
            for &(id, raw) in &sample.registers {
                sum += profile
                    .by_id(id)
                    .map_or(0.0, |r| r.read(raw).value.to_f64());
            }
        }
        sum
    };
    let hmac_only = || {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("any key length");
        mac.update(&body);
        mac.finalize().into_bytes()
    };
    if std::env::args().any(|a| a == "--profile") {
        // Loops the P1 workload alone, for `perf record`.
        let start = Instant::now();
        while start.elapsed().as_secs() < 3 {
            black_box(process());
        }
        return;
    }
    let (process_ns, hmac_ns, ratio) =
        compare_ns(|| black_box(process()), || black_box(hmac_only()));
    let packet = codec_packet();
    let decode_ns = time_ns(|| {
        black_box(codec::decode(&packet, &DecodeOptions::default()).expect("valid packet"))
    });

    if json_only {
        let stages: serde_json::Map<String, Value> = stage_times(&body, &keys, profile, &limits)
            .into_iter()
            .map(|(name, ns)| (name.to_string(), json!(ns)))
            .collect();
        let batches: Vec<Value> = batch_cases()
            .into_iter()
            .map(|(name, packet, copies)| {
                let packets = vec![packet.as_slice(); copies];
                let ns = time_ns(|| black_box(decode_batch(&packets, None)));
                json!({
                    "name": name,
                    "packet_hex": to_hex(&packet),
                    "copies": copies,
                    "native_ns_per_packet": ns / copies as f64,
                })
            })
            .collect();
        let out = json!({
            "process_upload_ns": process_ns,
            "hmac_ns": hmac_ns,
            "p1_ratio": ratio,
            "stages_ns": stages,
            "decode_packet_ns": decode_ns,
            "upload_body_bytes": body.len(),
            "packet_hex": to_hex(&packet),
            "batches": batches,
        });
        println!("{out}");
        return;
    }
    println!(
        "P1  firmware upload ({} bytes, 3 samples × 6 registers)",
        body.len()
    );
    println!(
        "    full processing {process_ns:>9.0} ns   (envelope, MAC, upload JSON, decode, convert)"
    );
    println!("    HMAC-SHA256     {hmac_ns:>9.0} ns   (same bytes)");
    println!(
        "    ratio           {ratio:>9.2}      (goal ≤ 2.0; median of batch pairs run back to back)"
    );
    stage_breakdown(&body, &keys, profile, &limits);
    println!();
    codec_throughput();
    println!();
    ratio_table();
}

/// Where the time of P1 goes, stage by stage.
fn stage_breakdown(body: &[u8], keys: &Keys, profile: &solarwire_core::Profile, limits: &Limits) {
    for (name, ns) in stage_times(body, keys, profile, limits) {
        println!("      {name:<26} {ns:>7.0} ns");
    }
}

/// The time of each stage of P1, in order.
fn stage_times(
    body: &[u8],
    keys: &Keys,
    profile: &solarwire_core::Profile,
    limits: &Limits,
) -> [(&'static str, f64); 5] {
    let envelope = Envelope::parse(body).expect("valid envelope");
    let verified = envelope.clone().open(keys).expect("verifies");
    let upload = Upload::parse(&verified.payload, limits).expect("valid upload");
    let decoded = upload.decode(&mut StreamState::new(), limits, None);
    [
        (
            "envelope JSON + base64",
            time_ns(|| black_box(Envelope::parse(body))),
        ),
        (
            "MAC over nonce ‖ payload",
            time_ns(|| black_box(envelope.clone().open(keys))),
        ),
        (
            "upload JSON",
            time_ns(|| black_box(Upload::parse(&verified.payload, limits))),
        ),
        (
            "decode packets",
            time_ns(|| black_box(upload.decode(&mut StreamState::new(), limits, None))),
        ),
        (
            "convert values",
            time_ns(|| {
                let readings = decoded.samples.iter().flat_map(|s| &s.registers);
                black_box(
                    readings
                        .map(|&(id, raw)| {
                            profile
                                .by_id(id)
                                .map_or(0.0, |r| r.read(raw).value.to_f64())
                        })
                        .sum::<f64>(),
                )
            }),
        ),
    ]
}

/// The packets every host decodes in bulk (`decode_batch`), with how many
/// copies make one call: the firmware's packet and 250-value packets of
/// each codec a device sends (at most 255 values, so that the header's
/// count needs no metadata).
fn batch_cases() -> Vec<(&'static str, Vec<u8>, usize)> {
    let ids: Vec<u8> = (0..250u32).map(|i| (i % 10) as u8).collect();
    let ramp: Vec<u16> = (0..250u32).map(|i| (2300 + (i * 7) % 900) as u16).collect();
    let few: Vec<u16> = (0..250u32)
        .map(|i| [0, 250, 2300, 50][(i % 4) as usize])
        .collect();
    vec![
        (
            "firmware packet, bit-packed 18 values",
            codec_packet(),
            1000,
        ),
        (
            "bit-packed, 250 values × 12 bits",
            encode_bit_packed(&ramp),
            100,
        ),
        (
            "dictionary, 250 values, 4 distinct",
            encode_dictionary(&few),
            100,
        ),
        (
            "semantic RLE, 250 values",
            encode_semantic_rle(&ramp, &ids),
            100,
        ),
    ]
}

/// The firmware-produced upload of `spec-tests/vectors/firmware/upload.json`.
fn firmware_upload() -> (Vec<u8>, Vec<u8>) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec-tests/vectors/firmware/upload.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("upload vectors"))
        .expect("json");
    let vector = file["vectors"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["id"] == "aggregated-one-packet"))
        .expect("vector");
    let key = hex(vector["hmac_key_hex"].as_str().expect("key"));
    (
        vector["body"].as_str().expect("body").as_bytes().to_vec(),
        key,
    )
}

/// The bit-packed packet inside that upload (3 samples × 6 registers).
fn codec_packet() -> Vec<u8> {
    hex("010c129000340470451c44b59020350480451c44bc9010350480461c54c4")
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Median of 15 batches, each long enough (~20 ms) to swamp timer noise.
fn time_ns<T>(mut f: impl FnMut() -> T) -> f64 {
    let per_batch = batch_size(&mut f);
    median((0..15).map(|_| batch_ns(&mut f, per_batch)).collect())
}

/// `a` and `b` timed in alternating batches (31 pairs), so that both see the
/// same machine load: their median times and the median of the per-pair
/// ratios `a / b`, which stays steady on a busy machine.
fn compare_ns<A, B>(mut a: impl FnMut() -> A, mut b: impl FnMut() -> B) -> (f64, f64, f64) {
    let (batch_a, batch_b) = (batch_size(&mut a), batch_size(&mut b));
    let pairs: Vec<(f64, f64)> = (0..31)
        .map(|_| (batch_ns(&mut a, batch_a), batch_ns(&mut b, batch_b)))
        .collect();
    (
        median(pairs.iter().map(|p| p.0).collect()),
        median(pairs.iter().map(|p| p.1).collect()),
        median(pairs.iter().map(|p| p.0 / p.1).collect()),
    )
}

/// How many calls take about 10 ms.
fn batch_size<T>(f: &mut impl FnMut() -> T) -> u64 {
    let mut per_batch = 1u64;
    while batch_ns(f, per_batch) * (per_batch as f64) < 10e6 {
        per_batch *= 2;
    }
    per_batch
}

/// Nanoseconds per call over one batch: time this thread spent on a CPU
/// where Linux reports it (so that time other processes take on a busy
/// machine is not counted), wall-clock time elsewhere.
fn batch_ns<T>(f: &mut impl FnMut() -> T, per_batch: u64) -> f64 {
    let (start, cpu_start) = (Instant::now(), on_cpu_ns());
    for _ in 0..per_batch {
        black_box(f());
    }
    let ns = match (cpu_start, on_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64,
        _ => start.elapsed().as_nanos() as f64,
    };
    ns / per_batch as f64
}

/// This thread's time on a CPU so far (the first field of its schedstat).
fn on_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn codec_throughput() {
    println!("Decode throughput (values per second; output bytes = 2 per value)");
    let ids: Vec<u8> = (0..4000u32).map(|i| (i % 10) as u8).collect();
    let ramp: Vec<u16> = (0..4000u32)
        .map(|i| (2300 + (i * 7) % 900) as u16)
        .collect();
    let few: Vec<u16> = (0..4000u32)
        .map(|i| [0, 250, 2300, 50][(i % 4) as usize])
        .collect();
    let big = DecodeOptions {
        expected_count: Some(4000),
        max_values: 4000,
        ..DecodeOptions::default()
    };
    let small = |n: usize| DecodeOptions {
        expected_count: Some(n),
        ..DecodeOptions::default()
    };
    let mut temporal_encoder = TemporalState::new();
    let six = [0u8, 1, 5, 6, 7, 9];
    let mut delta = Vec::new();
    let mut history = TemporalState::new();
    for step in 0..10u16 {
        let values = [2300 + step, 52, 70 + step % 3, 69, 450, 1200 + 13 * step];
        delta = temporal_encoder.encode(&values, &six);
        if step < 9 {
            history
                .decode(
                    &delta,
                    &DecodeOptions {
                        register_ids: Some(&six),
                        ..DecodeOptions::default()
                    },
                )
                .expect("base");
        }
    }
    let cases: Vec<(&str, Vec<u8>, DecodeOptions<'_>, usize)> = vec![
        (
            "bit-packed, 4000 values × 12 bits",
            encode_bit_packed(&ramp),
            big,
            4000,
        ),
        (
            "bit-packed, firmware packet (18 values)",
            codec_packet(),
            small(18),
            18,
        ),
        (
            "dictionary, 4000 values, 4 distinct",
            encode_dictionary(&few),
            big,
            4000,
        ),
        (
            "semantic RLE, 250 values",
            encode_semantic_rle(&ramp[..250], &ids[..250]),
            small(250),
            250,
        ),
    ];
    for (name, packet, opts, n) in &cases {
        let ns = time_ns(|| black_box(codec::decode(packet, opts).expect("decodes")));
        let values_per_s = *n as f64 / ns * 1e9;
        println!(
            "    {name:<42} {:>8.1} M values/s  {:>8.1} MB/s out",
            values_per_s / 1e6,
            values_per_s * 2.0 / 1e6
        );
    }
    let ns = time_ns(|| {
        let mut state = history.clone();
        black_box(
            state
                .decode(&delta, &DecodeOptions::default())
                .expect("delta"),
        )
    });
    println!(
        "    {:<42} {:>8.1} M values/s  (incl. cloning the 190-byte ring)",
        "temporal delta, 6 values",
        6.0 / ns * 1e3
    );
}

/// One PV channel scaled to 16-bit register values as the firmware does.
struct Channel {
    name: &'static str,
    register: u8,
    values: Vec<u16>,
}

fn ratio_table() {
    let channels = pv_channels();
    println!("Compression on real PV data (bytes as % of raw 16-bit values; lower is better)");
    println!(
        "    smart = the device's selection; semantic is lossy; zstd -3 on the same raw bytes per packet"
    );
    println!(
        "    {:<34} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "channel (register)", "n", "smart", "bitpack", "dict", "sem*", "zstd"
    );
    for ch in &channels {
        for n in [1usize, 3, 10, 50] {
            let mut sizes = [0usize; 5];
            let mut raw = 0usize;
            let mut state = TemporalState::new();
            for chunk in ch.values.chunks(n) {
                let ids = vec![ch.register; chunk.len()];
                raw += 2 * chunk.len();
                sizes[0] += encode_smart(chunk, &ids, &mut state).len();
                sizes[1] += encode_bit_packed(chunk).len();
                sizes[2] += encode_dictionary(chunk).len();
                sizes[3] += encode_semantic_rle(chunk, &ids).len();
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                sizes[4] += zstd::bulk::compress(&bytes, 3).expect("zstd").len();
            }
            let pct = |s: usize| format!("{:.0}%", 100.0 * s as f64 / raw as f64);
            println!(
                "    {:<34} {n:>4} {:>7} {:>7} {:>7} {:>7} {:>7}",
                format!("{} ({})", ch.name, ch.register),
                pct(sizes[0]),
                pct(sizes[1]),
                pct(sizes[2]),
                pct(sizes[3]),
                pct(sizes[4])
            );
        }
    }
    let layout = [0u8, 1, 3, 5, 7, 9];
    let device: Vec<&Channel> = layout
        .iter()
        .filter_map(|&r| channels.iter().find(|c| c.register == r))
        .collect();
    if device.len() == layout.len() {
        let rows = device.iter().map(|c| c.values.len()).min().unwrap_or(0);
        println!("    device layout Vac1 Iac1 Vpv1 Ipv1 Temp Pac (serf_west, 15 min):");
        for samples in [1usize, 3, 10] {
            let (mut smart, mut zst, mut raw) = (0, 0, 0);
            let mut state = TemporalState::new();
            for start in (0..rows).step_by(samples) {
                let end = (start + samples).min(rows);
                let values: Vec<u16> = (start..end)
                    .flat_map(|i| device.iter().map(move |c| c.values[i]))
                    .collect();
                let ids: Vec<u8> = (start..end).flat_map(|_| layout).collect();
                raw += 2 * values.len();
                smart += encode_smart(&values, &ids, &mut state).len();
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                zst += zstd::bulk::compress(&bytes, 3).expect("zstd").len();
            }
            println!(
                "      {samples:>2} sample(s) per packet: smart {:.0}%, zstd {:.0}%",
                100.0 * smart as f64 / raw as f64,
                100.0 * zst as f64 / raw as f64
            );
        }
    }
}

fn pv_channels() -> Vec<Channel> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/pv");
    let mut out = Vec::new();
    let mut add = |file: &str, column: &str, name: &'static str, register: u8, scale: f64| {
        if let Some(values) = read_column(&dir.join(file), column, scale) {
            out.push(Channel {
                name,
                register,
                values,
            });
        }
    };
    add(
        "serf_west_15min.csv",
        "ac_volts__778",
        "serf_west AC volts ×10",
        0,
        10.0,
    );
    add(
        "serf_west_15min.csv",
        "ac_current__779",
        "serf_west AC amps ×10",
        1,
        10.0,
    );
    add(
        "serf_west_15min.csv",
        "dc_pos_voltage__774",
        "serf_west DC volts ×10",
        3,
        10.0,
    );
    add(
        "serf_west_15min.csv",
        "dc_pos_current__775",
        "serf_west DC amps ×10",
        5,
        10.0,
    );
    add(
        "serf_west_15min.csv",
        "inveter_temp__784",
        "serf_west inverter °C ×10",
        7,
        10.0,
    );
    add(
        "serf_west_15min.csv",
        "ac_power__773",
        "serf_west AC W",
        9,
        1.0,
    );
    add(
        "serf_east_1min_ac_power.csv",
        "ac_power__752",
        "serf_east 1-min AC W",
        9,
        1.0,
    );
    add(
        "TAEFC1044741.csv",
        "meas_val_f",
        "SMA SB-7000TL 5-min AC W",
        9,
        1000.0,
    );
    out
}

/// A CSV column scaled and clamped to 0..=65535 (missing values skipped).
fn read_column(path: &Path, column: &str, scale: f64) -> Option<Vec<u16>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let index = lines.next()?.split(',').position(|h| h == column)?;
    Some(
        lines
            .filter_map(|l| l.split(',').nth(index)?.parse::<f64>().ok())
            .map(|v| (v * scale).round().clamp(0.0, 65535.0) as u16)
            .collect(),
    )
}
