"""A real `solarwire serve` (the binary cargo built) on a free loopback port
with a temporary data directory, for the client's tests and examples.

The binary is `$SOLARWIRE_BIN`, else the workspace's `target/debug/solarwire`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import httpx

ROOT = Path(__file__).resolve().parents[2]


def binary() -> Path:
    """The `solarwire` binary to run."""
    path = Path(os.environ.get("SOLARWIRE_BIN", ROOT / "target" / "debug" / "solarwire"))
    if not path.is_file():
        raise FileNotFoundError(
            f"no solarwire binary at {path}: cargo build -p solarwire-server (or set SOLARWIRE_BIN)"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A server process; `stop()` and `start()` again keep its port and data."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = list(extra)
        self.admin_token = secrets.token_hex(24)
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.log = data_dir / "server.log"

    def command(self, *args: str) -> str:
        """Runs a `solarwire` command on the data directory; its standard output."""
        done = subprocess.run(
            [str(binary()), "--data-dir", str(self.data_dir), "--log", "warn", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(binary()),
                    "--data-dir",
                    str(self.data_dir),
                    "--log",
                    "warn",
                    "serve",
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--admin-token",
                    self.admin_token,
                    "--retention-days",
                    "0",
                    *self.extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"solarwire serve exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("solarwire serve did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def admin(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        """An admin API call (with the break-glass token); its JSON answer."""
        r = httpx.request(
            method,
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        r.raise_for_status()
        return r.json()

    def api_key(self, scope: str = "read") -> Dict[str, Any]:
        """A new API key's record and key (`key`)."""
        answer: Dict[str, Any] = self.admin("POST", "/api/v1/keys", {"name": "tests", "scope": scope})
        return answer

    def signed_client(self) -> Tuple[str, str]:
        """A new signed client, made with the CLI: its id and secret."""
        created = json.loads(self.command("client", "add", "tests", "--json"))
        return str(created["client_id"]), str(created["client_secret"])

    def rows(self, table: str) -> int:
        """Rows in a table of the database."""
        with sqlite3.connect(self.data_dir / "solarwire.sqlite") as db:
            count: int = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            return count

    def generate(self, devices: int, days: int, poll_interval: int) -> List[str]:
        """Simulated history (server stopped); the device ids."""
        self.command(
            "generate-history",
            "--devices",
            str(devices),
            "--days",
            str(days),
            "--poll-interval",
            str(poll_interval),
        )
        return [f"GEN_{i:04}" for i in range(1, devices + 1)]
