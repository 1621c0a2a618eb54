"""The reference adapter (dbt-glue 1.10.19, boto3) runs a project on the Glue simulator: proof that the simulator is
what the Python adapter expects of Glue (sessions, the SqlWrapper2 bootstrap in a real Spark, the catalog), and the
reference's API calls per model as a baseline for glue-rs.

Usage: reference_adapter.py DBT_BIN_DIR SIM_ENDPOINT. Builds xtask/world/reference twice (the second run takes the
incremental and table-rebuild paths), checks the tables in the Glue catalog, prints the Glue API calls of the second
run.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid

import boto3

PROJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference")


def log(endpoint: str, since: int = 0) -> list[dict]:
    with urllib.request.urlopen(f"{endpoint}/_sim/log?since={since}") as r:
        return json.load(r)["entries"]


def main() -> int:
    dbt_bin, endpoint = sys.argv[1], sys.argv[2]
    schema = f"reference_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "REFERENCE_SCHEMA": schema, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    s3.create_bucket(Bucket="reference-lake")
    work = tempfile.mkdtemp(prefix="glue-rs-reference-")
    seq = 0
    for command in (["build"], ["run"]):
        seq = log(endpoint)[-1]["seq"] if log(endpoint) else 0
        done = subprocess.run(
            [os.path.join(dbt_bin, "dbt"), *command, "--project-dir", PROJECT, "--profiles-dir", PROJECT,
             "--target-path", os.path.join(work, "target"), "--log-path", os.path.join(work, "logs")],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        print(f"dbt {' '.join(command)} (dbt-glue): exit {done.returncode}")
        if done.returncode != 0:
            print(done.stdout[-4000:])
            return 1
    calls = collections.Counter(e["operation"] for e in log(endpoint, seq) if e["service"] == "glue")
    print("Glue API calls of `dbt run` (3 models):", dict(calls.most_common()))

    glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    pages = glue.get_paginator("get_tables").paginate(DatabaseName=schema).build_full_result()["TableList"]
    tables = {t["Name"]: t for t in pages}
    names = sorted(tables)
    assert names == ["people", "recent", "summary", "totals"], names
    assert [k["Name"] for k in tables["totals"]["PartitionKeys"]] == ["name"], tables["totals"]
    assert tables["totals"]["StorageDescriptor"]["Location"] == f"s3://reference-lake/warehouse/{schema}/totals"
    views = [t["Name"] for t in pages if t["TableType"] == "VIRTUAL_VIEW"]
    assert views == ["summary"], views
    print(f"dbt-glue built {names} in the simulator's catalog; twice, through {calls['RunStatement']} statements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
