"""Independent decoder and encoder for EcoWatt compressed register packets.

Written from the text of shared/spec/ecowatt-wire-format.md only (§3.1-3.5, 3.7; the
§ numbers below refer to it), as an oracle for the `codec` vector suite. It shares no
code with the Rust core.

    decode(packet, history=None, ids=None, count=None) -> {"method", "values"[, "register_ids"]}
                                            (+ "exact": per-value flags, semantic RLE only)
    Decoder().decode(packet, ids, count)    decodes a stream, feeding the device's ring
                                            (also when a packet fails: the device wrote it)
    History.from_state(register_ids, [prev2, prev1])   explicit state for one 0x71 packet
    encode(method, values, ids)             bit_packed, dictionary, semantic_rle, smart
    Encoder().temporal(values, ids) / .smart(values, ids)   stateful device encoder

Errors raise CodecError(code) with the suite's codes: truncated, unknown_marker,
bad_header, missing_state. Bytes after the last value a header announces are ignored
(the device's count byte wraps modulo 256, F6). `count` is the true value count when the
caller knows it (upload metadata, F6): the header byte must equal it modulo 256 and
`count` values are decoded. Run `python3 codec.py` for a self-test on the spec's worked
examples.

Exactness (§3.3 decoder, §3.4, F2, F25): the device's ring holds the values it READ, the
decoder only what the bytes say. The History therefore tracks, per ring entry, whether it
is known exactly. Known: boot zeros, values of lossless packets (0x01, 0xD0, 0x70, 0x71,
0x00, legacy formats), and a semantic value whose type is written with 2 bytes AND that is
the first value of its run (or whose type has tolerance 0). Never known: 1-byte semantic
types (value mod 256), run continuations, the entries of a packet that failed to decode,
all entries of a call whose packet is unknown, and everything before a call with more
than 10 values (the device's layout field overruns its own ring index, F25). A 0x71
needs p1 and p2 known for every register of its layout, else missing_state.
"""
import struct
from fractions import Fraction

# §3.4: register id -> semantic type, and per type the run tolerance.
SEMANTIC_TYPE = {0: 1, 1: 2, 2: 3, 3: 4, 4: 4, 5: 5, 6: 5, 7: 6, 8: 7, 9: 7}
TOLERANCE = {0: 0, 1: 10, 2: 5, 3: 1, 4: 15, 5: 3, 6: 5, 7: 50}
ONE_BYTE_TYPES = {2, 3, 5}  # run value stored as value mod 256


class CodecError(Exception):
    def __init__(self, code, detail=""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class Reader:
    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise CodecError("truncated", f"need {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return int.from_bytes(self.take(2), "little")


# ---------------------------------------------------------------- device ring (§3.3)

class History:
    """The device's temporal state: 8 ring slots of per-register values."""

    ALL_IDS = frozenset(range(10))

    def __init__(self, at_boot=True):
        """at_boot: the ring is the device's all-zero ring after boot (every entry known).
        Otherwise (a server joining a running device) no entry is known."""
        self.ring = [dict() for _ in range(8)]  # slot -> {register id: value}, 0 if unset
        self.known = [set(self.ALL_IDS) if at_boot else set() for _ in range(8)]
        self.w = 0            # next slot to write
        self.full = False     # set once w has wrapped to 0
        self.layout = None    # register ids of the previous call (None: unknown)

    @classmethod
    def from_state(cls, register_ids, history):
        """Explicit state of a vector: history = [prev2 values, prev1 values]; the other
        ring entries are unknown."""
        h = cls(at_boot=False)
        prev2, prev1 = history
        h.feed(register_ids, prev2)
        h.feed(register_ids, prev1)
        h.full = True
        return h

    def feed(self, ids, values, exact=None):
        """Records one device call. ids None: the call's registers are unknown (the whole
        slot becomes unknown); values None: the packet failed, its registers' entries
        become unknown. exact: per-value flags (default: all exact)."""
        slot, known = self.ring[self.w], self.known[self.w]
        if ids is None:
            known.clear()
        elif values is None or len(ids) != len(values):
            known.difference_update(ids)
        else:
            for i, (rid, value) in enumerate(zip(ids, values)):
                slot[rid] = value  # repeated ids: the last one wins
                if exact is None or exact[i]:
                    known.add(rid)
                else:
                    known.discard(rid)
        self.layout = list(ids) if ids is not None and len(ids) <= 10 else None
        if ids is not None and len(ids) > 10:
            # F25: N ids overrun the device's 10-byte layout field, its count, write index
            # and full flag; no history before this call is reliable.
            for k in self.known:
                k.clear()
            self.full = True
        self.w = (self.w + 1) % 8
        if self.w == 0:
            self.full = True

    def exact_history(self, ids):
        """Whether p1 and p2 are known exactly for every id."""
        return all(set(ids) <= self.known[(self.w - back) % 8] for back in (1, 2))

    def prediction(self, rid):
        p1 = self.ring[(self.w - 1) % 8].get(rid, 0)
        p2 = self.ring[(self.w - 2) % 8].get(rid, 0)
        q = 2 * p1 - p2
        return p1 if q < 0 or q > 65535 else q


def signed16(x):
    x &= 0xFFFF
    return x - 0x10000 if x >= 0x8000 else x


# ---------------------------------------------------------------- decoders

def value_count(header, count):
    """F6: the header holds N mod 256; the caller may know the true N."""
    if count is None:
        return header
    if count % 256 != header:
        raise CodecError("bad_header", f"header count {header} != {count} mod 256")
    return count


def decode_bit_packed(data, count=None):
    """§3.1: [0x01|0xBF][bits][N mod 256] then N values of `bits` bits, MSB-first."""
    r = Reader(data, 1)
    bits, n = r.u8(), r.u8()
    if not 1 <= bits <= 16:
        raise CodecError("bad_header", f"{bits} bits per value")
    n = value_count(n, count)
    stream = int.from_bytes(r.take((n * bits + 7) // 8), "big")
    total = ((n * bits + 7) // 8) * 8
    return [(stream >> (total - (i + 1) * bits)) & ((1 << bits) - 1) for i in range(n)]


def decode_dictionary(data, count=None):
    """§3.2: [0xD0][N][k][k x float32 LE][N indices of bitlen(k) bits, LSB-first]."""
    r = Reader(data, 1)
    n, k = r.u8(), r.u8()
    n = value_count(n, count)
    entries = []
    for j in range(k):
        entries.append(float_to_u16(struct.unpack("<f", r.take(4))[0], f"dictionary entry {j}"))
    w = k.bit_length()
    stream = int.from_bytes(r.take((n * w + 7) // 8), "little")
    values = []
    for i in range(n):
        index = (stream >> (i * w)) & ((1 << w) - 1)
        if index >= k:
            raise CodecError("bad_header", f"index {index} >= k={k} at position {i}")
        values.append(entries[index])
    return values


def float_to_u16(f, what):
    """A float that must be an integral value in 0..65535 (NaN, 1.5, 65536.0 are not)."""
    if not (f == f and 0 <= f <= 65535 and f == int(f)):
        raise CodecError("bad_header", f"{what} = {f} is not a u16")
    return int(f)


def decode_temporal_base(data, count=None):
    """§3.3: [0x70][N][N register ids][N x u16 LE]."""
    r = Reader(data, 1)
    n = value_count(r.u8(), count)
    ids = list(r.take(n))
    return ids, [r.u16() for _ in range(n)]


def decode_temporal_delta(data, history, ids, count=None):
    """§3.3: [0x71][N] then one tagged delta per value against 2*p1 - p2 (clamped).

    The device emits a delta only when this call's ids equal the previous call's (L == S,
    same count), so a packet whose count or ids differ from the recorded layout does not
    belong to this history: missing_state, like a history that is not known exactly."""
    r = Reader(data, 1)
    n = value_count(r.u8(), count)
    if history is None or not history.full:
        raise CodecError("missing_state", "0x71 needs a ring fed by 8 earlier packets")
    layout = history.layout
    if layout is None:
        raise CodecError("missing_state", "the previous call's register ids are unknown")
    if (ids is not None and list(ids) != layout) or len(layout) != n:
        raise CodecError("missing_state", f"{n} deltas / ids {ids} do not continue the "
                         f"previous call's layout {layout}")
    if not history.exact_history(layout):
        raise CodecError("missing_state", "p1/p2 of a register are not known exactly "
                         "(lossy or lost packet)")
    ids = layout
    values = []
    for rid in ids:
        tag = r.u8()
        if tag >= 0x80:
            d = -(tag & 0x3F) if tag & 0x40 else tag & 0x3F
        elif tag == 0x00:
            d = struct.unpack("<b", r.take(1))[0]
        elif tag == 0x01:
            d = struct.unpack("<h", r.take(2))[0]
        else:
            raise CodecError("bad_header", f"delta tag 0x{tag:02x}")
        values.append((history.prediction(rid) + d) % 65536)
    return values


def unwrap_positions(raw):
    """F6: positions are written as u8 (index mod 256) in increasing order within a group, so
    each one is the smallest index above the previous one with that residue."""
    out = []
    for b in raw:
        p = b if not out else out[-1] - out[-1] % 256 + b
        if out and p <= out[-1]:
            p += 256
        out.append(p)
    return out


def decode_semantic_rle(data, count=None):
    """§3.4: [0x50][N][G] then per group [type][size][positions][(value, run)...].
    Returns (values, exact): exact[i] when the value is certainly the device's reading
    (2-byte type and first of its run, or tolerance 0)."""
    r = Reader(data, 1)
    n, groups = r.u8(), r.u8()
    n = value_count(n, count)
    values, exact = [None] * n, [False] * n
    for _ in range(groups):
        typ, size = r.u8(), r.u8()
        if typ not in TOLERANCE:
            raise CodecError("bad_header", f"semantic type {typ}")
        positions = unwrap_positions(r.take(size))
        filled = 0
        while filled < size:
            value = r.u8() if typ in ONE_BYTE_TYPES else r.u16()
            run = r.u8()
            if filled + run > size:
                raise CodecError("bad_header", "runs longer than the group")
            for j, p in enumerate(positions[filled:filled + run]):
                if p >= n:
                    raise CodecError("bad_header", f"position {p} >= N={n}")
                if values[p] is not None:
                    raise CodecError("bad_header", f"position {p} listed twice")
                values[p] = value
                exact[p] = typ not in ONE_BYTE_TYPES and (j == 0 or TOLERANCE[typ] == 0)
            filled += run
    if None in values:
        raise CodecError("bad_header", f"position {values.index(None)} not covered by any group")
    return values, exact


def decode_raw(data, count=None):
    """§3.5: [0x00][N][N x u16 LE]."""
    r = Reader(data, 1)
    n = value_count(r.u8(), count)
    return [r.u16() for _ in range(n)]


def round_half_away(x):
    """Nearest integer of a Fraction, halves away from zero (230.5 -> 231)."""
    whole, rest = divmod(abs(x), 1)
    whole += rest >= Fraction(1, 2)
    return int(whole) if x >= 0 else -int(whole)


def decode_legacy_temporal(data, count=None):
    """§3.7 0xDE: [n][base float32 LE][(n-1) x i16 LE deltas / 100, cumulative].

    The server's values are floats; as register values they are rounded to the nearest
    integer, halves away from zero (computed exactly), and must fit a u16."""
    r = Reader(data, 1)
    n = value_count(r.u8(), count)
    if n == 0:
        return []
    base = struct.unpack("<f", r.take(4))[0]
    if base != base or base in (float("inf"), float("-inf")):
        raise CodecError("bad_header", f"legacy temporal base {base}")
    value = Fraction(base)
    values = [value]
    for _ in range(n - 1):
        value += Fraction(struct.unpack("<h", r.take(2))[0], 100)
        values.append(value)
    out = [round_half_away(v) for v in values]
    if any(not 0 <= v <= 65535 for v in out):
        raise CodecError("bad_header", f"legacy temporal value outside u16: {out}")
    return out


def decode_legacy_rle(data, count=None):
    """§3.7 0xAD: [n][(float32 LE value, u8 run)...] until n values; values must be u16."""
    r = Reader(data, 1)
    n = value_count(r.u8(), count)
    values = []
    while len(values) < n:
        value = float_to_u16(struct.unpack("<f", r.take(4))[0], "legacy run value")
        run = r.u8()
        if len(values) + run > n:
            raise CodecError("bad_header", "runs longer than n")
        values += [value] * run
    return values


def decode(packet, history=None, ids=None, count=None):
    """Decode one packet. `history` is needed for 0x71; `ids` are its register ids (one
    per value); `count` the true number of values when known (F6)."""
    if not packet:
        raise CodecError("truncated", "empty packet")
    marker = packet[0]
    if marker in (0x01, 0xBF):
        return {"method": "bit_packed", "values": decode_bit_packed(packet, count)}
    if marker == 0xD0:
        return {"method": "dictionary", "values": decode_dictionary(packet, count)}
    if marker == 0x70:
        rids, values = decode_temporal_base(packet, count)
        return {"method": "temporal_base", "values": values, "register_ids": rids}
    if marker == 0x71:
        return {"method": "temporal_delta",
                "values": decode_temporal_delta(packet, history, ids, count)}
    if marker == 0x50:
        values, exact = decode_semantic_rle(packet, count)
        return {"method": "semantic_rle", "values": values, "exact": exact}
    if marker == 0x00:
        return {"method": "raw", "values": decode_raw(packet, count)}
    # §3.7 server-only formats (method names as in the project's vectors).
    if marker == 0xDE:
        return {"method": "legacy_temporal", "values": decode_legacy_temporal(packet, count)}
    if marker == 0xAD:
        return {"method": "legacy_semantic_rle", "values": decode_legacy_rle(packet, count)}
    # 0xAA / 0xA6 aggregation layouts are not on the decode path (§3.8, F11).
    raise CodecError("unknown_marker", f"0x{marker:02x}")


class Decoder:
    """Decodes a device's packets in order; every packet feeds the ring (§3.3), also one
    that fails to decode (the device advanced its ring when it produced it)."""

    def __init__(self, history=None):
        self.history = history or History()

    def decode(self, packet, ids=None, count=None):
        try:
            result = decode(packet, self.history, ids, count)
        except CodecError:
            self.skip(ids)
            raise
        feed_ids = result.get("register_ids", ids)
        if feed_ids is None and result["method"] == "temporal_delta":
            feed_ids = self.history.layout
        self.history.feed(feed_ids, result["values"], result.get("exact"))
        return result

    def skip(self, ids=None):
        """A device call whose packet was lost or unreadable: the ring advances, and the
        entries of `ids` (all entries when None) become unknown."""
        self.history.feed(ids, None)


# ---------------------------------------------------------------- encoders

def encode_bit_packed(values):
    """§3.1 encoder: bits = min(16, max(8, bit length of the largest value))."""
    n = len(values)
    bits = min(16, max(8, max(values, default=0).bit_length()))
    nbytes = (n * bits + 7) // 8
    stream = 0
    for v in values:
        stream = (stream << bits) | v
    stream <<= nbytes * 8 - n * bits
    return bytes([0x01, bits, n % 256]) + stream.to_bytes(nbytes, "big")


def encode_dictionary(values):
    """§3.2 encoder; returns the bit-packed packet when the dictionary is not smaller."""
    n = len(values)
    table = list(dict.fromkeys(values))
    k = len(table)
    w = k.bit_length()
    size = 3 + 4 * k + (n * w + 7) // 8
    if size >= 2 * n:
        return encode_bit_packed(values)
    stream = 0
    for i, v in enumerate(values):
        stream |= table.index(v) << (i * w)
    return (bytes([0xD0, n % 256, k]) + b"".join(struct.pack("<f", v) for v in table)
            + stream.to_bytes((n * w + 7) // 8, "little"))


def encode_semantic_rle(values, ids):
    """§3.4 encoder (lossy by design)."""
    groups = {}  # type -> positions, in order of first appearance
    for i, rid in enumerate(ids):
        groups.setdefault(SEMANTIC_TYPE.get(rid, 0), []).append(i)
    out = bytearray([0x50, len(values) % 256, len(groups) % 256])
    for typ, positions in groups.items():
        out += bytes([typ, len(positions) % 256]) + bytes(p % 256 for p in positions)
        vals = [values[p] for p in positions]
        i = 0
        while i < len(vals):
            v0, run = vals[i], 1
            while (i + run < len(vals) and abs(vals[i + run] - v0) <= TOLERANCE[typ]
                   and run < 255):
                run += 1
            out += bytes([v0 % 256]) if typ in ONE_BYTE_TYPES else v0.to_bytes(2, "little")
            out.append(run)
            i += run
    return bytes(out)


def encode_delta(d):
    if -63 <= d <= 63:
        return bytes([0x80 | abs(d) | (0x40 if d < 0 else 0)])
    if -127 <= d <= 127:
        return bytes([0x00, d & 0xFF])
    return b"\x01" + struct.pack("<h", d)


class Encoder:
    """The device's encoder state: the temporal ring, updated on every call (§3.3, §3.6)."""

    def __init__(self):
        self.history = History()
        self.count = None

    def temporal(self, values, ids):
        n, h = len(values), self.history
        # With N > 10 the device's 10-byte layout field overflows and the test is false (§3.3).
        compatible = h.full and n <= 10 and self.count == n % 256 and h.layout == list(ids)
        if compatible:
            packet = bytes([0x71, n % 256]) + b"".join(
                encode_delta(signed16(v - h.prediction(rid))) for v, rid in zip(values, ids))
        else:
            packet = (bytes([0x70, n % 256]) + bytes(r % 256 for r in ids)
                      + b"".join(v.to_bytes(2, "little") for v in values))
        h.feed(ids, values)
        self.count = n % 256
        return packet

    def smart(self, values, ids):
        """§3.6: dictionary, temporal, semantic, bit-packed; strictly smaller ratio wins."""
        n = len(values)
        candidates = [encode_dictionary(values), self.temporal(values, ids),
                      encode_semantic_rle(values, ids), encode_bit_packed(values)]

        def ratio(p):
            return 8 * len(p) / (16 * n) if p and n else 1.0

        best = candidates[0]
        for c in candidates[1:]:
            if 0 < ratio(c) < ratio(best):
                best = c
        return best


def encode(method, values, ids):
    """One call from a fresh encoder with the named method."""
    if method == "bit_packed":
        return encode_bit_packed(values)
    if method == "dictionary":
        return encode_dictionary(values)
    if method == "semantic_rle":
        return encode_semantic_rle(values, ids)
    if method == "smart":
        return Encoder().smart(values, ids)
    raise ValueError(f"no encoder for method {method!r}")


def _self_test():
    """The worked examples of the spec."""
    six = [2304, 52, 71, 69, 452, 1205]
    ids = [0, 1, 5, 6, 7, 9]
    h = bytes.fromhex
    assert encode_bit_packed(six) == h("010c069000340470451c44b5")
    assert decode(h("010c069000340470451c44b5"))["values"] == six
    d = [100, 100, 200, 100, 200, 200, 100, 100]
    assert encode_dictionary(d) == h("d008020000c842000048431005")
    assert decode(h("d008020000c842000048431005"))["values"] == d
    sem = h("50060501010000090102010134010502020347020601" "04c40101070105b50401")
    assert encode_semantic_rle(six, ids) == sem
    assert decode(sem)["values"] == [2304, 52, 71, 71, 452, 1205]
    base = decode(h("7003030908640030750a00"))
    assert base["register_ids"] == [3, 9, 8] and base["values"] == [100, 30000, 10]
    st = History.from_state(ids, [[2306, 52, 70, 69, 452, 1296], [2307, 52, 72, 69, 452, 1319]])
    assert decode(h("71068080c4808082"), st)["values"] == [2308, 52, 70, 69, 452, 1344]
    raw = h("0009010002000300040005000600070008000900")
    assert decode(raw) == {"method": "raw", "values": list(range(1, 10))}
    print("codec self-test: ok")


if __name__ == "__main__":
    _self_test()
