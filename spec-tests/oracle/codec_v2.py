"""Codec v2 (marker 0xC2) written from docs/codec-v2.md alone, without the Rust core.

An independent second implementation: spec-tests/tools/make_codec_v2_vectors.py takes every
expected packet and value of the codec v2 vectors from here, so the vectors check the core
against the document rather than against itself. Python integers, no bit tricks.

    encode(rows) -> bytes      rows: list of samples, each a list of C register values
    decode(packet) -> rows     raises CodecError(code) with the vectors' error codes
"""
MARKER = 0xC2

def zz(d):
    d = ((d + 32768) & 0xFFFF) - 32768
    return ((d << 1) ^ (d >> 15)) & 0xFFFF

def unzz(r):
    return (r >> 1) ^ -(r & 1)

def predict(k, a, b):
    if k == 0: p = a
    elif k == 1: p = 2 * a - b
    elif k == 2: p = a + ((a - b) >> 1)
    else: p = 0
    return p & 0xFFFF

def bitlen(v): return v.bit_length()

class Bits:
    def __init__(self): self.acc = 0; self.n = 0
    def put(self, v, w): self.acc |= v << self.n; self.n += w
    def bytes(self): return self.acc.to_bytes((self.n + 7) // 8, 'little')

def wcode(w):  # shape/seed nibble: 0..14 -> w, 15 -> 16
    return 15 if w >= 15 else w
def wdecode(c): return 16 if c == 15 else c

def encode(rows, trace=None):
    """The reference encoder's packet; `trace`, if a list, receives each block's
    (predictor, width) per channel."""
    C = len(rows[0]); S = len(rows)
    assert 1 <= C <= 16 and 1 <= S <= 255
    seeds = rows[0]
    ws = wdecode(wcode(max(bitlen(v) for v in seeds)))
    out = bytearray([MARKER, (C - 1) | (wcode(ws) << 4), S])
    b = Bits()
    for v in seeds: b.put(v, ws)
    out += b.bytes()
    a = list(seeds); bb = list(seeds); cur = [0] * C
    run_pos = None
    rest = rows[1:]
    for i in range(0, len(rest), 8):
        blk = rest[i:i + 8]; n = len(blk)
        nibs = []; widths = []; resid = []
        for c in range(C):
            best = None
            for k in [cur[c]] + [k for k in range(4) if k != cur[c]]:
                x1, x2 = a[c], bb[c]; res = []
                for s in blk:
                    res.append(zz(s[c] - predict(k, x1, x2))); x2, x1 = x1, s[c]
                w = max(bitlen(r) for r in res)
                cost = (4 if (k == cur[c] and w <= 14) else 12) + n * w
                if best is None or cost < best[0]: best = (cost, k, w, res)
            _, k, w, res = best
            if k == cur[c] and w <= 14: nibs.append(w)
            else:
                e = w | (k << 5); nibs += [15, e & 15, e >> 4]
            cur[c] = k; widths.append(w); resid.append(res)
            if trace is not None: trace.append((k, w))
            bb[c] = blk[-2][c] if n >= 2 else a[c]; a[c] = blk[-1][c]
        zero = n == 8 and all(x == 0 for x in nibs)
        if zero and run_pos is not None and out[run_pos] < 255:
            out[run_pos] += 1; continue
        hb = Bits()
        for x in nibs: hb.put(x, 4)
        out += hb.bytes()
        if zero:
            run_pos = len(out); out.append(0); continue
        run_pos = None
        db = Bits()
        for c in range(C):
            for r in resid[c]: db.put(r, widths[c])
        out += db.bytes()
    return bytes(out)

class CodecError(Exception):
    def __init__(self, code, detail=""):
        super().__init__(f"{code}: {detail}")
        self.code = code

def decode(p):
    pos = 0
    def take(n):
        nonlocal pos
        if pos + n > len(p): raise CodecError('truncated', 'packet ends inside a field')
        s = p[pos:pos + n]; pos += n; return s
    if take(1)[0] != MARKER: raise CodecError('unknown_marker', hex(p[0]))
    shape = take(1)[0]; S = take(1)[0]
    C = (shape & 15) + 1; ws = wdecode(shape >> 4)
    if S == 0: raise CodecError('bad_header', 'zero samples')
    def bits_from(raw, ws_list):
        acc = int.from_bytes(raw, 'little'); vals = []; off = 0
        for w in ws_list:
            vals.append((acc >> off) & ((1 << w) - 1)); off += w
        if acc >> off: raise CodecError('bad_header', 'padding bits')
        return vals
    seeds = bits_from(take((C * ws + 7) // 8), [ws] * C)
    rows = [list(seeds)]
    a = list(seeds); bb = list(seeds); cur = [0] * C
    remaining = S - 1; run = 0
    while remaining > 0:
        n = min(8, remaining)
        if run > 0:
            widths = [0] * C; run -= 1
        else:
            # header nibbles
            nibpos = 0; cache = None; widths = []
            def nib():
                nonlocal nibpos, cache
                if nibpos % 2 == 0: cache = take(1)[0]; v = cache & 15
                else: v = cache >> 4
                nibpos += 1; return v
            allzero = True
            for c in range(C):
                h = nib()
                if h == 15:
                    e = nib() | (nib() << 4)
                    if e & 0x80 or (e & 31) > 16: raise CodecError('bad_header', 'escape byte')
                    widths.append(e & 31); cur[c] = (e >> 5) & 3; allzero = False
                else:
                    widths.append(h)
                    if h: allzero = False
            if nibpos % 2 == 1 and (cache >> 4): raise CodecError('bad_header', 'header padding')
            if allzero and n == 8:
                run = take(1)[0]
                if (run + 1) * 8 > remaining: raise CodecError('bad_header', 'run past the end')
        total = sum(w * n for w in widths)
        vals = bits_from(take((total + 7) // 8), [w for w in widths for _ in range(n)]) if total else []
        block = [[0] * C for _ in range(n)]
        off = 0
        for c in range(C):
            for i in range(n):
                r = vals[off] if total else 0
                off += 1
                x = (predict(cur[c], a[c], bb[c]) + unzz(r)) & 0xFFFF
                block[i][c] = x; bb[c] = a[c]; a[c] = x
        rows += block; remaining -= n
    if pos != len(p): raise CodecError('bad_header', 'trailing bytes')
    return rows

