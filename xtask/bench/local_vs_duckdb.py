"""The embedded engine beside DuckDB, same SQL, same machine, each in its own process.

  python xtask/bench/local_vs_duckdb.py [rows]      (default 1,000,000 rows x 10 columns)

Scenario: CTAS of `rows` rows, then the incremental model over as many new rows, half of them updates of existing
keys: Parquet -> append; Delta and Iceberg -> MERGE on the key (Iceberg's written as a new table version). DuckDB runs the same statements on its own storage (a CTAS and
an INSERT / a MERGE INTO). Prints rows/s and peak RSS of each, and the ratios glue-local / DuckDB.
Needs `pip install duckdb` and the release build of the `bench_local` example (built here if missing).
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The workspace's one target directory: `cargo xtask bench local` passes the one cargo resolved; else cargo's default.
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def rows_sql(n, offset):
    return (f"select range + {offset} as id, range % 97 as c1, range * 2 as c2, cast(range as double) / 7 as c3, "
            f"concat('name-', cast(range as varchar)) as c4, range % 13 = 0 as c5, cast(range % 1000 as double) as c6, "
            f"range % 7 as c7, concat('k', cast(range % 100 as varchar)) as c8, range * 3 as c9 from range(0, {n})")


DUCK = r'''
import duckdb, json, sys, time, resource
n, mode, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = lambda off: """{rows}""".replace("OFFSET", str(off)).replace("N", str(n))
con = duckdb.connect(path)
t0 = time.time(); con.execute("create table t as " + rows(0)); ctas = time.time() - t0
t0 = time.time()
if mode == "append":
    con.execute("insert into t " + rows(n // 2))
else:
    con.execute("create temp table s as " + rows(n // 2))
    con.execute("merge into t using s on t.id = s.id when matched then update set c1 = s.c1, c2 = s.c2, c3 = s.c3, "
                "c4 = s.c4, c5 = s.c5, c6 = s.c6, c7 = s.c7, c8 = s.c8, c9 = s.c9 when not matched then insert *")
inc = time.time() - t0
final = con.execute("select count(*) from t").fetchone()[0]
print(json.dumps({"engine": "duckdb", "format": mode, "rows": n, "final_rows": final, "ctas_s": ctas,
                  "incremental_s": inc, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
'''


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(out)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    exe = os.path.join(TARGET, "release", "examples", "bench_local")
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--release", "-p", "glue-local", "--example", "bench_local"], cwd=ROOT, check=True)
    duck = DUCK.replace("{rows}", rows_sql("N", "OFFSET").replace("range(0, N)", "range(0, N)"))
    results = []
    for fmt, duck_mode in [("parquet", "append"), ("delta", "merge"), ("iceberg", "merge")]:
        with tempfile.TemporaryDirectory() as d:
            mine = run([exe, d, fmt, str(n)])
        with tempfile.TemporaryDirectory() as d:
            theirs = run([sys.executable, "-c", duck, str(n), duck_mode, os.path.join(d, "bench.duckdb")])
        results.append((fmt, mine, theirs))
    print(f"{'scenario':<22}{'glue-local rows/s':>20}{'DuckDB rows/s':>16}{'ratio':>8}{'glue-local MiB':>16}{'DuckDB MiB':>12}")
    for fmt, mine, theirs in results:
        for phase in ["ctas", "incremental"]:
            a, b = n / mine[f"{phase}_s"], n / theirs[f"{phase}_s"]
            print(f"{fmt + ' ' + phase:<22}{a:>20,.0f}{b:>16,.0f}{a / b:>8.2f}{mine['peak_rss_mib']:>16}{theirs['peak_rss_mib']:>12}")
        assert mine["final_rows"] == theirs["final_rows"], (mine, theirs)


if __name__ == "__main__":
    main()
