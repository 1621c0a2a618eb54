"""Glue Interactive Sessions: the session state machine and Livy-style statements run in the simulator's real Spark.

Session: PROVISIONING --(provisioning delay)--> READY --(StopSession)--> STOPPING --> STOPPED; READY with no statement for
IdleTimeout minutes --> TIMEOUT; DeleteSession removes it. Statements run one at a time per session, in order:
WAITING --> RUNNING --> AVAILABLE (Output.Status ok|error) | ERROR | CANCELLING --> CANCELLED. Statement code is Python run
with a `spark` global (the session's own SparkSession), `sc`, and Glue's `awsglue` module importable (our stand-in);
like Livy, the value of a trailing expression is printed. `Code` longer than 68,000 characters is rejected, as Glue does.

Sessions of type SPARK_CONNECT (Glue 5.1+) have no statements: GetSessionEndpoint hands out the URL of a Spark Connect
server and a short-lived token.
"""

from __future__ import annotations

import ast
import ctypes
import io
import queue
import secrets
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import AwsError
from .server import SimRequest, Simulator
from .spark import SparkRuntime

CODE_LIMIT = 68_000
DPU_PER_WORKER = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "G.12X": 12, "G.16X": 16, "Z.2X": 2}
TERMINAL = {"STOPPED", "TIMEOUT", "FAILED"}


class _Output(threading.local):
    buffer: io.StringIO | None = None
    session_args: list[str] | None = None
    spark: Any = None


OUTPUT = _Output()


class _Router(io.TextIOBase):
    """sys.stdout that sends what a statement prints to that statement's output."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        target = OUTPUT.buffer if OUTPUT.buffer is not None else self.fallback
        return target.write(text)

    def flush(self) -> None:
        if OUTPUT.buffer is None:
            self.fallback.flush()


@dataclass
class Statement:
    id: int
    code: str
    state: str = "WAITING"
    output: dict[str, Any] | None = None
    started_on: int = 0
    completed_on: int = 0
    thread_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Id": self.id, "Code": self.code, "State": self.state,
                               "Progress": 1.0 if self.completed_on else 0.0}  # fmt: skip
        if self.output is not None:
            out["Output"] = self.output
        if self.started_on:
            out["StartedOn"] = self.started_on
        if self.completed_on:
            out["CompletedOn"] = self.completed_on
        return out


@dataclass
class Session:
    id: str
    request: dict[str, Any]
    created: float
    status: str = "PROVISIONING"
    ready_at: float = 0.0
    ended_at: float = 0.0
    stop_requested: float = 0.0
    last_activity: float = 0.0
    statements: list[Statement] = field(default_factory=list)
    queue: "queue.Queue[Statement | None]" = field(default_factory=queue.Queue)
    spark: Any = None
    globals: dict[str, Any] = field(default_factory=dict)
    ignored_conf: list[str] = field(default_factory=list)
    running: Statement | None = None
    completed: int = 0
    error: str | None = None

    @property
    def session_type(self) -> str:
        return self.request.get("SessionType", "LIVY")

    def dpus(self) -> float:
        if self.request.get("NumberOfWorkers") and self.request.get("WorkerType"):
            return self.request["NumberOfWorkers"] * DPU_PER_WORKER.get(self.request["WorkerType"], 1)
        return float(self.request.get("MaxCapacity") or 5 * 1)


class Sessions:
    """Handlers of the Glue session and statement operations."""

    def __init__(self, sim: Simulator, runtime: SparkRuntime, spark_connect: Callable[[Session], tuple[str, str, float]] | None = None) -> None:
        self.sim = sim
        self.runtime = runtime
        self.spark_connect = spark_connect
        self.sessions: dict[str, Session] = {}
        self.lock = threading.RLock()
        sim.statements_of = self.statements_of
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        _route_session_lookups()

    def handlers(self) -> dict[tuple[str, str], Callable[[SimRequest], Any]]:
        ops = ["CreateSession", "GetSession", "ListSessions", "StopSession", "DeleteSession", "RunStatement",
               "GetStatement", "ListStatements", "CancelStatement", "GetSessionEndpoint"]  # fmt: skip
        return {("glue", op): getattr(self, "op_" + op) for op in ops}

    # ---- state machine ----

    def _advance(self, s: Session) -> None:
        now = time.time()
        cfg = self.sim.config
        if s.status == "READY":
            idle = s.request.get("IdleTimeout")
            busy = s.running is not None or not s.queue.empty()
            if idle and not busy and now - s.last_activity > float(idle) * cfg.seconds_per_idle_minute:
                self._end(s, "TIMEOUT")
            # The session's Timeout (minutes, the reference's query_timeout_in_minutes) bounds its whole life.
            limit = s.request.get("Timeout")
            if s.status == "READY" and limit and now - s.ready_at > float(limit) * cfg.seconds_per_idle_minute:
                self._end(s, "TIMEOUT")
            hook = self.sim.fault_hooks.get("session_timeout")
            if hook and not hook.get("during_statement") and self._hook_fires(hook, s):
                self.sim.fault_hooks.pop("session_timeout", None)  # one-shot: a recreated session lives on
                self._end(s, "TIMEOUT")
        if s.status == "STOPPING" and now >= s.stop_requested + cfg.stopping_delay_s:
            s.status = "STOPPED"

    def _provision(self, s: Session) -> None:
        if s.session_type == "SPARK_CONNECT":
            return
        conf = _parse_conf(s.request.get("DefaultArguments", {}).get("--conf", ""))
        s.spark, s.ignored_conf = self.runtime.new_session(conf)
        if s.ignored_conf:
            print(f"session {s.id}: settings provided by the simulator or static, not applied: {s.ignored_conf}", file=sys.stderr)
        s.globals = {"__name__": "__main__", "spark": s.spark, "sc": s.spark.sparkContext}
        threading.Thread(target=self._worker, args=(s,), name=f"session-{s.id}", daemon=True).start()

    def _end(self, s: Session, status: str) -> None:
        s.status = status
        s.ended_at = s.ended_at or time.time()
        for stmt in s.statements:
            if stmt.state == "WAITING":
                stmt.state, stmt.completed_on = "CANCELLED", _now_ms()
        if s.running is not None:
            self._cancel(s, s.running)
        s.queue.put(None)
        if s.spark is not None:
            self.runtime.forget(s.spark)

    def status(self, session_id: str) -> str | None:
        """The session's status now (None once deleted)."""
        with self.lock:
            s = self.sessions.get(session_id)
            if s is None:
                return None
            self._advance(s)
            if s.status == "READY":
                s.last_activity = time.time()  # Spark Connect calls keep a session from idling out
            return s.status

    def statements_of(self, session_id: str) -> dict[str, Any] | None:
        """The session's status and statements (`/_sim/statements`): `busy` while one runs or waits to run."""
        with self.lock:
            s = self.sessions.get(session_id)
            if s is None:
                return None
            self._advance(s)
            statements = [{"id": st.id, "state": st.state, "started_on": st.started_on, "completed_on": st.completed_on}
                          for st in s.statements]  # fmt: skip
            busy = any(st["state"] in ("WAITING", "RUNNING", "CANCELLING") for st in statements)
            return {"session_id": s.id, "status": s.status, "busy": busy, "statements": statements}

    def _get(self, session_id: str | None) -> Session:
        if not session_id:
            raise AwsError("ValidationException", "1 validation error detected: Id must not be null")
        s = self.sessions.get(session_id)
        if s is None:
            raise AwsError("EntityNotFoundException", f"Session {session_id} not found.")
        self._advance(s)
        return s

    # ---- sessions ----

    def op_CreateSession(self, req: SimRequest) -> dict[str, Any]:
        body = req.body
        for key in ("Id", "Role", "Command"):
            if not body.get(key):
                raise AwsError("ValidationException", f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' failed to satisfy constraint: Member must not be null")
        if "." in body["Id"] or len(body["Id"]) > 255:
            raise AwsError("InvalidInputException", f"Session Id {body['Id']!r} is invalid: no periods, at most 255 characters")
        if body.get("SessionType") == "SPARK_CONNECT":
            version = body.get("GlueVersion", "")
            if _version_tuple(version) < (5, 1):
                raise AwsError("InvalidInputException", f"SessionType SPARK_CONNECT requires GlueVersion 5.1 or later, got {version!r}")
            if self.spark_connect is None:
                raise AwsError("InvalidInputException", "this simulator was started without a Spark Connect server")
        with self.lock:
            if body["Id"] in self.sessions:
                raise AwsError("AlreadyExistsException", f"Session {body['Id']} already exists.")
            s = Session(id=body["Id"], request=dict(body), created=time.time())
            self.sessions[s.id] = s
        threading.Thread(target=self._provisioner, args=(s,), name=f"provision-{s.id}", daemon=True).start()
        return {"Session": self._describe(s)}

    def _provisioner(self, s: Session) -> None:
        """PROVISIONING -> READY after the configured delay; the session's Spark is made outside the lock, so other
        sessions' calls (and Spark Connect token checks) never wait for it."""
        time.sleep(self.sim.config.provisioning_delay_s)
        try:
            self._provision(s)
            error = None
        except Exception as err:  # the session's Spark could not start: FAILED as Glue reports it
            error = f"{err}"
        with self.lock:
            if s.status != "PROVISIONING" or self.sessions.get(s.id) is not s:  # stopped or deleted meanwhile
                s.queue.put(None)
                if s.spark is not None:
                    self.runtime.forget(s.spark)
                return
            now = time.time()
            if error is None:
                s.status, s.ready_at, s.last_activity = "READY", now, now
            else:
                s.status, s.error, s.ended_at = "FAILED", error, now

    def op_GetSession(self, req: SimRequest) -> dict[str, Any]:
        with self.lock:
            return {"Session": self._describe(self._get(req.body.get("Id")))}

    def op_ListSessions(self, req: SimRequest) -> dict[str, Any]:
        with self.lock:
            for s in self.sessions.values():
                self._advance(s)
            ids = sorted(self.sessions)
            page, token = self.sim.page(ids, req.body.get("NextToken"), req.body.get("MaxResults", 0), {})
            out: dict[str, Any] = {"Ids": page, "Sessions": [self._describe(self.sessions[i]) for i in page]}
        if token:
            out["NextToken"] = token
        return out

    def op_StopSession(self, req: SimRequest) -> dict[str, Any]:
        with self.lock:
            s = self._get(req.body.get("Id"))
            if s.status in ("PROVISIONING", "STOPPING") or s.status in TERMINAL:
                raise AwsError("IllegalSessionStateException", f"Session {s.id} is in {s.status} state and cannot be stopped.")
            self._end(s, "STOPPING")
            s.stop_requested = time.time()
            return {"Id": s.id}

    def op_DeleteSession(self, req: SimRequest) -> dict[str, Any]:
        with self.lock:
            s = self._get(req.body.get("Id"))
            if s.status not in TERMINAL and s.status != "STOPPING":
                self._end(s, "STOPPED")
            del self.sessions[s.id]
            return {"Id": s.id}

    def _describe(self, s: Session) -> dict[str, Any]:
        end = s.ended_at or time.time()
        execution = max(0.0, end - s.ready_at) if s.ready_at else 0.0
        r = s.request
        out = {
            "Id": s.id,
            "CreatedOn": s.created,
            "Status": s.status,
            "Role": r["Role"],
            "Command": r["Command"],
            "DefaultArguments": r.get("DefaultArguments", {}),
            "GlueVersion": r.get("GlueVersion", "5.0"),
            "SessionType": s.session_type,
            "Progress": 100.0 if s.status == "READY" else 0.0,
            "MaxCapacity": s.dpus(),
            "ExecutionTime": round(execution, 3),
            "DPUSeconds": round(execution * s.dpus(), 3),
        }
        for key in ("Description", "Connections", "SecurityConfiguration", "NumberOfWorkers", "WorkerType", "IdleTimeout", "Timeout"):
            if r.get(key) is not None:
                out[key] = r[key]
        if s.ended_at:
            out["CompletedOn"] = s.ended_at
        if s.error:
            out["ErrorMessage"] = s.error
        return out

    def op_GetSessionEndpoint(self, req: SimRequest) -> dict[str, Any]:
        with self.lock:
            s = self._get(req.body.get("SessionId"))
            if s.status != "READY":
                raise AwsError("IllegalSessionStateException", f"Session {s.id} is not READY ({s.status}).")
            if s.session_type != "SPARK_CONNECT" or self.spark_connect is None:
                raise AwsError("InvalidInputException", f"Session {s.id} is not a SPARK_CONNECT session.")
            s.last_activity = time.time()
        url, token, expires = self.spark_connect(s)
        return {"SparkConnect": {"Url": url, "AuthToken": token, "AuthTokenExpirationTime": expires}}

    # ---- statements ----

    def op_RunStatement(self, req: SimRequest) -> dict[str, Any]:
        code = req.body.get("Code")
        if code is None:
            raise AwsError("ValidationException", "1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null")
        if len(code) > CODE_LIMIT:
            raise AwsError("ValidationException", f"1 validation error detected: Value at 'code' failed to satisfy constraint: Member must have length less than or equal to {CODE_LIMIT}")
        with self.lock:
            s = self._get(req.body.get("SessionId"))
            if s.session_type == "SPARK_CONNECT":
                raise AwsError("InvalidInputException", f"Session {s.id} is a SPARK_CONNECT session: statements are not supported.")
            if s.status != "READY":
                raise AwsError("IllegalSessionStateException", f"Session {s.id} is in {s.status} state; statements need READY.")
            stmt = Statement(id=len(s.statements), code=code)
            s.statements.append(stmt)
            s.last_activity = time.time()
            s.queue.put(stmt)
        return {"Id": stmt.id}

    def _statement(self, req: SimRequest) -> tuple[Session, Statement]:
        s = self._get(req.body.get("SessionId"))
        sid = req.body.get("Id")
        if not isinstance(sid, int) or sid < 0 or sid >= len(s.statements):
            raise AwsError("EntityNotFoundException", f"Statement {sid} not found in session {s.id}.")
        return s, s.statements[sid]

    def op_GetStatement(self, req: SimRequest) -> dict[str, Any]:
        with self.lock:
            _, stmt = self._statement(req)
            return {"Statement": stmt.to_json()}

    def op_ListStatements(self, req: SimRequest) -> dict[str, Any]:
        with self.lock:
            s = self._get(req.body.get("SessionId"))
            page, token = self.sim.page(s.statements, req.body.get("NextToken"), 0, {"SessionId": s.id})
            out: dict[str, Any] = {"Statements": [st.to_json() for st in page]}
        if token:
            out["NextToken"] = token
        return out

    def op_CancelStatement(self, req: SimRequest) -> dict[str, Any]:
        with self.lock:
            s, stmt = self._statement(req)
            if stmt.state in ("AVAILABLE", "ERROR", "CANCELLED"):
                raise AwsError("IllegalSessionStateException", f"Statement {stmt.id} is {stmt.state} and cannot be cancelled.")
            self._cancel(s, stmt)
        return {}

    def _cancel(self, s: Session, stmt: Statement) -> None:
        if stmt.state == "WAITING":
            stmt.state, stmt.completed_on = "CANCELLED", _now_ms()
            return
        stmt.state = "CANCELLING"
        if stmt.thread_id is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(stmt.thread_id), ctypes.py_object(KeyboardInterrupt))
        if s.spark is not None:
            # A job the statement starts after this call must be cancelled too: keep cancelling until it ends.
            def keep_cancelling() -> None:
                deadline = time.time() + 120
                while stmt.state == "CANCELLING" and time.time() < deadline:
                    s.spark.sparkContext.cancelJobGroup(_group(s, stmt))
                    time.sleep(0.2)

            threading.Thread(target=keep_cancelling, name=f"cancel-{s.id}-{stmt.id}", daemon=True).start()

    def _worker(self, s: Session) -> None:
        """Runs the session's statements in order until the session ends."""
        while True:
            try:
                if not self._run_next(s):
                    return
            except KeyboardInterrupt:  # a cancel that landed after the statement's own code returned
                self._settle(s, None, "CANCELLED")

    def _run_next(self, s: Session) -> bool:
        stmt = s.queue.get()
        if stmt is None:
            return False
        with self.lock:
            if stmt.state != "WAITING":
                return True
            if s.status != "READY":  # the session ended while this statement waited
                stmt.state, stmt.completed_on = "CANCELLED", _now_ms()
                return True
            stmt.state, stmt.started_on, stmt.thread_id = "RUNNING", _now_ms(), threading.get_ident()
            s.running = stmt
            hook = self.sim.fault_hooks.get("session_timeout")
            lost_after_work = False
            if hook and hook.get("during_statement") and self._hook_fires(hook, s):
                # The session times out while this statement runs, as a Glue session hitting its Timeout does:
                # before its code ran, or (`after_work`) once its code has run and committed what it wrote.
                self.sim.fault_hooks.pop("session_timeout", None)
                if not hook.get("after_work"):
                    output = _error_output(stmt, "SessionTimeout", f"session {s.id} timed out while the statement ran")
                    self._settle(s, output, "ERROR")
                    self._end(s, "TIMEOUT")
                    return True
                lost_after_work = True
        output, state = None, "CANCELLED"
        try:
            output, state = self._execute(s, stmt)
        except KeyboardInterrupt:
            pass
        if lost_after_work:
            with self.lock:
                output = _error_output(stmt, "SessionTimeout", f"session {s.id} timed out while the statement ran")
                self._settle(s, output, "ERROR")
                self._end(s, "TIMEOUT")
            return True
        self._settle(s, output, state)
        return True

    def _settle(self, s: Session, output: dict[str, Any] | None, state: str) -> None:
        """Records the end of the running statement (CANCELLED if a cancel was asked for meanwhile)."""
        with self.lock:
            stmt = s.running
            if stmt is None:
                return
            s.running = None
            stmt.thread_id = None
            if stmt.state == "CANCELLING":
                state, output = "CANCELLED", None
            stmt.state, stmt.output, stmt.completed_on = state, output, _now_ms()
            s.completed += 1
            s.last_activity = time.time()

    @staticmethod
    def _hook_fires(hook: dict[str, Any], s: Session) -> bool:
        return hook.get("session_id", "*") in ("*", s.id) and s.completed >= int(hook.get("after_statements", 0))

    def _execute(self, s: Session, stmt: Statement) -> tuple[dict[str, Any] | None, str]:
        hook = self.sim.fault_hooks.get("fail_statement")
        if hook and hook.get("contains", "") in stmt.code and hook.get("session_id", "*") in ("*", s.id):
            output = _error_output(stmt, hook.get("error_name", "InjectedFailure"), hook.get("error_value", "statement failed (injected)"))
            return output, hook.get("state", "AVAILABLE")
        buffer = io.StringIO()
        OUTPUT.buffer = buffer
        OUTPUT.session_args = ["--SESSION_ID", s.id, *_flatten(s.request.get("DefaultArguments", {}))]
        OUTPUT.spark = s.spark
        s.spark.sparkContext.setJobGroup(_group(s, stmt), f"statement {stmt.id} of {s.id}", True)
        try:
            _run_python(stmt.code, s.globals)
            status: dict[str, Any] = {"Status": "ok"}
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # the statement's own failure, reported as Livy reports it
            status = {
                "Status": "error",
                "ErrorName": _error_name(err),
                "ErrorValue": _error_value(err),
                "Traceback": traceback.format_exception(type(err), err, err.__traceback__)[1:],
            }
        finally:
            OUTPUT.buffer = None
            OUTPUT.session_args = None
            OUTPUT.spark = None
        return {"Data": {"TextPlain": buffer.getvalue()}, "ExecutionCount": stmt.id, **status}, "AVAILABLE"


def _route_session_lookups() -> None:
    """Inside a statement, `SparkSession.builder.getOrCreate()` and `getActiveSession()` (Glue's idioms, and what the
    reference adapter's helpers call) give the statement's own session, with the builder's settings applied to it, not
    the simulator's shared base session."""
    from pyspark.sql import SparkSession

    if getattr(SparkSession.Builder.getOrCreate, "_glue_sim", False):
        return
    original_get_or_create = SparkSession.Builder.getOrCreate
    original_active = SparkSession.getActiveSession

    def get_or_create(builder: Any) -> Any:
        session = OUTPUT.spark
        if session is None:
            return original_get_or_create(builder)
        for key, value in getattr(builder, "_options", {}).items():
            try:
                session.conf.set(key, value)
            except Exception:  # static settings of the shared JVM
                pass
        return session

    def active(cls: Any) -> Any:
        return OUTPUT.spark if OUTPUT.spark is not None else original_active()

    get_or_create._glue_sim = True  # type: ignore[attr-defined]
    SparkSession.Builder.getOrCreate = get_or_create  # type: ignore[method-assign]
    SparkSession.getActiveSession = classmethod(active)  # type: ignore[method-assign, assignment]


def _run_python(code: str, env: dict[str, Any]) -> None:
    """Runs `code` like Livy's Python interpreter: a trailing expression's value is printed."""
    tree = ast.parse(code, mode="exec")
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is not None:
        tree.body = tree.body[:-1]
    exec(compile(tree, "<statement>", "exec"), env)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), "<statement>", "eval"), env)
        if value is not None:
            print(repr(value))


def _error_output(stmt: Statement, name: str, value: str) -> dict[str, Any]:
    return {"Data": {"TextPlain": ""}, "ExecutionCount": stmt.id, "Status": "error", "ErrorName": name,
            "ErrorValue": value, "Traceback": []}  # fmt: skip


def _error_name(err: BaseException) -> str:
    return type(err).__name__


def _error_value(err: BaseException) -> str:
    text = str(err)
    # PySpark's captured errors carry the JVM stack after the message; Glue shows the message.
    return text.split("\n\nJVM stacktrace:")[0]


def _group(s: Session, stmt: Statement) -> str:
    return f"{s.id}:{stmt.id}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _flatten(arguments: dict[str, str]) -> list[str]:
    out: list[str] = []
    for key, value in arguments.items():
        out += [key, value]
    return out


def _parse_conf(conf: str) -> dict[str, str]:
    """Glue's `--conf` value: `k=v --conf k2=v2 ...`."""
    out: dict[str, str] = {}
    for part in conf.split("--conf"):
        part = part.strip()
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (0,)


def secret_token() -> str:
    return secrets.token_urlsafe(48)
