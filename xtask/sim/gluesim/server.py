"""The front door of the Glue simulator: one HTTP endpoint for every AWS service the tests call.

Requests are identified by service (the SigV4 credential scope) and operation (X-Amz-Target, the REST path, or the S3
method and query). Our own handlers (Glue sessions and statements, the Glue catalog over Spark's metastore, S3 over the
shared local storage, Lake Formation corrections) answer first; everything else goes to moto's server, in process. On the
way every request is written to the request log and may meet an injected fault (throttling, latency).

Admin endpoints under `/_sim/` (JSON): `health`, `log` (GET: entries since `?since=seq`; DELETE: clear), `faults`
(POST: set, DELETE: clear), `holds` (GET: the hold rule and the requests held; POST `holds/release`: let them go on),
`statements` (GET `?session_id=ID`: the session's statements and their states), `config` (POST: delays, page size),
`endpoints`.

The `hold` fault (`POST /_sim/faults {"hold": {"operation": "*", "after": N, "access_key": K, "session_id": S}}`)
lets N matching requests through and holds the next one, unprocessed, until it is released (`holds/release` or
`DELETE /_sim/faults`: then it is processed as usual) or its client disconnects (then it is never processed: the log
entry ends with status 499, `ClientClosedRequest`). While held, its log entry has `held: true`. One request per rule.
Crash tests use it to kill a client at a chosen request boundary.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import random
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from .errors import AwsError

ACCOUNT_ID = "123456789012"

# JSON 1.1 services: the operation is the suffix of X-Amz-Target.
JSON_TARGET_SERVICES = {"glue", "dynamodb"}
# List operations answered by moto in one piece that the simulator pages itself (result key, token key).
REPAGED: dict[tuple[str, str], str] = {
    ("lakeformation", "ListResources"): "ResourceInfoList",
    ("dynamodb", "ListTables"): "TableNames",
}
THROTTLE_CODES = {"dynamodb": "ThrottlingException", "s3": "SlowDown"}
# Glue operations on the Data Catalog: answered by our catalog (catalog.py) or refused, never by moto's own.
CATALOG_OPERATION = re.compile(r"Database|Table|Partition|ColumnStatistics|UserDefinedFunction|Catalog")


@dataclass
class SimRequest:
    """One AWS request as the handlers see it."""

    service: str
    operation: str
    http: Request
    region: str = "us-east-1"
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def account(self) -> str:
        return ACCOUNT_ID


@dataclass
class LogEntry:
    """One line of the request log."""

    seq: int
    service: str
    operation: str
    start: float
    end: float = 0.0
    status: int = 0
    error: str | None = None
    session_id: str | None = None
    # Statement operations: the statement's Id, and the State a GetStatement answered.
    statement_id: int | None = None
    state: str | None = None
    # A list operation's follow-up page (the request carried a NextToken).
    next_token: bool = False
    # The access key id that signed the request (test credentials only: which identity called).
    access_key: str | None = None
    # Held by the `hold` fault right now (not yet processed).
    held: bool = False
    # The request's top-level CatalogId (Glue Data Catalog and Lake Formation calls), when it names one.
    catalog_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


class RequestLog:
    """Every request the simulator answered: operation, start, end, status (read by tests through `/_sim/log`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LogEntry] = []
        self._seq = 0

    def open(self, service: str, operation: str, session_id: str | None) -> LogEntry:
        with self._lock:
            self._seq += 1
            entry = LogEntry(self._seq, service, operation, time.time(), session_id=session_id)
            self._entries.append(entry)
            return entry

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [e.to_json() for e in self._entries if e.seq > seq]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class Faults:
    """Injected faults. Operation keys are `Operation` or `service:Operation`; `*` matches every operation."""

    throttle: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random)

    @staticmethod
    def _lookup(table: dict[str, float], service: str, operation: str) -> float:
        for key in (f"{service}:{operation}", operation, f"{service}:*", "*"):
            if key in table:
                return float(table[key])
        return 0.0

    def latency(self, service: str, operation: str) -> float:
        return self._lookup(self.latency_ms, service, operation) / 1000.0

    def throttled(self, service: str, operation: str) -> bool:
        fraction = self._lookup(self.throttle, service, operation)
        return fraction > 0 and self._rng.random() < fraction


@dataclass
class HoldRule:
    """The `hold` fault: lets `after` matching requests through and holds the next one (once)."""

    operation: str | list[str] = "*"
    after: int = 0
    access_key: str | None = None
    session_id: str | None = None
    matched: int = 0
    fired: bool = False

    def matches(self, entry: LogEntry) -> bool:
        wanted = [self.operation] if isinstance(self.operation, str) else list(self.operation)
        keys = (f"{entry.service}:{entry.operation}", entry.operation, f"{entry.service}:*", "*")
        if not any(k in wanted for k in keys):
            return False
        if self.access_key is not None and entry.access_key != self.access_key:
            return False
        return self.session_id is None or entry.session_id == self.session_id

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Holds:
    """Requests held by the `hold` fault, each waiting on its own server thread (requests are served in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rule: HoldRule | None = None
        self._held: dict[int, tuple[LogEntry, threading.Event]] = {}

    def set(self, spec: dict[str, Any]) -> HoldRule:
        unknown = set(spec) - {"operation", "after", "access_key", "session_id"}
        if unknown:
            raise ValueError(f"unknown hold keys {sorted(unknown)}")
        with self._lock:
            self.rule = HoldRule(**{**spec, "after": int(spec.get("after", 0))})
            return self.rule

    def clear(self) -> None:
        """Removes the rule and releases what it holds."""
        with self._lock:
            self.rule = None
        self.release()

    def release(self) -> int:
        with self._lock:
            held = list(self._held.values())
        for _, event in held:
            event.set()
        return len(held)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rule": self.rule.to_json() if self.rule else None,
                "held": [entry.to_json() for entry, _ in self._held.values()],
            }

    def claim(self, entry: LogEntry) -> threading.Event | None:
        """Counts `entry` against the rule; the event to wait on if it is the one to hold."""
        with self._lock:
            rule = self.rule
            if rule is None or rule.fired or not rule.matches(entry):
                return None
            rule.matched += 1
            if rule.matched <= rule.after:
                return None
            rule.fired = True
            event = threading.Event()
            entry.held = True
            self._held[entry.seq] = (entry, event)
            return event

    def wait(self, entry: LogEntry, event: threading.Event, connection: Any) -> bool:
        """Blocks until released (True: process the request) or the client disconnects (False: drop it)."""
        try:
            while not event.wait(0.05):
                if connection is not None and _disconnected(connection):
                    return False
            return connection is None or not _disconnected(connection)
        finally:
            with self._lock:
                self._held.pop(entry.seq, None)
                entry.held = False


def _disconnected(connection: socket.socket) -> bool:
    """The peer closed the connection (readable with nothing to read, or reset)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        if not readable:
            return False
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


@dataclass
class Config:
    """Tunable behaviour (POST /_sim/config): page size of list operations and session timings."""

    page_size: int = 2
    provisioning_delay_s: float = 0.5
    stopping_delay_s: float = 0.2
    # Glue's IdleTimeout and Timeout are in minutes; tests shrink a minute to this many seconds.
    seconds_per_idle_minute: float = 60.0
    # Lifetime of the auth tokens of SPARK_CONNECT session endpoints.
    token_ttl_s: float = 3600.0
    # A catalog write through the API makes every session forget its cached relations (one consistent catalog for
    # tests that read from any session). False is Glue's behaviour: each session keeps what it cached (a table's
    # definition and file listing) until it refreshes it.
    invalidate_caches_on_write: bool = True


Handler = Callable[[SimRequest], Any]


class Simulator:
    """The WSGI application."""

    def __init__(self, moto_app: Any, handlers: dict[tuple[str, str], Handler], storage: Any | None = None) -> None:
        self.moto_app = moto_app
        self.handlers = handlers
        self.storage = storage
        self.log = RequestLog()
        self.faults = Faults()
        self.config = Config()
        self.endpoints: dict[str, str] = {}
        self.ready = threading.Event()
        # Faults the handlers act on (`fail_statement`, `session_timeout`), set through POST /_sim/faults.
        self.fault_hooks: dict[str, Any] = {}
        # The `hold` fault's rule and held requests.
        self.holds = Holds()
        # The statements of a session (`/_sim/statements`), provided by the session handlers.
        self.statements_of: Callable[[str], dict[str, Any]] | None = None
        # moto applies a conditional write as read-check-write without a lock: two concurrent PutItems with
        # `attribute_not_exists` can both succeed. DynamoDB requests go through one at a time, as DynamoDB's item
        # writes are atomic.
        self.dynamodb_lock = threading.Lock()

    # ---- WSGI ----

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        body = request.get_data(cache=True)
        if request.path.startswith("/_sim/"):
            return self.admin(request)(environ, start_response)
        service, region = self.service_of(request)
        operation = self.operation_of(service, request)
        parsed = self.parse_body(service, body)
        session_id = parsed.get("SessionId") or (parsed.get("Id") if operation.endswith("Session") else None)
        entry = self.log.open(service, operation, session_id)
        entry.next_token = bool(isinstance(parsed, dict) and parsed.get("NextToken"))
        if isinstance(parsed, dict) and isinstance(parsed.get("CatalogId"), str):
            entry.catalog_id = parsed["CatalogId"]
        auth = request.headers.get("Authorization", "")
        if "Credential=" in auth:
            entry.access_key = auth.split("Credential=", 1)[1].split("/", 1)[0]
        if operation.endswith("Statement") and isinstance(parsed.get("Id"), int):
            entry.statement_id = parsed["Id"]
        hold = self.holds.claim(entry)
        if hold is not None and not self.holds.wait(entry, hold, environ.get("werkzeug.socket")):
            # The client went away while its request was held: the request is never processed.
            entry.status, entry.error, entry.end = 499, "ClientClosedRequest", time.time()
            return Response(b"", status=499)(environ, start_response)
        try:
            response = self.dispatch(SimRequest(service, operation, request, region, parsed), environ, body)
        except AwsError as err:
            response = self.error_response(service, err)
        except Exception as err:  # a bug in a handler: loud, and not retried by the SDKs (not a 500)
            response = self.error_response(service, AwsError("SimulatorFailure", f"{operation}: {err!r}", 501))
        entry.status = response.status_code
        entry.end = time.time()
        if response.status_code >= 400:
            entry.error = response.headers.get("x-amzn-ErrorType") or response.status
        elif operation == "GetStatement":
            entry.state = json.loads(response.get_data()).get("Statement", {}).get("State")
        elif operation == "RunStatement":
            entry.statement_id = json.loads(response.get_data()).get("Id")
        return response(environ, start_response)

    def dispatch(self, req: SimRequest, environ: dict[str, Any], body: bytes) -> Response:
        delay = self.faults.latency(req.service, req.operation)
        if delay:
            time.sleep(delay)
        if self.faults.throttled(req.service, req.operation):
            code = THROTTLE_CODES.get(req.service, "ThrottlingException")
            raise AwsError(code, f"Rate exceeded (injected) for {req.operation}", 503 if req.service == "s3" else 400)
        if req.service in ("glue", "lakeformation") and not self.ready.wait(timeout=300):
            raise AwsError("ServiceUnavailable", "the simulator's Spark did not start", 503)
        if req.service == "s3" and self.storage is not None:
            return self.storage.handle(req.http)
        handler = self.handlers.get((req.service, req.operation))
        if handler is not None:
            result = handler(req)
            if isinstance(result, Response):
                return result
            return self.json_response(req.service, result if result is not None else {})
        if req.service == "glue" and CATALOG_OPERATION.search(req.operation):
            # moto's Glue catalog is a second, empty catalog: never answer from it.
            raise AwsError("NotImplementedInSimulator", f"glue:{req.operation} is not implemented by the simulator's catalog", 501)
        repage_key = REPAGED.get((req.service, req.operation))
        if repage_key is not None:
            return self.repaged(req, environ, body, repage_key)
        return self.forward(req, environ, body)

    # ---- moto ----

    def forward(self, req: SimRequest, environ: dict[str, Any], body: bytes) -> Response:
        """Passes the request to moto; an operation moto does not implement fails loudly (501, not retried)."""
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        captured: dict[str, Any] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = status
            captured["headers"] = headers

        with self.dynamodb_lock if req.service == "dynamodb" else contextlib.nullcontext():
            chunks = self.moto_app(env, start)
            data = b"".join(chunks)
            if hasattr(chunks, "close"):
                chunks.close()
        status = int(captured["status"].split()[0])
        if status >= 500:
            raise AwsError(
                "NotImplementedInSimulator",
                f"{req.service}:{req.operation} failed in moto with HTTP {status} (not implemented by the simulator): "
                f"{data[:300].decode(errors='replace')}",
                501,
            )
        return Response(data, status=status, headers=captured["headers"])

    def repaged(self, req: SimRequest, environ: dict[str, Any], body: bytes, key: str) -> Response:
        """Answers a list operation in pages of `page_size` from moto's full answer."""
        request_body = dict(req.body)
        token = request_body.pop("NextToken", None) or request_body.pop("ExclusiveStartTableName", None)
        limit = int(request_body.pop("MaxResults", 0) or request_body.pop("Limit", 0) or 0)
        raw = json.dumps(request_body).encode()
        response = self.forward(req, environ, raw)
        if response.status_code != 200:
            return response
        full = json.loads(response.get_data() or b"{}")
        items = full.get(key, [])
        page, next_token = self.page(items, token, limit, request_body)
        full[key] = page
        full.pop("NextToken", None)
        if req.service == "dynamodb":
            full.pop("LastEvaluatedTableName", None)
            if next_token:
                full["LastEvaluatedTableName"] = page[-1]
        elif next_token:
            full["NextToken"] = next_token
        return self.json_response(req.service, full)

    def page(self, items: list[Any], token: str | None, limit: int, request: dict[str, Any]) -> tuple[list[Any], str | None]:
        """One page of `items` (at most `page_size`, or the caller's smaller limit) and the token of the next page.

        Tokens are bound to the request that produced them: a token used with other parameters is rejected, as AWS does.
        """
        size = min(self.config.page_size, limit) if limit else self.config.page_size
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:16]
        start = 0
        if token:
            if isinstance(token, str) and token in items:  # DynamoDB's ExclusiveStartTableName
                start = items.index(token) + 1
            else:
                try:
                    decoded = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                    if decoded["f"] != fingerprint:
                        raise ValueError("token of another request")
                    start = int(decoded["o"])
                except (ValueError, KeyError, TypeError) as err:
                    raise AwsError("InvalidInputException", f"invalid NextToken: {err}") from None
        page = items[start : start + size]
        end = start + len(page)
        if end >= len(items):
            return page, None
        return page, base64.urlsafe_b64encode(json.dumps({"o": end, "f": fingerprint}).encode()).decode()

    # ---- protocol ----

    @staticmethod
    def service_of(request: Request) -> tuple[str, str]:
        auth = request.headers.get("Authorization", "")
        if "Credential=" in auth:
            scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
            if len(scope) >= 5:
                return scope[3].lower(), scope[2]
        target = request.headers.get("X-Amz-Target", "")
        if target.startswith("AWSGlue."):
            return "glue", "us-east-1"
        if target.startswith("DynamoDB_"):
            return "dynamodb", "us-east-1"
        return "s3", "us-east-1"

    def operation_of(self, service: str, request: Request) -> str:
        if service in JSON_TARGET_SERVICES:
            return request.headers.get("X-Amz-Target", ".").split(".", 1)[1]
        if service == "lakeformation":
            return request.path.strip("/").split("/")[0]
        if service == "sts":
            return request.form.get("Action") or request.args.get("Action") or "Unknown"
        if service == "s3" and self.storage is not None:
            return self.storage.operation(request)
        return f"{request.method} {request.path}"

    @staticmethod
    def parse_body(service: str, body: bytes) -> dict[str, Any]:
        if service in JSON_TARGET_SERVICES or service == "lakeformation":
            try:
                parsed = json.loads(body or b"{}")
                return parsed if isinstance(parsed, dict) else {}
            except ValueError:
                return {}
        return {}

    @staticmethod
    def json_response(service: str, payload: Any) -> Response:
        content_type = "application/json" if service == "lakeformation" else "application/x-amz-json-1.1"
        return Response(json.dumps(payload, default=str), status=200, content_type=content_type)

    @staticmethod
    def error_response(service: str, err: AwsError) -> Response:
        if service == "s3":
            xml = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{err.code}</Code><Message>{_xml(err.message)}</Message></Error>"
            return Response(xml, status=err.status, content_type="application/xml")
        body = {"__type": err.code, "message": err.message, "Message": err.message}
        response = Response(json.dumps(body), status=err.status, content_type="application/x-amz-json-1.1")
        response.headers["x-amzn-ErrorType"] = err.code
        return response

    # ---- admin ----

    def admin(self, request: Request) -> Response:
        what = request.path[len("/_sim/") :].strip("/")
        payload = request.get_json(silent=True) or {}
        if what == "health":
            status = 200 if self.ready.is_set() else 503
            return _json({"ready": self.ready.is_set(), "endpoints": self.endpoints}, status)
        if what == "log":
            if request.method == "DELETE":
                self.log.clear()
                return _json({})
            return _json({"entries": self.log.since(int(request.args.get("since", 0)))})
        if what == "faults":
            if request.method == "DELETE":
                self.faults = Faults()
                self.fault_hooks.clear()
                self.holds.clear()
                return _json({})
            if "hold" in payload:
                try:
                    self.holds.set(payload["hold"])
                except (TypeError, ValueError) as err:
                    return _json({"error": f"hold: {err}"}, 400)
            self.faults.throttle.update(payload.get("throttle", {}))
            self.faults.latency_ms.update(payload.get("latency_ms", {}))
            if "seed" in payload:
                self.faults._rng.seed(payload["seed"])
            for name in ("fail_statement", "session_timeout", "lf_failures"):
                if name in payload:
                    self.fault_hooks[name] = payload[name]
            hold = self.holds.rule.to_json() if self.holds.rule else None
            return _json({"throttle": self.faults.throttle, "latency_ms": self.faults.latency_ms, "hold": hold, **self.fault_hooks})
        if what == "holds":
            return _json(self.holds.state())
        if what == "holds/release":
            return _json({"released": self.holds.release()})
        if what == "statements":
            session_id = request.args.get("session_id", "")
            found = self.statements_of(session_id) if self.statements_of is not None else None
            if found is None:
                return _json({"error": f"no session {session_id!r}"}, 404)
            return _json(found)
        if what == "config":
            for key, value in payload.items():
                if not hasattr(self.config, key):
                    return _json({"error": f"unknown config key {key}"}, 400)
                setattr(self.config, key, type(getattr(self.config, key))(value))
            return _json(self.config.__dict__)
        if what == "endpoints":
            return _json(self.endpoints)
        return _json({"error": f"unknown admin path /_sim/{what}"}, 404)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=str), status=status, content_type="application/json")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
