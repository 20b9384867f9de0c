#!/usr/bin/env python3
"""Independent oracle for the shared test vectors (spec/vectors.md).

Walks every *.json under spec-tests/vectors/ and under each directory listed in
$SOLARWIRE_EXTRA_VECTORS (':'-separated) and recomputes every expectation with code
that shares nothing with the Rust core:
  envelope  opens the envelope (HMAC-SHA256, AES-128-CBC with strict PKCS#7) and checks
            the result, or that the stated error is the FIRST failing check in the order
            structure (malformed, bad_base64, bad_mac_encoding) -> decryption
            (missing_key, decrypt_failed) -> UTF-8 when compressed=false (malformed)
            -> MAC (mac_mismatch) -> replay
  seal      recomputes mac_hex and payload_b64 (and the optional envelope_json)
  upload    opens the envelope (required for `aggregated`, optional for `legacy_process`),
            reads the upload JSON (§6.1/§6.2) and decodes every packet with codec.py, each
            split with its own layout and sample count (F12), with the count checked
            against the header (F6), truncation against compressed_size_bytes (F7),
            duplicates (same metadata timestamp and bytes) dropped (F26), a packet that
            repeats a (time, register) the upload already has refused (duplicate_sample,
            times dated by F13), sentinel values (0xFFFF but on Pow) left out as missing;
            checks device_id and samples. A failing packet does not
            fail the upload unless no packet produced samples; then the first failure is
            the upload's error
  codec     decodes with codec.py (written from the spec alone), checks encoders too; in a
            `sequence` a failing packet gives {"error": code} and the ring still advances
  register  converts with the §5 table (current and legacy profiles)
  envelope_v2  opens with envelope_v2.py (docs/envelope-v2.md), then decides on the counter;
            re-seals every valid envelope from its header, IV and plaintext and requires the
            same bytes
It also rejects unknown suites, unknown fields, duplicate ids and unknown error codes.

Prints `file: N checked, M failed` per file and a closing total; exits 1 on any failure.
Needs `cryptography` (see requirements.txt):
    python3 -m venv target/oracle-venv
    target/oracle-venv/bin/pip install -r spec-tests/oracle/requirements.txt
    target/oracle-venv/bin/python spec-tests/oracle/check.py
"""
import base64
import binascii
import decimal
import hashlib
import hmac
import json
import math
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import codec  # noqa: E402
import codec_v2  # noqa: E402
import envelope_v2  # noqa: E402

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:
    sys.exit("check.py needs the 'cryptography' package: python3 -m venv target/oracle-venv && "
             "target/oracle-venv/bin/pip install -r spec-tests/oracle/requirements.txt")

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
VECTORS_V2 = VECTORS.parent / "vectors-v2"  # envelope v2, until every host runs it
FIXED_IV = bytes(range(16))

ERRORS = {
    "envelope": {"malformed", "bad_base64", "bad_mac_encoding", "mac_mismatch", "replay",
                 "decrypt_failed", "missing_key"},
    "codec": {"truncated", "unknown_marker", "bad_header", "missing_state", "too_large"},
    "register": {"unknown_register", "out_of_range", "unknown_profile"},
}
ERRORS["envelope_v2"] = {"malformed", "too_large", "missing_key", "mac_mismatch",
                         "decrypt_failed", "clock_skew", "replay"}
ERRORS["seal"] = ERRORS["envelope"]
ERRORS["upload"] = ERRORS["envelope"] | ERRORS["codec"] | ERRORS["register"] | {
    "device_mismatch", "duplicate_sample"}

COMMON = {"id", "comment", "expect", "error", "error_detail"}
OPTIONAL = {"packet_b64", "sequence_b64", "input", "lossy", "sequence_register_ids",
            "encode_sequence", "payload_text", "envelope_json", "path_device_id"}
FIELDS = {
    "envelope": {"envelope", "hmac_key_hex", "aes_key_hex", "aes_iv_hex", "last_nonce"},
    "seal": {"payload_hex", "nonce", "hmac_key_hex", "aes_key_hex", "aes_iv_hex", "encrypt",
             "compressed"},
    "codec": {"packet_hex", "state", "sequence", "encode"},
    "register": {"register", "raw", "profile"},
    "upload": {"body", "format", "hmac_key_hex", "aes_key_hex", "aes_iv_hex", "last_nonce"},
    "envelope_v2": {"envelope_hex", "key_id", "secret_hex", "previous_key_id",
                    "previous_secret_hex", "previous_until_ms", "now_ms", "skew_past_ms",
                    "skew_future_ms", "last_counter"},
}


class Reject(Exception):
    """A verdict with one of the suite's error codes."""

    def __init__(self, code, detail=""):
        super().__init__(f"{code} ({detail})" if detail else code)
        self.code = code


class Bad(Exception):
    """The vector itself is wrong or disagrees with the oracle."""


# ---------------------------------------------------------------- envelope

def strict_json(text):
    """json.loads that rejects duplicate keys, NaN/Infinity and trailing data."""
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise Reject("malformed", "duplicate key")
        return dict(pairs)

    def no_constants(name):
        raise Reject("malformed", f"{name} is not JSON")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except ValueError as e:
        raise Reject("malformed", f"not JSON: {e}")


def b64decode_strict(text):
    """Standard alphabet, '=' padding, length a multiple of 4, nothing else."""
    if len(text) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text):
        raise Reject("bad_base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise Reject("bad_base64", str(e))


def aes_cbc(key, iv, data, encrypt):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def decrypt(key, iv, ct):
    if not ct or len(ct) % 16:
        raise Reject("decrypt_failed", f"ciphertext of {len(ct)} bytes")
    plain = aes_cbc(key, iv, ct, encrypt=False)
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes([pad]) * pad:
        raise Reject("decrypt_failed", f"bad PKCS#7 padding (last byte {pad})")
    return plain[:-pad]


def mac_hex(key, nonce, payload):
    return hmac.new(key, nonce.to_bytes(4, "big") + payload, hashlib.sha256).hexdigest()


def keys_of(v):
    aes = v.get("aes_key_hex")
    return (bytes.fromhex(v["hmac_key_hex"]), aes and bytes.fromhex(aes),
            bytes.fromhex(v["aes_iv_hex"]) if "aes_iv_hex" in v else FIXED_IV)


def open_envelope(text, hmac_key, aes_key, iv, last_nonce):
    env = strict_json(text)
    if not isinstance(env, dict):
        raise Reject("malformed", "not a JSON object")
    nonce = env.get("nonce")
    if type(nonce) is not int or not 0 <= nonce <= 0xFFFFFFFF:
        raise Reject("malformed", f"nonce {nonce!r}")
    for name in ("payload", "mac"):
        if type(env.get(name)) is not str:
            raise Reject("malformed", f"{name} missing or not a string")
    flags = {name: env.get(name, False) for name in ("encrypted", "compressed")}
    if any(type(value) is not bool for value in flags.values()):
        raise Reject("malformed", f"flags {flags}")
    data = b64decode_strict(env["payload"])
    if not re.fullmatch(r"[0-9a-f]{64}", env["mac"]):
        raise Reject("bad_mac_encoding")
    if flags["encrypted"]:
        if aes_key is None:
            raise Reject("missing_key")
        data = decrypt(aes_key, iv, data)
    if not flags["compressed"]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise Reject("malformed", "payload is not UTF-8 and compressed is false")
    if not hmac.compare_digest(env["mac"], mac_hex(hmac_key, nonce, data)):
        raise Reject("mac_mismatch")
    if last_nonce is not None and nonce <= last_nonce:
        raise Reject("replay")
    return {"nonce": nonce, "payload_hex": data.hex(), **flags}


def run_envelope(v):
    result = open_envelope(v["envelope"], *keys_of(v), v.get("last_nonce"))
    if "payload_text" in v and v["payload_text"].encode() != bytes.fromhex(result["payload_hex"]):
        raise Bad("payload_text does not match the payload")
    return result


def run_seal(v):
    hmac_key, aes_key, iv = keys_of(v)
    payload, nonce = bytes.fromhex(v["payload_hex"]), v["nonce"]
    if type(nonce) is not int or not 0 <= nonce <= 0xFFFFFFFF:
        raise Bad(f"nonce {nonce!r} is not a u32")
    body = payload
    if v["encrypt"]:
        if aes_key is None:
            raise Reject("missing_key")
        pad = 16 - len(payload) % 16
        body = aes_cbc(aes_key, iv, payload + bytes([pad]) * pad, encrypt=True)
    result = {"mac_hex": mac_hex(hmac_key, nonce, payload),
              "payload_b64": base64.b64encode(body).decode()}
    if "payload_text" in v and v["payload_text"].encode() != payload:
        raise Bad("payload_text does not match payload_hex")
    if "envelope_json" in v:
        sent = strict_json(v["envelope_json"])
        want = {"nonce": nonce, "payload": result["payload_b64"], "mac": result["mac_hex"],
                "encrypted": v["encrypt"], "compressed": v["compressed"]}
        if sent != want:
            raise Bad(f"envelope_json {sent} != {want}")
    return result


# ---------------------------------------------------------------- upload

REG_NAMES = ["REG_VAC1", "REG_IAC1", "REG_FAC1", "REG_VPV1", "REG_VPV2", "REG_IPV1",
             "REG_IPV2", "REG_TEMP", "REG_POW", "REG_PAC"]


DEVICE_NAMES = ["Vac1", "Iac1", "Fac1", "Vpv1", "Vpv2", "Ipv1", "Ipv2", "Temp", "Pow", "Pac"]

# The core's default bounds (not in the spec; vectors.md: "too_large (declared output over
# the configured bound)"). The device sends at most 8 packets (F29) of at most 500 values.
MAX_PACKETS = 64
MAX_VALUES = 4096

ENVELOPE_FIELDS = ("nonce", "payload", "mac")

# The default profile's sentinels (catalog field `sentinels`): 0xFFFF is the inverter's
# "not available" on every register but Pow (a percent the device itself writes).
SENTINELS = [set() if r == 8 else {0xFFFF} for r in range(10)]


def is_int(x):
    return type(x) is int


def layout_from_mapping(mapping):
    """register_mapping {"0": "Vac1", ...} (device names or REG_ keys) -> ids by position."""
    if not isinstance(mapping, dict):
        raise Reject("malformed", "register_mapping is not an object")
    names = {n.upper(): i for i, n in enumerate(DEVICE_NAMES)}
    names.update({n: i for i, n in enumerate(REG_NAMES)})
    try:
        pairs = sorted((int(k), names[str(v).upper()]) for k, v in mapping.items())
    except (ValueError, KeyError):
        raise Reject("malformed", f"register_mapping {mapping}")
    if [k for k, _ in pairs] != list(range(len(pairs))):
        raise Reject("malformed", f"register_mapping positions {mapping}")
    return [i for _, i in pairs]


def upload_packets(body, legacy):
    """The packet list of the upload JSON (§6.1; §6.2 for the legacy shapes)."""
    keys = ("compressed_data", "smart_data", "binary_data", "data") if legacy \
        else ("compressed_data",)
    for key in keys:
        if key in body:
            items = body[key]
            if isinstance(items, str):
                return [items]
            if isinstance(items, list):
                return items
            raise Reject("malformed", f"{key} is neither a list nor a string")
    raise Reject("malformed", "no compressed_data")


class PacketFailed(Exception):
    def __init__(self, code, detail=""):
        super().__init__(f"{code} ({detail})")
        self.code = code


def read_packet(item, legacy, default_layout):
    """-> (source bytes or None, direct values or None, metadata dict, layout)."""
    meta, data = {}, item
    if isinstance(item, dict):
        fields = ("compressed_binary", "binary_data", "data") if legacy else ("compressed_binary",)
        data = next((item[f] for f in fields if f in item), None)
        meta = item.get("decompression_metadata", {})
        if not isinstance(meta, dict):
            raise PacketFailed("malformed", "decompression_metadata is not an object")
    layout = meta.get("register_layout", default_layout)
    if not (isinstance(layout, list) and layout and all(is_int(r) and 0 <= r <= 9
                                                        for r in layout)):
        raise PacketFailed("malformed", f"register_layout {layout!r}")
    count = meta.get("register_count")
    if count is not None and count != len(layout):
        raise PacketFailed("malformed", f"register_count {count} != layout {layout}")
    if isinstance(data, str):
        try:
            return b64decode_strict(data), None, meta, layout
        except Reject as r:
            raise PacketFailed(r.code, "packet base64")
    if legacy and isinstance(data, list) and len(data) >= 10 and \
            all(is_int(x) and 0 <= x <= 65535 for x in data):
        return None, data, meta, layout  # §6.2: a list of >= 10 integers = direct values
    raise PacketFailed("malformed", f"packet {data!r:.60}")


def run_upload(v):
    fmt = v["format"]
    if fmt not in ("aggregated", "legacy_process"):
        raise Bad(f"unknown upload format {fmt!r}")
    legacy = fmt == "legacy_process"
    body = strict_json(v["body"])
    bare = isinstance(body, dict) and not any(k in body for k in ENVELOPE_FIELDS)
    if legacy and bare:
        upload = body  # §6.2: legacy devices posted bare JSON before 2025-10-16
    else:
        # F19: the current firmware always seals; a bare body is not an envelope.
        if "hmac_key_hex" not in v:
            raise Reject("missing_key", "no HMAC key for an enveloped body")
        opened = open_envelope(v["body"], *keys_of(v), v.get("last_nonce"))
        try:
            text = bytes.fromhex(opened["payload_hex"]).decode("utf-8")
        except UnicodeDecodeError:
            raise Reject("malformed", "payload is not UTF-8")
        upload = strict_json(text)
    if not isinstance(upload, dict):
        raise Reject("malformed", "upload JSON is not an object")
    items = upload_packets(upload, legacy)
    if len(items) > MAX_PACKETS:
        raise Reject("too_large", f"{len(items)} packets")
    if legacy:
        device_id = upload.get("device_id")
        if type(device_id) is not str:
            raise Reject("malformed", "legacy body without device_id")
    else:
        device_id = v.get("path_device_id")  # §1.1: the path id ...
        if type(device_id) is not str:
            raise Bad("aggregated vector without path_device_id")
        if upload.get("device_id") != device_id:  # ... which the MAC-covered id must equal
            raise Reject("device_mismatch", "inner device_id is not the path id")
    default_layout = None
    if "register_mapping" in upload:
        default_layout = layout_from_mapping(upload["register_mapping"])
    elif legacy:
        default_layout = list(range(10))  # §6.2: the fixed order Vac1 ... Pac
    # The server does not know the device's ring when an upload arrives.
    decoder, seen = codec.Decoder(codec.History(at_boot=False)), set()
    samples, failures, covered = [], [], set()
    for item in items:
        try:
            decoded, keys = decode_packet(item, legacy, default_layout, decoder, seen, upload)
            if keys & covered:
                raise PacketFailed("duplicate_sample", "a (time, register) seen before")
            covered |= keys
            samples += decoded
        except PacketFailed as e:
            failures.append(e)
    if not samples and failures:
        raise Reject(failures[0].code, str(failures[0]))
    return {"device_id": device_id, "samples": samples}


def sample_times(meta, upload, n):
    """F13: the times (ms) of a packet's n samples, oldest first, or None each when the
    upload does not say enough. The last sample's time is the value congruent to the
    metadata timestamp modulo 2^32 closest to, and not after, the upload time."""
    ts, up, iv = meta.get("timestamp"), upload.get("timestamp"), upload.get("sampling_interval")
    if not (is_int(ts) and is_int(up) and is_int(iv)):
        return [None] * n
    last = up * 1000 - (up * 1000 - ts) % 2**32
    times = [last - (n - 1 - j) * iv * 1000 for j in range(n)]
    return [t if t >= 0 else None for t in times]


def decode_packet(item, legacy, default_layout, decoder, seen, upload):
    """-> (samples, the set of dated (time, register) pairs they hold)."""
    data, direct, meta, layout = read_packet(item, legacy, default_layout)
    if data is not None and is_int(meta.get("timestamp")):
        fingerprint = (meta["timestamp"], data)
        if fingerprint in seen:
            return [], set()  # F26: the same packet sent again
        seen.add(fingerprint)
    sample_count = meta.get("sample_count")
    if sample_count is not None and not (is_int(sample_count) and sample_count >= 0):
        raise PacketFailed("malformed", f"sample_count {sample_count!r}")
    count = None if sample_count is None else sample_count * len(layout)
    ids = None if count is None else layout * sample_count
    if count is not None and count > MAX_VALUES:
        decoder.skip(ids)
        raise PacketFailed("too_large", f"{count} values")
    if direct is not None:
        values = direct
        decoder.skip(ids)  # legacy direct values: no device ring to speak of
    else:
        declared = meta.get("compressed_size_bytes")
        if is_int(declared) and declared > len(data):
            decoder.skip(ids)  # F7: the device cut the packet's base64 text
            raise PacketFailed("truncated", f"{len(data)} of {declared} bytes")
        try:
            values = decoder.decode(data, ids, count)["values"]
        except codec.CodecError as e:
            raise PacketFailed(e.code, str(e))
    if len(values) % len(layout):
        raise PacketFailed("bad_header", f"{len(values)} values for layout {layout}")
    rows = [values[i:i + len(layout)] for i in range(0, len(values), len(layout))]
    # One value per (time, register): a register twice in the layout, or two samples
    # dated alike, repeat one within the packet.
    keys = [(t, r) for t in sample_times(meta, upload, len(rows)) if t is not None
            for r in layout]
    if len(set(layout)) != len(layout) or len(set(keys)) != len(keys):
        raise PacketFailed("duplicate_sample", "a (time, register) twice in the packet")
    # A sentinel is a missing value, not a measurement.
    return [{"t": None, "registers": {REG_NAMES[r]: x for r, x in zip(layout, row)
                                      if x not in SENTINELS[r]}}
            for row in rows], set(keys)


# ---------------------------------------------------------------- register (§5)

# id: (device name, gain, unit, decimals, legacy divisor, legacy unit, legacy decimals)
# Legacy Vpv text is not given in §5; assumed "%.1fV" like Vac1 (no vector relies on it).
REGISTERS = [("Vac1", 10, "V", 1, 10, "V", 1), ("Iac1", 10, "A", 2, 100, "A", 2),
             ("Fac1", 100, "Hz", 2, 10, "Hz", 1), ("Vpv1", 10, "V", 1, 10, "V", 1),
             ("Vpv2", 10, "V", 1, 10, "V", 1), ("Ipv1", 10, "A", 2, 100, "A", 2),
             ("Ipv2", 10, "A", 2, 100, "A", 2), ("Temp", 10, "°C", 1, 1, "°C", 0),
             ("Pow", 1, "%", 0, 1, "W", 0), ("Pac", 1, "W", 0, 1, "W", 0)]


def run_register(v):
    reg, raw, profile = v["register"], v["raw"], v.get("profile", "ecowatt-1.3")
    if profile in PLANT_PROFILES:
        return run_plant_register(PLANT_PROFILES[profile], reg, raw)
    if profile not in ("ecowatt-1.3", "legacy"):
        raise Reject("unknown_profile")
    if type(reg) is int:
        rid = reg if 0 <= reg < len(REGISTERS) else None
    elif type(reg) is str:
        names = {n.upper(): i for i, n in enumerate(REG_NAMES)}
        names.update({r[0].upper(): i for i, r in enumerate(REGISTERS)})
        rid = names.get(reg.upper())
    else:
        raise Bad(f"register {reg!r} is neither a name nor an id")
    if rid is None:
        raise Reject("unknown_register")
    if type(raw) is not int or not 0 <= raw <= 65535:
        raise Reject("out_of_range")
    _, gain, unit, decimals, lgain, lunit, ldecimals = REGISTERS[rid]
    if profile == "legacy":
        gain, unit, decimals = lgain, lunit, ldecimals
    value = raw / gain
    return {"value": value, "unit": unit, "text": f"{value:.{decimals}f}{unit}"}


# The storage-plant profiles (issue 15) are defined only as data: their
# tables come from the catalog; the reading of them is written here again.
PLANT_PROFILES = {
    p["name"]: p["registers"]
    for p in json.loads((Path(__file__).resolve().parents[2] / "core" / "src" / "registers"
                         / "catalog.json").read_text(encoding="utf-8"))["profiles"]
    if p.get("kind", "inverter-logger") != "inverter-logger"
}


def run_plant_register(table, reg, raw):
    if type(reg) is int:
        found = [r for r in table if r["id"] == reg]
    elif type(reg) is str:
        found = [r for r in table if reg.upper() in (r["name"].upper(), r["key"].upper())]
    else:
        raise Bad(f"register {reg!r} is neither a name nor an id")
    if not found:
        raise Reject("unknown_register")
    if type(raw) is not int or not 0 <= raw <= 65535:
        raise Reject("out_of_range")
    r = found[0]
    signed = raw - 65536 if r["kind"] == "i16" and raw >= 32768 else raw
    exact = decimal.Decimal(signed + r.get("offset", 0)).scaleb(r["scale"])
    state = next((st["name"] for st in r.get("states", []) if st["value"] == raw), None)
    word = 0 if raw in r.get("sentinels", []) else raw
    flags = [b for b in r.get("bits", []) if word >> b["bit"] & 1]
    return {"value": float(exact), "unit": r["unit"],
            "text": f"{exact:.{r['decimals']}f}{r['unit']}", "state": state, "flags": flags}


def register_equal(got, want):
    stated = set(want) - {"value", "unit", "text"}
    return (stated <= {"state", "flags"} and {"value", "unit", "text"} <= set(want)
            and all(got.get(k) == want[k] for k in stated)
            and got["unit"] == want["unit"] and got["text"] == want["text"]
            and math.isclose(got["value"], want["value"], rel_tol=1e-9, abs_tol=1e-12))


# ---------------------------------------------------------------- codec

def compare_decoded(got, want, where):
    if "error" in want or "error" in got:
        if set(want) != {"error"} or got.get("error") != want.get("error"):
            raise Bad(f"{where}: got {got}, expected {want}")
        return
    for key in ("method", "values", "register_ids"):
        if got.get(key) != want.get(key):
            raise Bad(f"{where}: {key} {got.get(key)} != expected {want.get(key)}")
    extra = set(want) - {"method", "values", "register_ids"}
    if extra:
        raise Bad(f"{where}: unknown expect fields {sorted(extra)}")


def run_codec(v):
    if "sequence" in v:
        ids = v.get("sequence_register_ids") or [None] * len(v["sequence"])
        if "sequence_b64" in v and [base64.b64decode(b).hex() for b in v["sequence_b64"]] \
                != v["sequence"]:
            raise Bad("sequence_b64 differs from sequence")
        decoder, results = codec.Decoder(), []
        for i, packet_hex in enumerate(v["sequence"]):
            try:
                results.append(decoder.decode(bytes.fromhex(packet_hex), ids[i]))
            except codec.CodecError as e:
                if "expect" not in v:
                    raise Reject(e.code, f"packet {i}: {e}")
                results.append({"error": e.code})  # the ring advanced all the same
        if "expect" in v:
            if len(v["expect"]) != len(results):
                raise Bad(f"{len(v['expect'])} expectations for {len(results)} packets")
            for i, (got, want) in enumerate(zip(results, v["expect"])):
                compare_decoded(got, want, f"packet {i}")
        if "encode_sequence" in v:
            check_encode_sequence(v)
        return None
    packet = bytes.fromhex(v["packet_hex"])
    if "packet_b64" in v and base64.b64decode(v["packet_b64"]) != packet:
        raise Bad("packet_b64 differs from packet_hex")
    if packet[:1] == bytes([codec_v2.MARKER]):
        return run_codec_v2(v, packet)
    history = None
    if "state" in v:
        history = codec.History.from_state(v["state"]["register_ids"], v["state"]["history"])
    ids = v["state"]["register_ids"] if "state" in v else None
    try:
        result = codec.decode(packet, history, ids)
    except codec.CodecError as e:
        raise Reject(e.code, str(e))
    if "expect" in v:
        compare_decoded(result, v["expect"], "decode")
    if "encode" in v:
        enc = v["encode"]
        try:
            if enc["method"] in ("temporal_base", "temporal_delta"):
                # The device's temporal encoder with the vector's ring (fresh if no state).
                encoder = codec.Encoder()
                if "state" in v:
                    encoder.history = codec.History.from_state(v["state"]["register_ids"],
                                                               v["state"]["history"])
                    encoder.count = len(v["state"]["register_ids"]) % 256
                got = encoder.temporal(enc["values"], enc["register_ids"])
            else:
                got = codec.encode(enc["method"], enc["values"], enc["register_ids"])
        except ValueError as e:
            raise Bad(str(e))
        if got != packet:
            raise Bad(f"{enc['method']} encoder gives {got.hex()}, vector has {packet.hex()}")
    return None


def run_codec_v2(v, packet):
    """Codec v2 (docs/codec-v2.md) with codec_v2.py; `encode.register_ids` is the layout
    repeated per sample, so the channel count is its period."""
    try:
        rows = codec_v2.decode(packet)
    except codec_v2.CodecError as e:
        raise Reject(e.code, str(e))
    if "expect" in v:
        compare_decoded({"method": "codec_v2", "values": [x for r in rows for x in r]},
                        v["expect"], "decode")
    if "encode" in v:
        values, ids = v["encode"]["values"], v["encode"]["register_ids"]
        channels = next(p for p in range(1, len(ids) + 1)
                        if len(ids) % p == 0 and ids == ids[:p] * (len(ids) // p))
        rows = [values[i:i + channels] for i in range(0, len(values), channels)]
        if codec_v2.encode(rows) != packet:
            raise Bad(f"codec_v2 encoder gives {codec_v2.encode(rows).hex()}")
    return None


def check_encode_sequence(v):
    """Replays the device encoder. A stream of only 0x70/0x71 packets is the temporal codec
    called directly; anything else is smart selection (which never emits a 0x70 first)."""
    temporal_only = all(p[:2] in ("70", "71") for p in v["sequence"])
    encoder = codec.Encoder()
    for i, (step, want) in enumerate(zip(v["encode_sequence"], v["sequence"])):
        call = encoder.temporal if temporal_only else encoder.smart
        got = call(step["values"], step["register_ids"]).hex()
        if got != want:
            raise Bad(f"encode_sequence call {i}: encoder gives {got}, vector has {want}")


# ---------------------------------------------------------------- envelope v2

def run_envelope_v2(v):
    keys = {v["key_id"]: (bytes.fromhex(v["secret_hex"]), None)}
    if "previous_key_id" in v:
        keys[v["previous_key_id"]] = (bytes.fromhex(v["previous_secret_hex"]),
                                      v["previous_until_ms"])
    data = bytes.fromhex(v["envelope_hex"])
    try:
        got = envelope_v2.open_(data, keys, v["now_ms"], v["skew_past_ms"],
                                v["skew_future_ms"], v.get("last_counter"))
    except envelope_v2.EnvelopeError as e:
        raise Reject(e.code, str(e))
    iv = data[envelope_v2.HEADER.size:envelope_v2.HEADER.size + envelope_v2.IV_LEN]
    content = {name: byte for byte, name in envelope_v2.CONTENT.items()}[got["content"]]
    again = envelope_v2.seal(keys[got["key_id"]][0], got["key_id"], got["device_time_ms"],
                             got["counter"], content, iv, bytes.fromhex(got["plaintext_hex"]))
    if again != data:
        raise Bad(f"re-sealing gives {again.hex()}")
    return got


# ---------------------------------------------------------------- driver

RUNNERS = {"envelope": run_envelope, "seal": run_seal, "upload": run_upload,
           "codec": run_codec, "register": run_register, "envelope_v2": run_envelope_v2}


def check_vector(suite, v):
    """Returns None when the vector agrees with the oracle, else a reason."""
    unknown = set(v) - COMMON - OPTIONAL - FIELDS[suite]
    if unknown:
        return f"unknown fields {sorted(unknown)}"
    if ("expect" in v) == ("error" in v):
        return "needs exactly one of expect / error"
    if "error_detail" in v and "error" not in v:
        return "error_detail without error"
    if "error" in v and v["error"] not in ERRORS[suite]:
        return f"error code {v['error']!r} is not in the {suite} list"
    try:
        got = RUNNERS[suite](v)
    except Reject as r:
        if "error" in v and r.code == v["error"]:
            return None
        return f"oracle says {r}, vector expects {v.get('error') or v.get('expect')}"
    except Bad as b:
        return str(b)
    except (KeyError, TypeError, ValueError) as e:
        return f"vector not understood: {type(e).__name__}: {e}"
    if "error" in v:
        return f"oracle accepts ({got}), vector expects error {v['error']}"
    if suite == "register":
        return None if register_equal(got, v["expect"]) else f"oracle {got} != {v['expect']}"
    if got is not None and got != v["expect"]:
        return f"oracle {got} != expected {v['expect']}"
    return None


def check_file(path):
    """Returns (checked, failures)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return 0, [f"cannot parse: {e}"]
    if not isinstance(doc, dict) or set(doc) != {"suite", "description", "source", "vectors"}:
        return 0, ["file must have exactly suite, description, source, vectors"]
    suite = doc["suite"]
    if suite not in RUNNERS:
        return 0, [f"unknown suite {suite!r}"]
    failures, seen = [], set()
    for i, v in enumerate(doc["vectors"]):
        vid = v.get("id", f"#{i}") if isinstance(v, dict) else f"#{i}"
        if not isinstance(v, dict) or "id" not in v:
            failures.append(f"{vid}: vector without id")
            continue
        if vid in seen:
            failures.append(f"{vid}: duplicate id")
        seen.add(vid)
        reason = check_vector(suite, v)
        if reason:
            failures.append(f"{vid}: {reason}")
    return len(doc["vectors"]), failures


def vector_files():
    roots = [VECTORS, VECTORS_V2] + [Path(p) for p in os.environ.get("SOLARWIRE_EXTRA_VECTORS", "").split(":")
                         if p]
    for root in roots:
        if not root.is_dir():
            yield root, None
            continue
        for path in sorted(root.rglob("*.json")):
            yield root, path


def main():
    total_checked = total_failed = 0
    for root, path in vector_files():
        if path is None:
            print(f"{root}: not a directory")
            total_failed += 1
            continue
        checked, failures = check_file(path)
        name = path.relative_to(root.parent) if root in (VECTORS, VECTORS_V2) else path
        for f in failures:
            print(f"  FAIL {name}: {f}")
        print(f"{name}: {checked} checked, {len(failures)} failed")
        total_checked += checked
        total_failed += len(failures)
    print(f"total: {total_checked} checked, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
