"""The per-device states persist: pickled mid-stream, they carry on exactly
where the original does."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

import solarwire as sw

TEMPORAL = Path(__file__).resolve().parents[2] / "spec-tests/vectors/firmware/codec-temporal.json"


def ramp() -> tuple[list[bytes], list[list[int]]]:
    """A device stream of base packets then deltas (the firmware's own encoder)."""
    vectors = json.loads(TEMPORAL.read_text(encoding="utf-8"))["vectors"]
    v = next(v for v in vectors if v["id"] == "temporal-ramp-6regs-sequence")
    return [bytes.fromhex(p) for p in v["sequence"]], v["sequence_register_ids"]


def decode_all(packets: list[bytes], ids: list[list[int]], state: sw.TemporalState) -> list[sw.Decoded]:
    return [sw.decode_packet(p, state, register_ids=i) for p, i in zip(packets, ids)]


@pytest.mark.parametrize("split", [1, 7, 8, 10])
def test_pickled_temporal_state_continues_the_stream(split: int) -> None:
    packets, ids = ramp()
    state = sw.TemporalState()
    head = decode_all(packets[:split], ids[:split], state)
    restored = pickle.loads(pickle.dumps(state))
    assert restored == state and restored is not state
    tail = decode_all(packets[split:], ids[split:], restored)
    assert head + tail == decode_all(packets, ids, sw.TemporalState())
    assert any(d.method == "temporal_delta" for d in tail)
    assert restored != state  # the original did not move


def test_a_delta_needs_the_history() -> None:
    packets, ids = ramp()
    with pytest.raises(sw.CodecError) as caught:
        sw.decode_packet(packets[-1], sw.TemporalState(), register_ids=ids[-1])
    assert caught.value.code == "missing_state"


def test_temporal_state_bytes_and_copies() -> None:
    state = sw.TemporalState.from_history([0, 1], [[1, 2], [3, 4]])
    assert sw.TemporalState.from_bytes(state.to_bytes()) == state
    assert copy.deepcopy(state) == state
    state.forget()
    assert sw.TemporalState.from_bytes(bytearray(state.to_bytes())) == state
    with pytest.raises(sw.CodecError) as caught:
        sw.TemporalState.from_history([10], [[1]])
    assert caught.value.code == "bad_header"


def test_stream_state_pickles_between_uploads() -> None:
    vectors = json.loads((TEMPORAL.parent / "upload.json").read_text(encoding="utf-8"))["vectors"]
    first, second = (v for v in vectors if v["format"] == "aggregated")
    keys = sw.Keys(bytes.fromhex(first["hmac_key_hex"]))
    state = sw.StreamState()
    sw.parse_upload(first["body"], device_id="ESP32_001", keys=keys, state=state)
    restored = pickle.loads(pickle.dumps(state))
    assert restored == state and restored != sw.StreamState()
    via_copy = sw.parse_upload(second["body"], device_id="ESP32_001", keys=keys, state=restored)
    original = sw.parse_upload(second["body"], device_id="ESP32_001", keys=keys, state=state)
    assert via_copy.samples == original.samples and restored == state
    assert sw.StreamState.after_boot() != sw.StreamState()
    with pytest.raises(sw.CodecError):
        sw.StreamState.from_bytes(b"")
