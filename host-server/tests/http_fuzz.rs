//! `just fuzz` covers the HTTP ingest path (the fuzz target `http_ingest`);
//! this is the same driver (`common/http_fuzz.rs`) run as a bounded,
//! deterministic property test with every `cargo test`: valid uploads on
//! every ingest route, then mutations of them — arbitrary methods, header
//! lines, framing, encodings, bytes and bodies. Every answer is checked
//! (an error in the JSON shape with a listed code of its status, no hang,
//! no panic), and no mutated request moves a nonce or stores a row.
//! `SOLARWIRE_FUZZ_CASES` and `SOLARWIRE_FUZZ_SEED` run more or other cases.

mod common;

use common::http_fuzz::{self, IngestTarget, Outcome};
use solarwire_server::store::sqlite::database_path;

/// Header lines the mutations draw from: the framing and encoding cases
/// of the findings, and odd bytes.
const HEADERS: &[&[u8]] = &[
    b"content-type: application/json",
    b"content-type: text/plain",
    b"transfer-encoding: chunked",
    b"Transfer-Encoding: gzip, chunked",
    b"content-encoding: br",
    b"content-encoding: zstd",
    b"content-encoding: identity",
    b"content-encoding: x-unknown",
    b"expect: 100-continue",
    b"x-forwarded-for: 10.0.0.1",
    b"origin: http://evil.example",
    b"authorization: Bearer x.y.z",
    b"x-api-key: sw_0000000000",
    b"host: second",
    b"bad header",
    b": empty name",
    b"x-bytes: \xff\xfe\x00\x7f",
    b"x-crlf: a\rb",
];

/// splitmix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// One mutation of `input` (encoding of `http_fuzz::request`).
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let split = out
        .iter()
        .skip(2)
        .position(|&b| b == 0)
        .map_or(out.len(), |p| p + 2);
    match rng.below(9) {
        // Another method and target.
        0 => {
            out[0] = rng.byte();
            out[1] = rng.byte();
        }
        // A header line from the list.
        1 => {
            let mut line = HEADERS[rng.below(HEADERS.len())].to_vec();
            line.push(b'\n');
            out.splice(2..2, line);
        }
        // One huge header (over the 16 KiB cap, or just under it).
        2 => {
            let size = [8 * 1024, 17 * 1024, 110 * 1024][rng.below(3)];
            let mut line = b"x-big: ".to_vec();
            line.resize(size, b'a');
            line.push(b'\n');
            out.splice(2..2, line);
        }
        // Flip bytes anywhere (headers or body).
        3 => {
            for _ in 0..=rng.below(8) {
                let at = 2 + rng.below(out.len() - 2);
                out[at] ^= 1 << rng.below(8);
            }
        }
        // Truncate the body.
        4 => out.truncate(split + 1 + rng.below(out.len() - split)),
        // Random bytes inserted into the body.
        5 => {
            let at = (split + 1 + rng.below(out.len() - split)).min(out.len());
            let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.byte()).collect();
            out.splice(at..at, junk);
        }
        // The body replaced by random bytes.
        6 => {
            out.truncate((split + 1).min(out.len()));
            out.extend((0..rng.below(512)).map(|_| rng.byte()));
        }
        // A JSON value swapped inside the body.
        7 => {
            let body = String::from_utf8_lossy(&out[(split + 1).min(out.len())..]).into_owned();
            let swapped = body
                .replacen("\"nonce\":", "\"nonce\":-", 1)
                .replacen("ESP32_001", "FLEET_9", 1)
                .replacen("\"mac\":\"", "\"mac\":\"0", 1);
            out.truncate((split + 1).min(out.len()));
            out.extend_from_slice(swapped.as_bytes());
        }
        // Chunked framing whose chunks lie about their size.
        _ => {
            out.splice(2..2, b"transfer-encoding: chunked\n".to_vec());
            let body = out.split_off((split + 28).min(out.len()));
            out.extend_from_slice(format!("{:x}\r\n", body.len() + rng.below(3)).as_bytes());
            out.extend_from_slice(&body);
            out.extend_from_slice(b"\r\n0\r\n\r\n");
        }
    }
    out
}

fn footprint(target: &IngestTarget) -> (i64, Vec<(String, Option<i64>)>) {
    let db = rusqlite::Connection::open(database_path(target.data_dir())).unwrap();
    let uploads = db
        .query_row("SELECT COUNT(*) FROM uploads", [], |r| r.get(0))
        .unwrap();
    let mut stmt = db
        .prepare("SELECT device_id, last_nonce FROM devices ORDER BY device_id")
        .unwrap();
    let nonces = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (uploads, nonces)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn arbitrary_requests_on_the_ingest_path_are_answered_in_the_error_shape() {
    let target = IngestTarget::start();
    let (mut device, mut fleet) = (http_fuzz::device(), http_fuzz::fleet_device());
    let seeds = target.seeds(&mut device, &mut fleet);
    // The seeds reach ingest: each is stored or answered.
    for seed in &seeds {
        match target.run(seed) {
            Outcome::Answer(200, _) => {}
            other => panic!("seed refused: {other:?}"),
        }
    }
    let stored = footprint(&target);
    assert_eq!(stored.0, 4, "four uploads stored: {stored:?}");

    let mut rng = Rng(env_number("SOLARWIRE_FUZZ_SEED", 12));
    let mut errors = 0;
    for _ in 0..env_number("SOLARWIRE_FUZZ_CASES", 300) {
        let mut input = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(3) {
            input = mutate(&mut rng, &input);
        }
        if let Outcome::Answer(status, _) = target.run(&input) {
            errors += usize::from(status >= 400);
        }
    }
    assert!(
        errors > 0,
        "no mutation was refused: the driver reaches nothing"
    );
    // A resend of a stored upload is a duplicate; nothing else was valid.
    assert_eq!(footprint(&target), stored);
}
