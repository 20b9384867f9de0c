"""Typed exceptions, mapped from the server's stable `error` codes."""

from __future__ import annotations

import builtins
from typing import Any, Optional

__all__ = [
    "APIError",
    "AuthError",
    "NotFoundError",
    "RateLimitError",
    "TimeoutError",
    "error_for",
]

#: Codes that mean the credentials are missing, wrong, expired or not enough.
AUTH_CODES = frozenset(
    {
        "unauthorized",
        "token_expired",
        "forbidden",
        "invalid_credentials",
        "token_reused",
        "stale_timestamp",
        "nonce_reused",
        "client_only",
    }
)


class APIError(Exception):
    """A request the server refused or could not answer.

    `status` is the HTTP status (0 when no answer arrived) and `code` the
    server's stable `error` code (`unknown_device`, `bad_range`, …).
    """

    status: int
    code: str
    message: str
    #: The server's `Retry-After` hint, seconds (429 and 503).
    retry_after: Optional[float]

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "",
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.status} " if self.status else ""
        return f"{where}{self.code}: {self.message}" if self.code else f"{where}{self.message}"


class AuthError(APIError):
    """Missing, wrong, expired or revoked credentials (401), or not allowed (403)."""


class NotFoundError(APIError):
    """No such device, cabinet, client or route (404)."""


class RateLimitError(APIError):
    """Too many requests (429); `retry_after` is the server's hint, seconds."""


class TimeoutError(APIError, builtins.TimeoutError):
    """No answer in time (the client's timeout); also a builtin `TimeoutError`."""


def retry_after_of(value: Optional[str]) -> Optional[float]:
    """The seconds of a `Retry-After` header (its delta-seconds form)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_for(status: int, body: Any, retry_after: Optional[str] = None) -> APIError:
    """The exception for an error answer with JSON `body` (`{"error", "message"}`)."""
    code = ""
    message = f"HTTP {status}"
    if isinstance(body, dict):
        code = str(body.get("error") or "")
        message = str(body.get("message") or message)
    kind = APIError
    if status == 429 or code == "rate_limited":
        kind = RateLimitError
    elif status in (401, 403) or code in AUTH_CODES:
        kind = AuthError
    elif status == 404:
        kind = NotFoundError
    return kind(message, status=status, code=code, retry_after=retry_after_of(retry_after))
