#!/usr/bin/env bash
# The installs users make, checked end to end on the bundled example (examples/glue_shop, copied to a temp dir):
#  1. the glue-rs wheel (glue-cli/pyproject.toml, maturin `bindings = "bin"`), built from the debug build already in
#     the target directory, installed with pip into a fresh venv; its `glue --version` and `glue build`;
#  2. `cargo install --debug --locked --path glue-cli` into a temp root; its `glue --version` and `glue build`.
# Both must reuse the debug build: after `cargo build --locked -p glue-cli`, a crate other than glue-cli compiled
# again by maturin or cargo install fails the check. Exits non-zero on any failure. Needs Python 3 with venv; maturin
# comes from xtask's tool set `maturin` (xtask/requirements/maturin.txt): `cargo xtask ci` passes its venv in
# GLUE_RS_MATURIN_VENV, run alone this asks `cargo xtask venv maturin` for it.
set -euo pipefail
cd "$(dirname "$0")/../.."

source xtask/scripts/cargo_guard.sh
# The one target directory, as xtask asks it; maturin and cargo install get it explicitly.
target="$(cargo_target_dir)"
export CARGO_TARGET_DIR="$target"

maturin_venv="${GLUE_RS_MATURIN_VENV:-$(dirname "$(cargo xtask venv maturin | sed -n 's/^maturin: //p')")}"
[ -x "$maturin_venv/bin/maturin" ] || { echo "no maturin in $maturin_venv" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The commit `glue --version` must name: the one checked out, when this is a checkout and no packager's override
# (GLUE_RS_COMMIT, see glue-cli/build.rs) names another.
commit=""
[ -n "${GLUE_RS_COMMIT:-}" ] || commit="$(git rev-parse HEAD 2>/dev/null | cut -c1-12 || true)"

# Runs "$@" (output shown as it comes) and fails if it compiled any crate but glue-cli: it must reuse the debug build.
reuses_debug_build() {
  compiles_only glue-cli "again what \`cargo build --locked -p glue-cli\` had built" "$@"
}

# Checks `glue --version` of the glue at $1: `glue <version> (<commit> <date>)`, naming the checkout's commit.
check_version() {
  local version
  version="$("$1" --version)" || { echo "$1 --version failed" >&2; return 1; }
  echo "$version"
  [[ "$version" =~ ^glue\ [0-9][^\ ]*\ \(.+\)$ ]] || { echo "unexpected --version: $version" >&2; return 1; }
  if [ -n "$commit" ] && [[ "$version" != *"($commit "* ]]; then
    echo "--version does not name the checkout's commit $commit: $version" >&2
    return 1
  fi
}

# Runs `glue build` of a fresh copy of the bundled example with the glue at $1; fails unless every node passes.
build_example() {
  local glue="$1" dir
  dir="$(mktemp -d "$work/example.XXXX")" || return 1
  cp -R examples/glue_shop examples/glue_shop_utils "$dir/" || return 1
  rm -rf "$dir"/*/target "$dir"/*/logs "$dir"/*/dbt_packages
  (cd "$dir" && env -u DBT_PROFILES_DIR -u DBT_PROJECT_DIR -u GLUE_SHOP_WAREHOUSE NO_COLOR=1 \
    "$glue" build --project-dir "$dir/glue_shop") >"$dir/out.txt" 2>&1 \
    || { cat "$dir/out.txt"; echo "glue build failed: $glue" >&2; return 1; }
  grep -E "Done\. PASS=" "$dir/out.txt"
  grep -qE "Done\. PASS=[1-9][0-9]* WARN=[0-9]+ ERROR=0 SKIP=0 " "$dir/out.txt" \
    || { cat "$dir/out.txt"; echo "glue build reported errors or skips: $glue" >&2; return 1; }
  [ -s "$dir/glue_shop/target/run_results.json" ] || { echo "no run_results.json: $glue" >&2; return 1; }
}

echo "== the debug build (a no-op when it is up to date)"
cargo build --locked -p glue-cli

echo "== the glue-rs wheel from the debug build"
# maturin runs `cargo rustc --profile dev --message-format json-render-diagnostics --locked --manifest-path
# glue-cli/Cargo.toml --bin glue`, with no rustc flags or environment of its own: the units of the debug build above,
# all fresh. No `--target` (a triple means a second set of artifacts) and no `--release`. `--auditwheel check` fails
# when the binary needs a shared library outside the manylinux policy, instead of trying to bundle it.
reuses_debug_build "$maturin_venv/bin/maturin" build --locked --profile dev -m glue-cli/Cargo.toml \
  -o "$work/wheels" --auditwheel check
wheels=("$work"/wheels/glue_rs-*.whl)
{ [ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ]; } || { echo "expected one glue_rs wheel in $work/wheels" >&2; exit 1; }
ls -l "${wheels[0]}"

echo "== pip install of the wheel into a fresh venv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-index "${wheels[0]}"
check_version "$work/venv/bin/glue"
echo "== glue build of the bundled example with the wheel's glue"
build_example "$work/venv/bin/glue"

echo "== cargo install --debug --locked --path glue-cli"
reuses_debug_build cargo install --debug --locked --path glue-cli --root "$work/install"
check_version "$work/install/bin/glue"
echo "== glue build of the bundled example with the installed glue"
build_example "$work/install/bin/glue"

echo "== the wheel and cargo install both work"
