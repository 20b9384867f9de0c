"""Decoding releases the GIL: threads decoding at once get the same results
as one thread alone (results only; no timing is asserted)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import solarwire as sw

FIRMWARE = Path(__file__).resolve().parents[2] / "spec-tests" / "vectors" / "firmware"


def firmware_packets() -> list[bytes]:
    packets = []
    for name in ("codec-bitpack.json", "codec-dictionary.json", "codec-semantic-rle.json"):
        for v in json.loads((FIRMWARE / name).read_text(encoding="utf-8"))["vectors"]:
            packets.append(bytes.fromhex(v["packet_hex"]))
    return packets


def test_concurrent_bulk_decodes_agree() -> None:
    packets = firmware_packets() * 500
    alone = sw.decode_packets(packets)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(sw.decode_packets, [packets] * 8))
    for batch in results:
        assert (batch.values, batch.counts, batch.errors) == (alone.values, alone.counts, alone.errors)


def test_concurrent_streams_and_uploads_agree() -> None:
    vectors = json.loads((FIRMWARE / "upload.json").read_text(encoding="utf-8"))["vectors"]
    v = vectors[0]
    keys = sw.Keys(bytes.fromhex(v["hmac_key_hex"]))
    packets = firmware_packets()

    def work(_: int) -> tuple[list[sw.Decoded], list[sw.Sample]]:
        state = sw.TemporalState()
        decoded = [sw.decode_packet(p, state) for p in packets * 20]
        upload = sw.parse_upload(v["body"], device_id=v["path_device_id"], keys=keys)
        return decoded, upload.samples

    expected = work(0)
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert all(r == expected for r in pool.map(work, range(8)))
