"""P3: what the Python call adds to the native core, measured in one run.

    python p3.py -- cargo run --release -p solarwire-core --features std --example bench -- --json

The command after `--` prints the native figures as JSON. Three rounds each
run it, then time the same work through `solarwire`: the firmware upload end
to end, its packet alone, and 10 000 packets in bulk. Both sides time the
median of 15 batches; each figure keeps its best round, because on a shared
machine noise only ever adds time. The Python loop's own cost (calling an
empty lambda) is measured the same way and subtracted.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import solarwire as sw

UPLOADS = Path(__file__).resolve().parents[2] / "spec-tests/vectors/firmware/upload.json"
GOAL_NS = 200.0
BULK = 10_000
ROUNDS = 3


def time_ns(f: Callable[[], object]) -> float:
    """Median of 15 batches, each long enough (~20 ms) to swamp timer noise."""
    n = 1
    while True:
        start = time.perf_counter_ns()
        for _ in range(n):
            f()
        if time.perf_counter_ns() - start >= 20_000_000:
            break
        n *= 2
    samples = []
    for _ in range(15):
        start = time.perf_counter_ns()
        for _ in range(n):
            f()
        samples.append((time.perf_counter_ns() - start) / n)
    return statistics.median(samples)


def python_round(packet: bytes) -> dict[str, float]:
    vector = next(
        v
        for v in json.loads(UPLOADS.read_text(encoding="utf-8"))["vectors"]
        if v["id"] == "aggregated-one-packet"
    )
    keys = sw.Keys(bytes.fromhex(vector["hmac_key_hex"]))
    body = vector["body"].encode()
    packets = [bytes(packet) for _ in range(BULK)]
    loop = time_ns(lambda: None)
    return {
        "loop": loop,
        "upload": time_ns(lambda: sw.parse_upload(body, device_id="ESP32_001", keys=keys)) - loop,
        "decode": time_ns(lambda: sw.decode_packet(packet)) - loop,
        "values": time_ns(lambda: sw.decode_packet(packet).values) - loop,
        "bulk": time_ns(lambda: sw.decode_packets(packets).values) - loop,
    }


def best(rounds: list[dict[str, Any]], key: str) -> float:
    return min(float(r[key]) for r in rounds)


def row(name: str, python_ns: float, native_ns: float) -> None:
    extra = python_ns - native_ns
    verdict = "meets" if extra <= GOAL_NS else "misses"
    print(
        f"    {name:<42} {python_ns:>6.0f} ns  native {native_ns:>6.0f} ns  "
        f"{extra:>+6.0f} ns  x{python_ns / native_ns:.2f}  ({verdict} ≤ +{GOAL_NS:.0f} ns)"
    )


def main() -> None:
    if "--" not in sys.argv:
        sys.exit(__doc__)
    native_command = sys.argv[sys.argv.index("--") + 1 :]
    natives: list[dict[str, Any]] = []
    pythons: list[dict[str, float]] = []
    for _ in range(ROUNDS):
        out = subprocess.run(native_command, check=True, capture_output=True, text=True).stdout
        natives.append(json.loads(out))
        pythons.append(python_round(bytes.fromhex(natives[-1]["packet_hex"])))

    native_upload = best(natives, "process_upload_ns")
    native_decode = best(natives, "decode_packet_ns")
    print(f"P3  Python call vs native core, same run (best of {ROUNDS} rounds)")
    print(f"    (Python loop overhead {best(pythons, 'loop'):.0f} ns per call, subtracted)")
    row("parse_upload: firmware upload end to end", best(pythons, "upload"), native_upload)
    row("decode_packet: its packet (18 values)", best(pythons, "decode"), native_decode)
    row("decode_packet(...).values as array('H')", best(pythons, "values"), native_decode)
    per_packet = best(pythons, "bulk") / BULK
    print(
        f"    decode_packets: {BULK} packets, one array('H')  {per_packet:>6.0f} ns/packet"
        f"  native {native_decode:>6.0f} ns  throughput {native_decode / per_packet:.2f}x native"
    )
    print("    (native upload figure also converts the 18 values to units; parse_upload does not)")


if __name__ == "__main__":
    main()
