"""`cargo xtask bench remote`: glue-rs beside dbt-glue on the Glue simulator, with latency injected into every
Glue call; and glue-rs on Glue 5.1 Spark Connect sessions beside glue-rs on Livy sessions.

Usage: remote.py GLUE_BINARY DBT_BIN_DIR SIM_ENDPOINT [--latency-ms MS]

Three runs (glue-rs on Livy sessions, glue-rs on Spark Connect sessions, dbt-glue on Livy sessions) build the project
xtask/world/reference (a seed, an incremental, a table and a view; its profiles.yml) in a
schema of their own (a copy of the project each, so glue-rs's target/ and logs/ stay out of the tree): a first `build`,
then a second `run` (warm: the incremental and table-rebuild paths). Each command is timed (wall clock) and its Glue
API calls are counted from the simulator's request log (`/_sim/log`, the entries after the last sequence number before
the command). Prints the two tools side by side with the ratio glue-rs/dbt-glue. No timing is asserted; exit status 1
when a command of either tool fails.

The simulator may be shared with tests running at the same time: the request log is never cleared, and the calls are
attributed as well as the log allows. Each tool's copy of the profile sets its own `glue_session_id` (the session ids'
prefix), so session calls (CreateSession, RunStatement, GetStatement, ...) of other clients are left out; catalog calls
carry no session id and are counted by time window only, so when another client was active in the window the line
`warning: ... other clients` says so (the catalog counts may then include theirs). Faults set by others during a
command (throttling, or a reset of the injected latency) are reported too.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field

import boto3

PROJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "world", "reference")
TOOLS = ("glue-rs", "glue-rs-sc", "dbt-glue")
# glue-rs-sc: glue-rs on Glue 5.1 SPARK_CONNECT sessions (the simulator's token proxy before the world's Spark 4).
SPARK_CONNECT_LINES = "      session_type: spark_connect\n      glue_version: '5.1'\n"
LATENCY_KEY = "glue:*"  # Faults._lookup in xtask/sim/gluesim/server.py: `service:*` matches every operation of Glue
SUMMARY = re.compile(r"Glue(?: Spark Connect)?: \d+ session\(s\).*$", re.M)
# Operations shown first, in this order; any other operation follows, most frequent first.
OPERATIONS = ["RunStatement", "GetStatement", "CancelStatement", "GetSession", "CreateSession", "StopSession",
              "DeleteSession", "ListSessions", "GetDatabase", "GetDatabases", "CreateDatabase", "GetTable",
              "GetTables", "CreateTable", "UpdateTable", "DeleteTable", "GetPartitions", "BatchGetPartition",
              "BatchCreatePartition", "BatchDeletePartition"]  # fmt: skip


def sim(endpoint: str, path: str, method: str = "GET", payload: dict | None = None) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{endpoint}/_sim/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


def last_seq(endpoint: str) -> int:
    entries = sim(endpoint, "log?since=0")["entries"]
    return entries[-1]["seq"] if entries else 0


def faults(endpoint: str) -> dict:
    """The simulator's faults (a POST without keys changes nothing and answers them)."""
    return sim(endpoint, "faults", "POST", {})


@dataclass
class Step:
    tool: str
    command: str
    nodes: int
    session_prefix: str
    wall: float = 0.0
    returncode: int = 0
    first_seq: int = 0
    last_seq: int = 0
    calls: collections.Counter = field(default_factory=collections.Counter)
    other_services: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    sessions_created: set = field(default_factory=set)
    sessions_used: set = field(default_factory=set)
    # Session calls of other clients in the window (left out of `calls`).
    foreign: collections.Counter = field(default_factory=collections.Counter)
    fault_notes: list = field(default_factory=list)
    summary: str = ""
    output: str = ""


def count_nodes(project: str) -> tuple[int, int]:
    """(seeds, models) of the project."""
    seeds = [f for f in os.listdir(os.path.join(project, "seeds")) if f.endswith(".csv")]
    models = [f for f in os.listdir(os.path.join(project, "models")) if f.endswith((".sql", ".py"))]
    return len(seeds), len(models)


def run_step(step: Step, argv: list[str], env: dict, endpoint: str, latency_ms: float, cwd: str) -> Step:
    # Another client may have reset the faults since the last command: set the latency again.
    sim(endpoint, "faults", "POST", {"latency_ms": {LATENCY_KEY: latency_ms}})
    step.first_seq = last_seq(endpoint)
    start = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=cwd)
    step.wall = time.monotonic() - start
    step.returncode = done.returncode
    step.output = done.stdout + done.stderr
    found = SUMMARY.findall(step.output)
    step.summary = found[-1].strip() if found else ""
    state = faults(endpoint)
    if state.get("latency_ms", {}).get(LATENCY_KEY) != latency_ms:
        step.fault_notes.append(f"the injected latency was reset during the command (faults now {state})")
    if state.get("throttle") or any(k not in ("throttle", "latency_ms") and v for k, v in state.items()):
        step.fault_notes.append(f"another client's faults were active at the end of the command: {state}")
    entries = sim(endpoint, f"log?since={step.first_seq}")["entries"]
    step.last_seq = entries[-1]["seq"] if entries else step.first_seq
    for e in entries:
        session = e.get("session_id")
        if session and not session.startswith(step.session_prefix):
            step.foreign[f"{e['service']}:{e['operation']}"] += 1
            continue
        if e["service"] != "glue":
            step.other_services[f"{e['service']}:{e['operation']}"] += 1
            continue
        step.calls[e["operation"]] += 1
        if e.get("error"):
            step.errors[f"{e['operation']}: {e['error']}"] += 1
        if session:
            step.sessions_used.add(session)
            if e["operation"] == "CreateSession" and e.get("status") == 200:
                step.sessions_created.add(session)
    return step


def drop_schemas(endpoint: str, schemas: list[str]) -> None:
    """Deletes the bench's databases (with their tables) and their data: the simulator is shared and lists databases
    in pages of two, so leftovers would inflate every later client's GetDatabases."""
    keys = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing"}  # fmt: skip
    catalog, s3 = boto3.client("glue", **keys), boto3.client("s3", **keys)
    for schema in schemas:
        try:
            catalog.delete_database(Name=schema)
        except catalog.exceptions.EntityNotFoundException:
            pass
        except Exception as err:  # cleanup is best effort
            print(f"warning: could not delete the database {schema}: {err}")
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="reference-lake",
                                                                     Prefix=f"warehouse/{schema}/"):  # fmt: skip
                for o in page.get("Contents", []):
                    s3.delete_object(Bucket="reference-lake", Key=o["Key"])
        except Exception as err:
            print(f"warning: could not delete s3://reference-lake/warehouse/{schema}/: {err}")


def ratio(a: float, b: float) -> str:
    if b == 0:
        return "-" if a == 0 else "inf"
    return f"{a / b:.2f}"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, r in enumerate(rows):
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}".rstrip())
        if n == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def report(ours: Step, theirs: Step) -> str:
    total_o, total_t = sum(ours.calls.values()), sum(theirs.calls.values())
    per_o, per_t = total_o / ours.nodes, total_t / theirs.nodes
    rows = [(f"{ours.command} ({ours.nodes} nodes)", ours.tool, theirs.tool, f"{ours.tool}/{theirs.tool}"),
            ("wall time (s)", f"{ours.wall:.2f}", f"{theirs.wall:.2f}", ratio(ours.wall, theirs.wall)),
            ("wall time / node (s)", f"{ours.wall / ours.nodes:.2f}", f"{theirs.wall / theirs.nodes:.2f}",
             ratio(ours.wall, theirs.wall)),
            ("Glue API calls", str(total_o), str(total_t), ratio(total_o, total_t)),
            ("Glue API calls / node", f"{per_o:.2f}", f"{per_t:.2f}", ratio(per_o, per_t))]  # fmt: skip
    seen = set(ours.calls) | set(theirs.calls)
    ordered = [op for op in OPERATIONS if op in seen]
    ordered += sorted(seen - set(OPERATIONS), key=lambda op: -(ours.calls[op] + theirs.calls[op]))
    for op in ordered:
        o, t = ours.calls[op], theirs.calls[op]
        rows.append((f"  {op}: calls (/node)", f"{o} ({o / ours.nodes:.2f})", f"{t} ({t / theirs.nodes:.2f})",
                     ratio(o, t)))  # fmt: skip
    others_o, others_t = sum(ours.other_services.values()), sum(theirs.other_services.values())
    rows.append(("other services' calls (S3, STS, LF)", str(others_o), str(others_t), ratio(others_o, others_t)))
    failed_o, failed_t = sum(ours.errors.values()), sum(theirs.errors.values())
    rows.append(("Glue calls answered with an error", str(failed_o), str(failed_t), ""))
    rows.append(("Glue sessions created", str(len(ours.sessions_created)), str(len(theirs.sessions_created)), ""))
    return table(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("glue")
    parser.add_argument("dbt_bin_dir")
    parser.add_argument("endpoint")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="latency injected into every Glue operation")
    parser.add_argument("--keep", action="store_true",
                        help="keep the two schemas (databases and data) and the work directory afterwards")  # fmt: skip
    args = parser.parse_args()
    endpoint = args.endpoint.rstrip("/")
    glue = os.path.abspath(args.glue)
    dbt = os.path.join(os.path.abspath(args.dbt_bin_dir), "dbt")

    for binary in (glue, dbt):
        if not os.access(binary, os.X_OK):
            print(f"not an executable: {binary}", file=sys.stderr)
            return 1
    health = sim(endpoint, "health")
    if not health.get("ready"):
        print(f"the simulator at {endpoint} is not ready: {health}", file=sys.stderr)
        return 1
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")  # fmt: skip
    try:
        s3.create_bucket(Bucket="reference-lake")
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass

    run_id = uuid.uuid4().hex[:8]
    work = tempfile.mkdtemp(prefix="glue-rs-bench-remote-")
    seeds, models = count_nodes(PROJECT)
    nodes = {"build": seeds + models, "run": models}
    base_env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}  # fmt: skip
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "DBT_PROFILES_DIR", "DBT_PROJECT_DIR", "DBT_TARGET_PATH"):
        base_env.pop(key, None)
    schemas = {tool: f"bench_{tool.replace('-', '_')}_{run_id}" for tool in TOOLS}

    steps: dict[tuple[str, str], Step] = {}
    failed = False
    print(f"bench remote: {glue} beside dbt-glue ({dbt}) on {endpoint}, {args.latency_ms:g} ms injected per Glue "
          f"call; work dir {work}", flush=True)  # fmt: skip
    before = faults(endpoint)
    if before.get("throttle") or before.get("latency_ms"):
        print(f"warning: the simulator already has faults: {before}")
    try:
        for tool in TOOLS:
            project = os.path.join(work, tool, "project")
            shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
            # The sessions' id prefix (dbt-glue's and glue-rs's `glue_session_id`): tells this tool's session calls
            # from other clients' (without it both tools name their sessions dbt-glue__<role>__<uuid>).
            prefix = f"bench-{tool}-{run_id}"
            profiles = os.path.join(project, "profiles.yml")
            with open(profiles) as f:
                text = f.read()
            assert "      type: glue\n" in text, "xtask/world/reference/profiles.yml changed shape"
            with open(profiles, "w") as f:
                extra = SPARK_CONNECT_LINES if tool == "glue-rs-sc" else ""
                f.write(text.replace("      type: glue\n", f"      type: glue\n      glue_session_id: {prefix}\n{extra}", 1))
            env = {**base_env, "REFERENCE_SCHEMA": schemas[tool]}
            for command in ("build", "run"):
                if tool.startswith("glue-rs"):
                    argv = [glue, command, "--project-dir", project, "--profiles-dir", project]
                else:
                    argv = [dbt, command, "--project-dir", project, "--profiles-dir", project,
                            "--target-path", os.path.join(project, "target"), "--log-path",
                            os.path.join(project, "logs")]  # fmt: skip
                step = Step(tool, command, nodes[command], prefix)
                run_step(step, argv, env, endpoint, args.latency_ms, os.path.join(work, tool))
                steps[(tool, command)] = step
                print(f"{tool} {command} (schema {schemas[tool]}): exit {step.returncode} in {step.wall:.2f} s, "
                      f"{sum(step.calls.values())} Glue calls (log seq {step.first_seq} < seq <= {step.last_seq})",
                      flush=True)  # fmt: skip
                if step.returncode != 0:
                    print(step.output[-6000:])
                    failed = True
                    break
            if failed:
                break
    finally:
        # Remove the latency. Other clients' faults set meanwhile are left alone: DELETE only when the latency is
        # the only fault, else neutralize just its key (an explicit operation key of theirs still wins over it).
        state = faults(endpoint)
        if not state.get("throttle") and set(state.get("latency_ms", {})) <= {LATENCY_KEY} and len(state) <= 2:
            sim(endpoint, "faults", "DELETE")
        else:
            sim(endpoint, "faults", "POST", {"latency_ms": {LATENCY_KEY: 0}})

    status = 1
    try:
        status = report_all(steps, schemas, endpoint, failed)
        return status
    finally:
        if not args.keep:
            drop_schemas(endpoint, list(schemas.values()))
            if status == 0:
                shutil.rmtree(work, ignore_errors=True)


def report_all(steps: dict[tuple[str, str], Step], schemas: dict[str, str], endpoint: str, failed: bool) -> int:
    if failed:
        return 1

    # The same relations in both schemas (a sanity check, outside the measured windows; not a failure).
    catalog = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")  # fmt: skip
    built = {}
    for tool in TOOLS:
        pages = catalog.get_paginator("get_tables").paginate(DatabaseName=schemas[tool]).build_full_result()
        built[tool] = sorted(f"{t['Name']} ({t.get('TableType', '?')})" for t in pages["TableList"])
    print()
    if all(built[tool] == built["dbt-glue"] for tool in TOOLS):
        print(f"all three runs built {', '.join(built['glue-rs'])}")
    else:
        print(f"warning: the schemas differ: {built}")
    print()
    for command in ("build", "run"):
        print(report(steps[("glue-rs", command)], steps[("dbt-glue", command)]))
        print()
    print("Spark Connect sessions beside Livy sessions (glue-rs both):")
    for command in ("build", "run"):
        print(report(steps[("glue-rs-sc", command)], steps[("glue-rs", command)]))
        print()
    for tool in ("glue-rs", "glue-rs-sc"):
        for command in ("build", "run"):
            step = steps[(tool, command)]
            print(f"{tool} {command}: {step.summary or '(no `Glue:` summary line)'}")
    for (tool, command), step in steps.items():
        if step.errors:
            print(f"{tool} {command}: Glue calls answered with an error: {dict(step.errors.most_common())}")
        if step.other_services:
            print(f"{tool} {command}: other services' calls: {dict(step.other_services.most_common())}")
    for (tool, command), step in steps.items():
        if step.foreign:
            print(f"warning: {tool} {command}: other clients were active in the window ({sum(step.foreign.values())}"
                  f" session calls, left out); its catalog calls may include theirs")  # fmt: skip
        for note in step.fault_notes:
            print(f"warning: {tool} {command}: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
