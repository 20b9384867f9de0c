#!/usr/bin/env python3
"""Write spec-tests/vectors/codec-v2.json: codec v2 vectors in the `codec` suite.

Every packet and expected value comes from spec-tests/oracle/codec_v2.py, written from
docs/codec-v2.md alone (no Rust involved); malformed packets are written byte by byte from
that document. Vectors with `encode` pin the reference encoder's bytes; `register_ids`
there is the layout repeated per sample, and the channel count is its period.

Run (deterministic, rewrites a byte-identical file):
    python3 spec-tests/tools/make_codec_v2_vectors.py
"""
import csv
import json
import os
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "oracle"))
import codec_v2  # noqa: E402

OUT = HERE.parent / "vectors" / "codec-v2.json"
# The real PV series beside the workspace, or where SOLARWIRE_PV_DATA says.
PV = Path(os.environ.get("SOLARWIRE_PV_DATA", HERE.parent.parent.parent / "shared" / "data" / "pv"))
LAYOUT6 = [0, 1, 3, 5, 7, 9]  # Vac1 Iac1 Vpv1 Ipv1 Temp Pac
SOURCE = ("project vectors (solarwire) by spec-tests/tools/make_codec_v2_vectors.py: packets and "
          "values from spec-tests/oracle/codec_v2.py, written from docs/codec-v2.md alone; "
          "malformed packets written byte by byte from that document. Not device output.")


def flat(rows):
    return [v for row in rows for v in row]


def valid(vid, comment, rows, layout, packet=None, uses=None):
    """A packet that decodes to `rows`; with no `packet`, the reference encoder's bytes,
    which must use predictor `uses` somewhere when given."""
    trace = []
    encoded = codec_v2.encode(rows, trace)
    assert uses is None or uses in [p for p, _ in trace], (vid, trace)
    if packet is None:
        packet = encoded
    assert codec_v2.decode(packet) == [list(r) for r in rows], vid
    vector = {"id": vid, "comment": comment, "packet_hex": packet.hex(),
              "expect": {"method": "codec_v2", "values": flat(rows)}}
    if packet == encoded:
        vector["encode"] = {"values": flat(rows), "register_ids": layout * len(rows),
                            "method": "codec_v2"}
    return vector


def invalid(vid, comment, packet_hex, code):
    packet = bytes.fromhex(packet_hex.replace(" ", ""))
    try:
        codec_v2.decode(packet)
    except codec_v2.CodecError as e:
        assert e.code == code, (vid, e)
    else:
        raise AssertionError(f"{vid}: oracle accepts {packet_hex}")
    return {"id": vid, "comment": comment, "packet_hex": packet.hex(), "error": code}


def pv_rows(count):
    """The first `count` daytime rows of serf_west (6 registers), scaled as the firmware does."""
    columns = [("ac_volts__778", 10), ("ac_current__779", 10), ("dc_pos_voltage__774", 10),
               ("dc_pos_current__775", 10), ("inveter_temp__784", 10), ("ac_power__773", 1)]
    with open(PV / "serf_west_15min.csv", newline="") as f:
        rows = [[max(0, min(65535, round(float(r[c]) * s))) for c, s in columns]
                for r in csv.DictReader(f)]
    day = [r for r in rows if r[5] > 0]
    return day[:count]


def random_rows(seed):
    """Seeded random batches: noise, random walks with flat stretches, or ramps."""
    rnd = random.Random(seed)
    channels, samples, kind = rnd.randint(1, 16), rnd.randint(2, 90), seed % 3
    rows = [[rnd.randrange(65536) for _ in range(channels)]]
    steps = [rnd.randint(-60, 60) for _ in range(channels)]
    for _ in range(samples - 1):
        prev = rows[-1]
        if kind == 0:
            rows.append([rnd.randrange(65536) for _ in range(channels)])
        elif kind == 1:
            rows.append([(v + (0 if rnd.random() < 0.5 else rnd.randint(-30, 30))) % 65536
                         for v in prev])
        else:
            rows.append([(v + s + rnd.randint(-1, 1)) % 65536 for v, s in zip(prev, steps)])
    return rows


def vectors():
    ramp = [[1000 + 25 * i] for i in range(12)]
    run = [[0, 2300]] * 17 + [[5, 2300]]
    two = [[2304, 52], [2305, 52], [2307, 53], [2306, 53], [2306, 52], [2308, 52], [2309, 51],
           [2309, 52], [2310, 52], [2312, 53]]
    out = [
        valid("doc-one-sample", "docs/codec-v2.md example 1: seeds only, 12-bit width",
              [[2304, 52, 71, 69, 452, 1205]], [0, 1, 5, 6, 7, 9]),
        valid("doc-two-registers", "example 2: a full block, then a one-sample block packed once",
              two, [0, 1]),
        valid("doc-zero-run", "example 3: a run byte of 1 covers two zero blocks", run, [5, 9]),
        valid("doc-escape", "example 4: escape to delta of delta with width 0", ramp, [9]),
        valid("seeds-width-0", "all seeds 0: width code 0 and no seed bytes", [[0, 0]] * 3, [1, 5]),
        valid("seeds-width-16", "a seed of 15 bits is written with code 15 = 16 bits",
              [[0x4000, 1], [0x4001, 1]], [9, 1]),
        valid("wrap-around", "errors wrap modulo 2^16 (65535 -> 0 is +1)",
              [[65534 + i & 0xFFFF] for i in range(10)], [9]),
        valid("width-16-escape", "alternating extremes need width 16: always an escape",
              [[0x8000 * (i % 2), 0xFFFF * (i % 2)] for i in range(9)], [3, 4]),
        valid("sixteen-escapes", "16 channels escaped at width 16: a 24-byte header",
              [[0xFFFF * ((i + c) % 2) for c in range(16)] for i in range(9)], list(range(16))),
        valid("width-15-escape", "width 15 has no plain nibble: an escape with predictor 0",
              [[0x2000 * (i % 2) + 0x1000] for i in range(9)], [9]),
        valid("predictor-none", "a signed register near 0 after a seed of 1000: predictor 3 "
              "(none) codes -3..3 in 3 bits where the first delta needs 11",
              [[1000]] + [[v & 0xFFFF] for v in [-3, 3, -2, 3, -3, 2, -3, 3, -1, 3, -3, 3]],
              [5], uses=3),
        valid("predictor-damped", "steps that halve each sample: in block 2 half the last step "
              "predicts exactly (predictor 2)",
              [[4096 - (4096 >> i)] for i in range(17)], [9], uses=2),
        valid("predictor-dod-partial", "delta of delta chosen in a partial block",
              [[500 + 40 * i] for i in range(14)], [3], uses=1),
        valid("sixteen-channels", "the most channels, a partial last block of 3 samples",
              [[c * 100 + s * c for c in range(16)] for s in range(12)], list(range(16))),
        valid("max-samples", "255 samples: 31 full blocks and a partial block of 6",
              [[(s * 37) % 1000, 500 + s % 7] for s in range(255)], [3, 7]),
        valid("zero-run-then-partial", "a run of zero blocks ends the packet's full blocks; the "
              "last partial block is all zero and has no run byte",
              [[7, 8, 9]] * 20, [0, 1, 2]),
        valid("pv-ten-samples", "serf_west 15-min daytime rows, 6 registers, 10 samples",
              pv_rows(10), LAYOUT6),
        valid("pv-sixty-samples", "serf_west 15-min daytime rows, 6 registers, 60 samples",
              pv_rows(60), LAYOUT6),
        *[valid(f"random-{seed}", "seeded random batch (noise, walk or ramp) for the "
                "encoder's choices", rows, list(range(len(rows[0]))))
          for seed in range(9) for rows in [random_rows(seed)]],
        # Valid packets the reference encoder would not write: decoders accept them.
        valid("non-minimal-width", "a width larger than needed decodes the same",
              [[5], [6]], [9], bytes.fromhex("c2 30 02 05 02 02")),
        valid("split-run", "two runs back to back instead of one run byte of 1",
              [[5]] * 17, [9], bytes.fromhex("c2 30 11 05 00 00 00 00")),
        valid("escape-same-predictor", "an escape may keep the predictor and set a small width",
              [[5], [6]], [9], bytes.fromhex("c2 30 02 05 2f 00 02")),
    ]
    example = out[1]["packet_hex"]
    out += [
        invalid("empty", "no bytes at all", "", "truncated"),
        invalid("header-only", "marker and shape, no sample count", "c2 c1", "truncated"),
        invalid("no-seeds", "the seeds are missing", "c2 c1 0a", "truncated"),
        invalid("cut-in-block", "example 2 cut inside block 1's data", example[:18], "truncated"),
        invalid("cut-last-byte", "example 2 without its last byte", example[:-2], "truncated"),
        invalid("cut-before-run", "a zero block's run byte is missing", "c2 40 09 05 00",
                "truncated"),
        invalid("cut-escape", "an escape nibble without its byte", "c2 40 02 05 0f", "truncated"),
        invalid("other-marker", "0xC3 is no codec", "c3 c1 0a", "unknown_marker"),
        invalid("zero-samples", "S = 0", "c2 c1 00", "bad_header"),
        invalid("trailing-byte", "example 2 plus one byte: must end where the header says",
                example + "00", "bad_header"),
        invalid("trailing-after-seeds", "a one-sample packet plus one byte", "c2 40 01 05 00",
                "bad_header"),
        invalid("seed-padding", "nonzero padding bits after the seeds", "c2 40 01 f5",
                "bad_header"),
        invalid("header-padding", "nonzero unused nibble in a header", "c2 40 02 05 10",
                "bad_header"),
        invalid("data-padding", "nonzero padding bits after the last block's data",
                "c2 40 02 05 01 03", "bad_header"),
        invalid("escape-bit-7", "an escape byte with bit 7 set", "c2 40 02 05 0f 08", "bad_header"),
        invalid("escape-width-17", "an escape to width 17", "c2 40 02 05 1f 01", "bad_header"),
        invalid("run-past-end", "a run byte of 1 where one full block remains",
                "c2 40 09 05 00 01", "bad_header"),
        invalid("run-into-partial", "a run may not cover the last, partial block",
                "c2 40 0a 05 00 01 00", "bad_header"),
    ]
    ids = [v["id"] for v in out]
    assert len(ids) == len(set(ids))
    return out


def main():
    doc = {
        "suite": "codec",
        "description": "Codec v2 (marker 0xC2, docs/codec-v2.md): decoding every feature "
                       "(seeds, blocks, partial blocks, escapes, the four predictors, zero runs), "
                       "the reference encoder's exact bytes, and every strictness rule.",
        "source": SOURCE,
        "vectors": vectors(),
    }
    text = json.dumps(doc, indent=1)
    # Lists of numbers on one line each.
    text = re.sub(r"\[([\d,\s]+)\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    OUT.write_text(text + "\n")
    print(f"{OUT}: {len(doc['vectors'])} vectors")


if __name__ == "__main__":
    main()
