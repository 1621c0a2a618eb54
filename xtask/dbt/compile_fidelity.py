#!/usr/bin/env python3
"""`glue compile` against real `dbt compile` (dbt-core 1.11 + dbt-spark, session method on a local Spark 3.5, so
relations render as on Spark), on a project that uses the Jinja features glue implements
(glue-cli/tests/fixtures/jinja_features: ref with one and two arguments, source-free seeds, config, var, env_var,
is_incremental, this, target, run_query through statement/load_result, adapter.get_columns_in_relation,
adapter.dispatch, return, fromjson/fromyaml, modules.re, namespace, graph, an ephemeral model, a custom
generate_schema_name, hooks, generic and singular tests). Both tools first build the project on their own engine
(Spark for dbt, the embedded engine for glue) so that run_query and is_incremental() see the same state; then every
compiled file must be equal after whitespace normalization. Then dbt's cross-database macros (dateadd, datediff,
split_part, listagg, safe_cast, the type_* macros, …) are compiled by both: glue's built-in macros must render
dbt-spark's SQL, token for token.

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


# dbt's cross-database macros with the arguments dbt's utils suites give them (glue-cli/macros/utils.sql and
# spark_utils.sql against dbt-spark's macros); glue__listagg with an order_by_clause is glue's own and left out.
CROSS_DB_MODEL = """
select
{{ dateadd('day', 1, 'd') }} as a1, {{ dateadd('week', 2, 'd') }} as a2, {{ dateadd('month', 'n', "'2020-01-01'") }} as a3,
{{ dateadd('quarter', 1, 'd') }} as a4, {{ dateadd('year', 1, 'd') }} as a5, {{ dateadd('hour', 1, 'ts') }} as a6,
{{ dateadd('minute', 1, 'ts') }} as a7, {{ dateadd('second', 1, 'ts') }} as a8, {{ dateadd('millisecond', 1, 'ts') }} as a9,
{{ datediff('a', 'b', 'day') }} as b1, {{ datediff('a', 'b', 'week') }} as b2, {{ datediff('a', 'b', 'month') }} as b3,
{{ datediff('a', 'b', 'quarter') }} as b4, {{ datediff('a', 'b', 'year') }} as b5, {{ datediff('a', 'b', 'hour') }} as b6,
{{ datediff('a', 'b', 'millisecond') }} as b7,
{{ datediff("'1999-12-31 23:59:59.999999'", "'2000-01-01 00:00:00.000000'", 'microsecond') }} as b8,
{{ split_part('s', "'|'", 2) }} as c1, {{ split_part('s', "'|'", -1) }} as c2, {{ split_part('s', "'_'", 0) }} as c3,
{{ listagg('x') }} as d1, {{ listagg('x', "'_|_'", none, 2) }} as d2, {{ listagg('DISTINCT x', "','") }} as d3,
{{ safe_cast('x', 'string') }} as e1, {{ safe_cast("'array(1)'", 'array<int>') }} as e2, {{ hash('x') }} as e3,
{{ concat(['a', 'b']) }} as e4, {{ any_value('x') }} as e5, {{ bool_or('x = 1') }} as e6,
{{ array_construct([1, 2]) }} as f1, {{ array_construct([]) }} as f2, {{ array_append(array_construct([1]), 2) }} as f3,
{{ array_concat('a', 'b') }} as f4, {{ cast('x', 'int') }} as g1, {{ cast_bool_to_text('x') }} as g2,
{{ string_literal('a') }} as g3, '{{ escape_single_quotes("it's") }}' as g4, {{ length('x') }} as g5,
{{ position('a', 'b') }} as g6, {{ replace('a', 'b', 'c') }} as g7, {{ right('a', 2) }} as g8,
{{ date_trunc('day', 'x') }} as h1, {{ last_day('d', 'month') }} as h2, {{ last_day('d', 'quarter') }} as h3,
{{ date(2023, 9, 7) }} as h4, {{ current_timestamp() }} as h5, {{ dbt.current_timestamp() }} as h6,
cast(1 as {{ type_string() }}) as i1, cast(1 as {{ type_timestamp() }}) as i2, cast(1 as {{ type_float() }}) as i3,
cast(1 as {{ type_numeric() }}) as i4, cast(1 as {{ type_bigint() }}) as i5, cast(1 as {{ type_int() }}) as i6,
cast(1 as {{ type_boolean() }}) as i7, {{ get_powers_of_two(27) }} as j1, {{ equals('a', 'b') }} as j2,
'{{ api.Column.translate_type('integer') }}' as j3
from t {{ except() }} select * from u {{ intersect() }} select * from v
"""


def tokens(sql):
    """SQL without its whitespace and `--` comments (glue's macros lay their SQL out differently)."""
    return re.sub(r"\s+", "", re.sub(r"--[^\n]*", "", sql))


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
        failures = cross_db_differences(tmp, env)
        if sorted(ours) != sorted(theirs):
            failures.append(f"files differ: only glue {sorted(set(ours) - set(theirs))}, only dbt {sorted(set(theirs) - set(ours))}")
        for name in sorted(set(ours) & set(theirs)):
            if normalize(ours[name]) != normalize(theirs[name]):
                failures.append(f"{name}:\n  dbt:  {normalize(theirs[name])}\n  glue: {normalize(ours[name])}")
        if failures:
            print("compile fidelity: differences\n" + "\n".join(failures))
            sys.exit(1)
        print(f"compile fidelity: {len(ours)} compiled files equal to dbt-spark's (whitespace-normalized), and the "
              f"cross-database macros' SQL")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cross_db_differences(tmp, env):
    """Compiles CROSS_DB_MODEL (and dbt.generate_series) with dbt-spark and with glue; the differences."""
    dirs = {}
    for tool in ("dbt", "glue"):
        d = dirs[tool] = os.path.join(tmp, tool, "cross_db")
        os.makedirs(os.path.join(d, "models"))
        with open(os.path.join(d, "dbt_project.yml"), "w") as f:
            f.write(json.dumps({"name": "cross_db", "profile": "cross_db", "config-version": 2}))
        for name, sql in (("m.sql", CROSS_DB_MODEL), ("series.sql", "{{ dbt.generate_series(10) }}")):
            with open(os.path.join(d, "models", name), "w") as f:
                f.write(sql)
    with open(os.path.join(dirs["dbt"], "profiles.yml"), "w") as f:
        f.write(json.dumps({"cross_db": {"target": "dev", "outputs": {"dev": {
            "type": "spark", "method": "session", "host": "NA", "schema": "cross_db",
            "server_side_parameters": {"spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1",
                                       "spark.sql.warehouse.dir": os.path.join(tmp, "dbt", "spark-warehouse")},
        }}}}))
    with open(os.path.join(dirs["glue"], "profiles.yml"), "w") as f:
        f.write(json.dumps({"cross_db": {"target": "dev", "outputs": {"dev": {
            "type": "glue", "engine": "local", "warehouse": "warehouse", "schema": "cross_db"}}}}))
    run([os.path.join(BIN, "dbt"), "compile", "--profiles-dir", dirs["dbt"]], dirs["dbt"], env)
    run([GLUE, "compile", "-q", "--project-dir", dirs["glue"]], dirs["glue"])
    failures = []
    for name in ("m.sql", "series.sql"):
        paths = {t: os.path.join(d, "target", "compiled", "cross_db", "models", name) for t, d in dirs.items()}
        sql = {t: open(p).read() for t, p in paths.items()}
        if tokens(sql["dbt"]) != tokens(sql["glue"]):
            failures.append(f"cross-database macros, {name}:\n  dbt:  {normalize(sql['dbt'])}\n  glue: "
                            f"{normalize(sql['glue'])}")
    return failures


if __name__ == "__main__":
    main()
