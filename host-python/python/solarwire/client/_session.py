"""The request flow shared by `Client` and `AsyncClient`, without I/O: a
generator that yields the requests to send (and the seconds to sleep) and
is sent the answers, so the sync and async drivers stay a few lines each.

Per call: obtain or renew the token when due; send; on `token_expired`
renew once and resend; on 429 and 503 wait (`Retry-After`, else
exponential backoff) and resend, up to `retries` times; on a timeout or a
lost connection do the same for reads (a server restart mid-iteration is
waited out).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generator, Generic, List, Mapping, Optional, TypeVar, Union

import httpx

from ._auth import Credentials
from ._errors import APIError, AuthError, TimeoutError, error_for

__all__ = ["Call", "Page", "Session", "Step"]

T = TypeVar("T")
#: What a flow asks its driver for: send this request, or sleep this long.
Step = Union[httpx.Request, float]
Flow = Generator[Step, Optional[httpx.Response], T]

#: Statuses retried after a wait: the server did not act on the request.
RETRIED = frozenset({429, 503})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request and how its JSON answer becomes a `T`."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Optional[Mapping[str, Union[str, int, float]]] = None
    #: Whether resending after a lost answer is safe.
    idempotent: bool = True


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of items and the call for the next one (`None`: the last)."""

    items: List[T]
    next: Optional[Call[Page[T]]]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Session:
    """Base URL, credentials, timeouts and the retry policy of a client."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        clock: Callable[[], float],
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = httpx.Timeout(timeout)
        self.retries = retries
        self.backoff = backoff
        self.clock = clock

    def request(self, call: Call[Any]) -> httpx.Request:
        """The HTTP request of `call`, with the credentials' headers."""
        request = httpx.Request(
            call.method,
            f"{self.base_url}{call.path}",
            params=dict(call.params) if call.params else None,
            headers=self.headers(),
        )
        request.extensions["timeout"] = self.timeout.as_dict()
        return request

    def headers(self) -> Dict[str, str]:
        return {"Accept": "application/json", **self.credentials.headers()}

    def run(self, call: Call[T]) -> Flow[T]:
        """The flow of one call: its result, or an `APIError`."""
        attempt = 0
        renewed = False
        while True:
            try:
                yield from self._authenticate()
                response = yield self.request(call)
                assert response is not None
                if response.status_code < 400:
                    return call.parse(_json(response))
                error = error_for(
                    response.status_code, _json(response), response.headers.get("retry-after")
                )
                if error.code == "token_expired" and not renewed:
                    self.credentials.expire()
                    renewed = True
                    continue
            except httpx.TimeoutException as e:
                error = TimeoutError(f"no answer in time: {e}", code="timeout")
            except httpx.TransportError as e:
                error = APIError(f"cannot reach the server: {e!r}", code="unreachable")
            except APIError as e:
                error = e
            wait = self._wait(attempt, error, call.idempotent)
            if wait is None:
                raise error
            yield wait
            attempt += 1

    def _authenticate(self) -> Generator[Step, Optional[httpx.Response], None]:
        for _ in range(2):
            request = self.credentials.token_request(self.clock())
            if request is None:
                return
            request.extensions["timeout"] = self.timeout.as_dict()
            response = yield request
            assert response is not None
            if self.credentials.accept(response, self.clock()):
                return
        raise AuthError("the credentials were refused", status=401, code="unauthorized")

    def _wait(self, attempt: int, error: APIError, idempotent: bool) -> Optional[float]:
        """Seconds to wait before resending, or `None` to give up with `error`."""
        if attempt >= self.retries:
            return None
        lost = error.status == 0 and idempotent
        if error.status not in RETRIED and not lost:
            return None
        if error.retry_after is not None:
            return error.retry_after
        delay: float = min(30.0, self.backoff * 2.0**attempt)
        return delay * random.uniform(0.5, 1.0)
