#!/usr/bin/env python3
"""Convert reference test data into the project's vector format (spec/vectors.md).

Writes, under spec-tests/vectors/:
  wycheproof/hmac_sha256.json    envelope suite, from Wycheproof hmac_sha256_test.json
  wycheproof/aes_cbc_pkcs5.json  envelope suite, from Wycheproof aes_cbc_pkcs5_test.json (AES-128)
  wycheproof/aes_cbc_seal.json   seal suite, the valid AES-128 cases sealed with their own IV
  rfc4231.json                   envelope suite, RFC 4231 HMAC-SHA256 test cases 1-7

The envelope MAC covers nonce_be32 || payload, so an HMAC test message of at least
4 bytes becomes nonce = its first 4 bytes (big-endian) and payload = the rest.

Run from anywhere (Python 3.11, standard library only):
    python3 spec-tests/tools/convert_vectors.py [--shared DIR]
DIR defaults to the `shared` folder beside the project. Output is deterministic:
re-running rewrites byte-identical files.
"""
import argparse
import base64
import hashlib
import hmac
import json
from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
DEFAULT_SHARED = Path(__file__).resolve().parents[3] / "shared"
DEMO_HMAC_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe")
WYCHEPROOF_SOURCE = ("Project Wycheproof (C2SP/wycheproof testvectors_v1, Apache-2.0), "
                     "copied unchanged to shared/vectors/wycheproof/{}; converted by "
                     "spec-tests/tools/convert_vectors.py")


def mac_hex(key, nonce, payload):
    return hmac.new(key, nonce.to_bytes(4, "big") + payload, hashlib.sha256).hexdigest()


def envelope_text(nonce, payload, mac, encrypted, compressed):
    """The envelope exactly as the device writes it: compact, fields in device order."""
    return json.dumps({"nonce": nonce, "payload": base64.b64encode(payload).decode(),
                       "mac": mac, "encrypted": encrypted, "compressed": compressed},
                      separators=(",", ":"))


def split_message(msg):
    """HMAC input -> (nonce, payload) for an envelope whose MAC input is nonce_be32 || payload."""
    return int.from_bytes(msg[:4], "big"), msg[4:]


def wycheproof_comment(test):
    text = test["comment"] or "(no comment)"
    return f"{text} [flags: {', '.join(test['flags'])}]"


def write(path, suite, description, source, vectors):
    ids = [v["id"] for v in vectors]
    assert len(ids) == len(set(ids)), f"duplicate ids in {path}"
    doc = {"suite": suite, "description": description, "source": source, "vectors": vectors}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(VECTORS.parent)}: {len(vectors)} vectors")


def convert_hmac(shared):
    data = json.loads((shared / "vectors/wycheproof/hmac_sha256_test.json").read_text())
    vectors, short_tag, short_msg, bad_tag_text = [], 0, 0, 0
    for group in data["testGroups"]:
        for t in group["tests"]:
            key, msg, tag = bytes.fromhex(t["key"]), bytes.fromhex(t["msg"]), t["tag"]
            if group["tagSize"] != 256:
                short_tag += 1
                continue
            if len(msg) < 4:
                short_msg += 1
                continue
            if len(tag) != 64:  # would be bad_mac_encoding, not a test of the tag value
                bad_tag_text += 1
                continue
            nonce, payload = split_message(msg)
            good = hmac.new(key, msg, hashlib.sha256).hexdigest()
            assert (good == tag) == (t["result"] == "valid"), f"tcId {t['tcId']}: unexpected tag"
            v = {"id": f"wycheproof-hmac-tc{t['tcId']}", "comment": wycheproof_comment(t),
                 "envelope": envelope_text(nonce, payload, tag.lower(), False, True),
                 "hmac_key_hex": t["key"], "last_nonce": None}
            if t["result"] == "valid":
                v["expect"] = {"nonce": nonce, "payload_hex": payload.hex(),
                               "encrypted": False, "compressed": True}
            else:
                v["error"] = "mac_mismatch"
            vectors.append(v)
    valid = sum("expect" in v for v in vectors)
    description = (
        "Wycheproof HMAC-SHA256 cases as unencrypted envelopes (compressed=true so the payload "
        "may be any bytes; nonce = first 4 message bytes big-endian, payload = the rest, "
        "mac = the test's tag). valid -> accepted, invalid (modified tag) -> mac_mismatch. "
        f"{len(vectors)} converted ({valid} valid, {len(vectors) - valid} invalid). Skipped: "
        f"{short_tag} cases with a 128-bit tag (32 hex digits are bad_mac_encoding, so they "
        f"cannot test the tag check), {short_msg} cases whose message is shorter than 4 bytes "
        f"(no room for the nonce), {bad_tag_text} cases whose tag is not 64 hex digits.")
    write(VECTORS / "wycheproof/hmac_sha256.json", "envelope", description,
          WYCHEPROOF_SOURCE.format("hmac_sha256_test.json"), vectors)


def convert_aes(shared):
    data = json.loads((shared / "vectors/wycheproof/aes_cbc_pkcs5_test.json").read_text())
    opened, sealed, other_keys = [], [], 0
    for group in data["testGroups"]:
        for t in group["tests"]:
            if group["keySize"] != 128:
                other_keys += 1
                continue
            nonce = t["tcId"]  # increasing, one per case
            msg, ct = bytes.fromhex(t["msg"]), bytes.fromhex(t["ct"])
            mac = mac_hex(DEMO_HMAC_KEY, nonce, msg)  # MAC-then-encrypt: over the plaintext
            v = {"id": f"wycheproof-aes-cbc-tc{t['tcId']}", "comment": wycheproof_comment(t),
                 "envelope": json.dumps({"nonce": nonce, "payload": base64.b64encode(ct).decode(),
                                         "mac": mac, "encrypted": True, "compressed": True},
                                        separators=(",", ":")),
                 "hmac_key_hex": DEMO_HMAC_KEY.hex(), "aes_key_hex": t["key"],
                 "aes_iv_hex": t["iv"], "last_nonce": None}
            if t["result"] == "valid":
                v["expect"] = {"nonce": nonce, "payload_hex": t["msg"],
                               "encrypted": True, "compressed": True}
                sealed.append({"id": f"wycheproof-aes-cbc-seal-tc{t['tcId']}",
                               "comment": wycheproof_comment(t) + "; sealing with this key and "
                               "IV must reproduce the Wycheproof ciphertext",
                               "payload_hex": t["msg"], "nonce": nonce,
                               "hmac_key_hex": DEMO_HMAC_KEY.hex(), "aes_key_hex": t["key"],
                               "aes_iv_hex": t["iv"], "encrypt": True, "compressed": True,
                               "expect": {"mac_hex": mac,
                                          "payload_b64": base64.b64encode(ct).decode()}})
            else:
                v["error"] = "decrypt_failed"
                v["error_detail"] = ("decryption precedes the MAC check; the MAC is over the "
                                     "plaintext the Wycheproof generator intended")
            opened.append(v)
    valid = len(sealed)
    common = ("AES-128 only (the envelope cipher); {} cases with 192/256-bit keys skipped. Each case "
              "uses its own key and IV (aes_key_hex/aes_iv_hex) in place of the device's static "
              "IV; HMAC key = the firmware demo key, MAC over nonce_be32 || plaintext, nonce = tcId.")
    write(VECTORS / "wycheproof/aes_cbc_pkcs5.json", "envelope",
          "Wycheproof AES-CBC-PKCS5 cases as encrypted envelopes (compressed=true: plaintexts are "
          "arbitrary bytes). valid -> the plaintext is recovered; invalid (bad or missing "
          f"padding, empty ciphertext) -> decrypt_failed. {len(opened)} converted ({valid} valid, "
          f"{len(opened) - valid} invalid). " + common.format(other_keys),
          WYCHEPROOF_SOURCE.format("aes_cbc_pkcs5_test.json"), opened)
    write(VECTORS / "wycheproof/aes_cbc_seal.json", "seal",
          "Sealing the valid Wycheproof AES-CBC-PKCS5 plaintexts reproduces the Wycheproof "
          f"ciphertexts (PKCS#7 padding, CBC with the given IV). {valid} vectors. "
          + common.format(other_keys),
          WYCHEPROOF_SOURCE.format("aes_cbc_pkcs5_test.json"), sealed)


# RFC 4231 section 4: (key, data, HMAC-SHA-256 as printed in the RFC). Typed by hand and
# checked against Python's hmac module below.
RFC4231 = [
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation",
     "a3b6167473100ee06e0c796c2955552b"),  # the RFC gives only the first 128 bits
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than "
     b"block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


def flip_bit(tag_hex, bit):
    tag = bytearray.fromhex(tag_hex)
    tag[bit // 8] ^= 0x80 >> (bit % 8)
    return tag.hex()


def convert_rfc4231():
    vectors = []
    for case, (key, data, rfc_tag) in enumerate(RFC4231, start=1):
        full = hmac.new(key, data, hashlib.sha256).hexdigest()
        if not full.startswith(rfc_tag):
            raise SystemExit(f"RFC 4231 test case {case}: typed tag {rfc_tag} != computed {full}")
        nonce, payload = split_message(data)
        base = {"hmac_key_hex": key.hex(), "last_nonce": None}
        where = f"RFC 4231 test case {case} (key {len(key)} bytes, data {len(data)} bytes)"
        if len(rfc_tag) == 64:
            vectors.append({"id": f"rfc4231-tc{case}", "comment": where,
                            "envelope": envelope_text(nonce, payload, rfc_tag, False, True), **base,
                            "expect": {"nonce": nonce, "payload_hex": payload.hex(),
                                       "encrypted": False, "compressed": True}})
        else:
            vectors.append({"id": f"rfc4231-tc{case}-truncated-tag", "comment": where +
                            ": the RFC's 128-bit truncated tag; envelopes carry the full 256-bit "
                            "tag, so 32 hex digits are bad_mac_encoding",
                            "envelope": envelope_text(nonce, payload, rfc_tag, False, True), **base,
                            "error": "bad_mac_encoding"})
            vectors.append({"id": f"rfc4231-tc{case}-full-tag", "comment": where +
                            ": full 256-bit tag computed with Python's hmac module (its first "
                            "128 bits are the RFC's truncated tag)",
                            "envelope": envelope_text(nonce, payload, full, False, True), **base,
                            "expect": {"nonce": nonce, "payload_hex": payload.hex(),
                                       "encrypted": False, "compressed": True}})
        bit = (case * 37) % 256
        vectors.append({"id": f"rfc4231-tc{case}-flipped-bit-{bit}", "comment": where +
                        f": tag bit {bit} (counting from the most significant bit of byte 0) "
                        "flipped; the tag must be compared in full",
                        "envelope": envelope_text(nonce, payload, flip_bit(full, bit), False, True),
                        **base, "error": "mac_mismatch"})
    write(VECTORS / "rfc4231.json", "envelope",
          "RFC 4231 HMAC-SHA256 test cases 1-7 as unencrypted envelopes (compressed=true; nonce = "
          "first 4 data bytes big-endian, payload = the rest): the expected tags are accepted, "
          "a one-bit change is mac_mismatch, and case 5's 128-bit truncated tag is "
          "bad_mac_encoding. Covers short keys (4 bytes) and keys longer than the block (131 bytes).",
          "RFC 4231 section 4 (keys, data and tags typed from the RFC and verified with Python's "
          "hmac module); converted by spec-tests/tools/convert_vectors.py", vectors)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the shared folder holding vectors/wycheproof (default: %(default)s)")
    args = parser.parse_args()
    convert_hmac(args.shared)
    convert_aes(args.shared)
    convert_rfc4231()


if __name__ == "__main__":
    main()
