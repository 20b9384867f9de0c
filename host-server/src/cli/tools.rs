//! `solarwire inspect`, `seal` and `keygen`: the core's explanation and
//! sealing on the command line, and fresh keys from OS randomness.

use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use solarwire_core::envelope::{Keys, Nonce, SealOptions, seal};
use solarwire_core::inspect::{Inspection, Status, inspect};
use solarwire_core::registers::Catalog;

use super::say;
use crate::keys::{core_keys, generate, parse_aes_key, parse_hmac_key};

/// Largest input read from a file or stdin.
const MAX_INPUT: u64 = 1 << 20;

/// Keys given on the command line.
#[derive(Debug, Args)]
pub(super) struct KeyFlags {
    /// HMAC key (hex). Prefer SOLARWIRE_HMAC_KEY: command lines are visible to other users.
    #[arg(long = "key", env = "SOLARWIRE_HMAC_KEY", hide_env_values = true)]
    hmac: Option<String>,
    /// AES-128 key (hex) for encrypted envelopes (static firmware IV).
    #[arg(long = "aes-key", env = "SOLARWIRE_AES_KEY", hide_env_values = true)]
    aes: Option<String>,
}

impl KeyFlags {
    fn keys(&self) -> Result<Option<Keys>, String> {
        let Some(hmac) = &self.hmac else {
            return match self.aes {
                Some(_) => Err("--aes-key needs --key".into()),
                None => Ok(None),
            };
        };
        let aes = self.aes.as_deref().map(parse_aes_key).transpose()?;
        Ok(Some(core_keys(&parse_hmac_key(hmac)?, aes)))
    }
}

/// `solarwire inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// An envelope, upload body or packet (hex or base64); `-` or nothing reads stdin.
    file: Option<PathBuf>,
    #[command(flatten)]
    keys: KeyFlags,
    /// Register profile for conversions (`ecowatt-1.3`, `legacy`).
    #[arg(long, default_value = "ecowatt-1.3")]
    profile: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `solarwire seal`.
#[derive(Debug, Args)]
pub struct SealArgs {
    /// The payload (upload JSON) to seal; `-` or nothing reads stdin.
    file: Option<PathBuf>,
    /// The envelope's nonce.
    #[arg(long)]
    nonce: u32,
    #[command(flatten)]
    keys: KeyFlags,
    /// Encrypt the payload (needs --aes-key; the firmware never does).
    #[arg(long)]
    encrypt: bool,
}

/// `solarwire keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Also print an AES-128 key.
    #[arg(long)]
    aes: bool,
}

fn read_input(file: Option<&PathBuf>) -> Result<String, String> {
    let mut text = String::new();
    let read = match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => std::fs::File::open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?
            .take(MAX_INPUT)
            .read_to_string(&mut text),
        None => std::io::stdin().take(MAX_INPUT).read_to_string(&mut text),
    };
    read.map_err(|e| format!("cannot read the input: {e}"))?;
    Ok(text)
}

/// Explains an envelope, upload body or packet; fails when a stage failed.
pub(super) fn run_inspect(args: &InspectArgs) -> Result<(), String> {
    let text = read_input(args.file.as_ref())?;
    let keys = args.keys.keys()?;
    let catalog = Catalog::builtin();
    let profile = catalog
        .profile(&args.profile)
        .map_err(|_| format!("unknown profile {:?}", args.profile))?;
    let report = inspect(&text, keys.as_ref(), profile);
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        say(format_args!("{json}"));
    } else {
        say(format_args!("{}", table(&report)));
    }
    if report.ok() {
        Ok(())
    } else {
        Err("the input did not pass every stage".into())
    }
}

/// A readable rendering of an inspection.
fn table(r: &Inspection) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "input: {:?}", r.kind);
    for s in &r.stages {
        let status = match s.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skipped => "skip",
        };
        let code = s.code.map(|c| format!(" [{c}]")).unwrap_or_default();
        let _ = writeln!(out, "  {status}  {:<10} {}{code}", s.name, s.message);
    }
    if let Some(e) = &r.envelope {
        let _ = writeln!(
            out,
            "envelope: nonce {}, encrypted {}, binary {}, MAC verified {}",
            e.nonce, e.encrypted, e.compressed, e.verified
        );
    }
    if let Some(d) = &r.device_id {
        let _ = writeln!(out, "device: {d}");
    }
    for p in &r.packets {
        let method = p.method.map_or("unknown", |m| m.code());
        let ratio = p.ratio_permille.map_or(String::new(), |r| {
            format!(", ratio {:.3}", f64::from(r) / 1000.0)
        });
        let error = p.error.map(|e| format!(" [{e}]")).unwrap_or_default();
        let _ = writeln!(
            out,
            "packet {}: {method}, {} B → {} B{ratio}, {} values, {}{error}",
            p.index,
            p.size,
            p.original_size,
            p.values.len(),
            p.outcome.code()
        );
    }
    for s in &r.samples {
        let readings: Vec<String> = s
            .readings
            .iter()
            .map(|x| format!("{}={}", x.name, x.text))
            .collect();
        let t = s.t_ms.map_or("-".into(), |t| t.to_string());
        let approx = if s.approximate { " (approximate)" } else { "" };
        let _ = writeln!(
            out,
            "sample t_ms={t} packet {}: {}{approx}",
            s.packet,
            readings.join(" ")
        );
    }
    out.trim_end().to_owned()
}

/// Seals a payload as the firmware does and prints the envelope.
pub(super) fn run_seal(args: &SealArgs) -> Result<(), String> {
    let payload = read_input(args.file.as_ref())?;
    let keys = args
        .keys
        .keys()?
        .ok_or("--key (or SOLARWIRE_HMAC_KEY) is required")?;
    let options = SealOptions {
        encrypt: args.encrypt,
        compressed: false,
    };
    let sealed = seal(
        payload.trim_end().as_bytes(),
        Nonce(args.nonce),
        &keys,
        options,
    )
    .map_err(|e| format!("{} ({})", e, e.code()))?;
    say(format_args!("{}", sealed.envelope));
    Ok(())
}

/// Prints fresh random keys.
pub(super) fn run_keygen(args: &KeygenArgs) -> Result<(), String> {
    let keys = generate(args.aes).map_err(|e| format!("no OS randomness: {e}"))?;
    if let Some(hmac) = &keys.hmac {
        say(format_args!("hmac_key {}", hex::encode(hmac)));
    }
    if let Some(aes) = &keys.aes {
        say(format_args!("aes_key  {}", hex::encode(aes)));
    }
    Ok(())
}
