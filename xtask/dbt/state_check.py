#!/usr/bin/env python3
"""dbt reads glue's manifest: `dbt ls --select state:… --state <glue's target>` (dbt-core 1.11) loads the
manifest.json that `glue parse` wrote, finds nothing modified in an unchanged project, and then selects exactly the
nodes that were changed. glue's own `ls --select state:modified` must select the same.

dbt runs with dbt-duckdb as its adapter (no Glue adapter for dbt-core 1.11 offline). Sub-selectors checked:
`state:modified.body`, `state:modified.configs`, `state:modified.contract`, `state:new`. Not checked:
`modified.macros` (dbt compares every macro of its own internal package, which glue implements natively and does
not ship as text) and `modified.relation` on sources (dbt compares the rendered source database, which is
adapter-specific: duckdb's `db` against Glue's none).

usage: state_check.py <glue binary> <dbt venv bin dir>
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

GLUE = os.path.abspath(sys.argv[1])
DBT = os.path.join(os.path.abspath(sys.argv[2]), "dbt")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SELECT = ["state:modified.body", "state:modified.configs", "state:modified.contract", "state:new"]


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


def dbt_ls(project, profiles, state):
    out = run([DBT, "ls", "-q", "--select", *SELECT, "--state", state, "--profiles-dir", profiles,
               "--output", "name"], project)
    return sorted(l.strip() for l in out.splitlines() if l.strip())


def glue_ls(project, state):
    out = run([GLUE, "ls", "-q", "--select", "state:modified", "--state", state, "--output", "name",
               "--project-dir", project], project)
    return sorted(l.strip() for l in out.splitlines() if l.strip())


def main():
    tmp = tempfile.mkdtemp(prefix="glue_state_")
    try:
        shutil.copytree(os.path.join(ROOT, "examples", "glue_shop"), os.path.join(tmp, "glue_shop"),
                        ignore=shutil.ignore_patterns("target", "dbt_packages"))
        shutil.copytree(os.path.join(ROOT, "examples", "glue_shop_utils"), os.path.join(tmp, "glue_shop_utils"))
        project = os.path.join(tmp, "glue_shop")
        profiles = os.path.join(tmp, "profiles")
        os.makedirs(profiles)
        with open(os.path.join(profiles, "profiles.yml"), "w") as f:
            f.write(json.dumps({"glue_shop": {"target": "dev", "outputs": {"dev": {
                "type": "duckdb", "path": os.path.join(tmp, "db.duckdb"), "schema": "glue_shop"}}}}))
        state = os.path.join(tmp, "state")
        os.makedirs(state)
        run([GLUE, "parse", "-q", "--project-dir", project], project)
        shutil.copy(os.path.join(project, "target", "manifest.json"), state)
        run([DBT, "deps", "--profiles-dir", profiles], project)

        unchanged = dbt_ls(project, profiles, state)
        assert unchanged == [], f"dbt sees changes in an unchanged project: {unchanged}"
        assert glue_ls(project, state) == [], "glue sees changes in an unchanged project"

        # Change one model's SQL, one model's config, and add a model.
        path = os.path.join(project, "models", "staging", "stg_customers.sql")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("upper(country)", "lower(country)"))
        path = os.path.join(project, "models", "marts", "daily_revenue.sql")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("incremental_strategy='insert_overwrite'", "incremental_strategy='append'"))
        with open(os.path.join(project, "models", "marts", "brand_new.sql"), "w") as f:
            f.write("select 1 as id\n")
        # The singular test on daily_revenue comes along (dbt's eager indirect selection of tests).
        expected = ["assert_revenue_matches_orders", "brand_new", "daily_revenue", "stg_customers"]
        got = dbt_ls(project, profiles, state)
        assert got == expected, f"dbt selected {got}, expected {expected}"
        got = glue_ls(project, state)
        assert got == expected, f"glue selected {got}, expected {expected}"
        version = subprocess.run([DBT, "--version"], capture_output=True, text=True).stdout
        version = next((l.split(":")[-1].strip() for l in version.splitlines() if "installed" in l), "?")
        print(f"dbt-core {version} read glue's manifest.json: unchanged project -> nothing selected; "
              f"changed -> {expected}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
