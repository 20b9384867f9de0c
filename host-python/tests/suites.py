"""The suites of spec/vectors.md, run through solarwire's public API only.

Each runner reduces a vector to a verdict, ("ok", value) or ("error", code),
and each comparer says how an expected value differs from what was produced
(None when they agree). The rules mirror spec-tests/src/suites/*.rs; the
known suites and fields are those of spec-tests/fields.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import solarwire as sw

Vector = dict[str, Any]
Verdict = tuple[str, Any]

FIELDS_FILE = Path(__file__).resolve().parents[2] / "spec-tests" / "fields.json"
FIELDS: dict[str, Any] = json.loads(FIELDS_FILE.read_text(encoding="utf-8"))


class FileError(Exception):
    """A vector the runner cannot interpret: a failure, never a skip."""


def keys(v: Vector) -> sw.Keys:
    aes = v.get("aes_key_hex")
    iv = v.get("aes_iv_hex")
    return sw.Keys(
        bytes.fromhex(v["hmac_key_hex"]),
        bytes.fromhex(aes) if aes else None,
        bytes.fromhex(iv) if aes and iv else None,
    )


def attempt(call: Callable[[], Any]) -> Verdict:
    try:
        return ("ok", call())
    except sw.SolarwireError as e:
        return ("error", e.code)


def run_envelope(v: Vector) -> Verdict:
    def opened() -> dict[str, Any]:
        o = sw.open_envelope(v["envelope"], keys(v), last_nonce=v.get("last_nonce"))
        return {
            "nonce": o.nonce,
            "payload_hex": o.payload.hex(),
            "encrypted": o.encrypted,
            "compressed": o.compressed,
        }

    return attempt(opened)


def run_seal(v: Vector) -> Verdict:
    def sealed() -> dict[str, str]:
        s = sw.seal_envelope(
            bytes.fromhex(v["payload_hex"]),
            v["nonce"],
            keys(v),
            encrypt=bool(v.get("encrypt")),
            compressed=bool(v.get("compressed")),
        )
        return {"mac_hex": s.mac_hex, "payload_b64": s.payload_b64}

    return attempt(sealed)


def compare_seal(want: Any, got: Any) -> str | None:
    for key in ("mac_hex", "payload_b64"):
        if want.get(key) != got.get(key):
            return f"{key}: expected {want.get(key)}, got {got.get(key)}"
    return None


def state_from(state: Any) -> sw.TemporalState:
    if state is None:
        return sw.TemporalState()
    return sw.TemporalState.from_history(state["register_ids"], state["history"])


def decoded(d: sw.Decoded) -> dict[str, Any]:
    out: dict[str, Any] = {"method": d.method, "values": d.values.tolist()}
    if d.register_ids is not None:
        out["register_ids"] = d.register_ids
    return out


def encode(spec: Any, state: Any) -> bytes:
    method = spec["method"]
    temporal = method in ("temporal_base", "temporal_delta")
    if not temporal and method not in (
        "smart",
        "bit_packed",
        "dictionary",
        "semantic_rle",
        "codec_v2",
    ):
        raise FileError(f"unknown encode.method {method!r}")
    uses_state = temporal or method == "smart"
    return sw.encode_packet(
        spec["values"],
        spec.get("register_ids"),
        method="temporal" if temporal else method,
        state=state_from(state) if uses_state else None,
    )


def run_codec(v: Vector) -> Verdict:
    state = state_from(v.get("state"))
    if "sequence" in v:
        return run_sequence(v, state)
    packet = bytes.fromhex(v["packet_hex"])
    if "encode" in v:
        produced = encode(v["encode"], v.get("state"))
        if produced != packet:
            return ("ok", {"encoded_hex": produced.hex()})
    return attempt(lambda: decoded(sw.decode_packet(packet, state)))


def run_sequence(v: Vector, state: sw.TemporalState) -> Verdict:
    ids: list[list[int] | None] = v.get("sequence_register_ids") or [None] * len(v["sequence"])
    packets = [bytes.fromhex(p) for p in v["sequence"]]
    results = []
    for packet, packet_ids in zip(packets, ids):
        kind, value = attempt(
            lambda: decoded(sw.decode_packet(packet, state, register_ids=packet_ids))
        )
        results.append(value if kind == "ok" else {"error": value})
    mismatch = check_encode_sequence(v.get("encode_sequence"), packets)
    return ("ok", mismatch if mismatch is not None else results)


def check_encode_sequence(inputs: Any, packets: list[bytes]) -> Any:
    """A stream of only temporal packets came from the temporal encoder called
    directly; any other from the device's smart selection."""
    if inputs is None:
        return None
    temporal_only = all(p[:1] in (b"\x70", b"\x71") for p in packets)
    state = sw.TemporalState()
    for step, (spec, packet) in enumerate(zip(inputs, packets)):
        produced = sw.encode_packet(
            spec["values"],
            spec["register_ids"],
            method="temporal" if temporal_only else "smart",
            state=state,
        )
        if produced != packet:
            return {"encode_sequence_step": step, "encoded_hex": produced.hex()}
    return None


def compare_codec(want: Any, got: Any) -> str | None:
    if isinstance(got, dict) and "encoded_hex" in got:
        return f"encoder output differs: {got}"
    if isinstance(want, list) or isinstance(got, list):
        if not (isinstance(want, list) and isinstance(got, list) and len(want) == len(got)):
            return f"expected {want}, got {got}"
        for i, (w, g) in enumerate(zip(want, got)):
            if compare_packet(w, g) is not None:
                return f"packet {i}: expected {w}, got {g}"
        return None
    return compare_packet(want, got)


def compare_packet(want: Any, got: Any) -> str | None:
    same = all(want.get(k) == got.get(k) for k in ("method", "values", "error"))
    ids_ok = "register_ids" not in want or want["register_ids"] == got.get("register_ids")
    return None if same and ids_ok else f"expected {want}, got {got}"


def run_register(v: Vector) -> Verdict:
    raw = v.get("raw")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise FileError("raw must be a number")
    if not isinstance(raw, int):
        raw = 2**63 - 1  # as natively: a number that is not an integer is out of range
    register = v.get("register")
    if isinstance(register, bool) or not isinstance(register, (str, int)):
        raise FileError("register must be a string or an integer")

    def reading() -> dict[str, Any]:
        r = sw.convert_register(register, raw, v.get("profile"))
        flags = [{"bit": f.bit, "name": f.name, "severity": f.severity} for f in r.flags]
        return {"value": r.value, "unit": r.unit, "text": r.text, "state": r.state, "flags": flags}

    return attempt(reading)


def compare_register(want: Any, got: Any) -> str | None:
    """`state` and `flags` are compared where the vector states them."""
    close = math.isclose(want["value"], got["value"], rel_tol=1e-9, abs_tol=0.0)
    stated = all(want[k] == got[k] for k in ("state", "flags") if k in want)
    if close and want["unit"] == got["unit"] and want["text"] == got["text"] and stated:
        return None
    return f"expected {want}, got {got}"


def run_upload(v: Vector) -> Verdict:
    names = {r.id: r.key for r in sw.registers()}

    def processed() -> dict[str, Any]:
        u = sw.parse_upload(
            v["body"],
            format=v["format"],
            device_id=v.get("path_device_id"),
            keys=keys(v) if "hmac_key_hex" in v else None,
            last_nonce=v.get("last_nonce"),
        )
        samples = [
            {"t": s.t_ms, "registers": {names.get(i, f"REG_{i}"): raw for i, raw in s.registers}}
            for s in u.samples
        ]
        return {"device_id": u.device_id, "samples": samples}

    return attempt(processed)


def compare_upload(want: Any, got: Any) -> str | None:
    """Sample times are compared only where the vector states one (F13)."""
    ok = want["device_id"] == got["device_id"] and len(want["samples"]) == len(got["samples"])
    for w, g in zip(want["samples"], got["samples"]):
        ok = ok and (w.get("t") is None or w["t"] == g["t"]) and w["registers"] == g["registers"]
    return None if ok else f"expected {want}, got {got}"


def equal(want: Any, got: Any) -> str | None:
    return None if want == got else f"expected {want}, got {got}"


Runner = Callable[[Vector], Verdict]
Comparer = Callable[[Any, Any], "str | None"]

SUITES: dict[str, tuple[Runner, Comparer]] = {
    "envelope": (run_envelope, equal),
    "seal": (run_seal, compare_seal),
    "codec": (run_codec, compare_codec),
    "register": (run_register, compare_register),
    "upload": (run_upload, compare_upload),
}


def failure(suite: str, v: Vector) -> str | None:
    """Why `v` fails (None when it passes); a malformed vector raises FileError."""
    if suite not in FIELDS["suites"]:
        raise FileError(f"unknown suite {suite!r}")
    run, compare = SUITES[suite]
    if not isinstance(v.get("id"), str):
        raise FileError("missing id")
    unknown = sorted(set(v).difference(FIELDS["common"], FIELDS["aids"], FIELDS["suites"][suite]))
    if unknown:
        raise FileError(f"unknown field {unknown[0]!r}")
    if ("expect" in v) == ("error" in v):
        raise FileError("needs exactly one of expect, error")
    kind, got = run(v)
    if "error" in v:
        if not isinstance(v["error"], str):
            raise FileError("error must be a string")
        if kind == "error":
            return None if got == v["error"] else f"expected error {v['error']}, got error {got}"
        return f"expected error {v['error']}, got ok"
    if kind == "error":
        return f"expected ok, got error {got}"
    return compare(v["expect"], got)
