#!/usr/bin/env python3
"""dbt's adapter test scenarios, run through `glue` on the embedded engine.

The fixtures (models, seeds, snapshots, tests, YAML) are read from the installed `dbt-tests-adapter` package
(`dbt.tests.adapter.basic.files`), assembled into projects exactly as the suites' fixtures assemble them, and the
suites' expectations are asserted on glue's results (`target/run_results.json`, `target/catalog.json`,
`target/manifest.json`) and on the tables' rows. dbt-glue runs the same suites (its `tests/functional/adapter`), with
seeds and snapshots as Delta for the snapshot suites.

One difference from the pytest originals: `update_rows` (an UPDATE on the seed table in the snapshot suites) is done by
rewriting the seed's CSV and reloading it with `glue seed`, which leaves the same rows.

usage: adapter_suites.py <path to the glue binary>
"""

import csv
import datetime
import io
import json
import os
import sys
import traceback

from dbt.tests.adapter.basic import expected_catalog, files
from dbt.tests.adapter.basic import test_docs_generate as docs_files

from glue_project import SCHEMA, Project


def names(results):
    return sorted(r["unique_id"].split(".")[2] for r in results)


def status(results, name):
    return next(r["status"] for r in results if r["unique_id"].split(".")[2] == name)


# Each suite mirrors the class of the same name in dbt.tests.adapter.basic.

def simple_materializations():
    p = Project("base", models={
        "view_model.sql": files.base_view_sql,
        "table_model.sql": files.base_table_sql,
        "swappable.sql": files.base_materialized_var_sql,
        "schema.yml": files.schema_base_yml,
    }, seeds={"base.csv": files.seeds_base_csv})
    assert len(p.run("seed")) == 1
    results = p.run("run")
    assert names(results) == ["swappable", "table_model", "view_model"], names(results)
    p.relation_types({"base": "table", "view_model": "view", "table_model": "table", "swappable": "table"})
    assert p.count("base") == 10
    p.equal(["base", "view_model", "table_model", "swappable"])
    catalog = p.docs()
    assert len(catalog["nodes"]) == 4, len(catalog["nodes"])
    assert len(catalog["sources"]) == 1, len(catalog["sources"])
    assert len(p.run("run", "-m", "swappable", "--vars", "materialized_var: view")) == 1
    p.relation_types({"base": "table", "view_model": "view", "table_model": "table", "swappable": "view"})
    assert len(p.run("run", "-m", "swappable", "--vars", "materialized_var: incremental")) == 1
    p.relation_types({"base": "table", "view_model": "view", "table_model": "table", "swappable": "table"})
    p.equal(["base", "swappable"])
    return p


def singular_tests():
    p = Project("singular_tests", tests={"passing.sql": files.test_passing_sql, "failing.sql": files.test_failing_sql})
    results = p.run("test", expect_pass=False)
    assert names(results) == ["failing", "passing"], names(results)
    assert status(results, "passing") == "pass"
    assert status(results, "failing") == "fail"
    return p


def singular_tests_ephemeral():
    p = Project("singular_tests_ephemeral", seeds={"base.csv": files.seeds_base_csv}, models={
        "ephemeral.sql": files.ephemeral_with_cte_sql,
        "passing_model.sql": files.test_ephemeral_passing_sql,
        "failing_model.sql": files.test_ephemeral_failing_sql,
        "schema.yml": files.schema_base_yml,
    }, tests={"passing.sql": files.test_ephemeral_passing_sql, "failing.sql": files.test_ephemeral_failing_sql})
    assert names(p.run("seed")) == ["base"]
    results = p.run("test", expect_pass=False)
    assert names(results) == ["failing", "passing"], names(results)
    assert status(results, "passing") == "pass"
    assert status(results, "failing") == "fail"
    assert names(p.run("run")) == ["failing_model", "passing_model"]
    return p


def empty():
    p = Project("empty")
    assert len(p.run("seed")) == 0
    assert os.path.exists(os.path.join(p.dir, "target", "run_results.json"))
    assert len(p.run("run")) == 0
    assert not os.path.exists(os.path.join(p.dir, "target", "catalog.json"))
    catalog = p.docs()
    assert len(catalog["nodes"]) == 0 and len(catalog["sources"]) == 0
    return p


def ephemeral():
    p = Project("ephemeral", seeds={"base.csv": files.seeds_base_csv}, models={
        "ephemeral.sql": files.base_ephemeral_sql,
        "view_model.sql": files.ephemeral_view_sql,
        "table_model.sql": files.ephemeral_table_sql,
        "schema.yml": files.schema_base_yml,
    })
    assert names(p.run("seed")) == ["base"]
    assert names(p.run("run")) == ["table_model", "view_model"]
    assert p.count("base") == 10
    p.equal(["base", "view_model", "table_model"])
    catalog = p.docs()
    assert len(catalog["nodes"]) == 3 and len(catalog["sources"]) == 1, (len(catalog["nodes"]), len(catalog["sources"]))
    manifest = p.manifest()
    assert len(manifest["nodes"]) == 4 and len(manifest["sources"]) == 1
    return p


def incremental():
    # dbt-glue's TestIncrementalGlue sets the append strategy (its default, insert_overwrite without partitions,
    # replaces the whole table).
    p = Project("incremental", models={"incremental.sql": files.incremental_sql, "schema.yml": files.schema_base_yml},
                seeds={"base.csv": files.seeds_base_csv, "added.csv": files.seeds_added_csv},
                project_extra={"models": {"+incremental_strategy": "append"}})
    assert len(p.run("seed")) == 2
    assert p.count("base") == 10 and p.count("added") == 20
    assert len(p.run("run", "--vars", "seed_name: base")) == 1
    p.equal(["base", "incremental"])
    assert len(p.run("run", "--vars", "seed_name: added")) == 1
    p.equal(["added", "incremental"])
    catalog = p.docs()
    assert len(catalog["nodes"]) == 3 and len(catalog["sources"]) == 1
    return p


def generic_tests():
    p = Project("generic_tests", seeds={"base.csv": files.seeds_base_csv, "schema.yml": files.generic_test_seed_yml},
                models={
                    "view_model.sql": files.base_view_sql,
                    "table_model.sql": files.base_table_sql,
                    "schema.yml": files.schema_base_yml,
                    "schema_view.yml": files.generic_test_view_yml,
                    "schema_table.yml": files.generic_test_table_yml,
                })
    p.run("seed")
    assert len(p.run("test", "-m", "base")) == 1
    assert len(p.run("run")) == 2
    results = p.run("test")
    assert len(results) == 3 and all(r["status"] == "pass" for r in results), results
    return p


def table_materialization():
    p = Project("table_materialization", seeds={"seed.csv": files.seeds_base_csv},
                models={"materialized.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('seed') }}"})
    p.run("seed")
    p.run("run")
    p.equal(["seed", "materialized"])
    return p


SNAPSHOT_PROJECT = {"seeds": {"+file_format": "delta"}, "snapshots": {"+file_format": "delta"}}


def shift_added_rows(p, column, where):
    """dbt's update_rows on the seed `added`: `some_date` one hour later (add_timestamp's default) or `name` suffixed
    with `_updated` (add_string), for the ids in `where`; cumulative like the UPDATE it stands for."""
    with open(os.path.join(p.dir, "seeds", "added.csv")) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if where(int(r["id"])):
            if column == "some_date":
                t = datetime.datetime.fromisoformat(r["some_date"]) + datetime.timedelta(hours=1)
                r["some_date"] = t.isoformat()
            else:
                r[column] = r[column] + "_updated"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    p.write("seeds/added.csv", out.getvalue())
    p.run("seed", "-s", "added")


def snapshot_check_cols():
    p = Project("snapshot_strategy_check_cols", seeds={"base.csv": files.seeds_base_csv, "added.csv": files.seeds_added_csv},
                snapshots={"cc_all_snapshot.sql": files.cc_all_snapshot_sql, "cc_date_snapshot.sql": files.cc_date_snapshot_sql,
                           "cc_name_snapshot.sql": files.cc_name_snapshot_sql}, project_extra=SNAPSHOT_PROJECT)
    assert len(p.run("seed")) == 2
    assert all(r["status"] == "success" for r in p.run("snapshot"))
    for s in ("cc_all_snapshot", "cc_name_snapshot", "cc_date_snapshot"):
        assert p.count(s) == 10, (s, p.count(s))
    assert all(r["status"] == "success" for r in p.run("snapshot", "--vars", "seed_name: added"))
    for s in ("cc_all_snapshot", "cc_name_snapshot", "cc_date_snapshot"):
        assert p.count(s) == 20, (s, p.count(s))
    shift_added_rows(p, "some_date", lambda i: 10 < i < 21)
    assert all(r["status"] == "success" for r in p.run("snapshot", "--vars", "seed_name: added"))
    counts = [p.count(s) for s in ("cc_all_snapshot", "cc_date_snapshot", "cc_name_snapshot")]
    assert counts == [30, 30, 20], counts
    shift_added_rows(p, "name", lambda i: i < 11)
    assert all(r["status"] == "success" for r in p.run("snapshot", "--vars", "seed_name: added"))
    counts = [p.count(s) for s in ("cc_all_snapshot", "cc_date_snapshot", "cc_name_snapshot")]
    assert counts == [40, 30, 30], counts
    return p


def snapshot_timestamp():
    p = Project("snapshot_strategy_timestamp", seeds={"base.csv": files.seeds_base_csv, "newcolumns.csv": files.seeds_newcolumns_csv,
                "added.csv": files.seeds_added_csv}, snapshots={"ts_snapshot.sql": files.ts_snapshot_sql},
                project_extra=SNAPSHOT_PROJECT)
    assert len(p.run("seed")) == 3
    assert len(p.run("snapshot")) == 1
    assert p.count("ts_snapshot") == 10
    p.run("snapshot", "--vars", "seed_name: added")
    assert p.count("ts_snapshot") == 20
    shift_added_rows(p, "some_date", lambda i: 10 < i < 21)
    p.run("snapshot", "--vars", "seed_name: added")
    assert p.count("ts_snapshot") == 30
    # A name change without a newer updated_at is not a new version (timestamp strategy).
    shift_added_rows(p, "name", lambda i: i < 11)
    p.run("snapshot", "--vars", "seed_name: added")
    assert p.count("ts_snapshot") == 30
    return p


# BaseDocsGenerate / BaseDocsGenReferences: the expected catalogs are built by the package's own
# expected_catalog functions, with glue's types (as each adapter passes its own): seeds infer bigint ids, Spark's
# `string` and `timestamp`, relation types `view` / `table`, no owner, no database (Glue has one catalog).
class _SuiteProject:
    database = None
    test_schema = SCHEMA


GLUE_TYPES = dict(role=None, id_type="bigint", text_type="string", time_type="timestamp", view_type="view",
                  table_type="table", model_stats=expected_catalog.no_stats())


def docs_project(name, models):
    return Project(name, seeds={"schema.yml": docs_files.seed__schema_yml, "seed.csv": docs_files.seed__seed_csv},
                   macros={"schema.yml": docs_files.macros__schema_yml, "macro.md": docs_files.macros__macro_md,
                           "dummy_test.sql": docs_files.macros__dummy_test_sql},
                   snapshots={"snapshot_seed.sql": docs_files.snapshot__snapshot_seed_sql},
                   models=models,
                   project_extra={"asset-paths": ["assets", "invalid-asset-paths"],
                                  "vars": {"test_schema": SCHEMA, "alternate_schema": SCHEMA + "_test"},
                                  "seeds": {"quote_columns": True}})


def verify_catalog(p, expected):
    with open(os.path.join(p.dir, "target", "catalog.json")) as f:
        catalog = json.load(f)
    assert set(catalog) == {"errors", "metadata", "nodes", "sources"}, set(catalog)
    assert catalog["metadata"]["dbt_schema_version"] == "https://schemas.getdbt.com/dbt/catalog/v1.json"
    assert catalog["metadata"]["env"] == {"env_key": "env_value"}, catalog["metadata"]["env"]
    assert not catalog["errors"]
    for key in "nodes", "sources":
        for unique_id, expected_node in expected[key].items():
            assert unique_id in catalog[key], f"{unique_id} missing from catalog {key}: {sorted(catalog[key])}"
            found = catalog[key][unique_id]
            for node_key in expected_node:
                assert node_key in found, (unique_id, node_key)
                assert found[node_key] == expected_node[node_key], (
                    f"{unique_id}.{node_key}: expected {expected_node[node_key]}, got {found[node_key]}")


def run_and_generate(p, *args):
    p.run("seed")
    assert len(p.run("run")) == 2
    for f in ("manifest.json", "run_results.json"):
        os.remove(os.path.join(p.dir, "target", f))
    p.glue("docs", "generate", *args)


def docs_generate():
    p = docs_project("test", {"schema.yml": docs_files.models__schema_yml,
                              "second_model.sql": docs_files.models__second_model_sql,
                              "readme.md": docs_files.models__readme_md, "model.sql": docs_files.models__model_sql})
    run_and_generate(p, "--no-compile")
    assert not os.path.exists(os.path.join(p.dir, "target", "manifest.json"))
    run_and_generate(p)
    verify_catalog(p, expected_catalog.base_expected_catalog(_SuiteProject, **GLUE_TYPES))
    return p


def docs_gen_references():
    p = docs_project("test", {"schema.yml": docs_files.ref_models__schema_yml,
                              "sources.yml": docs_files.ref_sources__schema_yml,
                              "view_summary.sql": docs_files.ref_models__view_summary_sql,
                              "ephemeral_summary.sql": docs_files.ref_models__ephemeral_summary_sql,
                              "ephemeral_copy.sql": docs_files.ref_models__ephemeral_copy_sql,
                              "docs.md": docs_files.ref_models__docs_md})
    run_and_generate(p)
    verify_catalog(p, expected_catalog.expected_references_catalog(_SuiteProject, bigint_type="bigint", **GLUE_TYPES))
    return p


def seed_with_unique_delimiter():
    """dbt.tests.adapter.simple_seed's TestSeedWithUniqueDelimiter: its pipe-separated seed, loaded with the seeds'
    `delimiter: "|"`, equals `seed_expected` (there a table made by SQL; here the same fixture written with commas by
    Python's csv module, loaded as a seed with the default delimiter), and so does the model reading it."""
    from dbt.tests.adapter.simple_seed import fixtures as seed_fixtures
    from dbt.tests.adapter.simple_seed import seeds as seed_files
    rows = list(csv.reader(io.StringIO(seed_files.seeds__pipe_separated_csv.strip()), delimiter="|"))
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\n").writerows(rows)
    p = Project("seed_delimiter", seeds={"seed_pipe_separated.csv": seed_files.seeds__pipe_separated_csv,
                                         "seed_expected.csv": expected.getvalue()},
                models={"models__downstream_from_seed_pipe_separated.sql":
                        seed_fixtures.models__downstream_from_seed_pipe_separated},
                project_extra={"seeds": {"quote_columns": False, "delimiter": "|",
                                         "seed_delimiter": {"seed_expected": {"+delimiter": ","}}}})
    assert len(p.run("seed")) == 2
    assert p.count("seed_pipe_separated") == len(rows) - 1
    p.equal(["seed_expected", "seed_pipe_separated"])
    assert len(p.run("run")) == 1
    p.equal(["models__downstream_from_seed_pipe_separated", "seed_expected"])
    # Seeding again (the table exists) leaves the same rows.
    assert len(p.run("seed")) == 2
    p.equal(["seed_pipe_separated", "seed_expected"])
    return p


def query_comments():
    """dbt.tests.adapter.query_comment's six suites (BaseQueryComments and its macro, macro-args, invalid, null and
    empty variants): their model and macros, each project with the suite's own `query-comment`
    (`project_config_update`, read from the suite class). dbt asserts on its debug log, which prints every query it
    sends; here the statements the model sent are in `target/run/` (glue writes there what each statement sent,
    comment included, and `glue plan` is held against it by Project.run). The model's inner `run_query` is not
    checked: on the embedded engine a query runs in process, with no comment to carry (dbt's log shows it commented).
    """
    from dbt.tests.adapter.query_comment import fixtures as qc_fixtures
    from dbt.tests.adapter.query_comment import test_query_comment as qc
    suites = [
        (qc.TestQueryComments, "/* dbt\nrules! */\n"),
        (qc.TestMacroQueryComments, "/* dbt macros\nare pretty cool */\n"),
        (qc.TestMacroArgsQueryComments, "/* {} */\n".format(json.dumps(
            {"app": "dbt++", "macro_version": "0.1.0", "message": "blah: dev"}, sort_keys=True))),
        (qc.TestMacroInvalidQueryComments, None),
        (qc.TestNullQueryComments, ""),
        (qc.TestEmptyQueryComments, ""),
    ]
    last = None
    for suite, expected in suites:
        config = suite.project_config_update.__wrapped__(None)
        p = Project("query_comment", models={"x.sql": qc_fixtures.MODELS__X_SQL},
                    macros={"macro.sql": qc_fixtures.MACROS__MACRO_SQL}, project_extra=config)
        if expected is None:
            # dbt raises DbtRuntimeError: the comment holds `*/`. Here the model fails, naming the setting.
            proc = p.glue("run", expect_pass=False)
            out = proc.stdout + proc.stderr
            assert proc.returncode == 1 and "query-comment" in out and "*/" in out, (suite.__name__, out)
            with open(os.path.join(p.dir, "target", "run_results.json")) as f:
                results = json.load(f)["results"]
            assert [r["status"] for r in results] == ["error"], (suite.__name__, results)
        else:
            results = p.run("run")
            assert len(results) > 0
            with open(os.path.join(p.dir, "target", "run", "query_comment", "models", "x.sql")) as f:
                sent = f.read()
            if expected:
                assert expected in sent, (suite.__name__, sent)
            else:
                assert "/*" not in sent or "*/" not in sent, (suite.__name__, sent)
        if last is not None:
            last.close()
        last = p
    return last


SUITES = [simple_materializations, singular_tests, singular_tests_ephemeral, empty, ephemeral, incremental,
          generic_tests, table_materialization, snapshot_check_cols, snapshot_timestamp, docs_generate, docs_gen_references,
          seed_with_unique_delimiter, query_comments]


def main():
    Project.binary = os.path.abspath(sys.argv[1])
    failed = 0
    for suite in SUITES:
        try:
            p = suite()
            p.close()
            print(f"PASS {suite.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL {suite.__name__}\n{traceback.format_exc()}")
    print(f"{len(SUITES) - failed} of {len(SUITES)} dbt adapter suites passed")
    # `glue plan` before every node command, held against what ran (glue_project.Project.run).
    print(f"{Project.plans_checked} nodes ran exactly the steps `glue plan` printed for them")
    if Project.plans_checked == 0:
        print("FAIL: no node's plan was checked against its run")
        failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
