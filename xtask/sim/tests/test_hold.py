"""The `hold` fault (a request held unprocessed until released or until its client goes away) and the
`/_sim/statements` view of a session's statements: what the crash tests use to kill a client at a request boundary and
to wait for the statement it left running."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import wait_status

ROLE = "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole"


def _until(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.time() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _entry(sim: Any, seq: int) -> dict[str, Any]:
    return next(e for e in sim.log(seq - 1) if e["seq"] == seq)


def test_the_nth_matching_request_is_held_until_released(sim):
    key = f"AKIAHOLD{uuid.uuid4().hex[:8].upper()}"
    mine = boto3.client(
        "glue", endpoint_url=sim.endpoint, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60),
    )  # fmt: skip
    other = sim.client("glue")
    answer = sim.admin("faults", {"hold": {"operation": "glue:ListSessions", "after": 1, "access_key": key}})
    assert answer["hold"]["after"] == 1 and answer["hold"]["access_key"] == key
    mine.list_sessions()  # the first matching request goes through
    other.list_sessions()  # another identity's requests never match
    done: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: done.setdefault("answer", mine.list_sessions()))
    thread.start()
    held = _until("the held request", lambda: sim.admin("holds")["held"])
    assert [(e["operation"], e["access_key"], e["held"]) for e in held] == [("ListSessions", key, True)]
    seq = held[0]["seq"]
    assert _entry(sim, seq)["held"] is True and _entry(sim, seq)["status"] == 0
    other.list_sessions()  # others are served while one request is held
    time.sleep(0.3)
    assert "answer" not in done, "a held request is not answered"
    assert sim.admin("holds/release", {})["released"] == 1
    thread.join(30)
    assert "answer" in done
    entry = _entry(sim, seq)
    assert entry["status"] == 200 and entry["held"] is False
    mine.list_sessions()  # one request per rule
    assert sim.admin("holds")["rule"]["matched"] == 2 and not sim.admin("holds")["held"]


def test_clearing_faults_releases_a_held_request(sim, glue):
    key = f"AKIAHOLD{uuid.uuid4().hex[:8].upper()}"
    sim.admin("faults", {"hold": {"operation": "*", "after": 0, "access_key": key}})
    status: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: status.setdefault("code", _raw(sim, key, "ListSessions", {})[0]))
    thread.start()
    _until("the held request", lambda: sim.admin("holds")["held"])
    sim.admin("faults", method="DELETE")
    thread.join(30)
    assert status["code"] == 200
    assert sim.admin("holds") == {"rule": None, "held": []}


def test_a_held_request_whose_client_disconnects_is_never_processed(sim, glue):
    key = f"AKIAHOLD{uuid.uuid4().hex[:8].upper()}"
    session_id = f"held-{uuid.uuid4().hex[:8]}"
    sim.admin("faults", {"hold": {"operation": "CreateSession", "after": 0, "access_key": key}})
    conn = _send(sim, key, "CreateSession", {"Id": session_id, "Role": ROLE, "Command": {"Name": "glueetl"}})
    held = _until("the held request", lambda: sim.admin("holds")["held"])
    assert held[0]["operation"] == "CreateSession" and held[0]["session_id"] == session_id
    conn.close()  # the client is killed while its request is held
    entry = _until("the dropped request", lambda: (e := _entry(sim, held[0]["seq"]))["status"] and e)
    assert entry["status"] == 499 and entry["error"] == "ClientClosedRequest" and entry["held"] is False
    assert not sim.admin("holds")["held"]
    sim.admin("holds/release", {})  # nothing left to release
    with pytest.raises(ClientError) as err:
        glue.get_session(Id=session_id)
    assert err.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_a_bad_hold_is_refused(sim):
    req = urllib.request.Request(
        f"{sim.endpoint}/_sim/faults", data=json.dumps({"hold": {"after": 1, "nth": 2}}).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 400


def test_statements_of_a_session_show_whether_one_still_runs(sim, glue):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    session_id = f"stmts-{uuid.uuid4().hex[:8]}"
    glue.create_session(Id=session_id, Role=ROLE, Command={"Name": "glueetl"}, GlueVersion="5.0")
    wait_status(glue, session_id, "READY")
    try:
        first = glue.run_statement(SessionId=session_id, Code="import time\ntime.sleep(1.5)")["Id"]
        second = glue.run_statement(SessionId=session_id, Code="1 + 1")["Id"]
        seen = sim.admin(f"statements?session_id={session_id}")
        assert seen["busy"] is True and seen["status"] == "READY"
        assert [s["id"] for s in seen["statements"]] == [first, second]
        assert seen["statements"][1]["state"] == "WAITING"
        done = _until("idle", lambda: (s := sim.admin(f"statements?session_id={session_id}"))["busy"] is False and s)
        assert [s["state"] for s in done["statements"]] == ["AVAILABLE", "AVAILABLE"]
        assert all(s["completed_on"] >= s["started_on"] > 0 for s in done["statements"])
    finally:
        glue.delete_session(Id=session_id)
    with pytest.raises(urllib.error.HTTPError) as err:
        sim.admin(f"statements?session_id={session_id}")
    assert err.value.code == 404


def _send(sim: Any, key: str, operation: str, body: dict[str, Any]) -> socket.socket:
    """Sends one Glue JSON request signed (by scope only: the simulator does not check signatures) with `key`."""
    host, port = sim.endpoint.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nX-Amz-Target: AWSGlue.{operation}\r\n"
        "Content-Type: application/x-amz-json-1.1\r\n"
        f"Authorization: AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/glue/aws4_request, "
        "SignedHeaders=host, Signature=0\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    conn = socket.create_connection((host, int(port)), timeout=60)
    conn.sendall(head.encode() + data)
    return conn


def _raw(sim: Any, key: str, operation: str, body: dict[str, Any]) -> tuple[int, bytes]:
    conn = _send(sim, key, operation, body)
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    conn.close()
    answer = b"".join(chunks)
    return int(answer.split(b" ", 2)[1]), answer
