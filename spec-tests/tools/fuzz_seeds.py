#!/usr/bin/env python3
"""Writes fuzzing seed corpora from the vector files.

Usage: python3 spec-tests/tools/fuzz_seeds.py OUT_DIR
Creates OUT_DIR/{envelope,codec,upload,inspect}/ with one file per input found
in spec-tests/vectors (envelopes, packets, upload bodies and their payloads),
OUT_DIR/codec_v2/ with its codec v2 packets (marker 0xC2),
OUT_DIR/envelope_v2/ with the envelopes of spec-tests/vectors-v2, and
OUT_DIR/http_ingest/ with each envelope as a JSON POST to /aggregated/ESP32_001
in the input encoding of host-server/tests/common/http_fuzz.rs (method byte,
target byte, header lines, a zero byte, the body).
"""
import base64
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1] / "vectors"
V2 = ROOT.parent / "vectors-v2"
# http_ingest inputs: POST (byte 0), /aggregated/ESP32_001 (byte 1), headers, 0, body.
HTTP_POST = bytes([0, 0]) + b"content-type: application/json\n" + bytes([0])


def write(out: pathlib.Path, target: str, data: bytes) -> None:
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def payload_of(envelope: str) -> bytes | None:
    try:
        return base64.b64decode(json.loads(envelope)["payload"], validate=True)
    except (ValueError, KeyError, TypeError):
        return None


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    for path in sorted(ROOT.rglob("*.json")):
        for v in json.loads(path.read_text())["vectors"]:
            for key in ("envelope", "body"):
                if key in v:
                    text = v[key].encode()
                    write(out, "envelope", text)
                    write(out, "inspect", text)
                    write(out, "http_ingest", HTTP_POST + text)
                    inner = payload_of(v[key])
                    write(out, "upload", inner if inner is not None else text)
            packets = [v["packet_hex"]] if "packet_hex" in v else v.get("sequence", [])
            for p in packets:
                # codec target: 3 control bytes, then the packet.
                write(out, "codec", bytes([0, 0, 0]) + bytes.fromhex(p))
                write(out, "inspect", p.encode())
                if p.lower().startswith("c2"):
                    write(out, "codec_v2", bytes.fromhex(p))
    for path in sorted(V2.rglob("*.json")):
        for v in json.loads(path.read_text())["vectors"]:
            for key, target in (("packet_hex", "codec_v2"), ("envelope_hex", "envelope_v2")):
                if key in v:
                    write(out, target, bytes.fromhex(v[key]))


if __name__ == "__main__":
    main()
