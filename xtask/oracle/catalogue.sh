#!/usr/bin/env bash
# Spark's own function catalogue as the embedded engine's oracle (xtask/oracle/catalogue.py): every example of every
# built-in function of the pinned pyspark, run on Spark (ANSI off, UTC) and on the engine, values and types compared.
#
#   xtask/oracle/catalogue.sh                 the check CI runs (fails on any different example or a stale list)
#   xtask/oracle/catalogue.sh --readme        also rewrites the table in glue-local/README.md
#   xtask/oracle/catalogue.sh --update-list   rewrites glue-local/spark-functions.tsv from this run (developers)
#
# Needs Java 17 and xtask's tool set `spark35` (xtask/requirements/spark35.txt): `cargo xtask ci` passes its venv in
# GLUE_RS_SPARK_VENV, run alone this asks `cargo xtask venv spark35` for it.
set -euo pipefail
cd "$(dirname "$0")/../.."
source xtask/scripts/cargo_guard.sh
export CARGO_TARGET_DIR="$(cargo_target_dir)"
export SPARK_LOCAL_IP=127.0.0.1 TZ=UTC
venv="${GLUE_RS_SPARK_VENV:-$(dirname "$(cargo xtask venv spark35 | sed -n 's/^spark35: //p')")}"
args=()
for a in "$@"; do
  case "$a" in
    --readme) args+=(--readme glue-local/README.md) ;;
    --update-list) args+=(--update-list) ;;
    *) echo "catalogue.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
"$venv/bin/python" xtask/oracle/catalogue.py gen "$work/catalogue.jsonl"
cargo run --quiet --locked -p glue-local --example run_queries -- "$work/catalogue.jsonl" "$work/engine.jsonl"
# Once more without the list's refusals: a refused function that gives Spark's answers is a stale entry.
cargo run --quiet --locked -p glue-local --example run_queries -- "$work/catalogue.jsonl" "$work/unrefused.jsonl" \
  --no-refusals
"$venv/bin/python" xtask/oracle/catalogue.py compare "$work/catalogue.jsonl" "$work/engine.jsonl" \
  --unrefused "$work/unrefused.jsonl" "${args[@]}"
echo "catalogue: $((SECONDS - start)) s in all"
