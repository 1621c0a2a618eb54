#!/usr/bin/env python3
"""`glue compile` against real `dbt compile` (dbt-core 1.11 + dbt-spark, session method on a local Spark 3.5, so
relations render as on Spark), on a project that uses the Jinja features glue implements
(glue-cli/tests/fixtures/jinja_features: ref with one and two arguments, source-free seeds, config, var, env_var,
is_incremental, this, target, run_query through statement/load_result, adapter.get_columns_in_relation,
adapter.dispatch, return, fromjson/fromyaml, modules.re, namespace, graph, an ephemeral model, a custom
generate_schema_name, hooks, generic and singular tests). Both tools first build the project on their own engine
(Spark for dbt, the embedded engine for glue) so that run_query and is_incremental() see the same state; then every
compiled file must be equal after whitespace normalization.

usage: compile_fidelity.py <glue binary> <dbt-spark venv bin dir>
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

GLUE = os.path.abspath(sys.argv[1])
BIN = os.path.abspath(sys.argv[2])
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.path.join(ROOT, "glue-cli", "tests", "fixtures", "jinja_features")


def run(cmd, cwd, env=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p.stdout


def compiled_files(project):
    base = os.path.join(project, "target", "compiled", "jinja_features")
    out = {}
    for dirpath, _, files in os.walk(base):
        for f in files:
            path = os.path.join(dirpath, f)
            with open(path) as fh:
                out[os.path.relpath(path, base)] = fh.read()
    return out


def normalize(sql):
    return re.sub(r"\s+", " ", sql).strip()


def main():
    tmp = tempfile.mkdtemp(prefix="glue_fidelity_")
    try:
        dbt_dir = os.path.join(tmp, "dbt", "jinja_features")
        glue_dir = os.path.join(tmp, "glue", "jinja_features")
        shutil.copytree(FIXTURE, dbt_dir)
        shutil.copytree(FIXTURE, glue_dir)
        with open(os.path.join(dbt_dir, "profiles.yml"), "w") as f:
            f.write(json.dumps({"jinja_features": {"target": "dev", "outputs": {"dev": {
                "type": "spark", "method": "session", "host": "NA", "schema": "jf",
                "server_side_parameters": {
                    "spark.sql.ansi.enabled": "false",
                    "spark.sql.warehouse.dir": os.path.join(tmp, "dbt", "spark-warehouse"),
                    "spark.ui.enabled": "false",
                    "spark.driver.host": "127.0.0.1",
                },
            }}}}))
        env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PATH=BIN + os.pathsep + os.environ["PATH"])
        dbt = os.path.join(BIN, "dbt")
        # Seeds first: dbt does not order a source after the seed it reads (glue does).
        run([dbt, "seed", "--profiles-dir", dbt_dir], dbt_dir, env)
        run([dbt, "build", "--profiles-dir", dbt_dir], dbt_dir, env)
        shutil.rmtree(os.path.join(dbt_dir, "target"), ignore_errors=True)
        run([dbt, "compile", "--profiles-dir", dbt_dir], dbt_dir, env)
        run([GLUE, "build", "-q", "--project-dir", glue_dir], glue_dir)
        shutil.rmtree(os.path.join(glue_dir, "target"), ignore_errors=True)
        run([GLUE, "compile", "-q", "--project-dir", glue_dir], glue_dir)

        ours, theirs = compiled_files(glue_dir), compiled_files(dbt_dir)
        failures = []
        if sorted(ours) != sorted(theirs):
            failures.append(f"files differ: only glue {sorted(set(ours) - set(theirs))}, only dbt {sorted(set(theirs) - set(ours))}")
        for name in sorted(set(ours) & set(theirs)):
            if normalize(ours[name]) != normalize(theirs[name]):
                failures.append(f"{name}:\n  dbt:  {normalize(theirs[name])}\n  glue: {normalize(ours[name])}")
        if failures:
            print("compile fidelity: differences\n" + "\n".join(failures))
            sys.exit(1)
        print(f"compile fidelity: {len(ours)} compiled files equal to dbt-spark's (whitespace-normalized)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
