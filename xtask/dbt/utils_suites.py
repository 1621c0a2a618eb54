#!/usr/bin/env python3
"""dbt's cross-database macro suites (`dbt.tests.adapter.utils` of the installed dbt-tests-adapter, with its
`data_types` suites), run through `glue` on the embedded engine.

The suites are the package's own test classes, collected and run by pytest as an adapter repository runs them: this
file is the pytest plugin that stands in for dbt's `project` fixture and for the `dbt.tests.util` helpers the tests
call, doing each step with glue instead of dbt:

- `run_dbt(args, expect_pass)` runs `glue <args>` in the suite's project and checks its exit status the same way;
- `check_relations_equal` runs dbt's own comparison query (dbt-adapters' COLUMNS_EQUAL_SQL: row count difference
  and rows of each side missing from the other, over the first relation's columns) with `glue show`;
- `get_relation_columns` / `check_relation_has_expected_schema` read the relations' columns and Spark types from
  `glue docs generate` (target/catalog.json), which describes each relation as adapter.get_columns_in_relation does;
- `project.run_sql(sql, fetch)` runs a query with `glue show` (timestamps and dates come back as Python datetimes,
  as a database driver gives them).

So every suite builds the package's models, seeds and tests (`glue build`), and asserts what the package asserts.
Where the package leaves a choice to the adapter (a base class to pick, or a fixture documented as the adapter's to
override), the Spark choice is made below (ADAPTER_CHOICES), as dbt-spark makes it, with the reason.

Each suite (test class) passes or fails. A failing suite makes the run fail unless KNOWN_FAILURES lists it with the
reason; a listed suite that passes makes the run fail too, so the list only shrinks.

usage: utils_suites.py <path to the glue binary>
"""

import csv
import datetime
import json
import os
import shutil
import re
import sys

import pytest
import yaml

import dbt.tests.util as dbt_util
from dbt.adapters.base.impl import COLUMNS_EQUAL_SQL

from glue_project import SCHEMA, Project, plan_args, planned

PACKAGE = "dbt.tests.adapter.utils"

# Suites expected to fail on the embedded engine, by `<module>::<class>`, with the reason. Keep it short: an entry
# leaves when the engine (or glue) answers as Spark does.
KNOWN_FAILURES = {
    # Not the engine:
    "test_get_intervals_between::TestGetIntervalsBetween":
        "the fixture's dates ('09/01/2023') are not dates to Spark: datediff gives NULL, get_intervals_between "
        "returns None and the model (`None as intervals`) fails on Spark too (dbt-spark does not run this suite)",
    "test_validate_sql::TestValidateSqlMethod":
        "tests a method of dbt's Python adapter object (adapter.validate_sql, fixture `adapter`), not SQL: glue has "
        "no Python adapter (nor does dbt-spark implement validate_sql)",
    "test_source_freshness_custom_info::TestCalculateFreshnessMethod":
        "tests a method of dbt's Python adapter object (adapter.calculate_freshness_from_custom_sql, fixture "
        "`adapter`), not SQL: glue has no Python adapter",
}


# --- the dbt.tests.util helpers, through glue -------------------------------------------------------------------

_current = {}


def _project():
    return _current["project"]


class _Node:
    def __init__(self, result):
        self.unique_id = result.get("unique_id")
        self.name = (self.unique_id or "").split(".")[-1]
        self.compiled_code = result.get("compiled_code")


class _Result:
    def __init__(self, result):
        self.status = result.get("status")
        self.message = result.get("message")
        self.node = _Node(result)


class RunResults(list):
    """dbt's RunExecutionResult as the suites use it: a list of results, also under `.results`."""

    @property
    def results(self):
        return self


def run_dbt(args=None, expect_pass=True, callbacks=None):
    p = _project()
    args = list(args or ["run"])
    results_path = os.path.join(p.dir, "target", "run_results.json")
    if os.path.exists(results_path):
        os.remove(results_path)
    # As glue_project.Project.run: planned first, each node held against what it ran.
    plan = plan_args(args)
    planned_steps = planned(p.glue(*plan, expect_pass=False).stdout) if plan else None
    shutil.rmtree(os.path.join(p.dir, "target", "run"), ignore_errors=True)
    proc = p.glue(*args, expect_pass=False)
    if expect_pass is not None:
        assert (proc.returncode == 0) == expect_pass, (
            f"glue {' '.join(args)} exited {proc.returncode}, expected {'success' if expect_pass else 'failure'}:\n"
            f"{proc.stdout}\n{proc.stderr}")
    if not os.path.exists(results_path):
        return RunResults()
    with open(results_path) as f:
        results = json.load(f)["results"]
    if planned_steps is not None:
        p.check_plan(args, planned_steps, results)
    return RunResults(_Result(r) for r in results)


class Relation(str):
    """A relation of the suite's schema, rendered as `schema.identifier`."""

    def __new__(cls, name):
        parts = name.split(".")
        rel = super().__new__(cls, ".".join([SCHEMA, parts[-1]] if len(parts) == 1 else parts[-2:]))
        rel.schema, rel.identifier = rel.split(".")
        return rel


def relation_from_name(adapter, name):
    return Relation(name)


def _columns(relation):
    """[(name, Spark type)] of a relation, in order, from glue's catalog."""
    catalog = _project().docs()
    for node in list(catalog["nodes"].values()) + list(catalog["sources"].values()):
        meta = node["metadata"]
        if meta["name"].lower() == relation.identifier.lower() and (meta.get("schema") or SCHEMA) == relation.schema:
            cols = sorted(node["columns"].values(), key=lambda c: c["index"])
            return [(c["name"], c["type"]) for c in cols]
    return []


def get_relation_columns(adapter, name):
    # (name, dtype, char_size): Spark's columns have no char_size.
    return sorted(((n, t, None) for n, t in _columns(Relation(name))), key=lambda c: c[0])


def check_relation_has_expected_schema(adapter, relation_name, expected_schema):
    actual = dict(_columns(Relation(relation_name)))
    assert actual == expected_schema, f"Actual schema did not match expected, actual: {json.dumps(actual)}"


def _cell(v):
    if isinstance(v, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?", v):
            return datetime.datetime.fromisoformat(v)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            return datetime.date.fromisoformat(v)
    return v


def _fetch(sql):
    """The rows of a query as tuples, in the query's column order (glue's JSON rows are keyed by name: the order
    comes from the CSV form's header)."""
    p = _project()
    rows = p.rows(sql)
    if rows and len(rows[0]) > 1:
        header = p.glue("show", "--inline", sql, "--limit", "0", "--output", "csv", "-q").stdout.splitlines()[0]
        order = next(csv.reader([header]))
        return [tuple(_cell(row[c]) for c in order) for row in rows]
    return [tuple(_cell(v) for v in row.values()) for row in rows]


def check_relations_equal(adapter, relation_names, compare_snapshot_cols=False):
    relations = [Relation(n) for n in relation_names]
    basis, compares = relations[0], relations[1:]
    names = [n for n, _ in _columns(basis) if compare_snapshot_cols or not n.lower().startswith("dbt_")]
    assert names, f"{basis} has no columns"
    columns = ", ".join(sorted(f"`{n}`" for n in names))
    for relation in compares:
        sql = COLUMNS_EQUAL_SQL.format(columns=columns, relation_a=basis, relation_b=relation, except_op="EXCEPT")
        tbl = _project().rows(sql)
        assert len(tbl) == 1, f"Invalid sql query from get_rows_different_sql: incorrect number of rows ({len(tbl)})"
        assert len(tbl[0]) == 2, f"Invalid sql query from get_rows_different_sql: incorrect number of cols"
        difference, mismatched = tbl[0]["row_count_difference"], tbl[0]["num_mismatched"]
        assert difference == 0, f"Got {difference} difference in row count betwen {basis} and {relation}"
        assert mismatched == 0, f"Got {mismatched} different rows between {basis} and {relation}"


# The suites import these from dbt.tests.util when they are collected, after this.
dbt_util.run_dbt = run_dbt
dbt_util.relation_from_name = relation_from_name
dbt_util.get_relation_columns = get_relation_columns
dbt_util.check_relation_has_expected_schema = check_relation_has_expected_schema
dbt_util.check_relations_equal = check_relations_equal


# --- dbt's project fixtures ---------------------------------------------------------------------------------------

class ProjInfo:
    """What the suites use of dbt's TestProjInfo."""

    def __init__(self, project):
        self.glue_project = project
        self.project_root = project.dir
        self.test_schema = SCHEMA
        self.database = None
        self.adapter = None  # every helper the suites pass it to is one of the above

    def run_sql(self, sql, fetch=None):
        if not sql.strip():
            return None
        rows = _fetch(sql.format(schema=SCHEMA, database=""))
        if fetch == "one":
            return rows[0] if rows else None
        if fetch == "all":
            return rows
        return None


@pytest.fixture(scope="class")
def models():
    return {}


@pytest.fixture(scope="class")
def macros():
    return {}


@pytest.fixture(scope="class")
def properties():
    return {}


@pytest.fixture(scope="class")
def seeds():
    return {}


@pytest.fixture(scope="class")
def snapshots():
    return {}


@pytest.fixture(scope="class")
def tests():
    return {}


@pytest.fixture(scope="class")
def analyses():
    return {}


@pytest.fixture(scope="class")
def project_config_update():
    return {}


@pytest.fixture(scope="class")
def project(models, macros, properties, seeds, snapshots, tests, analyses, project_config_update):
    config = {"name": "test"}
    update = project_config_update
    config.update(yaml.safe_load(update) if isinstance(update, str) else (update or {}))
    p = Project(config["name"], models={**models, **properties}, seeds=seeds, tests=tests, snapshots=snapshots,
                macros=macros, analyses=analyses, project_extra=config)
    _current["project"] = p
    yield ProjInfo(p)
    p.close()


# --- the choices the package leaves to the adapter ------------------------------------------------------------------

def _fixture(value):
    return pytest.fixture(scope="class")(lambda self: value)


def _seed_types(csv_text, column, spark_type):
    """The package's `expected` seed with its column typed (seeds infer Spark's bigint and double)."""
    yml = {"version": 2, "seeds": [{"name": "expected", "config": {"column_types": {column: spark_type}}}]}
    return {"expected.csv": csv_text, "expected.yml": json.dumps(yml)}


# `<module>::<class>` → (the package's base class to run it from, in the same module; the fixtures it overrides, from
# the module; why). Each is a choice the package leaves to the adapter, made as dbt-spark makes it.
ADAPTER_CHOICES = {
    "test_current_timestamp::TestCurrentTimestamp": (
        "BaseCurrentTimestampNaive", lambda m: {},
        "the package has an aware and a naive base class, for each adapter to pick one: Spark's timestamps are naive"),
    "test_escape_single_quotes::TestEscapeSingleQuotes": (
        "BaseEscapeSingleQuotesBackslash", lambda m: {},
        "the package has a doubled-quote and a backslash base class: Spark escapes a quote with a backslash"),
    "test_timestamps::TestCurrentTimestamps": (
        "BaseCurrentTimestamps", lambda m: {
            "models": {"get_current_timestamp.sql": "select {{ current_timestamp() }} as current_timestamp"},
            "expected_schema": {"current_timestamp": "timestamp"},
            "expected_sql": "select current_timestamp() as current_timestamp"},
        "the expected SQL and schema are Postgres' (now(), timestamp with time zone) and the model uses the "
        "deprecated *_backcompat macros, whose default is Postgres' `::timestamp`; the package leaves the three "
        "fixtures to each adapter: Spark's current_timestamp() and type `timestamp`"),
    "test_type_int::TestTypeInt": (
        "BaseTypeInt", lambda m: {"seeds": _seed_types(m.seeds__expected_csv, "int_col", "int")},
        "the expected seed holds 12345678, which a Spark seed loads as bigint: typed int"),
    "test_type_float::TestTypeFloat": (
        "BaseTypeFloat", lambda m: {"seeds": _seed_types(m.seeds__expected_csv, "float_col", "float")},
        "the expected seed holds 1.2345, which a Spark seed loads as double: typed float"),
}


def pytest_pycollect_makeitem(collector, name, obj):
    choice = ADAPTER_CHOICES.get(f"{collector.path.stem}::{name}") if isinstance(obj, type) else None
    if choice:
        base, fixtures, _ = choice
        module = collector.obj
        overrides = {k: _fixture(v) for k, v in fixtures(module).items()}
        # As an adapter's own test module does it: a class of the same name on the chosen base.
        setattr(module, name, type(name, (getattr(module, base),), overrides))
        return pytest.Class.from_parent(collector, name=name)
    return None


# --- running and counting -------------------------------------------------------------------------------------------

def suite_of(nodeid):
    """`.../test_hash.py::TestHash::test_build_assert_equal` → `test_hash::TestHash`."""
    parts = nodeid.split("::")
    return f"{os.path.splitext(os.path.basename(parts[0]))[0]}::{parts[1]}" if len(parts) > 2 else None


class Outcomes:
    def __init__(self):
        self.failed = {}
        self.seen = []
        self.tests = {}

    def pytest_runtest_logreport(self, report):
        suite = suite_of(report.nodeid)
        if suite is None:
            return
        if suite not in self.seen:
            self.seen.append(suite)
        self.tests.setdefault(suite, set()).add(report.nodeid)
        if report.failed:
            self.failed.setdefault(suite, []).append(f"{report.nodeid.split('::')[-1]} ({report.when}):\n"
                                                      f"{report.longreprtext}")


def first_error(failures):
    """The line of a failure that says what went wrong."""
    lines = [l.strip() for f in failures for l in f.splitlines()]
    for pattern in (r"unsupported on the embedded engine", r"Error during|[A-Z][a-z]+ error: |query: ",
                    r"Got \d+ results?, configured", r"^E "):
        found = next((l for l in lines if re.search(pattern, l)), None)
        if found:
            return re.sub(r"^E\s+(\d\d:\d\d:\d\d\s+)?", "", found)
    return lines[-1] if lines else ""


def main():
    Project.binary = os.path.abspath(sys.argv[1])
    for suite, (base, _, why) in ADAPTER_CHOICES.items():
        print(f"adapter choice for {suite}: {why}")
    outcomes = Outcomes()
    package_dir = os.path.dirname(__import__(f"{PACKAGE}.base_utils", fromlist=["x"]).__file__)
    pytest.main(["-q", "-p", "no:cacheprovider", "-o", "addopts=", "--tb=short", "--import-mode=importlib",
                 "--rootdir", package_dir, package_dir], plugins=[sys.modules[__name__], outcomes])
    passed = [s for s in outcomes.seen if s not in outcomes.failed]
    unexpected = [s for s in outcomes.failed if s not in KNOWN_FAILURES]
    stale = [s for s in KNOWN_FAILURES if s in passed]
    missing = [s for s in KNOWN_FAILURES if s not in outcomes.seen]
    print()
    for s in outcomes.seen:
        if s in passed:
            n = len(outcomes.tests[s])
            print(f"PASS {s} ({n} test{'s' if n > 1 else ''})"
                  + ("  (listed in KNOWN_FAILURES: remove it)" if s in stale else ""))
        elif s in KNOWN_FAILURES:
            print(f"KNOWN FAILURE {s}: {KNOWN_FAILURES[s]}\n    now: {first_error(outcomes.failed[s])}")
        else:
            print(f"FAIL {s}\n" + "\n".join(outcomes.failed[s]))
    for s in missing:
        print(f"KNOWN_FAILURES lists {s}, which the package does not have")
    print(f"{len(passed)} of {len(outcomes.seen)} dbt utils suites passed, {len(outcomes.failed)} failed "
          f"({len(outcomes.failed) - len(unexpected)} known failures)")
    print(f"{Project.plans_checked} nodes ran exactly the steps `glue plan` printed for them")
    sys.exit(1 if unexpected or stale or missing or not outcomes.seen or not Project.plans_checked else 0)


if __name__ == "__main__":
    main()
