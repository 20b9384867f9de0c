"""The HTTP client of a solarwire server: `Client` (blocking) and
`AsyncClient` (asyncio) with the same methods, typed answers, typed
errors, token renewal, retries with backoff and paginated iterators.

    from solarwire.client import Client

    with Client("http://127.0.0.1:8080", api_key="swk_…") as sw:
        for device in sw.devices():
            print(device.device_id, sw.energy(device.device_id, "month").total_wh)

Credentials: an API key, a user's name and password, or a signed client's
id and secret (`solarwire client add NAME`). Errors: `APIError` (`.status`,
`.code`: the server's stable code) and its kinds `AuthError`,
`NotFoundError`, `RateLimitError`, `TimeoutError`.
"""

from ._async import AsyncClient
from ._auth import sign
from ._errors import APIError, AuthError, NotFoundError, RateLimitError, TimeoutError
from ._models import (
    Alert,
    Cabinet,
    Component,
    Device,
    Energy,
    EnergyBucket,
    PowerDataPoint,
    Sample,
    Series,
    SeriesPoint,
    Token,
)
from ._sync import Client

__all__ = [
    "Client",
    "AsyncClient",
    "APIError",
    "AuthError",
    "NotFoundError",
    "RateLimitError",
    "TimeoutError",
    "Device",
    "Sample",
    "Series",
    "SeriesPoint",
    "Energy",
    "EnergyBucket",
    "Alert",
    "Cabinet",
    "Component",
    "PowerDataPoint",
    "Token",
    "sign",
]
