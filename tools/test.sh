#!/usr/bin/env bash
# The whole test suite of glue-rs: the Rust tests, then the checks against Spark itself (Spark 3.5 as Glue 5 runs it,
# with Iceberg's SQL extensions, ANSI mode off): every golden statement must parse with Spark's parser, the quoting
# corpus must round-trip through Spark unchanged, every query of the semantics corpus and every example of Spark's own
# function catalogue must give the embedded engine's answer or its clear "unsupported" error. Then dbt's own adapter
# test scenarios (fixtures read from the pip package dbt-tests-adapter) run through the `glue` binary. Needs Java 17
# and Python 3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

source tools/cargo_guard.sh
# One target directory for everything (cargo's own choice, as the README's first command and xtask use it).
target="$(cargo_target_dir)"
export CARGO_TARGET_DIR="$target"
glue="$target/debug/glue"
export INSTA_UPDATE=no          # a golden file that differs fails the run; it is never rewritten here
export SPARK_LOCAL_IP=127.0.0.1
venv="${GLUE_RS_SPARK_VENV:-$HOME/.cache/glue-rs/spark35}"

# Each stage's wall time, printed when the next one starts.
stage_name="" stage_start=$SECONDS
stage() {
  [ -z "$stage_name" ] || echo "-- $stage_name: $((SECONDS - stage_start)) s"
  stage_name="$1" stage_start=$SECONDS
  [ -z "$1" ] || echo "== $1"
}

# After the workspace test build, every dependency is built with the one feature set (the workspace-hack crate unifies
# them): a later cargo call that compiles a crate from outside the workspace fails the run.
members="$(cargo_workspace_members)"
workspace_only() {
  compiles_only "$members" "crates from outside the workspace after the workspace test build (features differ \
between cargo calls; run \`cargo hakari generate\`)" "$@"
}

stage "cargo test (workspace)"
cargo test --workspace --locked

stage "Spark oracle: $venv"
command -v java >/dev/null || { echo "java not found: the Spark checks need Java 17" >&2; exit 1; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tools/spark/requirements.txt

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
workspace_only cargo run --locked -p glue-sql --example quoting_corpus > "$work/corpus.jsonl"

stage "Spark parser on every golden statement"
"$venv/bin/python" tools/spark/parse_golden.py glue-materialize/tests/golden
stage "quoting round trip through Spark"
"$venv/bin/python" tools/spark/quoting_roundtrip.py "$work/corpus.jsonl"
stage "Spark semantics corpus: the embedded engine against Spark"
"$venv/bin/python" tools/spark/semantics.py gen "$work/queries.jsonl"
workspace_only cargo run --locked -p glue-local --example run_queries -- "$work/queries.jsonl" "$work/engine.jsonl"
TZ=UTC "$venv/bin/python" tools/spark/semantics.py compare "$work/queries.jsonl" "$work/engine.jsonl"
stage "Spark's Iceberg reads the Iceberg tables the embedded engine wrote (rows, partition spec, partition values)"
mkdir -p "$work/iceberg-warehouse"
workspace_only cargo run --locked -p glue-local --example iceberg_tables -- "$work/iceberg-warehouse" "$work/iceberg.jsonl"
TZ=UTC "$venv/bin/python" tools/spark/iceberg_read.py "$work/iceberg.jsonl"
stage "Spark's function catalogue: every example, on Spark and on the embedded engine"
workspace_only cargo build --locked -p glue-local --example run_queries
GLUE_RS_SPARK_VENV="$venv" tools/spark/catalogue.sh
stage "Java datetime patterns: the generated corpus on Spark and on the embedded engine"
"$venv/bin/python" tools/spark/datetime_corpus.py gen "$work/datetime.jsonl"
cargo run --quiet --locked -p glue-local --example run_queries -- "$work/datetime.jsonl" "$work/datetime-engine.jsonl"
"$venv/bin/python" tools/spark/datetime_corpus.py compare "$work/datetime.jsonl" "$work/datetime-engine.jsonl"
stage "decimal and mixed-type typing: the generated corpus on Spark and on the embedded engine"
"$venv/bin/python" tools/spark/typing_corpus.py gen "$work/typing.jsonl"
cargo run --quiet --locked -p glue-local --example run_queries -- "$work/typing.jsonl" "$work/typing-engine.jsonl"
"$venv/bin/python" tools/spark/typing_corpus.py compare "$work/typing.jsonl" "$work/typing-engine.jsonl"
stage "Spark SQL constructs: the corpus on Spark and on the embedded engine"
"$venv/bin/python" tools/spark/constructs.py gen "$work/constructs.jsonl"
cargo run --quiet --locked -p glue-local --example run_queries -- "$work/constructs.jsonl" "$work/constructs-engine.jsonl"
"$venv/bin/python" tools/spark/constructs.py compare "$work/constructs.jsonl" "$work/constructs-engine.jsonl"
stage "dbt's adapter test scenarios (pip dbt-tests-adapter) through glue on the embedded engine"
dbt_venv="${GLUE_RS_DBT_VENV:-$HOME/.cache/glue-rs/dbt111}"
[ -x "$dbt_venv/bin/python" ] || python3 -m venv "$dbt_venv"
"$dbt_venv/bin/pip" install --quiet --disable-pip-version-check -r tools/dbt/requirements.txt
workspace_only cargo build --locked -p glue-cli
"$dbt_venv/bin/python" tools/dbt/adapter_suites.py "$glue"
stage "dbt's cross-database macro suites (dbt-tests-adapter utils) through glue on the embedded engine"
"$dbt_venv/bin/python" tools/dbt/utils_suites.py "$glue"
stage "dbt reads glue's manifest.json (dbt ls --select state:... --state)"
"$dbt_venv/bin/python" tools/dbt/state_check.py "$glue" "$dbt_venv/bin"

stage "installs users make: the pip wheel (maturin) and cargo install, from the debug build, each running the example"
tools/wheel/check.sh

stage "glue compile against dbt compile (dbt-spark, session method on local Spark 3.5)"
spark_dbt_venv="${GLUE_RS_DBT_SPARK_VENV:-$HOME/.cache/glue-rs/dbtspark}"
[ -x "$spark_dbt_venv/bin/python" ] || python3 -m venv "$spark_dbt_venv"
"$spark_dbt_venv/bin/pip" install --quiet --disable-pip-version-check -r tools/dbt/requirements-spark.txt
"$spark_dbt_venv/bin/python" tools/dbt/compile_fidelity.py "$glue" "$spark_dbt_venv/bin"

stage ""
echo "== all checks passed"
