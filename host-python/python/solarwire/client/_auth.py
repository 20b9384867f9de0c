"""Credentials, without I/O: what each kind adds to a request, and which
request obtains or renews its token and when.

- API key: `X-API-Key` on every request.
- User login: `POST /api/v1/auth/login`, then the refresh token before the
  access token expires (a new login when the refresh token is refused).
- Signed client: `GET /comm/client` with an HMAC-SHA256 over
  `"solarwire-client-v1\\n" client_id "\\n" timestamp "\\n" nonce` under
  SHA-256(secret); a new token before the 24-hour one expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any, Dict, Optional

import httpx

from ._errors import AuthError, error_for
from ._models import Token

__all__ = ["Credentials", "ApiKey", "Login", "SignedClient", "sign"]

#: The version tag that starts every canonical string.
CANONICAL_TAG = "solarwire-client-v1"


def sign(client_id: str, client_secret: str, timestamp: int, nonce: str) -> str:
    """The `X-Signature` of a token request (base64 HMAC-SHA256)."""
    key = hashlib.sha256(client_secret.encode()).digest()
    canonical = f"{CANONICAL_TAG}\n{client_id}\n{timestamp}\n{nonce}"
    mac = hmac.new(key, canonical.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class Credentials:
    """No credentials: the base of every kind."""

    def headers(self) -> Dict[str, str]:
        """Headers every API request carries."""
        return {}

    def token_request(self, now: float) -> Optional[httpx.Request]:
        """The request that obtains or renews a token, when one is due at `now`."""
        return None

    def accept(self, response: httpx.Response, now: float) -> bool:
        """Takes a token answer; `False` when it was refused and another
        `token_request` should be tried (a refused refresh falls back to a login).

        Raises `AuthError` (or another `APIError`) when no other way is left.
        """
        return True

    def expire(self) -> None:
        """Forgets the token (the server said it expired)."""


class ApiKey(Credentials):
    """An API key (`X-API-Key`)."""

    def __init__(self, key: str) -> None:
        self._key = key

    def headers(self) -> Dict[str, str]:
        return {"X-API-Key": self._key}


class _Bearer(Credentials):
    """A bearer token renewed `margin` seconds before it expires."""

    def __init__(self, base_url: str, margin: float) -> None:
        self._base = base_url
        self._margin = margin
        self._token: Optional[str] = None
        self._expires_at = 0.0

    def headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _due(self, now: float) -> bool:
        return self._token is None or now >= self._expires_at - self._margin

    def _hold(self, token: str, expires_in: float, now: float) -> None:
        self._token = token
        self._expires_at = now + expires_in

    def expire(self) -> None:
        self._token = None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refused(response: httpx.Response) -> AuthError:
    error = error_for(response.status_code, _json(response), response.headers.get("retry-after"))
    if isinstance(error, AuthError):
        return error
    raise error


class Login(_Bearer):
    """A user name and password: an access token, renewed with the refresh token."""

    def __init__(self, base_url: str, username: str, password: str, margin: float) -> None:
        super().__init__(base_url, margin)
        self._username = username
        self._password = password
        self._refresh: Optional[str] = None
        self._refreshing = False

    def token_request(self, now: float) -> Optional[httpx.Request]:
        if not self._due(now):
            return None
        self._refreshing = self._refresh is not None
        form = (
            {"grant_type": "refresh_token", "refresh_token": self._refresh}
            if self._refresh is not None
            else {"grant_type": "password", "username": self._username, "password": self._password}
        )
        path = "refresh" if self._refresh is not None else "login"
        return httpx.Request("POST", f"{self._base}/api/v1/auth/{path}", data=form)

    def accept(self, response: httpx.Response, now: float) -> bool:
        if response.status_code == 200:
            body = response.json()
            self._hold(str(body["access_token"]), float(body["expires_in"]), now)
            self._refresh = str(body["refresh_token"])
            return True
        error = _refused(response)
        self._refresh = None
        if self._refreshing:
            return False
        raise error


class SignedClient(_Bearer):
    """A signed client's id and secret: a 24-hour token from `/comm/client`."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, margin: float) -> None:
        super().__init__(base_url, margin)
        self._id = client_id
        self._secret = client_secret
        #: The latest grant (token, MQTT credentials, topics).
        self.grant: Optional[Token] = None

    def token_request(self, now: float) -> Optional[httpx.Request]:
        if not self._due(now):
            return None
        timestamp = int(time.time())
        nonce = secrets.token_urlsafe(24)
        headers = {
            "X-Client-Id": self._id,
            "X-Timestamp": str(timestamp),
            "X-Nonce": nonce,
            "X-Signature": sign(self._id, self._secret, timestamp, nonce),
        }
        return httpx.Request("GET", f"{self._base}/comm/client", headers=headers)

    def accept(self, response: httpx.Response, now: float) -> bool:
        if response.status_code != 200:
            raise _refused(response)
        self.grant = Token.from_json(response.json()["data"])
        self._hold(self.grant.token, float(self.grant.expires_in), now)
        return True
