"""The endpoint of SPARK_CONNECT sessions: a gRPC proxy in front of the test world's Spark Connect server that admits
only the bearer tokens GetSessionEndpoint issued, while they are valid and their session is READY.

Every call is forwarded as raw bytes (any Spark Connect method, unary or streaming), with its metadata minus the
token; status, details and trailing metadata (Spark's error class travels in `grpc-status-details-bin`) come back
unchanged. A call with a missing, unknown or expired token fails UNAUTHENTICATED before reaching Spark, as a Glue
endpoint does once its token has expired; a call for a session that is not READY fails PERMISSION_DENIED.
"""

from __future__ import annotations

from concurrent import futures
from typing import Any, Callable, Iterator

import grpc


class ConnectProxy(grpc.GenericRpcHandler):
    """`check(token) -> error message or None` decides; `backend` is host:port of the Spark Connect server."""

    def __init__(self, backend: str, check: Callable[[str | None], tuple[grpc.StatusCode, str] | None]) -> None:
        self.channel = grpc.insecure_channel(backend, options=[("grpc.max_receive_message_length", 128 * 1024 * 1024)])
        self.check = check
        self.server: grpc.Server | None = None

    def start(self) -> int:
        """Listens on 127.0.0.1 (a free port); returns the port."""
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=32),
            handlers=[self],
            options=[("grpc.max_receive_message_length", 128 * 1024 * 1024)],
        )
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        return port

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        metadata = list(details.invocation_metadata or [])
        token = next((v for k, v in metadata if k == "authorization"), None)
        token = token[len("Bearer "):] if isinstance(token, str) and token.startswith("Bearer ") else None
        forwarded = [(k, v) for k, v in metadata if k != "authorization"]

        def handle(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            refused = self.check(token)
            if refused is not None:
                context.abort(*refused)
            call = self.channel.stream_stream(method, request_serializer=None, response_deserializer=None)
            responses: Any = call(requests, metadata=forwarded)
            context.add_callback(responses.cancel)
            try:
                yield from responses
            except grpc.RpcError as err:
                context.set_trailing_metadata(err.trailing_metadata() or ())
                context.abort(err.code(), err.details() or "")

        return grpc.stream_stream_rpc_method_handler(handle)
