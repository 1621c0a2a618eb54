#!/usr/bin/env python3
"""examples/glue_shop built by `glue build` on Glue sessions (the simulator: Livy statements in real PySpark 3.5) and by
dbt-spark (dbt-core 1.11, session method, a local Spark 3.5, ANSI off); every resulting table must hold the same rows.

Usage: spark_diff.py GLUE_BINARY DBT_SPARK_BIN_DIR SIM_ENDPOINT [--show N] [--keep]

Run it with a Python that has boto3 (it creates the S3 bucket of the glue target on the simulator), e.g. the spark35
venv's; dbt runs as DBT_SPARK_BIN_DIR/dbt.

Both sides build the project's parquet/csv/json paths (`--vars '{lakehouse_format: parquet, orders_strategy: append}'
--exclude orders_snapshot`: the snapshot and the merged `orders` need Delta or Iceberg) twice, each in its own copy of
examples/ in a temporary directory (the project and its local package glue_shop_utils), so that the second run takes the
incremental paths (`orders` appends, `daily_revenue` overwrites its newest partitions). Then every model (not
ephemeral) and seed of dbt-spark's manifest.json (as `relations()` of diff.py) is read back on each side with
`show --inline "select * from {{ ref(...) }}"` and compared with diff.py's `compare` (multisets of normalized rows).
Differing rows are printed as `<` (only on dbt-spark) and `>` (only on glue). Exit status 1 when any table differs,
cannot be read on one side or a build has a failing node; 2 when a tool fails to run at all.

The dbt-spark side, and why it differs from a bare profile:
- `dbt deps` installs the local package, and `dbt seed` runs before the two `dbt build`s: dbt does not order a model
  that reads a seed through `source()` after that seed (glue does), so on a fresh warehouse dbt's first build runs the
  view stg_customers before raw_customers exists, fails it and skips `customers`.
- server_side_parameters add `spark.sql.legacy.createHiveTableByDefault: false`. dbt-spark writes no `USING` clause
  when a model sets no file_format, and Spark 3.5 with Hive support then creates Hive SerDe tables, whose partitioned
  CTAS (`customers`, `daily_revenue`) fails in Hive's strict dynamic-partition mode. With the flag those tables are
  Parquet data-source tables, as the glue side creates them (`USING parquet`, dbt-glue's default file format).
- The Derby metastore (metastore_db/, derby.log) and the warehouse live in the temporary directory (dbt runs there).
- Rows are read with `dbt show --limit -1 --output json --log-format json` from the `ShowNode` event's `preview`.

One normalization on top of diff.py's, purely representational: dbt's JSON renders a DECIMAL as a JSON number
(agate turns Decimal into float: `55.0`), glue as the exact decimal string (`"55.00"`, `"27.50000000000000000000"`).
diff.py compares decimal strings of 16 characters or more as exact strings, which would never equal dbt's floats, so
here every decimal-looking string (on both sides) is turned into a float first and compared at diff.py's 12
significant digits. A consequence: a string column holding decimal-looking text compares numerically. Column types are
not compared (dbt's JSON does not carry them).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

sys.dont_write_bytecode = True  # nothing written into the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diff  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROJECT = "glue_shop"
VARS = "{lakehouse_format: parquet, orders_strategy: append}"
EXCLUDE = "orders_snapshot"


def copy_examples(dest: str) -> str:
    """examples/ (the project and its local package) copied into dest, without build output; the project's path."""
    shutil.copytree(
        os.path.join(ROOT, "examples"),
        os.path.join(dest, "examples"),
        ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "package-lock.yml"),
    )
    return os.path.join(dest, "examples", PROJECT)


def tail(done: subprocess.CompletedProcess, n: int = 3000) -> str:
    return f"{done.stdout[-n:]}\n{done.stderr[-n:]}".strip()


def summary(text: str) -> str:
    """The `Done. PASS=…` line of a dbt or glue run."""
    lines = [line for line in text.splitlines() if "Done. PASS=" in line]
    return lines[-1].split("Done. ", 1)[1] if lines else "(no summary line)"


# ---------------------------------------------------------------------------------------------------------- dbt-spark


class DbtSpark:
    def __init__(self, bin_dir: str, tmp: str, schema: str):
        self.dbt = os.path.join(bin_dir, "dbt")
        self.dir = os.path.join(tmp, "dbt")
        os.makedirs(self.dir)
        self.project = copy_examples(self.dir)
        profile = {PROJECT: {"target": "spark", "outputs": {"spark": {
            "type": "spark", "method": "session", "host": "localhost", "schema": schema, "threads": 1,
            "server_side_parameters": {
                "spark.sql.ansi.enabled": "false",
                "spark.sql.warehouse.dir": os.path.join(self.dir, "spark-warehouse"),
                "spark.sql.sources.partitionOverwriteMode": "dynamic",
                "spark.sql.legacy.createHiveTableByDefault": "false",
                "spark.ui.enabled": "false",
                "spark.driver.host": "127.0.0.1",
            },
        }}}}  # fmt: skip
        self.profiles = os.path.join(self.dir, "profiles")
        os.makedirs(self.profiles)
        with open(os.path.join(self.profiles, "profiles.yml"), "w") as f:
            json.dump(profile, f, indent=2)  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DBT_"))}
        self.env = dict(env, SPARK_LOCAL_IP="127.0.0.1", PATH=bin_dir + os.pathsep + env.get("PATH", ""))

    def run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [self.dbt, *args, "--project-dir", self.project, "--profiles-dir", self.profiles]
        # cwd: where Spark puts the Derby metastore.
        return subprocess.run(cmd, cwd=self.dir, env=self.env, capture_output=True, text=True)

    def read(self, name: str) -> list[dict[str, Any]] | str:
        sql = "select * from {{ ref('%s') }}" % name
        done = self.run("show", "--inline", sql, "--limit", "-1", "--output", "json", "--log-format", "json",
                        "--vars", VARS)  # fmt: skip
        for line in done.stdout.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("info", {}).get("name") == "ShowNode" and "preview" in event.get("data", {}):
                return json.loads(event["data"]["preview"])
        errors = [json.loads(line)["info"]["msg"] for line in done.stdout.splitlines()
                  if line.startswith("{") and '"level": "error"' in line]  # fmt: skip
        return (errors[-1] if errors else tail(done, 500) or "failed").splitlines()[-1]

    def side(self, nodes_ready: concurrent.futures.Future | None = None) -> tuple[list[str], int, dict[str, Any]]:
        """Build twice, then read every table: (log lines, worst exit status, rows by name)."""
        log, worst = [], 0
        for args in (("deps",), ("seed", "--vars", VARS)):
            done = self.run(*args)
            log.append(f"dbt-spark: dbt {args[0]}: exit {done.returncode}")
            if done.returncode != 0:
                log.append(tail(done))
                return log, 2, {}
        for i in (1, 2):
            done = self.run("build", "--vars", VARS, "--exclude", EXCLUDE)
            log.append(f"dbt-spark: dbt build #{i}: exit {done.returncode}: {summary(done.stdout)}")
            if done.returncode != 0:
                log.append(tail(done))
                worst = max(worst, 1 if done.returncode == 1 else 2)
                if done.returncode != 1:
                    return log, worst, {}
        nodes = [n for n in diff.relations(self.project) if n[1] != EXCLUDE]
        if nodes_ready is not None:
            nodes_ready.set_result(nodes)
        return log, worst, {name: self.read(name) for _, name, _ in nodes}


# --------------------------------------------------------------------------------------------------------------- glue


class Glue:
    def __init__(self, binary: str, endpoint: str, tmp: str, schema: str):
        self.binary = binary
        self.dir = os.path.join(tmp, "glue")
        os.makedirs(self.dir)
        self.project = copy_examples(self.dir)
        self.bucket = f"spark-diff-{uuid.uuid4().hex[:12]}"
        self.profiles = os.path.join(self.dir, "profiles")
        os.makedirs(self.profiles)
        profile = {PROJECT: {"target": "glue", "outputs": {"glue": {
            "type": "glue", "role_arn": "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole",
            "region": "us-east-1", "workers": 2, "worker_type": "G.1X", "schema": schema,
            "location": f"s3://{self.bucket}/warehouse", "threads": 4,
        }}}}  # fmt: skip
        with open(os.path.join(self.profiles, "profiles.yml"), "w") as f:
            json.dump(profile, f, indent=2)
        self.env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        }
        # diff.glue/diff.read run the binary with this process's environment.
        for key in [k for k in os.environ if k.startswith(("AWS_", "DBT_"))]:
            del os.environ[key]
        os.environ.update(self.env)
        diff.VARS[:] = ["--vars", VARS]

    def create_bucket(self) -> None:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        s3.create_bucket(Bucket=self.bucket)

    def side(self, nodes: concurrent.futures.Future) -> tuple[list[str], int, dict[str, Any]]:
        log, worst = [], 0
        self.create_bucket()
        for i in (1, 2):
            build = ["build", "--target", "glue", "--exclude", EXCLUDE]
            done = diff.glue(self.binary, build, self.project, self.profiles)
            log.append(f"glue: glue build #{i}: exit {done.returncode}: {summary(done.stdout)}")
            if done.returncode != 0:
                log.append(tail(done))
                worst = max(worst, 1 if done.returncode == 1 else 2)
                if done.returncode != 1:
                    return log, worst, {}
        return log, worst, {
            name: diff.read(self.binary, self.project, self.profiles, "glue", package, name)
            for package, name, _ in nodes.result()
        }


# --------------------------------------------------------------------------------------------------------------- main


def decimals_as_floats(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decimal strings as floats (see the module's docstring: dbt's JSON has no exact decimals)."""

    def cell(value: Any) -> Any:
        if isinstance(value, str) and diff.DECIMAL.match(value):
            try:
                return float(Decimal(value))
            except InvalidOperation:
                return value
        return value

    return [{k: cell(v) for k, v in row.items()} for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(prog="spark_diff.py")
    parser.add_argument("glue", help="the glue binary")
    parser.add_argument("dbt_spark_bin", help="bin directory of a venv with dbt-core, dbt-spark and pyspark 3.5")
    parser.add_argument("endpoint", help="the Glue simulator's endpoint (AWS_ENDPOINT_URL)")
    parser.add_argument("--show", type=int, default=10, help="differing rows printed per table")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="spark_diff_")
    schema = f"glue_shop_{uuid.uuid4().hex[:8]}"
    try:
        spark = DbtSpark(os.path.abspath(args.dbt_spark_bin), tmp, schema)
        glue = Glue(os.path.abspath(args.glue), args.endpoint, tmp, schema)
        nodes: concurrent.futures.Future = concurrent.futures.Future()
        # The two sides are independent: glue builds while dbt-spark does; glue reads once dbt's manifest names the
        # tables.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            spark_job = pool.submit(spark.side, nodes)
            glue_job = pool.submit(glue.side, nodes)
            try:
                spark_log, spark_status, spark_rows = spark_job.result()
            finally:
                if not nodes.done():
                    nodes.set_result([])  # dbt failed before its manifest: glue has nothing to read
            glue_log, glue_status, glue_rows = glue_job.result()
        print("\n".join(spark_log + glue_log))
        if max(spark_status, glue_status) == 2 or not nodes.result():
            print(f"a tool failed; nothing compared ({time.monotonic() - started:.0f} s)")
            return 2

        differing = 0
        table_nodes = nodes.result()
        for _, name, kind in table_nodes:
            left, right = spark_rows.get(name, "not read"), glue_rows.get(name, "not read")
            if isinstance(left, str) or isinstance(right, str):
                differing += 1
                print(f"{kind} {name}: cannot read: dbt-spark: {left if isinstance(left, str) else 'ok'}; "
                      f"glue: {right if isinstance(right, str) else 'ok'}")  # fmt: skip
                continue
            lines = diff.compare(f"{kind} {name}", decimals_as_floats(left), decimals_as_floats(right), args.show,
                                 set())  # fmt: skip
            if lines:
                differing += 1
                text = "\n".join(lines)
                print(text.replace("only on the left", "only on dbt-spark").replace("only on the right", "only on glue"))
            else:
                print(f"{kind} {name}: {len(left)} rows equal")
        print(f"{len(table_nodes) - differing} of {len(table_nodes)} tables equal on dbt-spark and glue (Livy)"
              f" ({time.monotonic() - started:.0f} s)")  # fmt: skip
        return 1 if differing or spark_status or glue_status else 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
