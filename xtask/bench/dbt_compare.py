#!/usr/bin/env python3
"""glue against dbt on generated projects, in one script (ratios, never absolute thresholds). Wall time on small
VMs is dominated by file creation in the kernel for both tools (7,000 compiled files); user CPU is reported too.

compile: a project of N models (10 layers; each model refs 1–3 models of the layer below; a third are incremental
with an is_incremental() branch, a third tables with config blocks; schema.yml tests on every fifth model) —
`glue compile` against `dbt parse` and `dbt compile` (dbt-core 1.11 + dbt-duckdb), wall time and peak RSS.
run: a project of M models — `glue run` on the embedded engine against `dbt run` on dbt-duckdb.

usage: dbt_compare.py <glue binary (release)> <dbt venv bin dir> [N=5000] [M=1000]
"""

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

GLUE = os.path.abspath(sys.argv[1])
BIN = os.path.abspath(sys.argv[2])
N = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
M = int(sys.argv[4]) if len(sys.argv) > 4 else 1000


def generate(root, n, with_tests=True):
    rnd = random.Random(42)
    os.makedirs(os.path.join(root, "models"), exist_ok=True)
    with open(os.path.join(root, "dbt_project.yml"), "w") as f:
        f.write("name: bench\nversion: '1.0.0'\nprofile: bench\nmodels:\n  bench:\n    +materialized: view\n")
    layers = 10
    per = max(1, n // layers)
    names = []
    tests = []
    for i in range(n):
        layer = min(i // per, layers - 1)
        name = f"m_{layer}_{i}"
        below = [x for x in names if x.startswith(f"m_{layer - 1}_")] if layer > 0 else []
        kind = i % 3
        lines = []
        if kind == 0:
            lines.append("{{ config(materialized='table') }}")
        elif kind == 1:
            lines.append("{{ config(materialized='incremental', unique_key='id') }}")
        if below:
            refs = rnd.sample(below, min(len(below), rnd.randint(1, 3)))
            parts = [f"select id, v from {{{{ ref('{r}') }}}}" for r in refs]
            lines.append("select id, sum(v) as v from (\n  " + "\n  union all\n  ".join(parts) + "\n) u")
            if kind == 1:
                lines.append("{% if is_incremental() %}\nwhere id > (select coalesce(max(id), 0) from {{ this }})\n{% endif %}")
            lines.append("group by id")
        else:
            lines.append(f"select {i} as id, {i % 7} as v")
        with open(os.path.join(root, "models", f"{name}.sql"), "w") as f:
            f.write("\n".join(lines) + "\n")
        names.append(name)
        if with_tests and i % 5 == 0:
            tests.append(name)
    if tests:
        with open(os.path.join(root, "models", "schema.yml"), "w") as f:
            f.write("version: 2\nmodels:\n")
            for t in tests:
                f.write(f"  - name: {t}\n    columns:\n      - name: id\n        data_tests: [not_null, unique]\n")


def profiles(root, kind):
    d = os.path.join(root, f"profiles_{kind}")
    os.makedirs(d, exist_ok=True)
    if kind == "glue":
        out = {"type": "glue", "engine": "local", "warehouse": os.path.join(root, "warehouse"), "schema": "bench",
               "threads": 4}
    else:
        out = {"type": "duckdb", "path": os.path.join(root, "warehouse_duck.duckdb"), "schema": "bench", "threads": 4}
    with open(os.path.join(d, "profiles.yml"), "w") as f:
        f.write(json.dumps({"bench": {"target": "dev", "outputs": {"dev": out}}}))
    return d


def measure(cmd, cwd):
    """Wall seconds and peak RSS (MB) of one command, run through a fresh child."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.time()\n"
        f"p = subprocess.run({cmd!r}, cwd={cwd!r}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
        "w = time.time() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': p.returncode, 'wall': w, 'rss': u.ru_maxrss / 1024, 'cpu': u.ru_utime + u.ru_stime,\n"
        "                  'user': u.ru_utime, 'err': p.stdout[-3000:]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    res = json.loads(out.stdout)
    if res["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res['err']}")
    return res["wall"], res["rss"], res["user"]


def row(label, wall, rss, user):
    print(f"  {label:<28} {wall:8.2f} s wall  {user:8.2f} s user CPU  {rss:8.0f} MB peak RSS")


def main():
    tmp = tempfile.mkdtemp(prefix="glue_bench_")
    env_dbt = os.path.join(BIN, "dbt")
    try:
        proj = os.path.join(tmp, "compile")
        generate(proj, N)
        pg, pd = profiles(tmp, "glue"), profiles(tmp, "duckdb")
        print(f"compile: {N} models, {N // 5 * 2} tests")
        g = measure([GLUE, "compile", "-q", "--project-dir", proj, "--profiles-dir", pg], proj)
        shutil.rmtree(os.path.join(proj, "target"), ignore_errors=True)
        dp = measure([env_dbt, "parse", "--no-partial-parse", "--profiles-dir", pd], proj)
        shutil.rmtree(os.path.join(proj, "target"), ignore_errors=True)
        dc = measure([env_dbt, "compile", "--no-partial-parse", "--profiles-dir", pd], proj)
        row("glue compile", *g)
        row("dbt parse", *dp)
        row("dbt compile", *dc)
        print(f"  ratios (wall): dbt parse / glue compile = {dp[0] / g[0]:.1f}x, dbt compile / glue compile = "
              f"{dc[0] / g[0]:.1f}x; (user CPU): {dp[2] / g[2]:.1f}x, {dc[2] / g[2]:.1f}x; glue peak RSS {g[1]:.0f} MB")

        proj = os.path.join(tmp, "run")
        generate(proj, M, with_tests=False)
        print(f"run: {M} models (first build, then an incremental run)")
        g1 = measure([GLUE, "run", "-q", "--project-dir", proj, "--profiles-dir", pg], proj)
        g2 = measure([GLUE, "run", "-q", "--project-dir", proj, "--profiles-dir", pg], proj)
        d1 = measure([env_dbt, "run", "--no-partial-parse", "--profiles-dir", pd], proj)
        d2 = measure([env_dbt, "run", "--no-partial-parse", "--profiles-dir", pd], proj)
        row("glue run (first)", *g1)
        row("glue run (incremental)", *g2)
        row("dbt-duckdb run (first)", *d1)
        row("dbt-duckdb run (incremental)", *d2)
        print(f"  ratios (wall): dbt-duckdb / glue = {d1[0] / g1[0]:.1f}x first, {d2[0] / g2[0]:.1f}x incremental")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
