"""Parses every SQL statement of every golden file with Spark's own parser (no execution).

Usage: python parse_golden.py <golden dir> [<golden dir> ...]
Statements are the blocks between `--- sql` and `--- end` lines of the insta `.snap` files. Every distinct
statement goes through `sessionState().sqlParser().parsePlan` of a local Spark 3.5 with the Iceberg extensions.
Exits 1 if any statement does not parse, or if no statement was found at all.
"""

import pathlib
import sys

from oracle import spark_session


def statements(path: pathlib.Path):
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "--- sql":
            j = i + 1
            while j < len(lines) and lines[j] != "--- end":
                j += 1
            if j == len(lines):
                raise SystemExit(f"{path}: unterminated `--- sql` block at line {i + 1}")
            yield i + 1, "\n".join(lines[i + 1 : j])
            i = j
        i += 1


def main() -> int:
    dirs = [pathlib.Path(d) for d in sys.argv[1:]]
    files = sorted(f for d in dirs for f in d.rglob("*.snap"))
    if not files:
        print(f"no golden files under {', '.join(map(str, dirs))}", file=sys.stderr)
        return 1
    distinct = {}
    for f in files:
        for line, sql in statements(f):
            distinct.setdefault(sql, (f, line))
    if not distinct:
        print("no SQL statements found in the golden files", file=sys.stderr)
        return 1
    spark = spark_session("glue-rs-parse-golden")
    parser = spark._jsparkSession.sessionState().sqlParser()
    # The check must be able to fail: a statement Spark cannot parse has to raise here.
    try:
        parser.parsePlan("CREATE TABLE `s`.`t` USING parquet AS")
    except Exception:
        pass
    else:
        print("self-test: Spark's parser accepted a broken statement; the check would prove nothing", file=sys.stderr)
        return 1
    failures = []
    for sql, (f, line) in distinct.items():
        try:
            parser.parsePlan(sql)
        except Exception as e:  # py4j wraps Spark's ParseException
            msg = str(e).split("\n\tat ")[0]
            failures.append((f, line, sql, msg))
    spark.stop()
    for f, line, sql, msg in failures:
        print(f"--- {f}:{line}\n{sql}\n>>> {msg}\n", file=sys.stderr)
    print(f"Spark parser: {len(distinct) - len(failures)} of {len(distinct)} distinct statements from {len(files)} golden files parse")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
