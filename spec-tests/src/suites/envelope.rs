//! `envelope`: opening a secured upload, in the order structure, MAC, replay.

use serde_json::{Value, json};
use solarwire_core::envelope::{Envelope, FIRMWARE_IV, Keys, Nonce};
use solarwire_core::replay::{LastAccepted, decide};

use super::{Suite, Verdict, equal};
use crate::FileError;
use crate::input::{Vector, hex_field, opt_hex, opt_u64, str_field, to_hex};

pub(super) static SUITE: Suite = Suite {
    run,
    compare: equal,
};

/// The keys of an envelope, seal or upload vector.
pub(super) fn keys(v: &Vector) -> Result<Keys, FileError> {
    let keys = Keys::new(&hex_field(v, "hmac_key_hex")?);
    let Some(aes) = opt_hex(v, "aes_key_hex")? else {
        return Ok(keys);
    };
    let iv = opt_hex(v, "aes_iv_hex")?.unwrap_or(FIRMWARE_IV.to_vec());
    let aes: [u8; 16] = aes
        .try_into()
        .map_err(|_| FileError::new("aes_key_hex must be 16 bytes"))?;
    let iv: [u8; 16] = iv
        .try_into()
        .map_err(|_| FileError::new("aes_iv_hex must be 16 bytes"))?;
    Ok(keys.with_aes(aes, iv))
}

/// `last_nonce` as the replay state it describes (no MAC: never a duplicate).
pub(super) fn last_accepted(v: &Vector) -> Result<Option<LastAccepted>, FileError> {
    let last = opt_u64(v, "last_nonce")?
        .map(|n| u32::try_from(n).map_err(|_| FileError::new("last_nonce must fit u32")));
    Ok(last.transpose()?.map(|n| LastAccepted {
        nonce: Nonce(n),
        mac: None,
    }))
}

fn run(v: &Vector) -> Result<Verdict, FileError> {
    let keys = keys(v)?;
    let last = last_accepted(v)?;
    let result = Envelope::parse(str_field(v, "envelope")?.as_bytes())
        .and_then(|e| e.open(&keys))
        .map_err(|e| e.code())
        .and_then(|ok| {
            decide(last.as_ref(), ok.nonce, &ok.mac)
                .map(|_| ok)
                .map_err(|e| e.code())
        });
    Ok(match result {
        Ok(ok) => Verdict::Ok(opened_json(
            ok.nonce,
            &ok.payload,
            ok.encrypted,
            ok.compressed,
        )),
        Err(code) => Verdict::Error(code),
    })
}

fn opened_json(nonce: Nonce, payload: &[u8], encrypted: bool, compressed: bool) -> Value {
    json!({ "nonce": nonce.0, "payload_hex": to_hex(payload), "encrypted": encrypted, "compressed": compressed })
}
