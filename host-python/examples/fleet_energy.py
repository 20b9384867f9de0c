"""Write a CSV of every device's energy over a day, month or year.

Reads the fleet and each device's energy from a solarwire server with
solarwire.client; one row per device, energy in kWh and the hours without
data. The API key comes from --api-key or SOLARWIRE_API_KEY.

    python fleet_energy.py http://127.0.0.1:8080 --api-key swk_… --period month -o energy.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import List, Optional, TextIO

from solarwire.client import APIError, Client

COLUMNS = ["device_id", "name", "location", "status", "period", "at", "energy_kwh", "missing_h"]


def report(sw: Client, period: str, at: Optional[str], tz: Optional[str], out: TextIO) -> float:
    """Writes the CSV; the fleet's total, kWh."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    total = 0.0
    for device in sw.devices():
        energy = sw.energy(device.device_id, period, at=at, tz=tz)
        kwh = energy.total_wh / 1000
        total += kwh
        writer.writerow(
            [
                device.device_id,
                device.name or "",
                device.location or "",
                device.status or "",
                energy.period,
                energy.at,
                f"{kwh:.3f}",
                f"{energy.missing_s / 3600:.2f}",
            ]
        )
    return total


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--api-key", default=os.environ.get("SOLARWIRE_API_KEY"))
    parser.add_argument("--period", choices=["day", "month", "year"], default="day")
    parser.add_argument("--at", help="which one: 2025-11-23, 2025-11 or 2025 (default: the current)")
    parser.add_argument("--tz", help="IANA time zone of the calendar (default: the server's)")
    parser.add_argument("-o", "--output", help="CSV file (default: standard output)")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("an API key is needed: --api-key or SOLARWIRE_API_KEY")
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        with Client(args.url, api_key=args.api_key) as sw:
            total = report(sw, args.period, args.at, args.tz, out)
    except APIError as e:
        print(f"fleet_energy: {e}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"fleet total: {total:.3f} kWh", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
