#!/usr/bin/env python3
"""Write the project's codec and upload edge vectors (spec/vectors.md suites `codec`, `upload`).

Writes, under spec-tests/vectors/:
  codec-edges.json   codec suite: raw 0x00, 0xBF alias, 1- and 16-bit packing, dictionary
                     entry checks, short/odd/truncated 0x71 packets, semantic RLE header
                     checks, the server-only 0xDE/0xAD formats, unknown markers, and
                     sequences that pin down which ring entries a decoder may trust after a
                     lossy (0x50) or lost (truncated) packet
  upload-edges.json  upload suite: F1/F2, F6, F7, F12, F19, F26, limits, malformed bodies,
                     legacy direct values, path id bound to inner id, one value per
                     (time, register)

Everything is computed here with the standard library (hmac, hashlib, base64, json, struct)
and the oracle's codec (spec-tests/oracle/codec.py, written from the spec alone):
  - packets the device would send come from codec.Encoder (the device's encoder model,
    including its temporal ring, which is updated on every call whatever is sent, §3.3);
  - every expected decode result comes from codec.decode / codec.Decoder and is also
    asserted against what the device read (or, for lossy packets, what the bytes say);
  - upload JSON is built in the device's field order (§6.1) with ArduinoJson-style number
    text, sealed with the demo HMAC key (§1.6). No Rust is involved.
Spec references (§, F) are to shared/spec/ecowatt-wire-format.md.

Run (deterministic, rewrites byte-identical files):
    python3 spec-tests/tools/make_stream_vectors.py
"""
import base64
import hashlib
import hmac
import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "oracle"))
import codec  # noqa: E402

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
HKEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe")
SOURCE = ("project edge cases (solarwire) by spec-tests/tools/make_stream_vectors.py: packets "
          "from the oracle's device-encoder model (spec-tests/oracle/codec.py, written from the "
          "spec alone) or written byte by byte from the spec; expected values from that "
          "independent decoder; upload JSON in the device's field order, MACs with Python "
          "hmac/hashlib and the demo key of spec §1.6. Not device output.")

DEVICE_NAMES = ["Vac1", "Iac1", "Fac1", "Vpv1", "Vpv2", "Ipv1", "Ipv2", "Temp", "Pow", "Pac"]
REG_NAMES = ["REG_VAC1", "REG_IAC1", "REG_FAC1", "REG_VPV1", "REG_VPV2", "REG_IPV1",
             "REG_IPV2", "REG_TEMP", "REG_POW", "REG_PAC"]
DEFAULT6 = [0, 1, 5, 6, 7, 9]
ALL10 = list(range(10))
h = bytes.fromhex


def f32(x):
    return struct.pack("<f", x)


def b64(data):
    return base64.b64encode(data).decode()


def write(name, suite, description, vectors):
    ids = [v["id"] for v in vectors]
    assert len(ids) == len(set(ids)), f"duplicate ids in {name}"
    doc = {"suite": suite, "description": description, "source": SOURCE, "vectors": vectors}
    path = VECTORS / name
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote vectors/{name}: {len(vectors)} vectors")


# ---------------------------------------------------------------- device model

def ratio(packet, n):
    return 8 * len(packet) / (16 * n) if packet and n else 1.0


class Device:
    """The device's compression call (§3.6): every candidate is computed (the temporal one
    updates the ring), then either the smart choice or a named candidate is 'sent'."""

    def __init__(self):
        self.encoder = codec.Encoder()

    def call(self, values, ids, send="smart"):
        cands = {"dictionary": codec.encode_dictionary(values),
                 "temporal": self.encoder.temporal(values, ids),
                 "semantic": codec.encode_semantic_rle(values, ids),
                 "bitpack": codec.encode_bit_packed(values)}
        best = cands["dictionary"]
        for key in ("temporal", "semantic", "bitpack"):
            if 0 < ratio(cands[key], len(values)) < ratio(best, len(values)):
                best = cands[key]
        if send == "smart":
            return best
        if send == "delta":
            assert cands["temporal"][0] == 0x71, "the device would not emit a delta here"
            return cands["temporal"]
        return cands[send]


# ---------------------------------------------------------------- codec suite

def codec_edges():
    vs = []

    def add(id_, comment, packet, expect=None, error=None, state=None, encode=None,
            values=None, method=None):
        """One packet. `values`/`method`: what the vector's author intends; the expectation
        itself is what the independent decoder says (asserted equal)."""
        v = {"id": id_, "comment": comment, "packet_hex": packet.hex()}
        history = None
        if state:
            v["state"] = {"register_ids": state[0], "history": state[1]}
            history = codec.History.from_state(*state)
        try:
            got = codec.decode(packet, history, state[0] if state else None)
            got = {k: got[k] for k in ("method", "values", "register_ids") if k in got}
        except codec.CodecError as e:
            got = {"error": e.code}
        if error:
            assert got == {"error": error}, (id_, got)
            v["error"] = error
        else:
            assert got.get("values") == values and got.get("method") == method, (id_, got)
            v["expect"] = got
        if encode:
            v["encode"] = encode
        vs.append(v)

    # --- raw 0x00 (§3.5, F10) ---
    raw = h("0009010002000300040005000600070008000900")
    add("raw-nine-values", "§3.5 / F10: raw [0x00][N][N x u16 LE], the spec's example nine values"
        " 1..9; the latest server rejects 0x00, a new decoder reads it as raw", raw,
        values=list(range(1, 10)), method="raw")
    add("raw-truncated", "§3.5: raw packet announcing 9 values with the last byte missing -> "
        "truncated", raw[:-1], error="truncated")
    add("raw-empty", "§3.5: raw packet with N=0 -> no values", h("0000"), values=[],
        method="raw")

    # --- bit-packing (§3.1) ---
    add("bitpack-alias-0xbf", "§3.1/§3.7: marker 0xBF is the server's alias of bit-packing, same "
        "layout as 0x01 (the spec example with its marker replaced) -> method bit_packed",
        h("bf0c069000340470451c44b5"), values=[2304, 52, 71, 69, 452, 1205],
        method="bit_packed")
    add("bitpack-1-bit", "§3.1: decoders accept b = 1 ... 16 (the device writes 8 ... 16): five "
        "1-bit values 1,0,1,1,0 MSB-first = 0xb0, unused low bits zero", h("010105b0"),
        values=[1, 0, 1, 1, 0], method="bit_packed")
    add("bitpack-1-bit-nine-values", "§3.1: b = 1 across a byte boundary: nine values take two "
        "bytes (0xff 0x80)", h("010109ff80"), values=[1] * 9, method="bit_packed")
    add("bitpack-16-bit", "§3.1: b = 16 (largest value 65535 needs 16 bits): values are plain "
        "u16 BIG-endian (MSB-first), not little-endian", h("011002ffff1234"),
        values=[65535, 0x1234], method="bit_packed",
        encode={"method": "bit_packed", "values": [65535, 0x1234], "register_ids": [9, 8]})

    # --- dictionary (§3.2) ---
    for id_, entry, why in [
            ("dictionary-entry-1.5", 1.5, "1.5 is not an integral float"),
            ("dictionary-entry-65536", 65536.0, "65536.0 is above the largest u16"),
            ("dictionary-entry-nan", float("nan"), "NaN is not a number at all"),
            ("dictionary-entry-negative", -1.0, "-1.0 is below 0 (a saturating float->u16 cast "
             "would read it as 0)")]:
        add(id_, f"§3.2: dictionary entries must be integral floats in 0...65535; {why} -> "
            "bad_header (one entry, two 1-bit indices)", h("d00201") + f32(entry) + h("00"),
            error="bad_header")
    add("dictionary-entry-65535", "§3.2: 65535.0 is the largest valid entry (k=1, w=bitlen(1)=1,"
        " indices 0,0)", h("d00201") + f32(65535.0) + h("00"), values=[65535, 65535],
        method="dictionary")
    add("dictionary-k0-n3", "§3.2: k=0 entries but N=3 values: an index can never be valid -> "
        "bad_header (index width bitlen(0)=0, so there are no index bytes to run out of)",
        h("d00300"), error="bad_header")
    add("dictionary-k0-n0", "§3.2: k=0 and N=0 is a consistent empty packet -> ok, no values",
        h("d00000"), values=[], method="dictionary")

    # --- temporal delta 0x71 with explicit state (§3.3) ---
    ids3 = [0, 1, 9]
    hist3 = [[2300, 50, 1200], [2302, 51, 1210]]  # prediction 2*p1 - p2 = 2304, 52, 1220
    enc = codec.Encoder()
    enc.history = codec.History.from_state(ids3, hist3)
    enc.count = 3
    short = enc.temporal([2305, 52, 1218], ids3)
    assert short == h("71038180c2"), short.hex()
    add("temporal-delta-5-bytes-f4", "F4: a 0x71 packet for 3 registers with small deltas "
        "(+1, 0, -2 against the prediction 2*p1-p2) is exactly 5 bytes; the server refuses "
        "anything shorter than 6, a correct decoder judges the length by its content", short,
        state=(ids3, hist3), values=[2305, 52, 1218], method="temporal_delta",
        encode={"method": "temporal_delta", "values": [2305, 52, 1218], "register_ids": ids3})
    add("temporal-delta-tag-0xc0", "§3.3: short-form tag 0xC0 = magnitude 0 with the negative "
        "bit ('negative zero'; the device writes 0x80 for 0): d = tag & 0x3F = 0 -> value = "
        "prediction", h("7103c0c080"), state=(ids3, hist3), values=[2304, 52, 1220],
        method="temporal_delta")
    add("temporal-delta-i8-truncated", "§3.3: tag 0x00 announces an i8 delta but the packet ends "
        "-> truncated (not a delta of 0)", h("71038080" + "00"), state=(ids3, hist3),
        error="truncated")
    add("temporal-delta-i16-truncated", "§3.3: tag 0x01 announces an i16 LE delta but only one "
        "of its two bytes is present -> truncated", h("71038080" + "0110"), state=(ids3, hist3),
        error="truncated")
    add("temporal-delta-count-above-history", "§3.3: the device sends a delta only when this "
        "call's ids equal the previous call's (L == S, same count); a 0x71 with 4 deltas after "
        "a 3-register history does not continue that history -> missing_state",
        h("710480808080"), state=(ids3, hist3), error="missing_state")
    add("temporal-delta-count-below-history", "§3.3: as above with 2 deltas after a 3-register "
        "history -> missing_state (not a prefix decode)", h("71028080"), state=(ids3, hist3),
        error="missing_state")

    # --- semantic RLE header checks (§3.4) ---
    vac = h("01 01 00 0009 01")  # Vac1 group: position 0, run 2304 x1
    add("semantic-position-listed-twice", "§3.4: every position must be written exactly once; "
        "position 0 is listed by the Vac1 group and again by the Pac group -> bad_header",
        h("500202") + vac + h("070200 01 b504 02"), error="bad_header")
    add("semantic-position-listed-twice-in-group", "§3.4: one group lists the position byte 1 "
        "twice (N=2, position 0 by another group): a repeat is either a duplicate or, read as "
        "a wrapped u8 index (F6), position 257 >= N -> bad_header either way",
        h("500202") + vac + h("04020101 800d 02"), error="bad_header")
    add("semantic-position-beyond-n", "§3.4: position 5 in a packet of N=2 values -> bad_header",
        h("500202") + vac + h("070105 b504 01"), error="bad_header")
    add("semantic-run-longer-than-group", "§3.4: a run of 2 in a group of size 1 (runs must add "
        "up to the group size exactly) -> bad_header", h("500101" + "010100" + "000902"),
        error="bad_header")
    add("semantic-group-type-9", "§3.4: group types are 0...7; type 9 (its run width is "
        "undefined) -> bad_header", h("500101" + "090100" + "000901"), error="bad_header")
    add("semantic-position-not-covered", "§3.4: N=3 but the only group covers positions 0 and 1;"
        " position 2 would have no value -> bad_header", h("500301" + "01020001" + "000902"),
        error="bad_header")

    # --- server-only formats (§3.7) ---
    add("legacy-temporal-0xde", "§3.7 0xDE: base float32 230.0, then i16 deltas /100 cumulative "
        "(+1.00, -0.50) = 230.0, 231.0, 230.5; register values are u16, rounded half away from "
        "zero: 230, 231, 231", h("de03") + f32(230.0) + struct.pack("<hh", 100, -50),
        values=[230, 231, 231], method="legacy_temporal")
    add("legacy-rle-0xad", "§3.7 0xAD: runs (float32 value, u8 length): (100.0, 3), (200.0, 2)",
        h("ad05") + f32(100.0) + h("03") + f32(200.0) + h("02"), values=[100] * 3 + [200] * 2,
        method="legacy_semantic_rle")

    # --- aggregation formats are not on the decode path (§3.8, F11) ---
    agg = (h("aa010103") + struct.pack(">II", 1763884800, 1763884815) + bytes([0, 1, 9])
           + struct.pack(">3H3H", 2300, 50, 1200, 2310, 53, 1250))
    add("unknown-marker-0xaa", "F11 / §3.8: the device's unused min/max aggregation packet "
        "(marker 0xAA) is not a codec on the upload path -> unknown_marker", agg,
        error="unknown_marker")
    add("unknown-marker-0xa6", "F11 / §3.8: the legacy server's 0xA6 aggregation layout is not a"
        " codec either -> unknown_marker", h("a603") + bytes(68), error="unknown_marker")

    vs += stream_sequences()
    write("codec-edges.json", "codec",
          "codec edges: raw 0x00, 0xBF alias, 1- and 16-bit packing, dictionary entries, short "
          "and truncated 0x71 packets, semantic RLE header checks, server-only 0xDE/0xAD, "
          "aggregation markers, and packet streams in which a lossy or lost packet makes the "
          "device's ring entries unknown to the decoder", vs)


def stream_sequences():
    """Sequences from a device that has just booted (fresh ring). Every call feeds the ring;
    the sent packet is the device's smart choice or a named candidate of the same call."""
    vs = []

    def sequence(id_, comment, calls, expect_errors):
        """calls: [(values, ids, send)], expect_errors: {call index: code}."""
        dev, packets, ids, truth = Device(), [], [], []
        for values, rids, send in calls:
            cut = send.endswith("!cut")
            packet = dev.call(values, rids, send.removesuffix("!cut"))
            if len(packets) < 8:
                assert packet[0] == 0x01, "smart selection after boot is bit-packing (§3.6)"
            packets.append(packet[:-1] if cut else packet)
            ids.append(rids)
            truth.append(values)
        dec, expect = codec.Decoder(), []
        for i, (packet, rids) in enumerate(zip(packets, ids)):
            try:
                r = dec.decode(packet, rids)
                expect.append({k: r[k] for k in ("method", "values", "register_ids") if k in r})
                exact = r.get("exact")
                if exact is None or all(exact):
                    assert r["values"] == truth[i], (id_, i, r, truth[i])
                assert i not in expect_errors, (id_, i, "decoded, expected", expect_errors[i])
            except codec.CodecError as e:
                assert expect_errors.get(i) == e.code, (id_, i, e)
                expect.append({"error": e.code})
        vs.append({"id": id_, "comment": comment, "sequence": [p.hex() for p in packets],
                   "sequence_register_ids": ids, "expect": expect})

    def ramp(i, base, step):
        return [b + s * i for b, s in zip(base, step)]

    A = [3, 4, 9]  # Vpv1, Vpv2 (one semantic type, tolerance 15), Pac
    ramp_a = ([3450, 3440, 1200], [2, 2, 10])
    boot = [(ramp(i, *ramp_a), A, "smart") for i in range(8)]
    lossy = "; ".join([
        "after boot 8 bit-packed packets (smart selection, single sample, Vpv1/Vpv2/Pac) fill the "
        "ring",
        "call 8 is sent as 0x50 semantic RLE (built directly: smart selection never picks 0x50 "
        "for one sample) and Vpv2 3456 is within 15 of Vpv1 3466, so both decode as 3466 (F2)",
        "the device's ring holds what it READ (3456), the decoder cannot know it (§3.3: every "
        "call writes the ring whatever codec is sent)"])
    sequence("stream-lossy-semantic-then-delta", lossy + "; call 9 is a 0x71 delta whose p1 is "
             "that slot -> missing_state (a decoder that trusts 3466 would output wrong values); "
             "calls 10-11 are bit-packed (exact), so the 0x71 of call 12 decodes again",
             boot + [([3466, 3456, 1280], A, "semantic"),
                     ([3468, 3458, 1290], A, "delta"),
                     ([3600, 3590, 1500], A, "bitpack"),
                     ([3602, 3592, 1510], A, "bitpack"),
                     ([3605, 3591, 1533], A, "delta")],
             {9: "missing_state"})
    sequence("stream-lossy-semantic-p2", lossy + "; call 9 is bit-packed (exact); the 0x71 of "
             "call 10 needs the lossy slot as p2 -> missing_state; two more exact packets and "
             "the 0x71 of call 13 decodes",
             boot + [([3466, 3456, 1280], A, "semantic"),
                     ([3468, 3458, 1290], A, "bitpack"),
                     ([3470, 3460, 1300], A, "delta"),
                     ([3472, 3462, 1310], A, "bitpack"),
                     ([3474, 3464, 1320], A, "bitpack"),
                     ([3477, 3463, 1200], A, "delta")],
             {10: "missing_state"})
    B = [0, 3, 9]  # Vac1, Vpv1, Pac: three 2-byte types, one value each
    boot_b = [(ramp(i, [2300, 3450, 1200], [1, 2, 10]), B, "smart") for i in range(8)]
    sequence("stream-exact-semantic-then-delta", "8 bit-packed packets fill the ring (Vac1, Vpv1,"
             " Pac); call 8 is sent as 0x50 (built directly) but every value is the first of "
             "its run in a 2-byte type, so each equals the device's reading (§3.4: exact); the "
             "0x71 of call 9 needs only exact entries -> decodes",
             boot_b + [([2308, 3466, 1280], B, "semantic"),
                       ([2311, 3465, 1300], B, "delta"),
                       ([2313, 3463, 1299], B, "delta")], {})
    C = [0, 1, 9]  # Vac1, Iac1 (1-byte semantic type), Pac
    boot_c = [(ramp(i, [2300, 50, 1200], [1, 0, 10]), C, "smart") for i in range(8)]
    sequence("stream-one-byte-semantic-then-delta", "8 bit-packed packets fill the ring (Vac1, "
             "Iac1, Pac); call 8 is sent as 0x50 (built directly): Iac1 is a 1-byte type (value "
             "mod 256, §3.4), so the decoder never knows the device's entry exactly, even though"
             " 50 < 256 and the bytes happen to be right -> the 0x71 of call 9 is missing_state",
             boot_c + [([2308, 50, 1280], C, "semantic"),
                       ([2309, 50, 1290], C, "delta")], {9: "missing_state"})
    D = [0, 1, 2]  # Vac1, Iac1, Fac1: registers the lossy packet did not carry
    sequence("stream-lossy-semantic-other-registers", lossy + "; call 9 is bit-packed with "
             "another layout (Vac1, Iac1, Fac1) and the 0x71 of call 10 repeats it: its p2 is "
             "the lossy slot, but only the entries of Vac1/Iac1/Fac1, which the 0x50 never "
             "touched (they still hold the boot zeros, so the prediction is 2*p1) -> decodes: "
             "exactness is tracked per ring entry, not per slot",
             boot + [([3466, 3456, 1280], A, "semantic"),
                     ([2300, 50, 5000], D, "bitpack"),
                     ([2302, 51, 5001], D, "delta")], {})
    E = [0, 1, 9]
    boot_e = [(ramp(i, [2300, 50, 1200], [1, 1, 10]), E, "smart") for i in range(8)]
    sequence("stream-truncated-packet-advances-ring", "8 bit-packed packets fill the ring; the "
             "0x71 of call 8 decodes; the 0x71 of call 9 arrives with its last byte missing -> "
             "truncated, yet the device wrote that slot, so the ring advances: the 0x71 of call "
             "10 needs the lost slot as p1 -> missing_state (a decoder that did not advance "
             "would decode it against calls 8 and 7); calls 11-12 are bit-packed and the 0x71 "
             "of call 13 decodes again",
             boot_e + [([2309, 57, 1283], E, "delta"),
                       ([2311, 58, 1290], E, "delta!cut"),
                       ([2312, 60, 1300], E, "delta"),
                       ([2400, 80, 2000], E, "bitpack"),
                       ([2401, 81, 2010], E, "bitpack"),
                       ([2405, 80, 2100], E, "delta")],
             {9: "truncated", 10: "missing_state"})
    sequence("stream-truncated-packet-p2", "8 bit-packed packets fill the ring; the bit-packed "
             "packet of call 8 is cut (truncated) but still occupies its ring slot; call 9 is "
             "bit-packed; the 0x71 of call 10 needs the lost slot as p2 -> missing_state (a "
             "decoder that did not advance would use calls 9 and 7)",
             boot_e + [([2400, 80, 2000], E, "bitpack!cut"),
                       ([2401, 81, 2010], E, "bitpack"),
                       ([2402, 82, 2020], E, "delta")],
             {8: "truncated", 10: "missing_state"})
    sequence("stream-truncated-packet-other-registers", "8 bit-packed packets fill the ring "
             "(Vac1, Iac1, Pac); the packet of call 8 is cut (truncated); call 9 is bit-packed "
             "with another layout (Vpv1, Vpv2, Ipv1) and the 0x71 of call "
             "10 repeats it: p2 is the lost slot but only its Vpv1/Vpv2/Ipv1 entries, which the "
             "lost packet did not write (boot zeros) -> decodes",
             boot_e + [([2400, 80, 2000], E, "bitpack!cut"),
                       ([3450, 3440, 70], [3, 4, 5], "bitpack"),
                       ([3452, 3441, 71], [3, 4, 5], "delta")],
             {8: "truncated"})
    return vs


# ---------------------------------------------------------------- upload suite

def arduino_number(x):
    """A float32 value printed as ArduinoJson 6.21 prints a double (§6.1: 0.833333313)."""
    x = struct.unpack("<f", struct.pack("<f", x))[0]
    if x == 0:
        return "0"
    sign, x = ("-", -x) if x < 0 else ("", x)
    assert 1e-5 <= x < 1e7, x  # no exponent form needed for ratios and percentages
    integral = int(x)
    places, max_dec = 9, 1_000_000_000
    t = integral
    while t >= 10:
        t //= 10
        places -= 1
        max_dec //= 10
    remainder = (x - integral) * max_dec
    decimal = int(remainder)
    decimal += int((remainder - decimal) * 2)
    if decimal >= max_dec:
        decimal, integral = 0, integral + 1
    while places > 0 and decimal % 10 == 0:
        decimal //= 10
        places -= 1
    return sign + str(integral) + (f".{decimal:0{places}d}" if places else "")


class Raw(str):
    """Number text written into the JSON as is."""


def dump(obj):
    """Compact JSON in insertion order; Raw strings are emitted verbatim."""
    if isinstance(obj, Raw):
        return str(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dump(v) for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(dump(v) for v in obj) + "]"
    return json.dumps(obj, ensure_ascii=False)


def f32div(a, b):
    return struct.unpack("<f", struct.pack("<f", a / b))[0]


def savings(academic):
    one_minus = struct.unpack("<f", struct.pack("<f", 1.0 - academic))[0]
    return one_minus * 100.0


class Pkt:
    """One compressed_data element: packet bytes and its metadata."""

    def __init__(self, data, layout, samples, ts_ms, method=None, b64_text=None,
                 register_count=None, legacy=False):
        self.data, self.layout, self.samples, self.ts_ms = data, layout, samples, ts_ms
        label = {0xD0: "dictionary", 0x70: "temporal", 0x71: "temporal", 0x50: "semantic"}
        self.method = method or label.get(data[0], "bitpack")
        self.b64_text = b64_text if b64_text is not None else b64(data)
        self.register_count = len(layout) if register_count is None else register_count
        self.legacy = legacy

    def original(self):
        return 2 * len(self.layout) * self.samples

    def json(self):
        orig, comp = self.original(), len(self.data)
        academic = f32div(comp, orig)
        meta = {"method": self.method, "register_count": self.register_count}
        if self.samples is not None:
            meta["sample_count"] = self.samples
        meta.update({"original_size_bytes": orig, "compressed_size_bytes": comp,
                     "timestamp": self.ts_ms % 2**32, "register_layout": self.layout})
        return {"compressed_binary": self.b64_text, "decompression_metadata": meta,
                "performance_metrics": {
                    "academic_ratio": Raw(arduino_number(academic)),
                    "traditional_ratio": Raw(arduino_number(f32div(orig, comp))),
                    "compression_time_us": 1234 if self.legacy else 0,
                    "savings_percent": Raw(arduino_number(savings(academic))),
                    "lossless_verified": self.legacy}}


def upload_text(packets, device_id="ESP32_001", ts_s=1763884800, interval=5, drop=(),
                mapping_from=None):
    """The inner upload JSON of §6.1, fields in the device's order."""
    last = mapping_from or (packets[-1].layout if packets else DEFAULT6)
    orig = sum(p.original() for p in packets)
    comp = sum(len(p.data) for p in packets)
    academic = f32div(comp, orig) if orig else 0.0
    body = {"device_id": device_id, "timestamp": ts_s, "data_type": "compressed_sensor_batch",
            "total_samples": len(packets), "sampling_interval": interval,
            "register_mapping": {str(i): DEVICE_NAMES[r] for i, r in enumerate(last)},
            "compressed_data": [p.json() for p in packets],
            "session_summary": {"total_original_bytes": orig, "total_compressed_bytes": comp,
                                "overall_academic_ratio": Raw(arduino_number(academic)),
                                "overall_savings_percent": Raw(arduino_number(
                                    savings(academic) if orig else 0.0))}}
    for key in drop:
        del body[key]
    return dump(body)


def envelope(payload, nonce):
    """§1.2: compact, device field order; MAC over nonce_be32 || payload (§1.3)."""
    mac = hmac.new(HKEY, nonce.to_bytes(4, "big") + payload, hashlib.sha256).hexdigest()
    return dump({"nonce": nonce, "payload": b64(payload), "mac": mac, "encrypted": False,
                 "compressed": False})


def samples_of(values, layout):
    """Expected samples: sample-major split with the packet's own layout, t unknown (F13)."""
    n = len(layout)
    assert len(values) % n == 0
    return [{"t": None, "registers": {REG_NAMES[r]: x for r, x in zip(layout, values[i:i + n])}}
            for i in range(0, len(values), n)]


def decoded(pkt):
    """What the independent decoder makes of one packet (with the metadata's true count)."""
    count = len(pkt.layout) * pkt.samples
    return codec.decode(pkt.data, None, pkt.layout * pkt.samples, count)["values"]


def lcg(seed):
    while True:
        seed = (seed * 1103515245 + 12345) % 2**31
        yield seed >> 8


def batch(layout, samples, seed, spread=None):
    """Plausible readings per register id (spread: jitter amplitude per id)."""
    base = [2300, 52, 5000, 3450, 3400, 70, 68, 450, 100, 1200]
    spread = spread or [12, 6, 4, 40, 40, 6, 6, 8, 0, 300]
    rnd = lcg(seed)
    return [[base[r] + next(rnd) % (spread[r] + 1) for r in layout] for _ in range(samples)]


def upload_edges():
    vs = []
    nonce = [60000]

    def add(id_, comment, body, expect=None, error=None, fmt="aggregated", last_nonce="auto",
            keys=True):
        v = {"id": id_, "comment": comment, "format": fmt}
        if fmt == "aggregated":
            v["path_device_id"] = "ESP32_001"
        v["body"] = body
        if keys:
            v["hmac_key_hex"] = HKEY.hex()
            v["last_nonce"] = nonce[0] - 2 if last_nonce == "auto" else last_nonce
        if error:
            v["error"] = error
        else:
            v["expect"] = expect
        vs.append(v)

    def sealed(text):
        nonce[0] += 1
        return envelope(text.encode(), nonce[0])

    def expect(samples, device_id="ESP32_001"):
        return {"device_id": device_id, "samples": samples}

    t0 = 2948203640  # metadata times: last sample's Unix ms mod 2^32 (F13)
    dev = Device()

    def pkt(rows, layout, ts, **kw):
        flat = [x for row in rows for x in row]
        p = Pkt(dev.call(flat, layout * len(rows)), layout, len(rows), ts, **kw)
        return p, flat

    # spec §6.1 example, rebuilt byte for byte: checks field order and number text.
    ex = Pkt(h("010c129000340470451c44b59020350480451c44bc9010350480461c54c4"), DEFAULT6, 3, t0)
    spec_text = ('{"device_id":"ESP32_001","timestamp":1763884800,"data_type":"compressed_sensor_'
                 'batch","total_samples":1,"sampling_interval":5,"register_mapping":{"0":"Vac1",'
                 '"1":"Iac1","2":"Ipv1","3":"Ipv2","4":"Temp","5":"Pac"},"compressed_data":[{"co'
                 'mpressed_binary":"AQwSkAA0BHBFHES1kCA1BIBFHES8kBA1BIBGHFTE","decompression_met'
                 'adata":{"method":"bitpack","register_count":6,"sample_count":3,"original_size_'
                 'bytes":36,"compressed_size_bytes":30,"timestamp":2948203640,"register_layout":'
                 '[0,1,5,6,7,9]},"performance_metrics":{"academic_ratio":0.833333313,"tradition'
                 'al_ratio":1.200000048,"compression_time_us":0,"savings_percent":16.66666794,"'
                 'lossless_verified":false}}],"session_summary":{"total_original_bytes":36,"tota'
                 'l_compressed_bytes":30,"overall_academic_ratio":0.833333313,"overall_savings_p'
                 'ercent":16.66666794}}')
    assert upload_text([ex]) == spec_text, upload_text([ex])

    # --- F6: 300 values in one packet, count byte 44 ---
    night = [[0, 0, 0, 0, 0, 0, 0, 250, 0, 0] for _ in range(30)]
    p6, flat6 = pkt(night, ALL10, t0 + 150000)
    assert p6.data[:2] == h("d02c") and len(p6.data) == 86, p6.data[:3].hex()
    assert decoded(p6) == flat6
    add("f6-300-values-count-byte-44", "F6: 30 samples x 10 registers = 300 values in one "
        "dictionary packet (night: two distinct values, 86 bytes); the header's count byte is "
        "300 mod 256 = 44; a decoder must take the count from the metadata (30 x 10) and check "
        "it against the header -> all 300 values, 30 samples", sealed(upload_text([p6])),
        expect(samples_of(flat6, ALL10)))
    p6bad = Pkt(p6.data, ALL10, 29, t0 + 150000)
    add("f6-sample-count-disagrees-with-header", "F6: the same packet with metadata sample_count "
        "29 (290 values, 290 mod 256 = 34) while the count byte says 44 -> bad_header; it is the "
        "only packet, so the upload's error is that packet's error",
        sealed(upload_text([p6bad])), error="bad_header")

    stable50 = batch(DEFAULT6, 50, 41, spread=[9, 4, 0, 0, 0, 2, 2, 4, 0, 40])
    p6s, flat6s = pkt(stable50, DEFAULT6, t0 + 155000)
    assert p6s.data[:2] == h("502c"), p6s.data[:3].hex()
    wrapped = decoded(p6s)
    assert wrapped != flat6s and len(wrapped) == 300
    add("f6-semantic-positions-wrap", "F6: 50 stable samples x 6 registers = 300 values; smart "
        f"selection picks 0x50 ({len(p6s.data)} bytes); count byte 44 AND every position index "
        "is a u8, so positions >= 256 are written mod 256 (increasing within a group); with "
        "the count from the metadata a decoder unwraps them (each is the smallest index above "
        "the previous one with that residue) -> 50 samples, values as the bytes say (lossy, "
        "F2). Note: v1.3.4 would also cut this packet to 189 bytes (F7); this is what a device "
        "without that bug sends", sealed(upload_text([p6s])),
        expect(samples_of(wrapped, DEFAULT6)))

    # --- F7: packet cut to 252 base64 characters ---
    rows7 = batch(ALL10, 20, 7)
    p7, flat7 = pkt(rows7, ALL10, t0 + 300000)
    assert p7.data[0] == 0x01 and len(p7.data) > 189, (p7.data[:3].hex(), len(p7.data))
    p7cut = Pkt(p7.data, ALL10, 20, t0 + 300000, b64_text=b64(p7.data)[:252])
    assert len(base64.b64decode(p7cut.b64_text)) == 189
    add("f7-base64-cut-to-252-chars", f"F7: a {len(p7.data)}-byte bit-packed packet (20 samples x"
        " 10 registers) whose base64 the device cut to 252 characters (189 bytes) while "
        f"compressed_size_bytes still says {len(p7.data)} -> truncated (the server would read "
        "the missing bits as zeros)", sealed(upload_text([p7cut])), error="truncated")

    # --- F12: two layouts in one upload ---
    rows_a = batch(DEFAULT6, 3, 12)
    rows_b = batch(ALL10, 3, 13)
    pa, flat_a = pkt(rows_a, DEFAULT6, t0 + 450000)
    pb, flat_b = pkt(rows_b, ALL10, t0 + 465000)
    assert decoded(pa) == flat_a and decoded(pb) == flat_b
    add("f12-two-layouts", "F12: a register change between two packets: the first has layout "
        "[0,1,5,6,7,9], the second all ten registers; each packet is split with its OWN layout "
        "and sample count (the server slices everything with the first layout); "
        "register_mapping names the last packet's layout", sealed(upload_text([pa, pb])),
        expect(samples_of(flat_a, DEFAULT6) + samples_of(flat_b, ALL10)))

    # --- F1/F2: semantic RLE in an upload ---
    stable = batch(DEFAULT6, 10, 21, spread=[9, 4, 0, 0, 0, 2, 2, 4, 0, 40])
    ps, flat_s = pkt(stable, DEFAULT6, t0 + 600000)
    assert ps.data[0] == 0x50, ps.data[:3].hex()
    lossy_values = decoded(ps)
    assert lossy_values != flat_s
    add("f1-f2-semantic-packet", "F1/F2: 10 stable samples of the six default registers: the "
        "device's smart selection sends 0x50 semantic RLE (the latest server cannot decode it and"
        " drops the samples silently); decoded values are what the bytes say (runs within "
        "tolerance, 1-byte types mod 256), not the readings", sealed(upload_text([ps])),
        expect(samples_of(lossy_values, DEFAULT6)))

    # --- F26: duplicate packet ---
    rows_d = batch(DEFAULT6, 3, 31)
    pd, flat_d = pkt(rows_d, DEFAULT6, t0 + 750000)
    add("f26-duplicate-packet", "F26: the same packet (same metadata timestamp and bytes) twice "
        "in one upload, as after a lost 200 reply and a re-queue: its samples appear once",
        sealed(upload_text([pd, pd])), expect(samples_of(flat_d, DEFAULT6)))

    # --- F19: no envelope ---
    add("f19-bare-aggregated-body", "F19: a valid upload JSON posted to /aggregated without the "
        "envelope (no nonce/payload/mac): the latest server accepts it as trusted, a correct one"
        " refuses it -> malformed (the current firmware always seals)", upload_text([pd]),
        error="malformed", last_nonce=None)

    # --- limits ---
    many = []
    for i in range(65):
        p, _ = pkt(batch(DEFAULT6, 1, 100 + i), DEFAULT6, t0 + 900000 + 5000 * i)
        many.append(p)
    add("too-many-packets-65", "limits: 65 packets in one upload -> too_large (the core's "
        "default bound is 64 packets per upload; the device sends at most 8, F29)",
        sealed(upload_text(many)), error="too_large")
    big_rows = [[2300, 52, 5000, 3450, 3400, 70, 68, 450, 100, 1200]] * 500
    flat_big = [x for r in big_rows for x in r]
    p_big = Pkt(codec.encode_dictionary(flat_big), ALL10, 500, 120000, method="BATCH_DICTIONARY",
                legacy=True)
    assert p_big.data[:3] == h("d0880a")
    legacy_big = dump({"device_id": "ESP32_EcoWatt_Smart", "timestamp": 123456,
                       "data_type": "compressed_sensor_batch", "total_samples": 1,
                       "register_mapping": {str(i): DEVICE_NAMES[r] for i, r in enumerate(ALL10)},
                       "compressed_data": [p_big.json()]})
    add("too-large-5000-values", "limits: a legacy /process body without envelope (allowed for "
        "legacy) whose metadata declares sample_count 500 x a 10-register layout = 5000 values "
        "in one packet (a valid dictionary packet of 5000 values, count byte 136) -> too_large "
        "(the core's default bound is 4096 values per packet; the device's largest is 500)",
        legacy_big, error="too_large", fmt="legacy_process", keys=False)

    # --- malformed bodies ---
    add("compressed-data-missing", "§6.1: valid JSON, correctly sealed, but without "
        "compressed_data -> malformed", sealed(upload_text([pd], drop=("compressed_data",))),
        error="malformed")
    add("compressed-data-empty", "§6.1: compressed_data is an empty list: nothing to decode, "
        "nothing wrong -> ok with zero samples (the latest server answers 400 'nothing decoded')",
        sealed(upload_text([])), expect([]))
    pm = Pkt(pd.data, DEFAULT6, 3, t0 + 750000, register_count=5)
    add("register-count-disagrees-only-packet", "§6.1: register_count 5 but register_layout has "
        "6 ids: the packet cannot be split -> malformed; as the only packet it is the upload's "
        "error", sealed(upload_text([pm])), error="malformed")
    add("register-count-disagrees-second-packet", "§6.1: the same inconsistent packet after a "
        "good one: only the bad packet fails, the good packet's samples are kept",
        sealed(upload_text([pa, pm], mapping_from=DEFAULT6)), expect(samples_of(flat_a, DEFAULT6)))
    add("inner-device-id-differs", "§1.1 + issue 12: the MAC-covered inner device_id "
        "(ESP32_002) must equal the path id (ESP32_001), or a fleet-key upload of one device "
        "could be stored as another's -> device_mismatch, nonce unmoved",
        sealed(upload_text([pd], device_id="ESP32_002")), error="device_mismatch")
    direct = [2304, 52, 5001, 3456, 3398, 71, 69, 452, 100, 1205]
    legacy_list = dump({"device_id": "ESP32_EcoWatt_Smart", "timestamp": 123456,
                        "data_type": "compressed_sensor_batch", "total_samples": 1,
                        "compressed_data": [direct]})
    add("legacy-direct-values-list", "§6.2: legacy /process accepted a bare list of >= 10 "
        "integers as a packet (direct raw values); with no layout they map onto the fixed ten "
        "registers in id order Vac1 ... Pac", legacy_list,
        expect(samples_of(direct, ALL10), device_id="ESP32_EcoWatt_Smart"),
        fmt="legacy_process", keys=False)
    add("payload-not-json", "§6.1: an envelope with a valid MAC around a payload that is not "
        "JSON -> malformed", sealed("device_id=ESP32_001;values=2304,52"), error="malformed")

    # --- one value per (time, register) in an upload (issue 12, docs/upload-rules.md) ---
    rows_x = batch(DEFAULT6, 3, 51)
    px, flat_x = pkt(rows_x, DEFAULT6, t0 + 1200000)
    rows_y = batch([0, 2], 3, 52)
    py, _ = pkt(rows_y, [0, 2], t0 + 1200000)
    add("duplicate-sample-second-packet", "one value per (time, register): a second packet "
        "(other bytes, so not a re-send, F26) dated like the first (same metadata timestamp, "
        "sample count and interval) repeats Vac1 at the first packet's three times -> that "
        "packet is refused with duplicate_sample, the first packet's values stand",
        sealed(upload_text([px, py], mapping_from=DEFAULT6)), expect(samples_of(flat_x, DEFAULT6)))
    rows_z = batch([0], 2, 53)
    pz, _ = pkt(rows_z, [0], t0 + 1205000)
    add("duplicate-sample-partial-overlap", "one value per (time, register): a later packet of "
        "two Vac1 samples whose older one falls on the first packet's newest time (interval 5 s, "
        "last sample 5 s later) -> refused with duplicate_sample",
        sealed(upload_text([px, pz], mapping_from=DEFAULT6)), expect(samples_of(flat_x, DEFAULT6)))
    twice = [0, 1, 0]
    rows_t = batch(twice, 2, 55)
    pt = Pkt(codec.encode_bit_packed([x for r in rows_t for x in r]), twice, 2, t0 + 1300000)
    add("duplicate-sample-layout-names-a-register-twice", "one value per (time, register): a "
        "layout [0,1,0] gives Vac1 two values in every sample -> duplicate_sample; as the only "
        "packet it is the upload's error", sealed(upload_text([pt])), error="duplicate_sample")
    rows_i = batch(DEFAULT6, 3, 56)
    pi, _ = pkt(rows_i, DEFAULT6, t0 + 1400000)
    add("duplicate-sample-interval-zero", "one value per (time, register): sampling_interval 0 "
        "dates all three samples of a packet alike -> duplicate_sample; as the only packet it is "
        "the upload's error", sealed(upload_text([pi], interval=0)), error="duplicate_sample")

    # --- sentinels: the inverter's "not available" is a missing value (issue 12) ---
    def measured(samples):
        """The default profile's sentinels (0xFFFF on every register but Pow) left out."""
        return [{"t": s["t"], "registers": {k: x for k, x in s["registers"].items()
                                            if x != 0xFFFF or k == "REG_POW"}}
                for s in samples]

    rows_s = batch(ALL10, 2, 61)
    rows_s[1][7] = rows_s[1][9] = rows_s[1][8] = 0xFFFF
    psent, flat_sent = pkt(rows_s, ALL10, t0 + 1500000)
    assert decoded(psent) == flat_sent
    add("sentinels-are-missing-values", "register profile: 0xFFFF is the inverter's 'not "
        "available' (catalog field sentinels): the second sample's Temp and Pac are left out "
        "(missing, not 6553.5 degC and 65535 W); Pow has no sentinel (a percent the device "
        "writes), so its 65535 stays", sealed(upload_text([psent])),
        expect(measured(samples_of(flat_sent, ALL10))))
    unavailable = [0xFFFF] * 10
    legacy_sent = dump({"device_id": "ESP32_EcoWatt_Smart", "timestamp": 123456,
                        "data_type": "compressed_sensor_batch", "total_samples": 1,
                        "compressed_data": [unavailable]})
    add("sentinels-whole-sample", "register profile: a legacy direct-values sample where every "
        "register reads 0xFFFF keeps only Pow (no sentinel): the sample stays, as a gap",
        legacy_sent, expect(measured(samples_of(unavailable, ALL10)),
                            device_id="ESP32_EcoWatt_Smart"),
        fmt="legacy_process", keys=False)
    write("upload-edges.json", "upload",
          "upload edges: count byte overflow (F6), truncated base64 (F7), per-packet layouts "
          "(F12), semantic packets (F1/F2), duplicates (F26), missing envelope (F19), packet and "
          "value limits, malformed bodies, legacy direct values, path id bound to inner id, one "
          "value per (time, register), sentinels as missing values", vs)


if __name__ == "__main__":
    codec_edges()
    upload_edges()
