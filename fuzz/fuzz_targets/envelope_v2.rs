//! Envelope v2 on arbitrary bytes (opening never panics), and sealing
//! arbitrary plaintexts under arbitrary headers opens to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solarwire_core::envelope_v2::{
    Content, HeaderV2, KeyId, KeysV2, SkewWindow, open_v2, peek_v2, seal_v2, sealed_len,
};

fuzz_target!(|data: &[u8]| {
    let keys = (KeyId(7), KeysV2::from_secret(&[7; 32]));
    let _ = peek_v2(data);
    let _ = open_v2(data, &keys, 0, SkewWindow::DEFAULT);

    let Some((head, plaintext)) = data.split_first_chunk::<13>() else {
        return;
    };
    let [flags, t @ .., iv0] = *head;
    let header = HeaderV2 {
        content: if flags & 1 == 0 { Content::Json } else { Content::Binary },
        key_id: KeyId(7),
        device_time_ms: u64::from_le_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]]),
        counter: u64::from(u32::from_le_bytes([t[8], t[9], t[10], iv0])),
    };
    let mut out = vec![0; sealed_len(plaintext.len())];
    let len = seal_v2(&header, plaintext, &keys.1, [iv0; 16], &mut out).expect("fits");
    let opened = open_v2(&out[..len], &keys, header.device_time_ms, SkewWindow::DEFAULT)
        .expect("a sealed envelope opens");
    assert_eq!(opened.header, header);
    assert_eq!(opened.plaintext, plaintext);
});
