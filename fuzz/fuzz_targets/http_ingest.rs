//! The server's HTTP ingest path on arbitrary methods, headers and bodies:
//! a real server in this process, every answer checked (the driver is
//! `host-server/tests/common/http_fuzz.rs`, also run as the bounded test
//! `host-server/tests/http_fuzz.rs`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../host-server/tests/common/http_fuzz.rs"]
#[allow(dead_code)]
mod http_fuzz;

static TARGET: OnceLock<http_fuzz::IngestTarget> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    TARGET.get_or_init(http_fuzz::IngestTarget::start).run(data);
});
