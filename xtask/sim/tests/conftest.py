"""Fixtures: one simulator process for the whole test run (its Spark takes ~10 s to start), boto3 clients against it.

`GLUE_SIM_ENDPOINT` set: the tests use that running simulator (as `cargo xtask it` does after `cargo xtask up`).
Otherwise the fixture starts one and stops it at the end. A simulator that does not come up fails the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config

SIM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


class Sim:
    """A running simulator: its endpoint and admin calls."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def admin(self, path: str, payload: Any = None, method: str | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(f"{self.endpoint}/_sim/{path}", data=data, method=method or ("POST" if data else "GET"))
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        return self.admin(f"log?since={since}")["entries"]

    def last_seq(self) -> int:
        entries = self.log()
        return entries[-1]["seq"] if entries else 0

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**{"retries": {"max_attempts": 1, "mode": "standard"}, "s3": {"addressing_style": "path"}, **config}),
        )


@pytest.fixture(scope="session")
def sim() -> Iterator[Sim]:
    endpoint = os.environ.get("GLUE_SIM_ENDPOINT")
    if endpoint:
        yield Sim(endpoint)
        return
    state = tempfile.mkdtemp(prefix="gluesim-test-")
    ready = os.path.join(state, "ready.json")
    log = open(os.path.join(state, "sim.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gluesim", "--state-dir", state, "--ready-file", ready],
        cwd=SIM_DIR, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
    )  # fmt: skip
    try:
        deadline = time.time() + 180
        while not os.path.exists(ready):
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"the simulator did not start:\n{open(log.name).read()[-3000:]}")
            time.sleep(0.1)
        endpoint = json.load(open(ready))["endpoint"]
        while True:
            status, body = _get(f"{endpoint}/_sim/health")
            if status == 200:
                break
            if body.get("error") or proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"the simulator's Spark did not start: {body}\n{open(log.name).read()[-3000:]}")
            time.sleep(0.2)
        yield Sim(endpoint)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(autouse=True)
def clean_faults(sim: Sim) -> Iterator[None]:
    yield
    sim.admin("faults", method="DELETE")
    sim.admin("config", {"page_size": 2, "provisioning_delay_s": 0.5, "seconds_per_idle_minute": 60.0, "token_ttl_s": 3600.0})


@pytest.fixture
def glue(sim: Sim) -> Any:
    return sim.client("glue")


def wait_status(glue: Any, session_id: str, wanted: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.time() + timeout
    while True:
        session = glue.get_session(Id=session_id)["Session"]
        if session["Status"] == wanted:
            return session
        assert time.time() < deadline, f"session {session_id} stayed {session['Status']}, wanted {wanted}"
        time.sleep(0.1)


def run(glue: Any, session_id: str, code: str, timeout: float = 120) -> dict[str, Any]:
    """Runs a statement to completion and returns the GetStatement answer's Statement."""
    sid = glue.run_statement(SessionId=session_id, Code=code)["Id"]
    deadline = time.time() + timeout
    while True:
        stmt = glue.get_statement(SessionId=session_id, Id=sid)["Statement"]
        if stmt["State"] in ("AVAILABLE", "ERROR", "CANCELLED"):
            return stmt
        assert time.time() < deadline, f"statement {sid} still {stmt['State']}"
        time.sleep(0.05)
