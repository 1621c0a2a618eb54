"""Endpoints of SPARK_CONNECT sessions: the URL of a token-checking proxy before the test world's Spark Connect server,
and short-lived tokens (`config.token_ttl_s`), as GetSessionEndpoint returns them."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Callable

import grpc

from .connect_proxy import ConnectProxy
from .server import Simulator


class SparkConnectEndpoints:
    """Issues `(Url, AuthToken, AuthTokenExpirationTime)` for a session and admits only those tokens at the proxy.

    The URL's host is `localhost`: Spark Connect clients send a bearer token without TLS only to a local host.
    """

    def __init__(self, sim: Simulator, url: str) -> None:
        self.sim = sim
        self._lock = threading.Lock()
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (session id, expiry)
        self.session_status: Callable[[str], str | None] = lambda _id: None
        self.backend = url.removeprefix("sc://").split("/", 1)[0]
        self.proxy: ConnectProxy | None = None
        self.url = ""

    def start(self) -> None:
        """Starts the token proxy. Called once the simulator's JVM runs: forking the JVM while gRPC threads exist
        (gRPC skips its fork handlers then) broke the JVM's start now and then."""
        self.proxy = ConnectProxy(self.backend, self.check)
        self.url = f"sc://localhost:{self.proxy.start()}"

    def issue(self, session: Any) -> tuple[str, str, float]:
        token = secrets.token_urlsafe(48)
        expires = time.time() + self.sim.config.token_ttl_s
        with self._lock:
            self.tokens[token] = (session.id, expires)
        return self.url, token, expires

    def check(self, token: str | None) -> tuple[grpc.StatusCode, str] | None:
        """None when the call may pass; else the status and message it fails with."""
        if not token:
            return grpc.StatusCode.UNAUTHENTICATED, "missing bearer token (GetSessionEndpoint gives one)"
        with self._lock:
            found = self.tokens.get(token)
        if found is None:
            return grpc.StatusCode.UNAUTHENTICATED, "unknown token"
        session_id, expires = found
        if expires <= time.time():
            return grpc.StatusCode.UNAUTHENTICATED, f"the token of session {session_id} expired; call GetSessionEndpoint"
        status = self.session_status(session_id)
        if status != "READY":
            return grpc.StatusCode.PERMISSION_DENIED, f"session {session_id} is {status or 'deleted'}, not READY"
        return None
