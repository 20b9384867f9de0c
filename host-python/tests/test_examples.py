"""The examples, run as a user would, on the firmware vectors' upload bodies."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
UPLOADS = HERE.parents[1] / "spec-tests" / "vectors" / "firmware" / "upload.json"


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


def uploads(fmt: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(UPLOADS.read_text(encoding="utf-8"))["vectors"]
    return [v for v in vectors if v["format"] == fmt]


@pytest.mark.parametrize(
    ("fmt", "extra", "decoded"),
    [
        ("aggregated", ["--device-id", "ESP32_001"], 2),
        # The plain legacy body re-sends the secured one's packet: as one
        # device stream, the re-sent packet is recognised and not counted twice.
        ("legacy_process", [], 1),
    ],
)
def test_decode_capture_writes_every_sample(
    tmp_path: Path, fmt: str, extra: list[str], decoded: int
) -> None:
    vectors = uploads(fmt)
    capture = tmp_path / "capture.txt"
    capture.write_text("".join(v["body"] + "\n\n" for v in vectors), encoding="utf-8")
    out = tmp_path / "samples.csv"
    args = ["--key", vectors[0]["hmac_key_hex"], "--format", fmt, "-o", str(out), "--progress"]
    done = run("decode_capture.py", str(capture), *args, *extra)
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr

    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    expected = [
        (v["expect"]["device_id"], name, str(raw))
        for v in vectors[:decoded]
        for sample in v["expect"]["samples"]
        for name, raw in sample["registers"].items()
    ]
    assert [(r["device_id"], r["register"], r["raw"]) for r in rows] == expected
    vac1 = next(r for r in rows if r["register"] == "REG_VAC1")
    assert (vac1["value"], vac1["unit"]) == ("230.4", "V")


def test_decode_capture_reports_a_replayed_line(tmp_path: Path) -> None:
    v = uploads("aggregated")[0]
    capture = tmp_path / "capture.txt"
    capture.write_text(v["body"] + "\n" + v["body"] + "\n", encoding="utf-8")
    done = run("decode_capture.py", str(capture), "--key", v["hmac_key_hex"], "--device-id", "ESP32_001")
    assert done.returncode == 1
    assert "line 2: replay:" in done.stderr
    lines = [r for r in csv.reader(io.StringIO(done.stdout))][1:]
    assert {r[0] for r in lines} == {"1"}


def test_seal_demo_refuses_tampering_and_replay() -> None:
    done = run("seal_demo.py")
    assert done.returncode == 0, done.stderr
    assert "opened:   11001 {" in done.stdout
    assert "tampered: mac_mismatch" in done.stdout
    assert "replayed: replay" in done.stdout
