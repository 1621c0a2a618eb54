"""The reference adapter (dbt-glue 1.10.19, run unmodified) and glue-rs build the bundled project's Iceberg variant on
the simulator's Livy sessions, twice each, and every table is compared.

Usage: reference_iceberg_diff.py GLUE DBT_BIN_DIR SIM_ENDPOINT [SPARK35_PYTHON]

What the reference needs, and why (each is a setting or a command, not a change to the adapter):
- its session's `spark_catalog` is Iceberg's `SparkSessionCatalog`: dbt-glue renders `ref()` and `this` as
  `<schema>.<table>`, which classic Spark reads through the Hive catalog and cannot read an Iceberg table with
  (`InstantiationException`, on Glue as on the simulator); glue-rs names them `glue_catalog.<schema>.<table>` and
  needs no such setting;
- `dbt seed` first: dbt orders the staging views, which read the seeds through `source()`, before the seeds;
- the unit test `stg_orders_lowercases_status` is left out on the reference's side: dbt-glue 1.10.19 fails every unit
  test (`'NoneType' object is not iterable` in `run_query`);
- one thread on the reference's side: with four, a session read a seed another session had just rewritten
  (`SparkFileNotFoundException` on a deleted `part-….parquet`), the stale read glue-rs avoids by refreshing what each
  model reads and keeping the previous version's files until the next replace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VARS = "{lakehouse_format: iceberg}"
UNIT_TEST = "stg_orders_lowercases_status"


def profile(bucket: str, ref_schema: str, rs_schema: str) -> str:
    common = (
        "      type: glue\n      role_arn: arn:aws:iam::123456789012:role/GlueInteractiveSessionRole\n"
        "      region: us-east-1\n      workers: 2\n      worker_type: G.1X\n"
        f"      location: s3://{bucket}/warehouse\n      datalake_formats: iceberg\n"
    )
    conf = (
        "spark.sql.sources.partitionOverwriteMode=dynamic --conf spark.sql.legacy.allowNonEmptyLocationInCTAS=true "
        "--conf spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions "
        "--conf spark.sql.catalog.spark_catalog=org.apache.iceberg.spark.SparkSessionCatalog "
        "--conf spark.sql.catalog.spark_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog "
        "--conf spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog "
        f"--conf spark.sql.catalog.glue_catalog.warehouse=s3://{bucket}/warehouse "
        "--conf spark.sql.catalog.glue_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog "
        "--conf spark.sql.catalog.glue_catalog.io-impl=org.apache.iceberg.aws.s3.S3FileIO"
    )
    return (
        "glue_shop:\n  target: ref\n  outputs:\n"
        f"    ref:\n{common}      schema: {ref_schema}\n      threads: 1\n      session_provisioning_timeout_in_seconds: 120\n"
        f'      conf: "{conf}"\n'
        f"    rs:\n{common}      schema: {rs_schema}\n      threads: 4\n"
    )


def run(cmd: list[str], env: dict[str, str], cwd: str | None = None) -> None:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    print(f"{' '.join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd[:3]))} ...: exit {done.returncode}")
    if done.returncode != 0:
        print(done.stdout[-6000:], done.stderr[-3000:])
        raise SystemExit(1)


def main() -> int:
    glue, dbt_bin, endpoint = sys.argv[1], sys.argv[2], sys.argv[3]
    python = sys.argv[4] if len(sys.argv) > 4 else sys.executable
    tag = uuid.uuid4().hex[:8]
    bucket, ref_schema, rs_schema = f"refice-{tag}", f"refice_{tag}_dbtglue", f"refice_{tag}_gluers"
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}  # fmt: skip
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t",
                 aws_secret_access_key="t").create_bucket(Bucket=bucket)  # fmt: skip
    work = tempfile.mkdtemp(prefix="glue-rs-reference-iceberg-")
    try:
        # The project and its local package side by side, as in examples/.
        project = os.path.join(work, "glue_shop")
        shutil.copytree(os.path.join(ROOT, "examples/glue_shop"), project, ignore=shutil.ignore_patterns("target"))
        shutil.copytree(os.path.join(ROOT, "examples/glue_shop_utils"), os.path.join(work, "glue_shop_utils"))
        with open(os.path.join(work, "profiles.yml"), "w") as f:
            f.write(profile(bucket, ref_schema, rs_schema))
        dbt = [os.path.join(dbt_bin, "dbt")]
        common = ["--project-dir", project, "--profiles-dir", work, "--vars", VARS]
        run([*dbt, "deps", "--project-dir", project, "--profiles-dir", work], env)
        run([*dbt, "seed", *common], env)
        for _ in range(2):
            run([*dbt, "build", *common, "--exclude", UNIT_TEST], env)
        for _ in range(2):
            run([glue, "build", "--target", "rs", *common], env)
        diff = [python, os.path.join(HERE, "diff.py"), glue, project, "ref", "rs", "--profiles-dir", work, "--vars",
                VARS, "--no-build"]  # fmt: skip
        done = subprocess.run(diff, env=env)
        return done.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
