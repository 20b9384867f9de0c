"""`AsyncClient`: the asyncio client, with the methods of `Client`."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, AsyncIterator, Dict, List, Optional, Type, TypeVar

import httpx

from . import _calls as calls
from ._base import BaseClient
from ._calls import Step, When
from ._models import Alert, Cabinet, Component, Device, Energy, PowerDataPoint, Sample, Series
from ._session import Call, Flow, Page

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(BaseClient):
    """A solarwire server's API for asyncio: the methods of `Client`, awaited.

    Credentials: `api_key`, or `username` and `password`, or a signed
    client's `client_id` and `client_secret` (at most one kind). Tokens
    are obtained on first use and renewed `refresh_margin` seconds before
    they expire; 429 and 503 answers, timeouts and lost connections (reads
    only) are retried `retries` times with backoff, honouring `Retry-After`.
    Use it as an async context manager, or await `close()`.
    """

    _http: httpx.AsyncClient

    def _start(self) -> None:
        self._http = httpx.AsyncClient()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the connections."""
        await self._http.aclose()

    async def _drive(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, float):
                    await asyncio.sleep(step)
                    step = flow.send(None)
                    continue
                try:
                    response = await self._http.send(step)
                except httpx.HTTPError as e:
                    step = flow.throw(e)
                    continue
                step = flow.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    async def _run(self, call: Call[T]) -> T:
        return await self._drive(self._session.run(call))

    async def _iterate(self, call: Optional[Call[Page[T]]]) -> AsyncIterator[T]:
        while call is not None:
            page = await self._run(call)
            for item in page.items:
                yield item
            call = page.next

    def devices(self, *, status: Optional[str] = None) -> AsyncIterator[Device]:
        """Every device (optionally only `online`, `offline`, `never` or `retired`), page by page."""
        return self._iterate(calls.devices(status))

    async def device(self, device_id: str) -> Device:
        """One device."""
        return await self._run(calls.device(device_id))

    async def latest(self, device_id: str) -> Sample:
        """A device's newest sample."""
        return await self._run(calls.latest(device_id))

    def history(
        self, device_id: str, start: When, end: When, *, registers: Optional[List[str]] = None
    ) -> AsyncIterator[Sample]:
        """Samples in `[start, end)`, oldest first, fetched page by page."""
        return self._iterate(calls.history(device_id, start, end, registers))

    async def series(
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
        return await self._run(calls.series(device_id, register, start, end, step, agg))

    async def energy(
        self, device_id: str, period: str = "day", *, at: Optional[str] = None, tz: Optional[str] = None
    ) -> Energy:
        """Energy per hour of a day, day of a month or month of a year (`at`: `2025-11-23`, `2025-11`, `2025`)."""
        return await self._run(calls.energy(device_id, period, at, tz))

    async def alerts(
        self, *, open: Optional[bool] = None, device_id: Optional[str] = None, limit: int = 100
    ) -> List[Alert]:
        """Alerts, newest first."""
        return await self._run(calls.alerts(open, device_id, limit))

    def cabinets(self) -> AsyncIterator[Cabinet]:
        """Every cabinet (site) of the cloud API, page by page."""
        return self._iterate(calls.cabinets())

    async def components(self, sn: str) -> List[Component]:
        """A cabinet's components (its devices)."""
        return await self._run(calls.components(sn))

    async def subscribe(self, device_id: str, sn: str) -> Dict[str, Any]:
        """Subscribes this signed client to a device's live topic."""
        return await self._run(calls.subscribe(device_id, sn))

    async def power_cap(self, sn: str, begin: When, end: When) -> List[PowerDataPoint]:
        """A device's mean AC power per 5 minutes, W."""
        return await self._run(calls.power_cap(sn, begin, end))

    async def power_gen(
        self, sn: str, span: str, *, month: Optional[str] = None, year: Optional[str] = None
    ) -> List[PowerDataPoint]:
        """A device's energy, kWh: `daily` (past 7 days), `monthly` (`month`), `yearly` (`year`)."""
        return await self._run(calls.power_gen(sn, span, month, year))
