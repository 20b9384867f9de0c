"""Envelope v2 (docs/envelope-v2.md), written from that document alone.

seal(...) builds an envelope; open_(...) opens one and raises EnvelopeError with the code of
the FIRST failing check in the order structure (too_large, malformed) -> key id
(missing_key) -> tag (mac_mismatch) -> padding (decrypt_failed) -> device time (clock_skew)
-> counter (replay).
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VERSION = 0x02
CONTENT = {0: "json", 1: "binary"}
HEADER = struct.Struct(">BBIQQ")  # version, content, key id, device time ms, counter
IV_LEN = TAG_LEN = BLOCK = 16
MAX_PLAINTEXT = 65536


class EnvelopeError(Exception):
    def __init__(self, code, detail=""):
        super().__init__(f"{code} ({detail})" if detail else code)
        self.code = code


def sealed_len(n):
    return HEADER.size + IV_LEN + (n // BLOCK + 1) * BLOCK + TAG_LEN


MIN_LEN, MAX_LEN = sealed_len(0), sealed_len(MAX_PLAINTEXT)


def derive(secret):
    """(K_enc, K_mac): HKDF-Expand(secret, label, one block), K_enc its first 16 bytes."""
    def expand(label):
        return hmac.new(secret, label + b"\x01", hashlib.sha256).digest()
    return expand(b"solarwire envelope v2 enc")[:16], expand(b"solarwire envelope v2 mac")


def cbc(key, iv, data, encrypt):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def tag(k_mac, covered):
    return hmac.new(k_mac, covered, hashlib.sha256).digest()[:TAG_LEN]


def seal(secret, key_id, device_time_ms, counter, content, iv, plaintext, pad=True):
    """The envelope; pad=False encrypts plaintext (whole blocks) as is, to forge bad padding
    under a valid tag."""
    k_enc, k_mac = derive(secret)
    if pad:
        n = BLOCK - len(plaintext) % BLOCK
        plaintext = plaintext + bytes([n]) * n
    covered = (HEADER.pack(VERSION, content, key_id, device_time_ms, counter) + iv
               + cbc(k_enc, iv, plaintext, encrypt=True))
    return covered + tag(k_mac, covered)


def open_(data, keys, now_ms, past_ms, future_ms, last_counter=None):
    """keys: {key_id: (secret, valid_until_ms or None)}. Returns the opened fields."""
    if data[:1] != bytes([VERSION]):
        raise EnvelopeError("malformed", "version")
    if len(data) > MAX_LEN:
        raise EnvelopeError("too_large", f"{len(data)} bytes")
    if len(data) < MIN_LEN or (len(data) - MIN_LEN) % BLOCK:
        raise EnvelopeError("malformed", f"length {len(data)}")
    _, content, key_id, device_time, counter = HEADER.unpack_from(data)
    if content not in CONTENT:
        raise EnvelopeError("malformed", f"content {content}")
    entry = keys.get(key_id)
    if entry is None or (entry[1] is not None and now_ms >= entry[1]):
        raise EnvelopeError("missing_key", f"key id {key_id}")
    k_enc, k_mac = derive(entry[0])
    covered, sent = data[:-TAG_LEN], data[-TAG_LEN:]
    if not hmac.compare_digest(tag(k_mac, covered), sent):
        raise EnvelopeError("mac_mismatch")
    iv = data[HEADER.size:HEADER.size + IV_LEN]
    plain = cbc(k_enc, iv, covered[HEADER.size + IV_LEN:], encrypt=False)
    n = plain[-1]
    if not 1 <= n <= BLOCK or plain[-n:] != bytes([n]) * n:
        raise EnvelopeError("decrypt_failed", f"padding byte {n}")
    if not now_ms - past_ms <= device_time <= now_ms + future_ms:
        raise EnvelopeError("clock_skew", f"device {device_time}, server {now_ms}")
    if last_counter is not None and counter <= last_counter:
        raise EnvelopeError("replay", f"{counter} <= {last_counter}")
    return {"key_id": key_id, "content": CONTENT[content], "device_time_ms": device_time,
            "counter": counter, "plaintext_hex": plain[:-n].hex(), "tag_hex": sent.hex()}
