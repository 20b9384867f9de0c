"""The API's requests as `Call`s: paths, parameters, answer parsing and
pagination, shared by `Client` and `AsyncClient`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Union
from urllib.parse import quote

from ._models import (
    Alert,
    Cabinet,
    Component,
    Device,
    Energy,
    PowerDataPoint,
    Sample,
    Series,
)
from ._session import Call, Page

#: A time: an aware `datetime` (naive ones are taken as UTC) or Unix milliseconds.
When = Union[datetime, int]
#: A bucket length: a `timedelta` or the server's text (`30s`, `5m`, `1h`).
Step = Union[timedelta, str]

#: Page sizes: the server's maxima for the fleet and history, the cloud default.
DEVICES_PAGE = 200
HISTORY_PAGE = 1000
CABINETS_PAGE = 100


def ms(when: When) -> int:
    """Unix milliseconds of `when`."""
    if isinstance(when, datetime):
        aware = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
        return int(aware.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, int) or when < 0:
        raise ValueError(f"a time is a datetime or Unix milliseconds, not {when!r}")
    return when


def rfc3339(when: When) -> str:
    """RFC 3339 text (UTC) of `when`."""
    t = datetime.fromtimestamp(ms(when) / 1000, tz=timezone.utc)
    return t.isoformat().replace("+00:00", "Z")


def step_text(step: Step) -> str:
    """The server's text for a bucket length (whole seconds)."""
    if isinstance(step, timedelta):
        seconds = int(step.total_seconds())
        if seconds < 1 or seconds != step.total_seconds():
            raise ValueError(f"a step is a whole number of seconds, at least 1, not {step!r}")
        return f"{seconds}s"
    return step


def segment(text: str) -> str:
    """A path segment, percent-encoded."""
    return quote(text, safe="")


def devices(status: Optional[str] = None, offset: int = 0) -> Call[Page[Device]]:
    params: Dict[str, Union[str, int]] = {"limit": DEVICES_PAGE, "offset": offset}
    if status is not None:
        params["status"] = status

    def parse(body: Any) -> Page[Device]:
        items = [Device.from_json(d) for d in body["devices"]]
        end = offset + len(items)
        more = bool(items) and end < int(body["total"])
        return Page(items, devices(status, end) if more else None)

    return Call("GET", "/api/v1/devices", parse, params)


def device(device_id: str) -> Call[Device]:
    return Call("GET", f"/api/v1/devices/{segment(device_id)}", Device.from_json)


def latest(device_id: str) -> Call[Sample]:
    return Call(
        "GET",
        f"/api/v1/devices/{segment(device_id)}/latest",
        lambda body: Sample.from_json(body["sample"]),
    )


def history(
    device_id: str, start: When, end: When, registers: Optional[List[str]] = None
) -> Call[Page[Sample]]:
    start_ms, end_ms = ms(start), ms(end)
    params: Dict[str, Union[str, int]] = {"from": start_ms, "to": end_ms, "limit": HISTORY_PAGE}
    if registers:
        params["registers"] = ",".join(registers)

    def parse(body: Any) -> Page[Sample]:
        items = [Sample.from_json(s) for s in body["samples"]]
        last = items[-1].t_ms if items else None
        more = len(items) == HISTORY_PAGE and last is not None and last + 1 < end_ms
        if not more or last is None:
            return Page(items, None)
        return Page(items, history(device_id, last + 1, end_ms, registers))

    return Call("GET", f"/api/v1/devices/{segment(device_id)}/history", parse, params)


def series(
    device_id: str, register: str, start: When, end: When, step: Step, agg: str
) -> Call[Series]:
    params: Dict[str, Union[str, int]] = {
        "register": register,
        "from": ms(start),
        "to": ms(end),
        "step": step_text(step),
        "agg": agg,
    }
    return Call("GET", f"/api/v1/devices/{segment(device_id)}/series", Series.from_json, params)


def energy(device_id: str, period: str, at: Optional[str], tz: Optional[str]) -> Call[Energy]:
    params = {"period": period}
    if at is not None:
        params["at"] = at
    if tz is not None:
        params["tz"] = tz
    return Call("GET", f"/api/v1/devices/{segment(device_id)}/energy", Energy.from_json, params)


def alerts(open: Optional[bool], device_id: Optional[str], limit: int) -> Call[List[Alert]]:
    params: Dict[str, Union[str, int]] = {"limit": limit}
    if open is not None:
        params["open"] = "true" if open else "false"
    if device_id is not None:
        params["device"] = device_id
    return Call(
        "GET",
        "/api/v1/alerts",
        lambda body: [Alert.from_json(a) for a in body["alerts"]],
        params,
    )


def cabinets(page: int = 1) -> Call[Page[Cabinet]]:
    def parse(body: Any) -> Page[Cabinet]:
        items = [Cabinet.from_json(c) for c in body["data"]]
        more = bool(items) and page * CABINETS_PAGE < int(body["total"])
        return Page(items, cabinets(page + 1) if more else None)

    params = {"page": page, "page_size": CABINETS_PAGE}
    return Call("GET", "/api/v1/dev", parse, params)


def components(sn: str) -> Call[List[Component]]:
    return Call(
        "GET",
        f"/api/v1/dev/{segment(sn)}",
        lambda body: [Component.from_json(c) for c in body["data"]],
    )


def subscribe(device_id: str, sn: str) -> Call[Dict[str, Any]]:
    return Call(
        "POST",
        f"/api/v1/dev/topic/{segment(device_id)}/{segment(sn)}",
        lambda body: dict(body["data"]),
    )


def _points(body: Any) -> List[PowerDataPoint]:
    return [PowerDataPoint.from_json(p) for p in body["data"]]


def power_cap(sn: str, begin: When, end: When) -> Call[List[PowerDataPoint]]:
    params = {"begin": rfc3339(begin), "end": rfc3339(end)}
    return Call("GET", f"/api/v1/dev/pv/power-cap/{segment(sn)}", _points, params)


def power_gen(
    sn: str, span: str, month: Optional[str], year: Optional[str]
) -> Call[List[PowerDataPoint]]:
    if span not in ("daily", "monthly", "yearly"):
        raise ValueError(f"span is daily, monthly or yearly, not {span!r}")
    params = {k: v for k, v in (("month", month), ("year", year)) if v is not None}
    return Call("GET", f"/api/v1/dev/pv/power-gen/{span}/{segment(sn)}", _points, params)
