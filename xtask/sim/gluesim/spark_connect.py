"""Endpoints of SPARK_CONNECT sessions: the URL of the test world's Spark Connect server and a short-lived token."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from .server import Simulator


class SparkConnectEndpoints:
    """Issues `(Url, AuthToken, AuthTokenExpirationTime)` for a session; tokens live `config.token_ttl_s` seconds."""

    def __init__(self, sim: Simulator, url: str) -> None:
        self.sim = sim
        self.url = url
        self._lock = threading.Lock()
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (session id, expiry)

    def issue(self, session: Any) -> tuple[str, str, float]:
        token = secrets.token_urlsafe(48)
        expires = time.time() + self.sim.config.token_ttl_s
        with self._lock:
            self.tokens[token] = (session.id, expires)
        return self.url, token, expires

    def valid(self, token: str) -> str | None:
        """The session id a token belongs to, if it has not expired."""
        with self._lock:
            found = self.tokens.get(token)
        return found[0] if found and found[1] > time.time() else None
