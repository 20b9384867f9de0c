"""Seal an upload as the device does, open it as the server does, and watch
a tampered copy and a replayed copy being refused.

    python seal_demo.py
"""

from __future__ import annotations

import json
import os

import solarwire as sw


def main() -> None:
    keys = sw.Keys(os.urandom(32))  # each device has its own random key
    payload = json.dumps({"device_id": "ESP32_001", "value": 123}, separators=(",", ":"))

    sealed = sw.seal_envelope(payload, 11001, keys)
    print("sealed:  ", sealed.envelope)

    opened = sw.open_envelope(sealed.envelope, keys)
    print("opened:  ", opened.nonce, opened.payload.decode())

    tampered = sealed.envelope.replace(sealed.mac_hex, sealed.mac_hex[::-1])
    try:
        sw.open_envelope(tampered, keys)
    except sw.EnvelopeError as e:
        print("tampered:", e.code, "-", e)

    try:
        sw.open_envelope(sealed.envelope, keys, last_nonce=opened.nonce)
    except sw.ReplayError as e:
        print("replayed:", e.code, "-", e)


if __name__ == "__main__":
    main()
