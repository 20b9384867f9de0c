# solarwire: every build, test and benchmark entry point.
set shell := ["bash", "-euo", "pipefail", "-c"]

venv := justfile_directory() / "target/py-venv"

# List the recipes.
default:
    @just --list

# Run every check and test: the one command for CI and humans.
test: fmt lint test-native test-wasm test-python test-server test-dashboard

# Check formatting.
fmt:
    cargo fmt --all -- --check

# Clippy with warnings as errors on the native crates, then the core's purity check.
lint: check-core
    cargo clippy --workspace --all-targets -- -D warnings

# The core's normal dependency tree must hold no std-only, I/O or randomness crate.
check-core:
    #!/usr/bin/env bash
    set -euo pipefail
    tree=$(cargo tree -p solarwire-core -e normal --prefix none)
    bad=$(grep -E '^(getrandom|rand|rand_core|js-sys|wasm-bindgen|web-sys|pyo3|tokio|std) ' <<<"$tree" || true)
    if [ -n "$bad" ]; then echo "solarwire-core depends on: $bad"; exit 1; fi
    echo "solarwire-core: $(wc -l <<<"$tree") crates, none std-only or I/O"

# The device's part of the core (codec v2 encoder, envelope v2 sealer) in the device loop (device/), built for the ESP32-C3 (riscv32imc-unknown-none-elf) with neither std nor alloc: code size and stack.
check-device target_dir=(justfile_directory() / "target/device"):
    #!/usr/bin/env bash
    set -euo pipefail
    target=riscv32imc-unknown-none-elf
    rustup target list --installed --toolchain nightly | grep -qx "$target" || rustup target add --toolchain nightly "$target"
    if cargo +nightly tree -q -p solarwire-device --target "$target" -e features -i solarwire-core | grep -q 'solarwire-core feature "alloc"'; then
        echo "the device build enables the core's alloc feature"; exit 1
    fi
    RUSTFLAGS="-Z emit-stack-sizes" cargo +nightly build -q --release -p solarwire-device --target "$target" --target-dir "{{target_dir}}"
    elf="{{target_dir}}/$target/release/device-loop"
    # No global allocator is linked: the build would fail if anything allocated.
    if llvm-nm "$elf" | grep -q '__rust_alloc'; then echo "the device build allocates"; exit 1; fi
    echo "device-loop for $target (release, no std, no alloc):"
    python3 device/report.py "$elf"

test-native: setup-oracle
    cargo test -p solarwire-core -p solarwire-spec
    cargo test -q -p solarwire-spec --test vectors every_vector_file_passes -- --nocapture
    {{venv}}/bin/python spec-tests/oracle/check.py

# Python virtualenv for the oracle (cryptography) — skips what is installed.
setup-oracle:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -x "{{venv}}/bin/python" ] || python3 -m venv "{{venv}}"
    "{{venv}}/bin/python" -c 'import cryptography' 2>/dev/null || "{{venv}}/bin/pip" install -q -r spec-tests/oracle/requirements.txt

# Regenerate the vector files derived from Wycheproof, RFC 4231 and the edge lists.
vectors: setup-oracle
    {{venv}}/bin/python spec-tests/tools/convert_vectors.py
    {{venv}}/bin/python spec-tests/tools/make_edge_vectors.py
    {{venv}}/bin/python spec-tests/tools/make_stream_vectors.py

# Every benchmark: P1 and codec figures, then P3 for wasm and Python (ratios against baselines measured in the same run).
bench: bench-native bench-wasm bench-python

# P1 (full processing vs HMAC alone), decode throughput per codec, compression ratios on real PV data.
bench-native:
    cargo run --release -q -p solarwire-core --features std --example bench
    cargo run --release -q -p solarwire-core --example codec_v2_bench

# Fuzz every target for a bounded time (seconds each); seeds come from the vectors.
# http_ingest drives the server's HTTP ingest path in-process (arbitrary methods, headers, bodies).
fuzz seconds="60": setup-fuzz
    #!/usr/bin/env bash
    set -euo pipefail
    corpus=target/fuzz-corpus
    python3 spec-tests/tools/fuzz_seeds.py "$corpus"
    for t in envelope codec upload inspect codec_v2 envelope_v2 http_ingest; do
        cargo +nightly fuzz run "$t" "$corpus/$t" -- -max_total_time={{seconds}} -max_len=4096 2>&1 \
            | tee "target/fuzz-$t.log" | grep -E '^(Done|==|SUMMARY)' || true
        grep -q '^Done' "target/fuzz-$t.log" || { echo "fuzz target $t did not finish cleanly"; exit 1; }
    done

# cargo-fuzz for the nightly toolchain on the machine (skips when present).
setup-fuzz:
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz

# Host recipes live beside their hosts.
import? 'host-wasm/wasm.just'
import? 'host-python/python.just'
import? 'host-server/server.just'
import? 'host-server/dashboard.just'
