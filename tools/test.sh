#!/usr/bin/env bash
# The whole test suite of glue-rs: the Rust tests, then the checks against Spark itself (Spark 3.5 as Glue 5 runs it,
# with Iceberg's SQL extensions, ANSI mode off): every golden statement must parse with Spark's parser, the quoting
# corpus must round-trip through Spark unchanged, and every query of the semantics corpus must give the embedded
# engine's answer or its clear "unsupported" error. Then dbt's own adapter test scenarios (fixtures read from the pip
# package dbt-tests-adapter) run through the `glue` binary. Needs Java 17 and Python 3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/glue-rs/target}"
export INSTA_UPDATE=no          # a golden file that differs fails the run; it is never rewritten here
export SPARK_LOCAL_IP=127.0.0.1
venv="${GLUE_RS_SPARK_VENV:-$HOME/.cache/glue-rs/spark35}"

echo "== cargo test (workspace)"
cargo test --workspace --locked

echo "== Spark oracle: $venv"
command -v java >/dev/null || { echo "java not found: the Spark checks need Java 17" >&2; exit 1; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tools/spark/requirements.txt

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo run --quiet --locked -p glue-sql --example quoting_corpus > "$work/corpus.jsonl"

echo "== Spark parser on every golden statement"
"$venv/bin/python" tools/spark/parse_golden.py glue-materialize/tests/golden
echo "== quoting round trip through Spark"
"$venv/bin/python" tools/spark/quoting_roundtrip.py "$work/corpus.jsonl"
echo "== Spark semantics corpus: the embedded engine against Spark"
"$venv/bin/python" tools/spark/semantics.py gen "$work/queries.jsonl"
cargo run --quiet --locked -p glue-local --example run_queries -- "$work/queries.jsonl" "$work/engine.jsonl"
TZ=UTC "$venv/bin/python" tools/spark/semantics.py compare "$work/queries.jsonl" "$work/engine.jsonl"
echo "== dbt's adapter test scenarios (pip dbt-tests-adapter) through glue on the embedded engine"
dbt_venv="${GLUE_RS_DBT_VENV:-$HOME/.cache/glue-rs/dbt111}"
[ -x "$dbt_venv/bin/python" ] || python3 -m venv "$dbt_venv"
"$dbt_venv/bin/pip" install --quiet --disable-pip-version-check -r tools/dbt/requirements.txt
cargo build --quiet --locked -p glue-cli
"$dbt_venv/bin/python" tools/dbt/adapter_suites.py "$CARGO_TARGET_DIR/debug/glue"
echo "== dbt reads glue's manifest.json (dbt ls --select state:... --state)"
"$dbt_venv/bin/python" tools/dbt/state_check.py "$CARGO_TARGET_DIR/debug/glue" "$dbt_venv/bin"

echo "== glue compile against dbt compile (dbt-spark, session method on local Spark 3.5)"
spark_dbt_venv="${GLUE_RS_DBT_SPARK_VENV:-$HOME/.cache/glue-rs/dbtspark}"
[ -x "$spark_dbt_venv/bin/python" ] || python3 -m venv "$spark_dbt_venv"
"$spark_dbt_venv/bin/pip" install --quiet --disable-pip-version-check -r tools/dbt/requirements-spark.txt
"$spark_dbt_venv/bin/python" tools/dbt/compile_fidelity.py "$CARGO_TARGET_DIR/debug/glue" "$spark_dbt_venv/bin"

echo "== all checks passed"
