"""The per-request overhead of solarwire.client over raw httpx.

Against a running server, times `Client.latest(device)` and the same GET
with a bare `httpx.Client` (JSON decoded, no models), in alternating rounds,
and prints the median per-request wall time and this process's CPU time
(the client's own cost, without the server's) and their differences.

    python bench/client_overhead.py http://127.0.0.1:8080 --api-key swk_… --device GEN_0001
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Callable, Dict, List, Tuple

import httpx

from solarwire.client import Client


def per_request_us(run: Callable[[], object], n: int) -> Tuple[float, float]:
    """Wall and CPU microseconds per call."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        run()
    return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description="solarwire.client overhead over raw httpx")
    parser.add_argument("url")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("-n", type=int, default=500, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    url = f"{args.url.rstrip('/')}/api/v1/devices/{args.device}/latest"
    raw_times: List[Tuple[float, float]] = []
    client_times: List[Tuple[float, float]] = []
    with httpx.Client(headers={"X-API-Key": args.api_key}) as raw, Client(
        args.url, api_key=args.api_key
    ) as sw:
        per_request_us(lambda: sw.latest(args.device), 50)  # warm both connection pools
        per_request_us(lambda: raw.get(url).json(), 50)
        for _ in range(args.rounds):
            raw_times.append(per_request_us(lambda: raw.get(url).json(), args.n))
            client_times.append(per_request_us(lambda: sw.latest(args.device), args.n))
    result: Dict[str, float] = {"requests": args.n * args.rounds}
    for at, kind in ((0, "wall"), (1, "cpu")):
        raw_us = statistics.median(t[at] for t in raw_times)
        client_us = statistics.median(t[at] for t in client_times)
        result[f"raw_httpx_{kind}_us"] = round(raw_us, 1)
        result[f"client_{kind}_us"] = round(client_us, 1)
        result[f"overhead_{kind}_us"] = round(client_us - raw_us, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
