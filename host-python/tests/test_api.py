"""The Python-shaped surface: argument types, exceptions and their codes,
result objects, and the bulk buffer variants."""

from __future__ import annotations

import json
import pickle
from array import array
from pathlib import Path
from typing import Any, Callable

import pytest

import solarwire as sw

FIRMWARE = Path(__file__).resolve().parents[2] / "spec-tests" / "vectors" / "firmware"
BIT_PACKED = bytes.fromhex("010c069000340470451c44b5")  # 6 values, firmware encoder
TEMPORAL_BASE = bytes.fromhex("7006000105060709fc08340046004500c201b004")


def upload_vector(vid: str) -> dict[str, Any]:
    vectors = json.loads((FIRMWARE / "upload.json").read_text(encoding="utf-8"))["vectors"]
    found: dict[str, Any] = next(v for v in vectors if v["id"] == vid)
    return found


@pytest.fixture
def keys() -> sw.Keys:
    return sw.Keys(bytes.fromhex(upload_vector("aggregated-one-packet")["hmac_key_hex"]))


def test_exception_hierarchy() -> None:
    assert issubclass(sw.SolarwireError, ValueError)
    for cls in (sw.EnvelopeError, sw.ReplayError, sw.CodecError, sw.UnitError, sw.UploadError, sw.ArgumentError):
        assert issubclass(cls, sw.SolarwireError)
        assert cls.__module__ == "solarwire"


@pytest.mark.parametrize(
    ("call", "cls", "code"),
    [
        (lambda k: sw.open_envelope("not json", k), sw.EnvelopeError, "malformed"),
        (lambda k: sw.decode_packet(b"\xee"), sw.CodecError, "unknown_marker"),
        (lambda k: sw.decode_packet(b"\x01\x08"), sw.CodecError, "truncated"),
        (lambda k: sw.convert_register("REG_FOO", 1), sw.UnitError, "unknown_register"),
        (lambda k: sw.convert_register(0, 2**80), sw.UnitError, "out_of_range"),
        (lambda k: sw.convert_register(0, -(2**80)), sw.UnitError, "out_of_range"),
        (lambda k: sw.registers("no-such-model"), sw.UnitError, "unknown_profile"),
        (lambda k: sw.TemporalState.from_bytes(b"\x01"), sw.CodecError, "bad_header"),
        (lambda k: sw.parse_upload("[]", keys=k, device_id="d"), sw.EnvelopeError, "malformed"),
        (lambda k: sw.parse_upload("{}", format="legacy_process"), sw.UploadError, "malformed"),
    ],
)
def test_bad_input_raises_with_code(
    keys: sw.Keys, call: Callable[[sw.Keys], object], cls: type[sw.SolarwireError], code: str
) -> None:
    with pytest.raises(cls) as caught:
        call(keys)
    assert caught.value.code == code
    assert str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (type(again), again.code) == (cls, code)


def test_upload_errors_raise_the_concern_that_failed(keys: sw.Keys) -> None:
    v = upload_vector("aggregated-one-packet")
    with pytest.raises(sw.ReplayError) as replay:
        sw.parse_upload(v["body"], device_id="ESP32_001", keys=keys, last_nonce=11002)
    assert replay.value.code == "replay"
    with pytest.raises(sw.EnvelopeError) as forged:
        sw.parse_upload(v["body"], device_id="ESP32_001", keys=sw.Keys(b"other"))
    assert forged.value.code == "mac_mismatch"


@pytest.mark.parametrize(
    "call",
    [
        lambda k: sw.decode_packet("010c06"),  # type: ignore[arg-type]
        lambda k: sw.decode_packet(None),  # type: ignore[arg-type]
        lambda k: sw.decode_packet(BIT_PACKED, "state"),  # type: ignore[arg-type]
        lambda k: sw.decode_packets([BIT_PACKED, "01"]),  # type: ignore[list-item]
        lambda k: sw.decode_packets(5),  # type: ignore[arg-type]
        lambda k: sw.open_envelope(5, k),  # type: ignore[arg-type]
        lambda k: sw.open_envelope("{}", b"key"),  # type: ignore[arg-type]
        lambda k: sw.seal_envelope(b"{}", "1", k),  # type: ignore[arg-type]
        lambda k: sw.Keys("secret"),  # type: ignore[arg-type]
        lambda k: sw.encode_packet("abc"),  # type: ignore[arg-type]
        lambda k: sw.encode_packet([1, 2], "ab"),  # type: ignore[arg-type]
        lambda k: sw.convert_register(1.5, 1),  # type: ignore[arg-type]
        lambda k: sw.convert_register("REG_VAC1", 1.5),  # type: ignore[arg-type]
        lambda k: sw.registers(5),  # type: ignore[arg-type]
        lambda k: sw.parse_upload(None),  # type: ignore[arg-type]
        lambda k: sw.parse_upload("{}", keys="k"),  # type: ignore[arg-type]
        lambda k: sw.inspect(b"{}"),  # type: ignore[arg-type]
    ],
)
def test_wrong_argument_types_raise_type_error(
    keys: sw.Keys, call: Callable[[sw.Keys], object]
) -> None:
    with pytest.raises(TypeError):
        call(keys)


@pytest.mark.parametrize(
    "call",
    [
        lambda: sw.Keys(b"k", b"short"),
        lambda: sw.Keys(b"k", aes_iv=bytes(16)),
        lambda: sw.encode_packet([1, 2], method="zip"),  # type: ignore[arg-type]
        lambda: sw.encode_packet([1, 2], [0], method="smart"),
        lambda: sw.encode_packet([1, 2], [0]),
        lambda: sw.encode_packet([1, 2], method="bit_packed", state=sw.TemporalState()),
    ],
)
def test_argument_values_the_core_refuses_raise_argument_error(call: Callable[[], object]) -> None:
    with pytest.raises(sw.ArgumentError) as caught:
        call()
    assert caught.value.code == "invalid_argument"


def test_an_unknown_format_is_a_plain_value_error() -> None:
    with pytest.raises(ValueError) as caught:
        sw.parse_upload("{}", format="json")  # type: ignore[arg-type]
    assert not isinstance(caught.value, sw.SolarwireError)


def test_every_bytes_like_gives_the_same_result() -> None:
    expected = sw.decode_packet(BIT_PACKED)
    for packet in (bytearray(BIT_PACKED), memoryview(BIT_PACKED), memoryview(b"xx" + BIT_PACKED)[2:]):
        assert sw.decode_packet(packet) == expected


def test_results_are_frozen_with_readable_reprs(keys: sw.Keys) -> None:
    d = sw.decode_packet(BIT_PACKED)
    assert repr(d) == (
        "Decoded(method='bit_packed', values=array('H', [2304, 52, 71, 69, 452, 1205]), "
        "register_ids=None, approximate=False)"
    )
    with pytest.raises(AttributeError):
        d.method = "raw"  # type: ignore[misc]
    reading = sw.convert_register("REG_VAC1", 2304)
    assert repr(reading) == (
        "Reading(key='REG_VAC1', raw=2304, value=230.4, unit='V', text='230.4V')"
    )
    assert repr(keys) == "Keys(<secret>, has_aes=False)"


def test_values_are_u16_arrays() -> None:
    d = sw.decode_packet(TEMPORAL_BASE)
    assert isinstance(d.values, array) and d.values.typecode == "H"
    assert d.register_ids == [0, 1, 5, 6, 7, 9]
    assert memoryview(d.values).tobytes() == d.values.tobytes()


def test_decode_packets_returns_one_buffer() -> None:
    packets = [BIT_PACKED, TEMPORAL_BASE, b"\xee", BIT_PACKED]
    batch = sw.decode_packets(packets)
    singles = [sw.decode_packet(p).values for p in (BIT_PACKED, TEMPORAL_BASE, BIT_PACKED)]
    assert batch.values == array("H", [v for values in singles for v in values])
    assert batch.counts == array("I", [6, 6, 0, 6])
    assert batch.errors == {2: "unknown_marker"}
    assert repr(batch) == "Batch(packets=4, values=18, errors={2: 'unknown_marker'})"
    assert sw.decode_packets(iter([])).counts == array("I")


def test_encode_then_decode_round_trips() -> None:
    values, ids = [2304, 52, 71, 69, 452, 1205], [0, 1, 5, 6, 7, 9]
    for method in ("smart", "temporal", "bit_packed", "dictionary"):
        packet = sw.encode_packet(values, ids, method=method)
        assert sw.decode_packet(packet).values.tolist() == values, method
    state = sw.TemporalState()
    for _ in range(3):
        sw.encode_packet(values, bytes(ids), method="temporal", state=state)
    assert state != sw.TemporalState()


def test_seal_and_open_round_trip(keys: sw.Keys) -> None:
    encrypted = sw.Keys(b"mac", bytes(range(16)))
    sealed = sw.seal_envelope(b'{"v":1}', 7, encrypted, encrypt=True)
    opened = sw.open_envelope(sealed.envelope.encode(), encrypted, last_nonce=6)
    assert (opened.nonce, opened.payload, opened.encrypted) == (7, b'{"v":1}', True)
    with pytest.raises(sw.EnvelopeError) as missing:
        sw.open_envelope(sealed.envelope, keys)
    assert missing.value.code == "missing_key"


def test_profiles_and_registers() -> None:
    assert sw.Profile.builtin_names() == [
        "ecowatt-1.3",
        "legacy",
        "bess-rack-1",
        "pcs-1",
        "meter-3ph-1",
        "string-inverter-1",
    ]
    assert [sw.Profile(n).kind for n in ("legacy", "pcs-1")] == ["inverter-logger", "pcs"]
    legacy = sw.Profile("legacy")
    assert sw.registers(legacy) == sw.registers("legacy")
    assert sw.convert_register("REG_VAC1", 2400, legacy).text == "240.0V"
    model = sw.Profile.from_json(
        '{"name":"bat","registers":[{"id":0,"name":"Ibat","key":"REG_IBAT","addr":40,'
        '"unit":"A","scale":-1,"decimals":1,"kind":"i16"}]}'
    )
    assert [r.kind for r in sw.registers(model)] == ["i16"]
    assert sw.convert_register(0, 65526, model).value == -1.0
    fault = sw.convert_register("FaultStatus1", 0b1001, "pcs-1")
    assert [(f.bit, f.name, f.severity) for f in fault.flags] == [
        (0, "AC overcurrent", "fault"),
        (3, "DC overvoltage", "fault"),
    ]
    assert fault.state is None
    assert sw.convert_register("Mode", 1, "bess-rack-1").state == "Charging"
    assert sw.convert_register("REG_VAC1", 2304).flags == []
    with pytest.raises(sw.UnitError) as invalid:
        sw.Profile.from_json("{}")
    assert invalid.value.code == "invalid_catalog"


def test_parse_upload_reports_samples_and_packets(keys: sw.Keys) -> None:
    v = upload_vector("aggregated-two-packets")
    upload = sw.parse_upload(v["body"], device_id="ESP32_001", keys=keys, last_nonce=11002)
    assert (upload.device_id, upload.nonce) == ("ESP32_001", 11003)
    assert [(p.index, p.outcome, p.error) for p in upload.packets] == [
        (0, "decoded", None),
        (1, "decoded", None),
    ]
    assert sum(p.samples for p in upload.packets) == len(upload.samples)
    assert upload.samples[0].registers[0] == (0, 2304)


def test_inspect_explains_in_the_cores_shape(keys: sw.Keys) -> None:
    body = upload_vector("aggregated-one-packet")["body"]
    report = sw.inspect(body, keys)
    assert report["kind"] == "envelope"
    assert [s["status"] for s in report["stages"]][:2] == ["pass", "pass"]
    assert report["samples"][0]["readings"][0]["text"] == "230.4V"
    forged = sw.inspect(body, sw.Keys(b"other"))
    assert forged["stages"][1]["code"] == "mac_mismatch"
    assert sw.inspect("hello, world!")["kind"] == "unrecognised"
