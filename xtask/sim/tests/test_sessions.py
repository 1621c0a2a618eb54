"""Glue sessions and statements of the simulator, through boto3: the state machine, statements in real Spark, limits,
cancellation, faults."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from conftest import run, wait_status

ROLE = "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole"


def create(glue, **extra) -> str:
    sid = f"test-{uuid.uuid4().hex[:10]}"
    glue.create_session(Id=sid, Role=ROLE, Command={"Name": "glueetl", "PythonVersion": "3"}, GlueVersion="5.0",
                        NumberOfWorkers=2, WorkerType="G.1X", **extra)  # fmt: skip
    return sid


def test_lifecycle_provisioning_ready_stop_delete(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 1.0})
    sid = create(glue, IdleTimeout=30, Tags={"team": "data"})
    assert glue.get_session(Id=sid)["Session"]["Status"] == "PROVISIONING"
    with pytest.raises(ClientError) as err:
        glue.run_statement(SessionId=sid, Code="1")
    assert err.value.response["Error"]["Code"] == "IllegalSessionStateException"
    ready = wait_status(glue, sid, "READY")
    assert ready["WorkerType"] == "G.1X" and ready["NumberOfWorkers"] == 2 and ready["IdleTimeout"] == 30
    time.sleep(0.3)
    assert glue.get_session(Id=sid)["Session"]["DPUSeconds"] > 0
    with pytest.raises(ClientError) as err:
        create_same = {"Id": sid, "Role": ROLE, "Command": {"Name": "glueetl"}}
        glue.create_session(**create_same)
    assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    glue.stop_session(Id=sid)
    assert glue.get_session(Id=sid)["Session"]["Status"] in ("STOPPING", "STOPPED")
    stopped = wait_status(glue, sid, "STOPPED")
    dpu = stopped["DPUSeconds"]
    time.sleep(0.2)
    assert glue.get_session(Id=sid)["Session"]["DPUSeconds"] == dpu, "a stopped session costs nothing more"
    glue.delete_session(Id=sid)
    with pytest.raises(ClientError) as err:
        glue.get_session(Id=sid)
    assert err.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_idle_timeout(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0, "seconds_per_idle_minute": 2.0})
    sid = create(glue, IdleTimeout=1)
    wait_status(glue, sid, "READY")
    assert run(glue, sid, "1 + 1")["State"] == "AVAILABLE"
    wait_status(glue, sid, "TIMEOUT", timeout=15)
    with pytest.raises(ClientError) as err:
        glue.run_statement(SessionId=sid, Code="1")
    assert err.value.response["Error"]["Code"] == "IllegalSessionStateException"
    glue.delete_session(Id=sid)


def test_statement_runs_in_spark_with_livy_output(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    sid = create(glue)
    wait_status(glue, sid, "READY")
    stmt = run(glue, sid, "rows = spark.sql('select 1 + 1 as two').collect()\nprint(rows[0].two)\nrows[0].two * 10")
    assert stmt["State"] == "AVAILABLE" and stmt["Output"]["Status"] == "ok"
    assert stmt["Output"]["Data"]["TextPlain"] == "2\n20\n"
    assert stmt["StartedOn"] <= stmt["CompletedOn"] and stmt["Progress"] == 1.0
    # What the reference adapter's bootstrap imports exists, and --SESSION_ID resolves to the session.
    code = (
        "import sys, json\nfrom awsglue.utils import getResolvedOptions\n"
        "print(json.dumps(getResolvedOptions(sys.argv, ['SESSION_ID'])))\n"
        "import pandas, pyarrow.feather, boto3"
    )
    stmt = run(glue, sid, code)
    assert stmt["Output"]["Status"] == "ok", stmt["Output"]
    assert json.loads(stmt["Output"]["Data"]["TextPlain"]) == {"SESSION_ID": sid}
    # Temp views belong to the session; globals persist between statements.
    run(glue, sid, "spark.sql('create or replace temp view v as select 7 as x')\nkeep = 3")
    assert run(glue, sid, "print(spark.table('v').first().x + keep)")["Output"]["Data"]["TextPlain"] == "10\n"
    other = create(glue)
    wait_status(glue, other, "READY")
    failed = run(glue, other, "spark.table('v')")
    assert failed["State"] == "AVAILABLE" and failed["Output"]["Status"] == "error"
    assert failed["Output"]["ErrorName"] == "AnalysisException"
    assert "TABLE_OR_VIEW_NOT_FOUND" in failed["Output"]["ErrorValue"]
    assert failed["Output"]["Traceback"]
    listed = glue.list_statements(SessionId=sid)
    assert [s["Id"] for s in listed["Statements"]] == [0, 1] and "NextToken" in listed, "pages of 2"
    for s in (sid, other):
        glue.delete_session(Id=s)


def test_session_conf_applies_runtime_settings(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    sid = create(glue, DefaultArguments={"--conf": "spark.sql.shuffle.partitions=7 --conf spark.sql.ansi.enabled=false"})
    wait_status(glue, sid, "READY")
    out = run(glue, sid, "print(spark.conf.get('spark.sql.shuffle.partitions'), spark.conf.get('spark.sql.sources.partitionOverwriteMode'))")
    # Spark's default partition overwrite mode, as on Glue: nothing glue-rs does may depend on the session's.
    assert out["Output"]["Data"]["TextPlain"].lower() == "7 static\n"
    glue.delete_session(Id=sid)


def test_code_limit_and_validation(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    sid = create(glue)
    wait_status(glue, sid, "READY")
    ok = "x = '" + "a" * (68_000 - 6) + "'"
    assert len(ok) == 68_000
    assert run(glue, sid, ok)["Output"]["Status"] == "ok"
    with pytest.raises(ClientError) as err:
        glue.run_statement(SessionId=sid, Code=ok + " ")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "68000" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        glue.create_session(Id="has.period", Role=ROLE, Command={"Name": "glueetl"})
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    with pytest.raises(ClientError) as err:
        glue.create_session(Id=f"sc-{uuid.uuid4().hex[:6]}", Role=ROLE, Command={"Name": "glueetl"}, GlueVersion="5.0",
                            SessionType="SPARK_CONNECT")  # fmt: skip
    assert err.value.response["Error"]["Code"] == "InvalidInputException" and "5.1" in err.value.response["Error"]["Message"]
    glue.delete_session(Id=sid)


def test_statements_queue_and_cancel(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    sid = create(glue)
    wait_status(glue, sid, "READY")
    slow = glue.run_statement(SessionId=sid, Code="import time\nfor _ in range(600):\n    time.sleep(0.05)")["Id"]
    queued = glue.run_statement(SessionId=sid, Code="print('after')")["Id"]
    deadline = time.time() + 10
    while glue.get_statement(SessionId=sid, Id=slow)["Statement"]["State"] != "RUNNING":
        assert time.time() < deadline
        time.sleep(0.05)
    assert glue.get_statement(SessionId=sid, Id=queued)["Statement"]["State"] == "WAITING"
    glue.cancel_statement(SessionId=sid, Id=slow)
    deadline = time.time() + 10
    while (state := glue.get_statement(SessionId=sid, Id=slow)["Statement"]["State"]) != "CANCELLED":
        assert state in ("RUNNING", "CANCELLING") and time.time() < deadline, state
        time.sleep(0.05)
    after = run(glue, sid, "print('third')")
    assert after["Output"]["Data"]["TextPlain"] == "third\n"
    assert glue.get_statement(SessionId=sid, Id=queued)["Statement"]["Output"]["Data"]["TextPlain"] == "after\n"
    # A running Spark job is cancelled too.
    job = glue.run_statement(SessionId=sid, Code="spark.range(10**12).selectExpr('sum(id)').collect()")["Id"]
    time.sleep(1.5)
    glue.cancel_statement(SessionId=sid, Id=job)
    deadline = time.time() + 30
    while glue.get_statement(SessionId=sid, Id=job)["Statement"]["State"] != "CANCELLED":
        assert time.time() < deadline
        time.sleep(0.1)
    glue.delete_session(Id=sid)


def test_injected_statement_failure_and_session_timeout(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    sid = create(glue)
    wait_status(glue, sid, "READY")
    sim.admin("faults", {"fail_statement": {"contains": "boom", "error_name": "Py4JJavaError", "error_value": "disk full", "state": "ERROR"}})
    stmt = run(glue, sid, "print('boom')")
    assert stmt["State"] == "ERROR" and stmt["Output"]["ErrorValue"] == "disk full"
    assert run(glue, sid, "print('fine')")["Output"]["Status"] == "ok"
    sim.admin("faults", {"session_timeout": {"session_id": sid, "after_statements": 3}})
    run(glue, sid, "print('third')")
    assert glue.get_session(Id=sid)["Session"]["Status"] == "TIMEOUT"
    glue.delete_session(Id=sid)


def test_list_sessions_endpoint_of_livy_session_and_waiting_statements(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    ids = [create(glue) for _ in range(3)]
    listed, token = [], None
    while True:
        page = glue.list_sessions(**({"NextToken": token} if token else {}))
        listed += page["Ids"]
        token = page.get("NextToken")
        if not token:
            break
    assert set(ids) <= set(listed)
    sid = ids[0]
    wait_status(glue, sid, "READY")
    with pytest.raises(ClientError) as err:
        glue.get_session_endpoint(SessionId=sid)
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    # A WAITING statement is cancelled at once; statements still waiting when the session stops never run.
    glue.run_statement(SessionId=sid, Code="import time\nfor _ in range(100):\n    time.sleep(0.05)")
    waiting = glue.run_statement(SessionId=sid, Code="print('never')")["Id"]
    glue.cancel_statement(SessionId=sid, Id=waiting)
    assert glue.get_statement(SessionId=sid, Id=waiting)["Statement"]["State"] == "CANCELLED"
    queued = glue.run_statement(SessionId=sid, Code="spark.sql('create database should_not_exist_db')")["Id"]
    glue.stop_session(Id=sid)
    assert glue.get_statement(SessionId=sid, Id=queued)["Statement"]["State"] == "CANCELLED"
    time.sleep(6)
    assert "should_not_exist_db" not in [d["Name"] for d in glue.get_databases(MaxResults=100)["DatabaseList"]]
    for s in ids:
        glue.delete_session(Id=s)


def test_glue_idioms_give_the_statements_own_session(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    a, b = create(glue), create(glue)
    for s in (a, b):
        wait_status(glue, s, "READY")
    code = (
        "from pyspark.sql import SparkSession\nfrom awsglue.context import GlueContext\n"
        "s = SparkSession.builder.config('spark.sql.shuffle.partitions', '11').getOrCreate()\n"
        "g = GlueContext(s.sparkContext).spark_session\n"
        "s.sql('create or replace temp view mine as select 1 as x')\n"
        "print(s is spark, g is spark, SparkSession.getActiveSession() is spark, spark.conf.get('spark.sql.shuffle.partitions'))"
    )
    assert run(glue, a, code)["Output"]["Data"]["TextPlain"] == "True True True 11\n"
    other = run(glue, b, "print(spark.conf.get('spark.sql.shuffle.partitions'), spark.catalog.tableExists('mine'))")
    assert other["Output"]["Data"]["TextPlain"] == "2 False\n", "nothing leaks into another session"
    for s in (a, b):
        glue.delete_session(Id=s)


def test_session_times_out_during_a_statement_once(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0})
    sid = create(glue)
    wait_status(glue, sid, "READY")
    run(glue, sid, "print(1)")
    sim.admin("faults", {"session_timeout": {"session_id": sid, "after_statements": 1, "during_statement": True}})
    seq = sim.last_seq()
    stmt = run(glue, sid, "print(2)")
    assert stmt["State"] == "ERROR" and stmt["Output"]["ErrorName"] == "SessionTimeout"
    assert glue.get_session(Id=sid)["Session"]["Status"] == "TIMEOUT"
    entries = [e for e in sim.log(seq) if e["operation"] in ("RunStatement", "GetStatement")]
    assert entries[0]["statement_id"] == 1 and entries[-1]["state"] == "ERROR" and entries[-1]["session_id"] == sid
    # The fault fires once: the session recreated under the same Id (the reference adapter's recovery) lives.
    glue.delete_session(Id=sid)
    create_again = {"Id": sid, "Role": ROLE, "Command": {"Name": "glueetl"}, "GlueVersion": "5.0"}
    glue.create_session(**create_again)
    wait_status(glue, sid, "READY")
    assert run(glue, sid, "print(3)")["Output"]["Data"]["TextPlain"] == "3\n"
    glue.delete_session(Id=sid)


def test_session_timeout_bounds_a_busy_session(glue, sim):
    sim.admin("config", {"provisioning_delay_s": 0.0, "seconds_per_idle_minute": 2.0})
    sid = create(glue, Timeout=1, IdleTimeout=10)
    wait_status(glue, sid, "READY")
    for _ in range(3):  # busy all along: the idle timeout never fires, the session Timeout does
        assert run(glue, sid, "print(1)")["Output"]["Status"] == "ok"
        time.sleep(0.3)
    wait_status(glue, sid, "TIMEOUT", timeout=15)
    glue.delete_session(Id=sid)
