"""Fixtures of the client tests: a real server with a day of history."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from server import Server

#: Devices and history every server fixture starts with.
DEVICES = 2
DAYS = 1
POLL_S = 60


def started(tmp: Path, *extra: str) -> Tuple[Server, List[str]]:
    server = Server(tmp, *extra)
    devices = server.generate(DEVICES, DAYS, POLL_S)
    server.start()
    return server, devices


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Tuple[Server, List[str]]]:
    """A server with a day of history for GEN_0001 and GEN_0002."""
    server, devices = started(tmp_path)
    try:
        yield server, devices
    finally:
        server.stop()


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Tuple[Server, List[str]]]:
    """The same with signed clients limited to 1 request a second."""
    server, devices = started(tmp_path, "--client-rate", "1")
    try:
        yield server, devices
    finally:
        server.stop()
