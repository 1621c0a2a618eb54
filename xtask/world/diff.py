"""`cargo xtask diff`: run one dbt project on two targets with `glue build` and compare every resulting table.

Usage: diff.py GLUE PROJECT_DIR LEFT_TARGET RIGHT_TARGET [--profiles-dir D] [--no-build] [--show N] [--vars YAML]
[--exclude NAME ...]

Every model (not ephemeral), seed and snapshot of the project is read back on each target with
`glue show --inline "select * from {{ ref(...) }}" --output json` (so both sides are read through the same engine
interface), and compared as a multiset of rows with normalized types: integral floats equal integers, floats compare at
12 significant digits, decimals in strings lose trailing zeros, timestamps compare as `YYYY-MM-DD HH:MM:SS[.ffffff]`
in UTC without a zone suffix, column names case-insensitively. Differing rows are printed (up to N per table).
Snapshot metadata columns (dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to) depend on run time and are left out.
Exit status 1 when any table differs or is missing on one side.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import re
import subprocess
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

TIME_COLUMNS = {"dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to"}
TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]00:?00| UTC)?$")
DECIMAL = re.compile(r"^-?\d+\.\d+$")


def normalize(value: Any) -> Any:
    """One cell in a form two engines agree on when they mean the same value."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return float(f"{value:.12g}")
    if isinstance(value, str):
        match = TIMESTAMP.match(value)
        if match:
            fraction = (match.group(3) or "").rstrip("0").rstrip(".")
            return f"{match.group(1)} {match.group(2)}{fraction}"
        if DECIMAL.match(value):
            try:
                exact = Decimal(value).normalize()
                # A float holds 15 significant digits: a decimal with more stays exact, as a string.
                return normalize(float(exact)) if len(exact.as_tuple().digits) <= 15 else str(exact)
            except InvalidOperation:
                return value
        return value
    if isinstance(value, list):
        return tuple(normalize(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k.lower(), normalize(v)) for k, v in value.items()))
    return repr(value)


def normalize_rows(rows: list[dict[str, Any]], drop: set[str]) -> collections.Counter:
    return collections.Counter(
        tuple(sorted((k.lower(), normalize(v)) for k, v in row.items() if k.lower() not in drop)) for row in rows
    )


def compare(name: str, left: list[dict[str, Any]], right: list[dict[str, Any]], show: int, drop: set[str]) -> list[str]:
    """Lines describing how two tables differ (empty when equal as multisets)."""
    a, b = normalize_rows(left, drop), normalize_rows(right, drop)
    if a == b:
        return []
    only_left, only_right = a - b, b - a
    lines = [f"{name}: {sum(only_left.values())} row(s) only on the left, {sum(only_right.values())} only on the right"]
    for label, rows in (("<", only_left), (">", only_right)):
        for row, count in list(rows.items())[:show]:
            lines.append(f"  {label} {dict(row)}" + (f" ×{count}" if count > 1 else ""))
    return lines


VARS: list[str] = []


def glue(binary: str, args: list[str], project: str, profiles: str | None) -> subprocess.CompletedProcess:
    cmd = [binary, *args, "--project-dir", project, *VARS]
    if profiles:
        cmd += ["--profiles-dir", profiles]
    return subprocess.run(cmd, capture_output=True, text=True)


def relations(project: str) -> list[tuple[str, str, str]]:
    """(package, name, resource type) of every table-like node of the project's own package, from manifest.json."""
    with open(f"{project}/target/manifest.json") as f:
        manifest = json.load(f)
    root = manifest["metadata"].get("project_name")
    out = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed", "snapshot") or node["package_name"] != root:
            continue
        if node["config"].get("materialized") == "ephemeral" or not node["config"].get("enabled", True):
            continue
        out.append((node["package_name"], node["name"], node["resource_type"]))
    return sorted(out)


def read(binary: str, project: str, profiles: str | None, target: str, package: str, name: str) -> list[dict[str, Any]] | str:
    sql = "select * from {{ ref('%s', '%s') }}" % (package, name)
    done = glue(binary, ["show", "--inline", sql, "--limit", "100000000", "--output", "json", "--target", target], project, profiles)
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip().splitlines()[-1] if (done.stderr or done.stdout).strip() else "failed"
    text = done.stdout[done.stdout.index("{") :]
    return json.loads(text)["show"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="cargo xtask diff")
    parser.add_argument("glue")
    parser.add_argument("project")
    parser.add_argument("left")
    parser.add_argument("right")
    parser.add_argument("--profiles-dir")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--show", type=int, default=10)
    parser.add_argument("--vars")
    parser.add_argument("--exclude", action="append", default=[])
    args = parser.parse_args()
    if args.vars:
        VARS.extend(["--vars", args.vars])
    excluded = [a for name in args.exclude for a in ("--exclude", name)]

    if not args.no_build:
        for target in (args.left, args.right):
            done = glue(args.glue, ["build", "--target", target, *excluded], args.project, args.profiles_dir)
            print(f"glue build --target {target}: exit {done.returncode}")
            if done.returncode not in (0, 1):  # 1 = some node failed; its table is compared (or reported missing)
                print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
                return 2
    differing = 0
    nodes = [n for n in relations(args.project) if n[1] not in args.exclude]
    for package, name, kind in nodes:
        left = read(args.glue, args.project, args.profiles_dir, args.left, package, name)
        right = read(args.glue, args.project, args.profiles_dir, args.right, package, name)
        if isinstance(left, str) or isinstance(right, str):
            differing += 1
            print(f"{kind} {name}: cannot read: left: {left if isinstance(left, str) else 'ok'}; "
                  f"right: {right if isinstance(right, str) else 'ok'}")  # fmt: skip
            continue
        drop = TIME_COLUMNS if kind == "snapshot" else set()
        lines = compare(f"{kind} {name}", left, right, args.show, drop)
        if lines:
            differing += 1
            print("\n".join(lines))
        else:
            print(f"{kind} {name}: {len(left)} rows equal")
    print(f"{len(nodes) - differing} of {len(nodes)} tables equal on {args.left} and {args.right}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
