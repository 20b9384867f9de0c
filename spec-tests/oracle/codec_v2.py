"""Codec v2 (marker 0xC2) written from docs/codec-v2.md alone, without the Rust core.

An independent second implementation: spec-tests/tools/make_codec_v2_vectors.py takes every
expected packet and value of the codec v2 vectors from here, so the vectors check the core
against the document rather than against itself. Plain Python integers, no bit tricks.

    encode(rows) -> bytes      rows: list of samples, each a list of C register values
    decode(packet) -> rows     raises CodecError whose .code is a vectors.md error code
"""
MARKER = 0xC2
BLOCK = 8
DELTA, DELTA_OF_DELTA, DAMPED, NONE = range(4)


class CodecError(Exception):
    def __init__(self, code, detail):
        super().__init__(f"{code}: {detail}")
        self.code = code


def zigzag(error):
    """The error wrapped into -32768..32767, mapped to 0, 1, 2, ... for 0, -1, 1, ..."""
    d = ((error + 32768) & 0xFFFF) - 32768
    return 2 * d if d >= 0 else -2 * d - 1


def unzigzag(z):
    return z // 2 if z % 2 == 0 else -(z + 1) // 2


def predict(predictor, a, b):
    """The prediction after `a` (previous value) and `b` (the one before), mod 2^16."""
    p = {DELTA: a, DELTA_OF_DELTA: 2 * a - b, DAMPED: a + (a - b) // 2, NONE: 0}[predictor]
    return p % 65536


def width_code(width):
    """Seed width code: widths 0..14 as themselves, 15 and 16 as code 15 (= 16 bits)."""
    return min(width, 15)


def code_width(code):
    return 16 if code == 15 else code


class BitWriter:
    """LSB-first bit stream, zero-padded to a byte."""

    def __init__(self):
        self.value, self.bits = 0, 0

    def put(self, v, width):
        self.value |= v << self.bits
        self.bits += width

    def bytes(self):
        return self.value.to_bytes((self.bits + 7) // 8, "little")


class Reader:
    """The packet, read front to back; bit fields within a byte-aligned stretch."""

    def __init__(self, packet):
        self.packet, self.pos = packet, 0
        self.stream, self.bit = 0, 0  # the current bit stretch and bits used

    def byte(self):
        if self.pos >= len(self.packet):
            raise CodecError("truncated", f"packet ends at byte {self.pos}")
        self.pos += 1
        return self.packet[self.pos - 1]

    def bits(self, width):
        """The next `width` bits of the current stretch, loading bytes as needed."""
        while self.bit + width > 8 * self.loaded:
            self.stream |= self.byte() << (8 * self.loaded)
            self.loaded += 1
        v = (self.stream >> self.bit) & ((1 << width) - 1)
        self.bit += width
        return v

    def start(self):
        self.stream, self.bit, self.loaded = 0, 0, 0

    def end(self, what):
        """Ends a stretch: its unused high bits must be zero."""
        if self.stream >> self.bit:
            raise CodecError("bad_header", f"nonzero padding after {what}")


def encode(rows, trace=None):
    """The reference encoder's packet for `rows`; `trace`, if a list, receives each
    channel's (predictor, width) per block."""
    channels, samples = len(rows[0]), len(rows)
    assert 1 <= channels <= 16 and 1 <= samples <= 255
    seed_code = width_code(max(v.bit_length() for v in rows[0]))
    out = bytearray([MARKER, (channels - 1) | seed_code << 4, samples])
    seeds = BitWriter()
    for v in rows[0]:
        seeds.put(v, code_width(seed_code))
    out += seeds.bytes()
    last = [[v, v] for v in rows[0]]  # per channel: a (previous), b (before it)
    current = [DELTA] * channels
    run_at = None
    for start in range(1, samples, BLOCK):
        block = rows[start:start + BLOCK]
        n = len(block)
        header, data = BitWriter(), BitWriter()
        zero = n == BLOCK
        for c in range(channels):
            column = [row[c] for row in block]
            predictor, width, errors = choose(column, *last[c], current[c])
            if predictor == current[c] and width <= 14:
                header.put(width, 4)
            else:
                header.put(15, 4)
                header.put(width | predictor << 5, 8)
            zero = zero and predictor == current[c] and width == 0
            for z in errors:
                data.put(z, width)
            current[c] = predictor
            last[c] = [column[-1], column[-2] if n >= 2 else last[c][0]]
            if trace is not None:
                trace.append((predictor, width))
        if zero and run_at is not None:
            out[run_at] += 1
            continue
        out += header.bytes()
        if zero:
            run_at = len(out)
            out.append(0)
        else:
            run_at = None
            out += data.bytes()
    return bytes(out)


def choose(column, a, b, current):
    """(predictor, width, errors) of the cheapest way to write `column`: the current
    predictor first, then 0..3; the first one wins ties."""
    best = None
    for predictor in [current] + [p for p in range(4) if p != current]:
        errors, x1, x2 = [], a, b
        for v in column:
            errors.append(zigzag(v - predict(predictor, x1, x2)))
            x1, x2 = v, x1
        width = max(z.bit_length() for z in errors)
        header = 4 if predictor == current and width <= 14 else 12
        cost = header + len(column) * width
        if best is None or cost < best[0]:
            best = (cost, predictor, width, errors)
    return best[1:]


def decode(packet):
    r = Reader(packet)
    if r.byte() != MARKER:
        raise CodecError("unknown_marker", f"0x{packet[0]:02x}")
    shape, samples = r.byte(), r.byte()
    if samples == 0:
        raise CodecError("bad_header", "zero samples")
    channels, seed_width = (shape & 15) + 1, code_width(shape >> 4)
    r.start()
    seeds = [r.bits(seed_width) for _ in range(channels)]
    r.end("the seeds")
    rows = [seeds]
    last = [[v, v] for v in seeds]
    predictors = [DELTA] * channels
    run = 0
    for start in range(1, samples, BLOCK):
        n = min(BLOCK, samples - start)
        if run:
            run -= 1
            widths = [0] * channels
        else:
            widths, escaped = read_header(r, predictors)
            if n == BLOCK and not escaped and not any(widths):
                run = r.byte()
                if start + (run + 1) * BLOCK > samples:
                    raise CodecError("bad_header", "zero run past the last full block")
        r.start()
        errors = [[r.bits(w) for _ in range(n)] for w in widths]
        r.end("block data")
        block = [[0] * channels for _ in range(n)]
        for c in range(channels):
            a, b = last[c]
            for i in range(n):
                x = (predict(predictors[c], a, b) + unzigzag(errors[c][i])) % 65536
                block[i][c] = x
                a, b = x, a
            last[c] = [a, b]
        rows += block
    if r.pos != len(packet):
        raise CodecError("bad_header", "trailing bytes")
    return rows


def read_header(r, predictors):
    """One nibble per channel, or an escape (15) and a byte: width, new predictor."""
    r.start()
    widths, escaped = [], False
    for c in range(len(predictors)):
        nibble = r.bits(4)
        if nibble == 15:
            e = r.bits(8)
            if e & 0x80 or e & 31 > 16:
                raise CodecError("bad_header", f"escape byte 0x{e:02x}")
            widths.append(e & 31)
            predictors[c] = e >> 5
            escaped = True
        else:
            widths.append(nibble)
    r.end("a block header")
    return widths, escaped
