"""Decode a capture of device upload bodies into a CSV of samples with units.

The capture holds one request body per line, as the device posted them, all
from one device and in the order they arrived; the device's replay counter
and temporal history are carried from line to line. A line that fails is
reported on stderr and skipped.

    python decode_capture.py capture.txt --key HEX --device-id ESP32_001 -o samples.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import IO, TextIO

import solarwire as sw

COLUMNS = ["line", "device_id", "nonce", "t_ms", "register", "raw", "value", "unit"]
LARGE = 1 << 20  # show progress from 1 MiB of input


class Progress:
    """A one-line progress bar on stderr, redrawn at each whole percent."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.shown = max(total, 1), out, -1

    def update(self, done: int) -> None:
        percent = min(100, done * 100 // self.total)
        if percent != self.shown:
            self.shown = percent
            bar = "#" * (percent // 4)
            self.out.write(f"\r[{bar:<25}] {percent:3d}%")
            self.out.flush()

    def clear(self) -> None:
        """Blanks the bar so a message can take the line; the next update redraws it."""
        self.out.write("\r" + " " * 32 + "\r")
        self.shown = -1

    def close(self) -> None:
        self.out.write("\n")


def decode(
    capture: IO[bytes],
    out: TextIO,
    args: argparse.Namespace,
    progress: Progress | None,
) -> int:
    """Writes the CSV rows; returns how many lines failed."""
    keys = sw.Keys(bytes.fromhex(args.key)) if args.key else None
    state = sw.StreamState()
    last_nonce: int | None = None
    failed = 0
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for number, line in enumerate(capture, start=1):
        if progress:
            progress.update(capture.tell())
        if not line.strip():
            continue
        try:
            upload = sw.parse_upload(
                line.strip(),
                format=args.format,
                device_id=args.device_id,
                keys=keys,
                last_nonce=last_nonce,
                state=state,
            )
        except sw.SolarwireError as e:
            if progress:
                progress.clear()
            print(f"line {number}: {e.code}: {e}", file=sys.stderr)
            failed += 1
            continue
        last_nonce = upload.nonce if upload.nonce is not None else last_nonce
        for sample in upload.samples:
            for register, raw in sample.registers:
                where = [number, upload.device_id, upload.nonce, sample.t_ms]
                writer.writerow(where + reading(register, raw, args.profile))
    return failed


def reading(register: int, raw: int, profile: str) -> list[object]:
    """register, raw, value, unit — a register the profile lacks keeps its raw value only."""
    try:
        r = sw.convert_register(register, raw, profile)
    except sw.UnitError:
        return [f"#{register}", raw, "", ""]
    return [r.key, raw, r.value, r.unit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", help="file with one upload body per line")
    parser.add_argument("-o", "--output", help="CSV file (default: stdout)")
    parser.add_argument(
        "--key",
        default=os.environ.get("SOLARWIRE_HMAC_KEY"),
        help="device HMAC key in hex (default: $SOLARWIRE_HMAC_KEY)",
    )
    parser.add_argument("--device-id", help="device id of the upload URL (aggregated format)")
    parser.add_argument("--format", default="aggregated", choices=["aggregated", "legacy_process"])
    parser.add_argument("--profile", default="ecowatt-1.3", help="register profile")
    parser.add_argument("--progress", action="store_true", help="show progress for any size")
    args = parser.parse_args()

    size = os.path.getsize(args.capture)
    progress = Progress(size, sys.stderr) if args.progress or size >= LARGE else None
    with open(args.capture, "rb") as capture:
        out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
        try:
            failed = decode(capture, out, args, progress)
        finally:
            if out is not sys.stdout:
                out.close()
    if progress:
        progress.close()
    if failed:
        print(f"{failed} line(s) failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
