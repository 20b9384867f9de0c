"""EcoWatt envelopes, codecs and register conversions: the solarwire core.

Every error is a `SolarwireError` (a `ValueError`) whose `code` is the
stable code shared with the server, the wasm build and the vector files.
Wrong argument types raise `TypeError`.
"""

from array import array
from typing import Iterable, Literal, Sequence, TypedDict, final

__all__ = [
    "SolarwireError",
    "EnvelopeError",
    "ReplayError",
    "CodecError",
    "UnitError",
    "UploadError",
    "ArgumentError",
    "Keys",
    "Opened",
    "Sealed",
    "open_envelope",
    "seal_envelope",
    "TemporalState",
    "Decoded",
    "Batch",
    "decode_packet",
    "decode_packets",
    "encode_packet",
    "Profile",
    "Register",
    "Reading",
    "Flag",
    "registers",
    "convert_register",
    "StreamState",
    "Upload",
    "Sample",
    "PacketReport",
    "parse_upload",
    "inspect",
]

_Bytes = bytes | bytearray | memoryview
_Text = str | bytes | bytearray | memoryview
_Ids = bytes | bytearray | Sequence[int]
_Profile = str | Profile | None
_Method = Literal["smart", "temporal", "bit_packed", "dictionary", "semantic_rle", "codec_v2"]

class SolarwireError(ValueError):
    """Base of every solarwire error; `code` is the stable error code."""

    code: str

class EnvelopeError(SolarwireError):
    """The envelope's structure, decryption or MAC failed."""

class ReplayError(SolarwireError):
    """The nonce is not greater than the last accepted one."""

class CodecError(SolarwireError):
    """A packet could not be decoded."""

class UnitError(SolarwireError):
    """An unknown register or profile, a raw value out of range, or an invalid catalog."""

class UploadError(SolarwireError):
    """An upload body of the wrong shape or size."""

class ArgumentError(SolarwireError):
    """An argument whose value the core refuses (an encoder's method or register ids, a key's parts)."""

# Envelopes

@final
class Keys:
    """A device's secrets: the HMAC key and an optional AES-128 key and IV."""

    def __new__(
        cls,
        mac_key: _Bytes,
        aes_key: _Bytes | None = None,
        aes_iv: _Bytes | None = None,
    ) -> Keys: ...
    @property
    def has_aes(self) -> bool: ...

@final
class Opened:
    """A verified envelope."""

    @property
    def nonce(self) -> int: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def encrypted(self) -> bool: ...
    @property
    def compressed(self) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Sealed:
    """A sealed envelope: the text the device posts, and its parts."""

    @property
    def envelope(self) -> str: ...
    @property
    def mac_hex(self) -> str: ...
    @property
    def payload_b64(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...

def open_envelope(envelope: _Text, keys: Keys, *, last_nonce: int | None = None) -> Opened:
    """Parses, decrypts if flagged, verifies the MAC, then checks the nonce
    against `last_nonce` (the highest already accepted) — in that order."""

def seal_envelope(
    payload: _Text,
    nonce: int,
    keys: Keys,
    *,
    encrypt: bool = False,
    compressed: bool = False,
) -> Sealed:
    """Seals `payload` under `nonce` exactly as the device does."""

# Codecs

@final
class TemporalState:
    """The device's temporal history ring; picklable through its byte form."""

    def __new__(cls) -> TemporalState: ...
    @staticmethod
    def from_history(register_ids: _Ids, history: Sequence[Sequence[int]]) -> TemporalState: ...
    @staticmethod
    def from_bytes(data: _Bytes) -> TemporalState: ...
    def to_bytes(self) -> bytes: ...
    def skip(self, register_ids: _Ids | None = None) -> None: ...
    def forget(self) -> None: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Decoded:
    """A decoded packet."""

    @property
    def method(self) -> str: ...
    @property
    def values(self) -> array[int]: ...
    @property
    def register_ids(self) -> list[int] | None: ...
    @property
    def exact(self) -> list[bool] | None: ...
    @property
    def approximate(self) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Batch:
    """Many packets decoded into one buffer."""

    @property
    def values(self) -> array[int]: ...
    @property
    def counts(self) -> array[int]: ...
    @property
    def errors(self) -> dict[int, str]: ...

def decode_packet(
    packet: _Bytes,
    state: TemporalState | None = None,
    *,
    register_ids: _Ids | None = None,
    expected_count: int | None = None,
    max_values: int | None = None,
) -> Decoded:
    """Decodes one packet; with `state`, as the next packet of a device's stream."""

def decode_packets(packets: Iterable[_Bytes], state: TemporalState | None = None) -> Batch:
    """Decodes many packets into one buffer; failures are listed in `errors`."""

def encode_packet(
    values: Sequence[int],
    register_ids: _Ids | None = None,
    *,
    method: _Method | None = "smart",
    state: TemporalState | None = None,
) -> bytes:
    """Encodes one upload cycle's values as the device does."""

# Registers

@final
class Profile:
    """A register table: a built-in one by name, or another model's from JSON."""

    def __new__(cls, name: str) -> Profile: ...
    @staticmethod
    def from_json(text: str) -> Profile: ...
    @staticmethod
    def builtin_names() -> list[str]: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def kind(self) -> Literal["inverter-logger", "bess-rack", "pcs", "meter", "string-inverter"]:
        """The kind of device the table belongs to."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Register:
    """One register of a profile."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def addr(self) -> int: ...
    @property
    def unit(self) -> str: ...
    @property
    def scale(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def decimals(self) -> int: ...
    @property
    def kind(self) -> Literal["u16", "i16"]: ...
    @property
    def writable(self) -> bool: ...
    @property
    def description(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Reading:
    """A raw register value in engineering units."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def raw(self) -> int: ...
    @property
    def value(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def state(self) -> str | None:
        """A mode register's state name (`Charging`), else None."""
    @property
    def flags(self) -> list[Flag]:
        """A status word's set bits with their meaning, in bit order."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class Flag:
    """The meaning of a bit set in a status word."""

    @property
    def bit(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def severity(self) -> Literal["info", "warning", "alarm", "protection", "fault"]: ...
    def __eq__(self, value: object, /) -> bool: ...

def registers(profile: _Profile = None) -> list[Register]:
    """The registers of a profile (default `ecowatt-1.3`), in id order."""

def convert_register(register: str | int, raw: int, profile: _Profile = None) -> Reading:
    """Converts a raw value of a register (name or id) to engineering units."""

# Uploads

@final
class StreamState:
    """What a decoder remembers about one device's uploads; picklable."""

    def __new__(cls) -> StreamState: ...
    @staticmethod
    def after_boot() -> StreamState: ...
    @staticmethod
    def from_bytes(data: _Bytes) -> StreamState: ...
    def to_bytes(self) -> bytes: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Sample:
    """One sample: its time when known and `(register id, raw value)` pairs."""

    @property
    def t_ms(self) -> int | None: ...
    @property
    def registers(self) -> list[tuple[int, int]]: ...
    @property
    def approximate(self) -> bool: ...
    @property
    def packet(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class PacketReport:
    """What happened to one packet of an upload."""

    @property
    def index(self) -> int: ...
    @property
    def method(self) -> str | None: ...
    @property
    def size(self) -> int: ...
    @property
    def values(self) -> int: ...
    @property
    def samples(self) -> int: ...
    @property
    def outcome(self) -> Literal["decoded", "duplicate", "failed"]: ...
    @property
    def error(self) -> str | None: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Upload:
    """A processed upload: who sent it, under which nonce, and its samples."""

    @property
    def device_id(self) -> str: ...
    @property
    def nonce(self) -> int | None: ...
    @property
    def samples(self) -> list[Sample]: ...
    @property
    def packets(self) -> list[PacketReport]: ...

def parse_upload(
    body: _Text,
    *,
    format: Literal["aggregated", "legacy_process"] = "aggregated",
    device_id: str | None = None,
    keys: Keys | None = None,
    last_nonce: int | None = None,
    state: StreamState | None = None,
    received_ms: int | None = None,
    profile: _Profile = None,
) -> Upload:
    """Opens, parses, checks replay and decodes a device's request body; the profile's
    sentinel values (the default profile's without one) become missing values."""

# Inspection (the core's report, as plain dicts)

class _Stage(TypedDict):
    name: str
    status: Literal["pass", "fail", "skipped"]
    code: str | None
    message: str

class _EnvelopeInfo(TypedDict):
    nonce: int
    encrypted: bool
    compressed: bool
    verified: bool
    payload_text: str | None

class _PacketInfo(TypedDict):
    index: int
    method: str | None
    size: int
    original_size: int
    ratio_permille: int | None
    values: list[int]
    outcome: Literal["decoded", "duplicate", "failed"]
    error: str | None
    approximate: bool
    hex: str

class _ReadingInfo(TypedDict):
    id: int
    name: str
    raw: int
    value: float | None
    unit: str
    text: str

class _SampleInfo(TypedDict):
    t_ms: int | None
    packet: int
    approximate: bool
    readings: list[_ReadingInfo]

class _Inspection(TypedDict):
    kind: Literal["envelope", "upload_body", "packet", "unrecognised"]
    stages: list[_Stage]
    envelope: _EnvelopeInfo | None
    device_id: str | None
    packets: list[_PacketInfo]
    samples: list[_SampleInfo]

def inspect(text: str, keys: Keys | None = None, profile: _Profile = None) -> _Inspection:
    """Explains an envelope, an upload body, or one packet in hex or base64."""
