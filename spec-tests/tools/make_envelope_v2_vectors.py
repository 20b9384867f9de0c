#!/usr/bin/env python3
"""Write spec-tests/vectors-v2/envelope-v2.json: envelope v2 vectors, suite `envelope_v2`.

Every envelope and expectation comes from spec-tests/oracle/envelope_v2.py, written from
docs/envelope-v2.md alone (no Rust involved); malformed envelopes are cut or edited byte
by byte. A vector gives the device's current key (`key_id`, `secret_hex`), optionally the
previous one (`previous_key_id`, `previous_secret_hex`, valid while `now_ms` <
`previous_until_ms`), the server's time and skew window, and optionally `last_counter`.
Runners open the envelope, decide on the counter, and re-seal every valid one from its
header, IV and plaintext: the bytes must be identical.

Run (deterministic, rewrites a byte-identical file):
    python3 spec-tests/tools/make_envelope_v2_vectors.py
"""
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "oracle"))
import envelope_v2 as ev2  # noqa: E402

OUT = HERE.parent / "vectors-v2" / "envelope-v2.json"
SOURCE = ("project vectors (solarwire) by spec-tests/tools/make_envelope_v2_vectors.py: "
          "envelopes and expectations from spec-tests/oracle/envelope_v2.py, written from "
          "docs/envelope-v2.md alone; malformed envelopes edited byte by byte. Not device output.")

SECRET = bytes(range(32))
OTHER = bytes(range(32, 64))
KEY_ID = 7
T0 = 1_764_633_600_000  # 2025-12-02T00:00:00Z
IV = bytes(range(0xA0, 0xB0))
SKEW = 300_000
CODEC_V2_PACKET = bytes.fromhex("c2c501004903475004c4514b")  # codec-v2.json doc-one-sample


def env(plaintext=b'{"v":1}', counter=1, time=T0, content=0, key_id=KEY_ID, secret=SECRET,
        iv=IV, pad=True):
    return ev2.seal(secret, key_id, time, counter, content, iv, plaintext, pad)


def vector(vid, comment, data, now=T0, past=SKEW, future=SKEW, last=None, previous=None,
           key_id=KEY_ID, secret=SECRET, code=None):
    v = {"id": vid, "comment": comment, "envelope_hex": data.hex(), "key_id": key_id,
         "secret_hex": secret.hex()}
    keys = {key_id: (secret, None)}
    if previous:
        pid, psecret, until = previous
        v.update(previous_key_id=pid, previous_secret_hex=psecret.hex(), previous_until_ms=until)
        keys[pid] = (psecret, until)
    v.update(now_ms=now, skew_past_ms=past, skew_future_ms=future)
    if last is not None:
        v["last_counter"] = last
    try:
        result = ev2.open_(data, keys, now, past, future, last)
    except ev2.EnvelopeError as e:
        assert code == e.code, (vid, e)
        v["error"] = code
        return v
    assert code is None, (vid, result)
    v["expect"] = result
    return v


def flip(data, byte, bit=0):
    out = bytearray(data)
    out[byte] ^= 1 << bit
    return bytes(out)


def vectors():
    doc = env()
    out = [
        vector("example-doc", "docs/envelope-v2.md worked example: 7 bytes of JSON, 70 bytes",
               doc),
        vector("binary-codec-v2", "content 0x01 carrying one codec v2 packet",
               env(CODEC_V2_PACKET, content=1)),
    ]
    for n in (0, 15, 16, 17, 100):
        out.append(vector(f"length-{n}", f"{n} plaintext bytes: padding edges",
                          env(bytes(range(n)), counter=n + 2)))
    out += [
        vector("max-fields", "key id 2^32-1, counter 2^64-1, device time 2^64-1 with a "
               "window reaching it", env(key_id=2**32 - 1, counter=2**64 - 1, time=2**64 - 1),
               now=2**64 - 1, key_id=2**32 - 1),
        vector("time-zero", "device time 0 at server time 0", env(time=0), now=0),
        vector("skew-past-edge", "device exactly skew_past_ms behind: accepted", doc,
               now=T0 + SKEW),
        vector("skew-past-over", "1 ms more behind: clock_skew", doc, now=T0 + SKEW + 1,
               code="clock_skew"),
        vector("skew-future-edge", "device exactly skew_future_ms ahead: accepted", doc,
               now=T0 - SKEW),
        vector("skew-future-over", "1 ms more ahead: clock_skew", doc, now=T0 - SKEW - 1,
               code="clock_skew"),
        vector("skew-asymmetric", "a window of 0 ms ahead and 1 h behind", env(time=T0 - 3_600_000),
               future=0, past=3_600_000),
        vector("counter-fresh", "counter greater than the last accepted", doc, last=0),
        vector("counter-equal", "counter equal to the last accepted: replay", doc, last=1,
               code="replay"),
        vector("counter-older", "counter below the last accepted: replay", doc, last=2**40,
               code="replay"),
        vector("counter-past-u32", "a 64-bit counter beyond 2^32 after 2^32-1",
               env(counter=2**32), last=2**32 - 1),
        vector("previous-key-in-overlap", "sealed with the previous key during the overlap",
               env(key_id=6, secret=OTHER), previous=(6, OTHER, T0 + 1)),
        vector("previous-key-expired", "sealed with the previous key after the overlap",
               env(key_id=6, secret=OTHER), previous=(6, OTHER, T0), code="missing_key"),
        vector("current-key-during-rotation", "the current key while a previous one is valid",
               doc, previous=(6, OTHER, T0 + 1)),
        vector("unknown-key-id", "a key id the device does not have", env(key_id=8),
               code="missing_key"),
        vector("wrong-secret", "the right key id, another secret", doc, secret=OTHER,
               code="mac_mismatch"),
        vector("previous-secret-under-current-id", "the old secret under the new id",
               env(secret=OTHER), previous=(6, OTHER, T0 + 1), code="mac_mismatch"),
        vector("flip-content", "content 0 -> 1: covered by the tag", flip(doc, 1),
               code="mac_mismatch"),
        vector("flip-time", "device time changed", flip(doc, 13), code="mac_mismatch"),
        vector("flip-counter", "counter changed", flip(doc, 21), code="mac_mismatch"),
        vector("flip-iv", "IV changed", flip(doc, 22), code="mac_mismatch"),
        vector("flip-ciphertext", "ciphertext changed", flip(doc, 40, 7), code="mac_mismatch"),
        vector("flip-tag", "tag changed", flip(doc, len(doc) - 1, 3), code="mac_mismatch"),
        vector("forged-old-counter", "a bad tag with an old counter: mac_mismatch, never "
               "replay", flip(doc, 50), last=5, code="mac_mismatch"),
        vector("forged-old-time", "a bad tag and a device time outside the window: "
               "mac_mismatch first", flip(doc, 50), now=T0 + 10 * SKEW, code="mac_mismatch"),
        vector("bad-padding-authenticated", "a key holder tagged a block with invalid PKCS#7",
               env(bytes([0x11]) * 16, pad=False), code="decrypt_failed"),
        vector("bad-padding-zero", "authenticated padding byte 0",
               env(bytes(16), pad=False), code="decrypt_failed"),
        vector("empty", "no bytes", b"", code="malformed"),
        vector("version-1", "version byte 0x01", bytes([1]) + doc[1:], code="malformed"),
        vector("v1-json", "a v1 JSON envelope is not v2",
               b'{"nonce":1,"payload":"e30=","mac":"' + b"0" * 64 + b'"}', code="malformed"),
        vector("too-short", "69 bytes", doc[:69], code="malformed"),
        vector("not-whole-blocks", "the ciphertext cut by one byte", doc[:-1],
               code="malformed"),
        vector("extra-byte", "one byte appended", doc + b"\x00", code="malformed"),
        vector("content-2", "unknown content byte (before the key and the tag)",
               bytes([2, 2]) + doc[2:], code="malformed"),
        vector("content-2-unknown-key", "structure is checked before the key id",
               bytes([2, 2]) + env(key_id=99)[2:], code="malformed"),
        vector("too-large", "one block over the largest envelope",
               bytes([2]) + bytes(ev2.MAX_LEN + 15), code="too_large"),
    ]
    rng = random.Random(17)
    for i in range(6):
        secret = rng.randbytes(32)
        key_id, counter = rng.getrandbits(32), rng.getrandbits(64)
        time = rng.randrange(T0, T0 + 10**10)
        plain = rng.randbytes(rng.randrange(0, 200))
        data = ev2.seal(secret, key_id, time, counter, i % 2, rng.randbytes(16), plain)
        out.append(vector(f"random-{i}", "seeded random secret, fields and plaintext", data,
                          now=time + rng.randrange(-SKEW, SKEW), key_id=key_id, secret=secret,
                          last=counter - 1 if counter else None))
    return out


def main():
    doc = {"suite": "envelope_v2",
           "description": "Envelope v2 (version byte 0x02, docs/envelope-v2.md): opening in the "
                          "order structure, key id, tag, padding, device time, counter; key "
                          "rotation overlap; byte-identical re-sealing of every valid envelope.",
           "source": SOURCE, "vectors": vectors()}
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(doc['vectors'])} vectors")


if __name__ == "__main__":
    main()
