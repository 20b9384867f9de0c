"""Typed answers: devices, samples, series, energy, alerts, cabinets,
components, PV power points and client tokens (frozen dataclasses)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

__all__ = [
    "Device",
    "Sample",
    "SeriesPoint",
    "Series",
    "EnergyBucket",
    "Energy",
    "Alert",
    "Cabinet",
    "Component",
    "PowerDataPoint",
    "Token",
]

Json = Mapping[str, Any]


def _opt_float(value: Any) -> Optional[float]:
    return None if value is None else float(value)


def _opt_int(value: Any) -> Optional[int]:
    return None if value is None else int(value)


def _opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _optional(name: str) -> Any:
    """An optional library, or an `ImportError` saying how to get it."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f"{name} is needed for this: pip install {name}") from e


@dataclass(frozen=True)
class Device:
    """A device: its registration, state and (in fleet listings) its power and energy today."""

    device_id: str
    name: Optional[str]
    location: Optional[str]
    firmware_version: Optional[str]
    created_ms: Optional[int]
    last_seen_ms: Optional[int]
    status: Optional[str]
    power_w: Optional[float]
    energy_today_wh: Optional[float]
    #: The whole JSON object, for fields not mapped here.
    raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: Json) -> Device:
        return cls(
            device_id=str(d["device_id"]),
            name=_opt_str(d.get("name")),
            location=_opt_str(d.get("location")),
            firmware_version=_opt_str(d.get("firmware_version")),
            created_ms=_opt_int(d.get("created_ms")),
            last_seen_ms=_opt_int(d.get("last_seen_ms")),
            status=_opt_str(d.get("status")),
            power_w=_opt_float(d.get("power_w")),
            energy_today_wh=_opt_float(d.get("energy_today_wh")),
            raw=dict(d),
        )


@dataclass(frozen=True)
class Sample:
    """One sample: raw register values and converted ones, by register name."""

    t_ms: Optional[int]
    device_time: bool
    approximate: bool
    upload_id: int
    packet: int
    raw: Dict[str, int]
    values: Dict[str, Optional[float]]

    @classmethod
    def from_json(cls, d: Json) -> Sample:
        return cls(
            t_ms=_opt_int(d.get("t_ms")),
            device_time=bool(d.get("device_time")),
            approximate=bool(d.get("approximate")),
            upload_id=int(d["upload_id"]),
            packet=int(d["packet"]),
            raw={str(k): int(v) for k, v in d["raw"].items()},
            values={str(k): _opt_float(v) for k, v in d["values"].items()},
        )


@dataclass(frozen=True)
class SeriesPoint:
    """One bucket of a series (`value` None: no samples in it)."""

    t_ms: int
    value: Optional[float]
    count: int


@dataclass(frozen=True)
class Series:
    """One register in aligned time buckets."""

    device_id: str
    register: str
    unit: str
    from_ms: int
    to_ms: int
    step_ms: int
    agg: str
    points: List[SeriesPoint]

    @classmethod
    def from_json(cls, d: Json) -> Series:
        return cls(
            device_id=str(d["device_id"]),
            register=str(d["register"]),
            unit=str(d["unit"]),
            from_ms=int(d["from"]),
            to_ms=int(d["to"]),
            step_ms=int(d["step_ms"]),
            agg=str(d["agg"]),
            points=[
                SeriesPoint(int(p["t_ms"]), _opt_float(p["value"]), int(p["count"]))
                for p in d["points"]
            ],
        )

    def to_pandas(self) -> Any:
        """A `pandas.DataFrame` indexed by bucket start (UTC): `value`, `count`."""
        pd = _optional("pandas")
        frame = pd.DataFrame(
            {
                "value": [p.value for p in self.points],
                "count": [p.count for p in self.points],
            },
            index=pd.to_datetime([p.t_ms for p in self.points], unit="ms", utc=True),
        )
        frame.index.name = "time"
        return frame

    def to_arrow(self) -> Any:
        """A `pyarrow.Table`: `time` (timestamp ms, UTC), `value`, `count`."""
        pa = _optional("pyarrow")
        return pa.table(
            {
                "time": pa.array([p.t_ms for p in self.points], pa.timestamp("ms", tz="UTC")),
                "value": pa.array([p.value for p in self.points], pa.float64()),
                "count": pa.array([p.count for p in self.points], pa.uint64()),
            }
        )


@dataclass(frozen=True)
class EnergyBucket:
    """Energy of one hour, day or month."""

    label: str
    start_ms: int
    end_ms: int
    energy_wh: float
    covered_s: int
    missing_s: int
    complete: bool


@dataclass(frozen=True)
class Energy:
    """Energy per calendar bucket of a day, month or year, Wh."""

    device_id: str
    period: str
    at: str
    timezone: str
    total_wh: float
    missing_s: int
    buckets: List[EnergyBucket]

    @classmethod
    def from_json(cls, d: Json) -> Energy:
        return cls(
            device_id=str(d["device_id"]),
            period=str(d["period"]),
            at=str(d["at"]),
            timezone=str(d["timezone"]),
            total_wh=float(d["total_wh"]),
            missing_s=int(d["missing_s"]),
            buckets=[
                EnergyBucket(
                    label=str(b["label"]),
                    start_ms=int(b["start_ms"]),
                    end_ms=int(b["end_ms"]),
                    energy_wh=float(b["energy_wh"]),
                    covered_s=int(b["covered_s"]),
                    missing_s=int(b["missing_s"]),
                    complete=bool(b["complete"]),
                )
                for b in d["buckets"]
            ],
        )


@dataclass(frozen=True)
class Alert:
    """An alert raised by a rule."""

    id: int
    rule_id: int
    device_id: str
    opened_ms: int
    closed_ms: Optional[int]
    value: Optional[float]
    message: str
    open: bool
    rule_name: Optional[str]
    kind: Optional[str]

    @classmethod
    def from_json(cls, d: Json) -> Alert:
        return cls(
            id=int(d["id"]),
            rule_id=int(d["rule_id"]),
            device_id=str(d["device_id"]),
            opened_ms=int(d["opened_ms"]),
            closed_ms=_opt_int(d.get("closed_ms")),
            value=_opt_float(d.get("value")),
            message=str(d["message"]),
            open=bool(d["open"]),
            rule_name=_opt_str(d.get("rule_name")),
            kind=_opt_str(d.get("kind")),
        )


@dataclass(frozen=True)
class Cabinet:
    """A cabinet (a site: devices grouped by location) of the cloud API."""

    id: str
    sn: str
    name: str
    model: str
    time_zone: str
    created_at: str
    updated_at: str
    components: int

    @classmethod
    def from_json(cls, d: Json) -> Cabinet:
        return cls(
            id=str(d["id"]),
            sn=str(d["sn"]),
            name=str(d["name"]),
            model=str(d["model"]),
            time_zone=str(d["time_zone"]),
            created_at=str(d["created_at"]),
            updated_at=str(d["updated_at"]),
            components=int(d["components"]),
        )


@dataclass(frozen=True)
class Component:
    """A component (a device) of a cabinet."""

    sn: str
    name: str
    model: Optional[str]
    type: str
    state: str
    location_code: Optional[str]
    cabinet_sn: str
    component: str
    component_desc: str

    @classmethod
    def from_json(cls, d: Json) -> Component:
        return cls(
            sn=str(d["sn"]),
            name=str(d["name"]),
            model=_opt_str(d.get("model")),
            type=str(d["type"]),
            state=str(d["state"]),
            location_code=_opt_str(d.get("location_code")),
            cabinet_sn=str(d["cabinet_sn"]),
            component=str(d["component"]),
            component_desc=str(d["component_desc"]),
        )


@dataclass(frozen=True)
class PowerDataPoint:
    """A PV point: `time` (RFC 3339) and `value` (W, or kWh for generation)."""

    time: str
    value: Optional[float]

    @classmethod
    def from_json(cls, d: Json) -> PowerDataPoint:
        return cls(time=str(d["time"]), value=_opt_float(d.get("value")))


@dataclass(frozen=True)
class Token:
    """A signed client's token and MQTT details (`GET /comm/client`)."""

    token: str = field(repr=False)
    expires_in: int
    id: str
    username: str
    password: str = field(repr=False)
    topics: List[str]

    @classmethod
    def from_json(cls, d: Json) -> Token:
        return cls(
            token=str(d["token"]),
            expires_in=int(d["expires_in"]),
            id=str(d["id"]),
            username=str(d["username"]),
            password=str(d["password"]),
            topics=[str(g["topic"]) for g in d.get("acl", [])],
        )
