"""What `Client` and `AsyncClient` share: choosing the credentials and
building the session."""

from __future__ import annotations

import time
from typing import Callable, Optional

from ._auth import ApiKey, Credentials, Login, SignedClient
from ._models import Token
from ._session import Session

#: Seconds before expiry a token is renewed.
REFRESH_MARGIN = 300.0


class BaseClient:
    """Connection settings and credentials (at most one kind)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url is an http:// or https:// URL, not {base_url!r}")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("retries and backoff are at least 0, timeout above 0")
        base = base_url.rstrip("/")
        kinds = [
            api_key is not None,
            username is not None or password is not None,
            client_id is not None or client_secret is not None,
        ]
        if sum(kinds) > 1:
            raise ValueError("give one kind of credentials: api_key, username/password or client_id/client_secret")
        credentials: Credentials = Credentials()
        if api_key is not None:
            credentials = ApiKey(api_key)
        elif username is not None or password is not None:
            if username is None or password is None:
                raise ValueError("username and password go together")
            credentials = Login(base, username, password, refresh_margin)
        elif client_id is not None or client_secret is not None:
            if client_id is None or client_secret is None:
                raise ValueError("client_id and client_secret go together")
            credentials = SignedClient(base, client_id, client_secret, refresh_margin)
        self._session = Session(
            base, credentials, timeout=timeout, retries=retries, backoff=backoff, clock=clock
        )
        self._start()

    def _start(self) -> None:
        """Opens the HTTP connection pool (the sync or async one)."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """The server's URL."""
        return self._session.base_url

    @property
    def grant(self) -> Optional[Token]:
        """A signed client's latest token and MQTT details (`None` before the first call)."""
        credentials = self._session.credentials
        return credentials.grant if isinstance(credentials, SignedClient) else None
