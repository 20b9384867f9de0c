"""`Client`: the blocking client."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Dict, Iterator, List, Optional, Type, TypeVar

import httpx

from . import _calls as calls
from ._base import BaseClient
from ._calls import Step, When
from ._models import Alert, Cabinet, Component, Device, Energy, PowerDataPoint, Sample, Series
from ._session import Call, Flow, Page

__all__ = ["Client"]

T = TypeVar("T")


class Client(BaseClient):
    """A solarwire server's API, blocking.

    Credentials: `api_key`, or `username` and `password`, or a signed
    client's `client_id` and `client_secret` (at most one kind). Tokens
    are obtained on first use and renewed `refresh_margin` seconds before
    they expire; 429 and 503 answers, timeouts and lost connections (reads
    only) are retried `retries` times with backoff, honouring `Retry-After`.
    Use it as a context manager, or call `close()`.
    """

    _http: httpx.Client

    def _start(self) -> None:
        self._http = httpx.Client()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections."""
        self._http.close()

    def _drive(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, float):
                    time.sleep(step)
                    step = flow.send(None)
                    continue
                try:
                    response = self._http.send(step)
                except httpx.HTTPError as e:
                    step = flow.throw(e)
                    continue
                step = flow.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    def _run(self, call: Call[T]) -> T:
        return self._drive(self._session.run(call))

    def _iterate(self, call: Optional[Call[Page[T]]]) -> Iterator[T]:
        while call is not None:
            page = self._run(call)
            yield from page.items
            call = page.next

    def devices(self, *, status: Optional[str] = None) -> Iterator[Device]:
        """Every device (optionally only `online`, `offline`, `never` or `retired`), page by page."""
        return self._iterate(calls.devices(status))

    def device(self, device_id: str) -> Device:
        """One device."""
        return self._run(calls.device(device_id))

    def latest(self, device_id: str) -> Sample:
        """A device's newest sample."""
        return self._run(calls.latest(device_id))

    def history(
        self, device_id: str, start: When, end: When, *, registers: Optional[List[str]] = None
    ) -> Iterator[Sample]:
        """Samples in `[start, end)`, oldest first, fetched page by page."""
        return self._iterate(calls.history(device_id, start, end, registers))

    def series(
        self,
        device_id: str,
        register: str,
        start: When,
        end: When,
        step: Step = "5m",
        *,
        agg: str = "avg",
    ) -> Series:
        """One register in aligned buckets of `step` (`avg`, `min`, `max` or `last`)."""
        return self._run(calls.series(device_id, register, start, end, step, agg))

    def energy(
        self, device_id: str, period: str = "day", *, at: Optional[str] = None, tz: Optional[str] = None
    ) -> Energy:
        """Energy per hour of a day, day of a month or month of a year (`at`: `2025-11-23`, `2025-11`, `2025`)."""
        return self._run(calls.energy(device_id, period, at, tz))

    def alerts(
        self, *, open: Optional[bool] = None, device_id: Optional[str] = None, limit: int = 100
    ) -> List[Alert]:
        """Alerts, newest first."""
        return self._run(calls.alerts(open, device_id, limit))

    def cabinets(self) -> Iterator[Cabinet]:
        """Every cabinet (site) of the cloud API, page by page."""
        return self._iterate(calls.cabinets())

    def components(self, sn: str) -> List[Component]:
        """A cabinet's components (its devices)."""
        return self._run(calls.components(sn))

    def subscribe(self, device_id: str, sn: str) -> Dict[str, Any]:
        """Subscribes this signed client to a device's live topic."""
        return self._run(calls.subscribe(device_id, sn))

    def power_cap(self, sn: str, begin: When, end: When) -> List[PowerDataPoint]:
        """A device's mean AC power per 5 minutes, W."""
        return self._run(calls.power_cap(sn, begin, end))

    def power_gen(
        self, sn: str, span: str, *, month: Optional[str] = None, year: Optional[str] = None
    ) -> List[PowerDataPoint]:
        """A device's energy, kWh: `daily` (past 7 days), `monthly` (`month`), `yearly` (`year`)."""
        return self._run(calls.power_gen(sn, span, month, year))
