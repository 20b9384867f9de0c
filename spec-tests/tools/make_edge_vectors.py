#!/usr/bin/env python3
"""Write the project's own edge-case vectors (one per edge the spec names).

Writes, under spec-tests/vectors/:
  envelope-edges.json  envelope suite: structure, base64, mac text, decryption, MAC, replay
  register-edges.json  register suite: legacy profile, name spellings, id edges
  seal-edges.json      seal suite: nonce limits, empty payload, encryption

Every MAC is computed here with the standard library (hmac, hashlib); AES-128-CBC uses
the `cryptography` package. Each vector's comment says which rule or bug it pins down.
Spec references (§) are to shared/spec/ecowatt-wire-format.md.

Run (deterministic, rewrites byte-identical files):
    target/oracle-venv/bin/python spec-tests/tools/make_edge_vectors.py
"""
import base64
import hashlib
import hmac
import json
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
HKEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe")
AKEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
IV = bytes(range(16))
SOURCE = ("project edge cases (solarwire); MACs computed with Python hmac/hashlib, AES-128-CBC "
          "with the cryptography package, by spec-tests/tools/make_edge_vectors.py; demo keys "
          "of spec §1.6 unless a vector says otherwise")


def mac(nonce, payload, key=HKEY):
    return hmac.new(key, nonce.to_bytes(4, "big") + payload, hashlib.sha256).hexdigest()


def b64(data):
    return base64.b64encode(data).decode()


def aes_raw(plain_padded, key=AKEY, iv=IV):
    """AES-128-CBC over data that is already a whole number of blocks (no padding added)."""
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(plain_padded) + enc.finalize()


def pkcs7(data):
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def text(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def fields(nonce, payload_b64, mac_hex, encrypted=False, compressed=False):
    """Envelope fields in the device's order (§1.2)."""
    return {"nonce": nonce, "payload": payload_b64, "mac": mac_hex,
            "encrypted": encrypted, "compressed": compressed}


def write(name, suite, description, vectors):
    ids = [v["id"] for v in vectors]
    assert len(ids) == len(set(ids)), f"duplicate ids in {name}"
    doc = {"suite": suite, "description": description, "source": SOURCE, "vectors": vectors}
    path = VECTORS / name
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote vectors/{name}: {len(vectors)} vectors")


def envelope_edges():
    vs = []

    def add(id_, comment, envelope, expect=None, error=None, last_nonce=None, hkey=HKEY,
            aes=False):
        v = {"id": id_, "comment": comment, "envelope": envelope, "hmac_key_hex": hkey.hex()}
        if aes:
            v["aes_key_hex"], v["aes_iv_hex"] = AKEY.hex(), IV.hex()
        v["last_nonce"] = last_nonce
        if error:
            v["error"] = error
        else:
            nonce, payload, enc, comp = expect
            v["expect"] = {"nonce": nonce, "payload_hex": payload.hex(),
                           "encrypted": enc, "compressed": comp}
        vs.append(v)

    P, N = b'{"v":1}', 40001
    good = fields(N, b64(P), mac(N, P))
    ok = (N, P, False, False)

    # --- mac text (§1.3: 64 lowercase hex digits, decided: exact lowercase only) ---
    add("mac-uppercase", "mac must be exactly 64 lowercase hex digits: the same tag in "
        "uppercase is bad_mac_encoding (catches case-insensitive hex decoding; the device only "
        "prints %02x, F16)", text({**good, "mac": mac(N, P).upper()}), error="bad_mac_encoding")
    add("mac-65-hex-digits", "a correct tag with one extra hex digit: length must be exactly 64",
        text({**good, "mac": mac(N, P) + "0"}), error="bad_mac_encoding")
    add("mac-empty-string", "empty mac text is not 64 hex digits",
        text({**good, "mac": ""}), error="bad_mac_encoding")
    add("mac-not-a-string", "mac given as a JSON number: wrong type is malformed, not "
        "bad_mac_encoding", text({**good, "mac": 12345}), error="malformed")

    # --- nonce (§1.2: JSON integer 0..4294967295, required) ---
    for id_, value, why in [
            ("nonce-negative", -1, "below 0"),
            ("nonce-2pow32", 4294967296, "one above the largest u32 (catches silent truncation "
             "to 0)"),
            ("nonce-float", "11001.0", "a JSON float with an integral value is not an integer "
             "(catches parsers that coerce 11001.0 to 11001)"),
            ("nonce-null", None, "null (catches coercing null to 0)"),
            ("nonce-boolean", True, "true (catches languages where a boolean is the integer 1)")]:
        # The MAC is valid for the nonce a lenient parser would coerce the value to.
        n = {str: 11001, type(None): 0, bool: 1}.get(type(value), value)
        raw = text(fields(n, b64(P), mac(n & 0xFFFFFFFF, P)))
        raw = raw.replace(f'"nonce":{n}', '"nonce":' + (value if isinstance(value, str)
                                                        else json.dumps(value)), 1)
        add(id_, f"nonce {why} -> malformed; the MAC is valid for the coerced value", raw,
            error="malformed")
    add("nonce-missing", "envelope without nonce -> malformed (the latest server treats a body "
        "without nonce as an unauthenticated upload, F19; the core must not)",
        text({k: v for k, v in good.items() if k != "nonce"}), error="malformed")

    # --- payload (§1.2: standard base64 string, padded, no line breaks) ---
    add("payload-not-a-string", "payload given as a JSON number -> malformed",
        text({**good, "payload": 7}), error="malformed")
    longer = b'{"device_id":"ESP32_001","v":1}'
    lb = b64(longer)
    add("payload-base64-newline", "a line break (JSON \\n escape) inside the base64 text -> "
        "bad_base64; the MAC is valid for the text without it, so a lenient decoder that drops "
        "whitespace (like the Flask server's) would accept",
        text(fields(N, lb[:8] + "\n" + lb[8:], mac(N, longer))), error="bad_base64")
    add("payload-base64-space", "a space inside the base64 text -> bad_base64 (MAC valid for "
        "the text without it)", text(fields(N, lb[:8] + " " + lb[8:], mac(N, longer))),
        error="bad_base64")
    add("payload-base64-missing-padding", "padding '=' removed (7 bytes need '==') -> bad_base64;"
        " MAC valid for the bytes an unpadded decoder would produce",
        text({**good, "payload": b64(P).rstrip("=")}), error="bad_base64")
    add("payload-base64-extra-padding", "one '=' too many -> bad_base64",
        text({**good, "payload": b64(P) + "="}), error="bad_base64")
    add("payload-base64-data-after-padding", "padding followed by more base64 -> bad_base64 "
        "(catches decoders that restart after '=')",
        text({**good, "payload": b64(P) + "eyJ9"}), error="bad_base64")
    binary = bytes([0xFB, 0xEF, 0xFF, 0xFE, 0xFF, 0xBF])
    assert "+" in b64(binary) and "/" in b64(binary)
    urlsafe = b64(binary).replace("+", "-").replace("/", "_")
    add("payload-base64-url-safe-alphabet", "base64url alphabet ('-' and '_') -> bad_base64: the "
        "wire uses the standard alphabet; the MAC is valid for the bytes a url-safe decoder would "
        "produce", text(fields(N, urlsafe, mac(N, binary), compressed=True)), error="bad_base64")

    # --- JSON shape ---
    add("json-top-level-array", "the envelope must be a JSON object; an array holding a valid "
        "envelope -> malformed", "[" + text(good) + "]", error="malformed")
    add("json-trailing-garbage", "a valid envelope followed by more text -> malformed (catches "
        "parsers that stop after the first value)", text(good) + "x", error="malformed")
    add("json-empty-body", "empty body -> malformed", "", error="malformed")
    add("encrypted-as-string", "encrypted must be a JSON boolean; \"false\" -> malformed",
        text({**good, "encrypted": "false"}), error="malformed")
    add("compressed-as-number", "compressed must be a JSON boolean; 0 -> malformed",
        text({**good, "compressed": 0}), error="malformed")
    dup = text(fields(N + 1, b64(P), mac(N + 1, P)))
    add("duplicate-nonce-key", "nonce given twice -> malformed; the MAC is valid for the LAST "
        "value, so a last-one-wins parser would accept an ambiguous envelope",
        dup.replace('{"nonce":', '{"nonce":%d,"nonce":' % N, 1), error="malformed")

    # --- accepted variants ---
    add("accept-unknown-field", "an unknown extra field (\"ts\":1) is ignored and not covered by "
        "the MAC -> accepted", text({**good, "ts": 1}), expect=ok)
    add("accept-other-key-order", "fields in another order than the device's -> accepted (parse "
        "as JSON, not by position)",
        text({k: good[k] for k in ["mac", "compressed", "payload", "encrypted", "nonce"]}),
        expect=ok)
    add("accept-flags-absent", "encrypted and compressed absent default to false (§1.2)",
        text({k: good[k] for k in ["nonce", "payload", "mac"]}), expect=ok)
    add("accept-whitespace-between-tokens", "insignificant JSON whitespace (pretty-printed) -> "
        "accepted; the device sends compact JSON but nothing depends on it",
        json.dumps(good, indent=2), expect=ok)
    slashy = b"\xff\xfe\xfd\x00"
    assert "/" in b64(slashy)
    add("accept-json-escaped-slash", "the JSON escape \\/ inside the base64 string is a plain '/'"
        " after JSON parsing -> accepted (catches base64 decoding of the raw JSON text)",
        text(fields(N, b64(slashy), mac(N, slashy), compressed=True)).replace("/", "\\/"),
        expect=(N, slashy, False, True))
    add("accept-empty-payload", "empty payload \"\" with compressed=true and a valid MAC (over "
        "the 4 nonce bytes only) -> accepted with payload_hex \"\"",
        text(fields(N, "", mac(N, b""), compressed=True)), expect=(N, b"", False, True))
    for size in (1, 100):
        key = bytes((7 * i + 1) & 0xFF for i in range(size))
        add(f"accept-hmac-key-{size}-byte", f"a {size}-byte HMAC key: HMAC keys of any length are "
            "allowed (the core imposes no minimum" + (", keys longer than the 64-byte block are "
            "hashed first" if size > 64 else "") + ")",
            text(fields(N, b64(P), mac(N, P, key))), hkey=key, expect=ok)
    add("accept-nonce-0-first", "nonce 0 is accepted when no nonce was accepted yet "
        "(last_nonce null means none, not 0)", text(fields(0, b64(P), mac(0, P))),
        expect=(0, P, False, False))
    add("accept-nonce-1-after-0", "nonce 1 after last_nonce 0 -> accepted (strictly greater)",
        text(fields(1, b64(P), mac(1, P))), last_nonce=0, expect=(1, P, False, False))
    add("accept-unencrypted-with-aes-key", "encrypted=false while an AES key is configured: the "
        "payload is not decrypted -> accepted as is", text(good), aes=True, expect=ok)

    # --- UTF-8 (§1.3: with compressed=false the payload must be UTF-8 text) ---
    bad_utf8 = b'{"v":"\xff"}'
    add("non-utf8-uncompressed", "payload bytes are not UTF-8 while compressed=false (MAC valid)"
        " -> malformed: plaintext must be UTF-8 text when compressed is false",
        text(fields(N, b64(bad_utf8), mac(N, bad_utf8))), error="malformed")
    surrogate = b'{"v":"\xed\xa0\x80"}'
    add("non-utf8-surrogate-uncompressed", "UTF-8-encoded surrogate U+D800 (CESU-8 style) is not "
        "valid UTF-8 -> malformed (MAC valid)",
        text(fields(N, b64(surrogate), mac(N, surrogate))), error="malformed")
    add("accept-non-utf8-compressed", "the same non-UTF-8 bytes with compressed=true -> accepted "
        "(raw binary payload, MAC over the raw bytes)",
        text(fields(N, b64(bad_utf8), mac(N, bad_utf8), compressed=True)),
        expect=(N, bad_utf8, False, True))

    # --- MAC input (§1.3: HMAC(K, nonce_be32 || original payload bytes)) ---
    add("mac-over-base64-text", "MAC computed over nonce || the base64 TEXT instead of the "
        "decoded bytes -> mac_mismatch", text({**good, "mac": mac(N, b64(P).encode())}),
        error="mac_mismatch")
    add("mac-without-nonce", "MAC computed over the payload alone (nonce not covered) -> "
        "mac_mismatch", text({**good, "mac": hmac.new(HKEY, P, hashlib.sha256).hexdigest()}),
        error="mac_mismatch")
    add("mac-nonce-little-endian", "MAC computed with the nonce little-endian -> mac_mismatch "
        "(must be big-endian)",
        text({**good, "mac": hmac.new(HKEY, N.to_bytes(4, "little") + P,
                                      hashlib.sha256).hexdigest()}), error="mac_mismatch")

    # --- order: structure -> decryption -> MAC -> replay ---
    add("replay-equal-nonce", "valid envelope whose nonce equals last_nonce -> replay (must be "
        "strictly greater)", text(good), last_nonce=N, error="replay")
    add("replay-zero-after-zero", "last_nonce 0 and nonce 0 -> replay (catches treating "
        "last_nonce 0 as 'none yet')", text(fields(0, b64(P), mac(0, P))), last_nonce=0,
        error="replay")
    add("forged-mac-with-old-nonce", "forged MAC AND a nonce below last_nonce -> mac_mismatch, "
        "never replay: MAC before replay, so forgeries cannot probe the nonce window (F15)",
        text({**good, "mac": mac(N, b'{"v":2}')}), last_nonce=N + 100, error="mac_mismatch")
    add("bad-mac-encoding-with-old-nonce", "mac text invalid AND old nonce -> bad_mac_encoding "
        "(structure is checked before replay)", text({**good, "mac": mac(N, P).upper()}),
        last_nonce=N + 100, error="bad_mac_encoding")

    # --- encryption (§1.4: AES-128-CBC, static IV, strict PKCS#7, MAC over plaintext) ---
    E = b'{"device_id":"ESP32_001","value":123}'
    ct = aes_raw(pkcs7(E))
    add("encrypted-ok-demo-key", "encrypted with the demo AES key and the fixed IV 00..0f, MAC "
        "over the plaintext -> accepted, payload_hex is the plaintext",
        text(fields(N, b64(ct), mac(N, E), encrypted=True)), aes=True,
        expect=(N, E, True, False))
    add("encrypted-empty-plaintext", "empty plaintext encrypts to one full padding block "
        "(16 x 0x10) -> accepted with payload_hex \"\"",
        text(fields(N, b64(aes_raw(pkcs7(b""))), mac(N, b""), encrypted=True, compressed=True)),
        aes=True, expect=(N, b"", True, True))
    add("encrypted-missing-key", "encrypted=true but no AES key given -> missing_key",
        text(fields(N, b64(ct), mac(N, E), encrypted=True)), error="missing_key")
    add("encrypted-missing-key-and-bad-mac", "no AES key AND a wrong MAC -> missing_key: "
        "decryption comes before the MAC check (the MAC covers the plaintext)",
        text(fields(N, b64(ct), "00" * 32, encrypted=True)), error="missing_key")
    add("encrypted-empty-ciphertext", "encrypted with a 0-byte ciphertext (payload \"\") -> "
        "decrypt_failed (PKCS#7 always produces at least one block)",
        text(fields(N, "", mac(N, b""), encrypted=True, compressed=True)), aes=True,
        error="decrypt_failed")
    body0 = bytes(range(0x41, 0x50))  # 15 bytes, then a final 0x00
    add("encrypted-padding-byte-0", "last plaintext byte 0x00: padding length 0 is invalid "
        "PKCS#7 -> decrypt_failed; the MAC is valid for the whole block, so a decoder that "
        "strips 0 bytes would accept",
        text(fields(N, b64(aes_raw(body0 + b"\x00")), mac(N, body0 + b"\x00"), encrypted=True,
                    compressed=True)), aes=True, error="decrypt_failed")
    add("encrypted-padding-byte-17", "two blocks ending in 17 bytes of 0x11: padding length 17 "
        "exceeds the block size -> decrypt_failed; the MAC is valid for the 15 bytes left after "
        "stripping 17, so a decoder that checks only 'all pad bytes equal' would accept",
        text(fields(N, b64(aes_raw(body0 + b"\x11" * 17)), mac(N, body0), encrypted=True,
                    compressed=True)), aes=True, error="decrypt_failed")
    add("encrypted-ciphertext-15-bytes", "ciphertext not a whole number of blocks -> "
        "decrypt_failed", text(fields(N, b64(ct[:15]), mac(N, E), encrypted=True)), aes=True,
        error="decrypt_failed")
    add("encrypted-bad-padding-with-old-nonce", "bad padding AND old nonce -> decrypt_failed "
        "(decryption precedes replay)",
        text(fields(N, b64(aes_raw(body0 + b"\x00")), mac(N, body0 + b"\x00"), encrypted=True,
                    compressed=True)), aes=True, last_nonce=N + 1, error="decrypt_failed")
    add("encrypted-wrong-mac", "decryption succeeds but the MAC is over another plaintext -> "
        "mac_mismatch", text(fields(N, b64(ct), mac(N, E + b" "), encrypted=True)), aes=True,
        error="mac_mismatch")
    add("encrypted-mac-over-ciphertext", "MAC computed over the ciphertext instead of the "
        "plaintext (encrypt-then-MAC) -> mac_mismatch: this protocol is MAC-then-encrypt",
        text(fields(N, b64(ct), mac(N, ct), encrypted=True)), aes=True, error="mac_mismatch")
    bad_ct = aes_raw(pkcs7(bad_utf8))
    add("encrypted-non-utf8-uncompressed", "decrypted plaintext is not UTF-8 while "
        "compressed=false (MAC valid) -> malformed: the UTF-8 rule applies to the plaintext",
        text(fields(N, b64(bad_ct), mac(N, bad_utf8), encrypted=True)), aes=True,
        error="malformed")

    write("envelope-edges.json", "envelope",
          "edge cases of opening an envelope: field types and ranges, strict base64, exact "
          "lowercase mac text, JSON shape, UTF-8, MAC input, AES-CBC/PKCS#7, and the check order "
          "structure -> decryption -> MAC -> replay", vs)


def register_edges():
    vs = []

    def add(id_, comment, register, raw, expect=None, error=None, profile=None):
        v = {"id": id_, "comment": comment, "register": register, "raw": raw}
        if profile:
            v["profile"] = profile
        if error:
            v["error"] = error
        else:
            v["expect"] = dict(zip(("value", "unit", "text"), expect))
        vs.append(v)

    L = "legacy"
    legacy = "legacy /process conversion (spec §5 last column, F27)"
    add("legacy-vac1-2400", f"{legacy}: Vac1 raw/10, \"%.1fV\"", "REG_VAC1", 2400,
        (240.0, "V", "240.0V"), profile=L)
    add("legacy-iac1-170", f"{legacy}: Iac1 raw/100 (not /10), \"%.2fA\"", "REG_IAC1", 170,
        (1.7, "A", "1.70A"), profile=L)
    add("legacy-ipv1-70", f"{legacy}: Ipv1 raw/100", "REG_IPV1", 70, (0.7, "A", "0.70A"),
        profile=L)
    add("legacy-ipv2-65", f"{legacy}: Ipv2 raw/100", "REG_IPV2", 65, (0.65, "A", "0.65A"),
        profile=L)
    add("legacy-pac-4000", f"{legacy}: Pac raw, \"%dW\"", "REG_PAC", 4000, (4000.0, "W", "4000W"),
        profile=L)
    add("legacy-temp-550", f"{legacy}: Temp raw (not /10), \"%d°C\"", "REG_TEMP", 550,
        (550.0, "°C", "550°C"), profile=L)
    add("legacy-fac1-500", f"{legacy}: Fac1 raw/10 (not /100), \"%.1fHz\"", "REG_FAC1", 500,
        (50.0, "Hz", "50.0Hz"), profile=L)
    add("legacy-pow-100", f"{legacy}: Pow reported raw as watts \"%dW\" (the current catalog says"
        " percent)", "REG_POW", 100, (100.0, "W", "100W"), profile=L)
    add("legacy-numeric-id-0", f"{legacy}: numeric id 0 = Vac1", 0, 2400,
        (240.0, "V", "240.0V"), profile=L)
    add("legacy-vac1-65535", f"{legacy}: largest raw value", "REG_VAC1", 65535,
        (6553.5, "V", "6553.5V"), profile=L)
    add("legacy-iac1-65535", f"{legacy}: largest raw value, two decimals", "REG_IAC1", 65535,
        (655.35, "A", "655.35A"), profile=L)
    add("legacy-fac1-65535", f"{legacy}: largest raw value", "REG_FAC1", 65535,
        (6553.5, "Hz", "6553.5Hz"), profile=L)
    add("legacy-temp-0", f"{legacy}: raw 0 printed as an integer", "REG_TEMP", 0,
        (0.0, "°C", "0°C"), profile=L)
    add("legacy-temp-65535", f"{legacy}: largest raw value (u16, never negative)", "REG_TEMP",
        65535, (65535.0, "°C", "65535°C"), profile=L)
    add("legacy-ipv1-0", f"{legacy}: raw 0 keeps two decimals", "REG_IPV1", 0,
        (0.0, "A", "0.00A"), profile=L)
    add("legacy-pow-0", f"{legacy}: raw 0", "REG_POW", 0, (0.0, "W", "0W"), profile=L)
    add("legacy-raw-65536", f"{legacy}: raw above u16 -> out_of_range in every profile",
        "REG_VAC1", 65536, error="out_of_range", profile=L)
    add("legacy-raw-negative", f"{legacy}: negative raw -> out_of_range in every profile",
        "REG_PAC", -1, error="out_of_range", profile=L)
    add("legacy-unknown-id-10", f"{legacy}: id 10 does not exist in any profile", 10, 1,
        error="unknown_register", profile=L)

    current = "current catalog ecowatt-1.3 (spec §5 gain/decimals)"
    add("explicit-profile-pow-100", f"{current}, named explicitly: Pow is percent, contrast "
        "with legacy-pow-100", "REG_POW", 100, (100.0, "%", "100%"), profile="ecowatt-1.3")
    add("default-fac1-500", f"{current} by default: Fac1 gain 100 -> 5.00 Hz, contrast with "
        "legacy-fac1-500 (gain 10)", "REG_FAC1", 500, (5.0, "Hz", "5.00Hz"))
    add("default-temp-550", f"{current} by default: Temp gain 10, contrast with legacy-temp-550",
        "REG_TEMP", 550, (55.0, "°C", "55.0°C"))
    add("default-iac1-170", f"{current} by default: Iac1 gain 10, contrast with legacy-iac1-170",
        "REG_IAC1", 170, (17.0, "A", "17.00A"))

    names = "register names: the device spelling (§5, e.g. Vac1) is accepted as well as REG_…"
    add("name-device-vac1", f"{names}", "Vac1", 2304, (230.4, "V", "230.4V"))
    add("name-device-pac", f"{names}", "Pac", 1205, (1205.0, "W", "1205W"))
    add("name-lowercase-vac1", f"{names}; names are matched case-insensitively", "vac1", 2304,
        (230.4, "V", "230.4V"))
    add("name-uppercase-temp", f"{names}; names are matched case-insensitively", "TEMP", 452,
        (45.2, "°C", "45.2°C"))
    add("name-device-ipv2-legacy", f"{names}; also with the legacy profile", "Ipv2", 65,
        (0.65, "A", "0.65A"), profile=L)
    add("numeric-id-9", "numeric id 9 = Pac", 9, 0, (0.0, "W", "0W"))
    add("numeric-id-2-max", "numeric id 2 = Fac1 at the largest raw value", 2, 65535,
        (655.35, "Hz", "655.35Hz"))
    add("string-number-10", "a string that looks like a number is a name, not an id: \"10\" "
        "-> unknown_register", "10", 1, error="unknown_register")
    add("string-number-0", "a string that looks like a valid id is still a name, not an id: "
        "\"0\" -> unknown_register (catches parsing numeric strings as ids)", "0", 1,
        error="unknown_register")
    add("empty-name", "empty register name -> unknown_register", "", 1, error="unknown_register")
    add("negative-id", "numeric id -1 -> unknown_register", -1, 1, error="unknown_register")
    add("raw-0-vac1", "raw 0 keeps the display decimals", "REG_VAC1", 0, (0.0, "V", "0.0V"))
    add("raw-65535-iac1", "largest raw value (unsigned, never sign-extended: not -0.1 A)",
        "REG_IAC1", 65535, (6553.5, "A", "6553.50A"))
    write("register-edges.json", "register",
          "register conversion edges: the legacy /process profile (different gains and text), "
          "name spellings, ids given as numbers or strings, raw 0 and 65535", vs)


def seal_edges():
    vs = []

    def add(id_, comment, payload, nonce, encrypt=False, compressed=False, hkey=HKEY,
            aes=None, error=None):
        v = {"id": id_, "comment": comment, "payload_hex": payload.hex(), "nonce": nonce,
             "hmac_key_hex": hkey.hex()}
        if aes:
            v["aes_key_hex"], v["aes_iv_hex"] = aes[0].hex(), aes[1].hex()
        v["encrypt"], v["compressed"] = encrypt, compressed
        if error:
            v["error"] = error
        else:
            body = aes_raw(pkcs7(payload), *aes) if encrypt else payload
            v["expect"] = {"mac_hex": mac(nonce, payload, hkey), "payload_b64": b64(body)}
        vs.append(v)

    P = b'{"v":1}'
    demo = (AKEY, IV)
    add("seal-nonce-0", "nonce 0 is written as 00 00 00 00 in the MAC input (the device's "
        "counter after wrapping, §2.1)", P, 0)
    add("seal-nonce-max", "nonce 4294967295 is written as ff ff ff ff (no overflow into a "
        "fifth byte or a sign)", P, 4294967295)
    add("seal-empty-payload", "empty payload: payload_b64 \"\", MAC over the 4 nonce bytes only",
        b"", 40001)
    add("seal-encrypt-demo-key", "encrypt with the demo AES key and the firmware's fixed IV "
        "00 01 .. 0f: PKCS#7 padding, MAC over the plaintext (MAC-then-encrypt)",
        b'{"device_id":"ESP32_001","value":123}', 40002, encrypt=True, aes=demo)
    add("seal-encrypt-16-bytes", "a plaintext of exactly one block gets a whole extra padding "
        "block (32 bytes of ciphertext)", b"0123456789abcdef", 40003, encrypt=True, aes=demo)
    add("seal-encrypt-empty", "an empty plaintext encrypts to one block of padding",
        b"", 40004, encrypt=True, aes=demo)
    add("seal-compressed-binary", "compressed=true: the payload is raw bytes (not UTF-8), "
        "base64 and MAC cover them unchanged", bytes([0x00, 0xFF, 0x80, 0x01, 0xFE]), 40005,
        compressed=True)
    add("seal-encrypt-compressed", "encrypt and compressed together (binary plaintext)",
        bytes([0x01, 0x0C, 0x06, 0x90, 0x00, 0x34]), 40006, encrypt=True, compressed=True,
        aes=demo)
    add("seal-hmac-key-1-byte", "a 1-byte HMAC key is allowed (no minimum length in the core)",
        P, 40007, hkey=b"\x01")
    add("seal-encrypt-without-key", "encrypt=true but no AES key given -> missing_key",
        P, 40008, encrypt=True, error="missing_key")
    write("seal-edges.json", "seal",
          "sealing edges: nonce 0 and 4294967295, empty payload, AES-128-CBC with the demo key "
          "and fixed IV, binary (compressed) payloads, short HMAC key, missing AES key", vs)


if __name__ == "__main__":
    envelope_edges()
    register_edges()
    seal_edges()
