"""solarwire.client against a real `solarwire serve`: sync and async, every
kind of credentials, token renewal, 429 backoff, revoked credentials, typed
errors and a server restart in the middle of an iteration."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from server import Server
from solarwire.client import (
    APIError,
    AsyncClient,
    AuthError,
    Client,
    NotFoundError,
    RateLimitError,
    Sample,
    TimeoutError,
)

Fleet = Tuple[Server, List[str]]
DAY_MS = 86_400_000


class Clock:
    """A clock the test moves (token expiry bookkeeping only)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def window(server: Server, device: str) -> Tuple[int, int]:
    """The device's data span, `[first, last + 1)`, Unix ms."""
    with Client(server.url, api_key=server.api_key()["key"]) as sw:
        last = sw.latest(device).t_ms
    assert last is not None
    return last - 2 * DAY_MS, last + 1


def test_reads_with_an_api_key(fleet: Fleet) -> None:
    server, devices = fleet
    start, end = window(server, devices[0])
    with Client(server.url, api_key=server.api_key()["key"]) as sw:
        assert sorted(d.device_id for d in sw.devices()) == devices
        device = sw.device(devices[0])
        assert device.device_id == devices[0] and device.created_ms is not None
        latest = sw.latest(devices[0])
        assert isinstance(latest, Sample) and "Pac" in latest.values
        samples = list(sw.history(devices[0], start, end))
        # More than a page: the iterator fetched them all, in order, once each.
        assert len(samples) == server_samples(server, devices[0]) > 1000
        times = [s.t_ms or 0 for s in samples]
        assert times == sorted(set(times))
        assert samples[-1] == latest
        series = sw.series(devices[0], "Pac", end - DAY_MS, end, "1h")
        assert series.unit == "W" and series.step_ms == 3_600_000
        assert sum(p.count for p in series.points) > 0
        energy = sw.energy(devices[0], "month")
        assert energy.period == "month" and energy.total_wh == sum(b.energy_wh for b in energy.buckets)
        assert sw.alerts() == []


def server_samples(server: Server, device: str) -> int:
    import sqlite3

    with sqlite3.connect(server.data_dir / "solarwire.sqlite") as db:
        count: int = db.execute("SELECT samples FROM devices WHERE device_id = ?", (device,)).fetchone()[0]
        return count


def test_async_answers_equal_the_sync_ones(fleet: Fleet) -> None:
    server, devices = fleet
    key = server.api_key()["key"]
    start, end = window(server, devices[0])

    async def read() -> Dict[str, Any]:
        async with AsyncClient(server.url, api_key=key) as sw:
            return {
                "devices": [d async for d in sw.devices()],
                "history": [s async for s in sw.history(devices[0], start, end)],
                "series": await sw.series(devices[0], "Pac", start, end, "1h"),
                "energy": await sw.energy(devices[0], "day"),
                "latest": await sw.latest(devices[1]),
            }

    got = asyncio.run(read())
    with Client(server.url, api_key=key) as sw:
        assert got["devices"] == list(sw.devices())
        assert got["history"] == list(sw.history(devices[0], start, end))
        assert got["series"] == sw.series(devices[0], "Pac", start, end, "1h")
        assert got["energy"] == sw.energy(devices[0], "day")
        assert got["latest"] == sw.latest(devices[1])


def test_signed_client_renews_its_token_before_it_expires(fleet: Fleet) -> None:
    server, devices = fleet
    client_id, secret = server.signed_client()
    clock = Clock()
    with Client(server.url, clock=clock, client_id=client_id, client_secret=secret) as sw:
        cabinets = list(sw.cabinets())
        assert sorted(c.sn for c in cabinets) == devices
        grant = sw.grant
        assert grant is not None and grant.expires_in == 86_400 and grant.topics == []
        assert server.rows("client_nonces") == 1
        clock.now += 86_400 - 301  # not yet due: the same token
        sw.components(devices[0])
        assert server.rows("client_nonces") == 1
        clock.now += 2  # within 5 minutes of expiry: renewed before the call
        parts = sw.components(devices[0])
        assert server.rows("client_nonces") == 2
        assert [p.sn for p in parts] == [devices[0]] and parts[0].component == "pv.inv"
        subscribed = sw.subscribe(devices[0], devices[0])
        assert subscribed["topic"] == f"solarwire/{devices[0]}/samples"
        days = sw.power_gen(devices[0], "daily")
        assert len(days) == 7 and all(p.value is not None for p in days)
        curve = sw.power_cap(devices[0], *window(server, devices[0]))
        assert any(p.value is not None for p in curve)

    async def renewed() -> List[str]:
        async with AsyncClient(server.url, clock=clock, client_id=client_id, client_secret=secret) as sw:
            await sw.components(devices[1])
            clock.now += 86_400
            return [p.sn for p in await sw.components(devices[1])]

    assert asyncio.run(renewed()) == [devices[1]]
    assert server.rows("client_nonces") == 4


def test_login_renews_with_the_refresh_token(fleet: Fleet) -> None:
    server, devices = fleet
    password = "a long enough passphrase"
    server.admin("POST", "/api/v1/users", {"name": "ops", "role": "viewer", "password": password})
    clock = Clock()
    with Client(server.url, username="ops", password=password, clock=clock) as sw:
        sw.device(devices[0])
        assert server.rows("refresh_tokens") == 1
        clock.now += 30 * 60
        sw.device(devices[0])
        assert server.rows("refresh_tokens") == 2, "renewed with the refresh token, not a new login"
    with pytest.raises(AuthError) as bad:
        Client(server.url, username="ops", password="wrong password!").device(devices[0])
    assert (bad.value.status, bad.value.code) == (401, "invalid_credentials")


def test_rate_limits_are_waited_out(limited: Fleet) -> None:
    server, devices = limited
    client_id, secret = server.signed_client()
    with Client(server.url, client_id=client_id, client_secret=secret) as sw:
        # One request a second: each of these waits for the Retry-After.
        assert [sw.device(devices[0]).device_id for _ in range(3)] == [devices[0]] * 3
    with Client(server.url, retries=0, client_id=client_id, client_secret=secret) as sw:
        with pytest.raises(RateLimitError) as limited_error:
            for _ in range(3):
                sw.device(devices[0])
    error = limited_error.value
    assert (error.status, error.code) == (429, "rate_limited")
    assert error.retry_after is not None and error.retry_after >= 1


def test_a_revoked_key_is_an_auth_error(fleet: Fleet) -> None:
    server, devices = fleet
    key = server.api_key()
    with Client(server.url, api_key=key["key"]) as sw:
        assert sw.device(devices[0]).device_id == devices[0]
        server.admin("DELETE", f"/api/v1/keys/{key['id']}")
        with pytest.raises(AuthError) as revoked:
            sw.device(devices[0])
    assert (revoked.value.status, revoked.value.code) == (401, "unauthorized")
    client_id, secret = server.signed_client()
    server.command("client", "revoke", client_id)
    with pytest.raises(AuthError), Client(server.url, client_id=client_id, client_secret=secret) as sw:
        sw.device(devices[0])


def test_errors_are_typed(fleet: Fleet) -> None:
    server, devices = fleet
    with Client(server.url, api_key=server.api_key()["key"]) as sw:
        with pytest.raises(NotFoundError) as missing:
            sw.device("NO_SUCH_DEVICE")
        assert (missing.value.status, missing.value.code) == (404, "unknown_device")
        with pytest.raises(APIError) as bad:
            sw.series(devices[0], "Pac", 2000, 1000)
        assert (bad.value.status, bad.value.code) == (400, "bad_range")
        with pytest.raises(APIError) as unknown:
            sw.series(devices[0], "NotARegister", 0, 1000)
        assert unknown.value.code == "unknown_register"
        with pytest.raises(ValueError):
            sw.power_gen(devices[0], "hourly")
    with pytest.raises(AuthError) as anonymous, Client(server.url) as sw:
        sw.device(devices[0])
    assert anonymous.value.code == "unauthorized"
    with pytest.raises(ValueError):
        Client(server.url, api_key="k", username="u", password="p")


def test_a_silent_server_is_a_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with Client(url, api_key="swk_x", timeout=0.5, retries=0) as sw:
            with pytest.raises(TimeoutError) as timed_out:
                sw.device("D1")
    assert isinstance(timed_out.value, APIError) and timed_out.value.status == 0


def test_iteration_survives_a_server_restart(fleet: Fleet) -> None:
    server, devices = fleet
    start, end = window(server, devices[0])
    with Client(server.url, api_key=server.api_key()["key"], backoff=0.2, retries=8) as sw:
        samples = sw.history(devices[0], start, end)
        first = [next(samples) for _ in range(10)]
        server.stop()
        def restart_later() -> None:
            time.sleep(1)
            server.start()

        restart = threading.Thread(target=restart_later)
        restart.start()
        try:
            rest = list(samples)  # the next page waits for the server to be back
        finally:
            restart.join()
        whole = first + rest
        assert len(whole) == server_samples(server, devices[0])
        times = [s.t_ms or 0 for s in whole]
        assert times == sorted(set(times))


def test_the_fleet_energy_example_writes_the_report(fleet: Fleet, tmp_path: Path) -> None:
    import csv
    import subprocess
    import sys

    server, devices = fleet
    key = server.api_key()["key"]
    out = tmp_path / "energy.csv"
    example = Path(__file__).resolve().parents[1] / "examples" / "fleet_energy.py"
    # As the README shows it.
    args = [server.url, "--api-key", key, "--period", "month", "-o", str(out)]
    done = subprocess.run([sys.executable, str(example), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    with Client(server.url, api_key=key) as sw:
        expected = {d: f"{sw.energy(d, 'month').total_wh / 1000:.3f}" for d in devices}
    assert {r["device_id"]: r["energy_kwh"] for r in rows} == expected
    assert any(float(v) > 0 for v in expected.values())
    assert "fleet total:" in done.stderr
    bad = subprocess.run(
        [sys.executable, str(example), server.url, "--api-key", "swk_revoked"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "unauthorized" in bad.stderr


def test_series_tables_need_their_libraries(fleet: Fleet) -> None:
    import importlib.util

    server, devices = fleet
    start, end = window(server, devices[0])
    with Client(server.url, api_key=server.api_key()["key"]) as sw:
        series = sw.series(devices[0], "Pac", start, end, "1h")
    for library, convert in (("pandas", series.to_pandas), ("pyarrow", series.to_arrow)):
        if importlib.util.find_spec(library) is None:
            with pytest.raises(ImportError, match=f"pip install {library}"):
                convert()
        else:
            table = convert()
            assert len(table) == len(series.points)
