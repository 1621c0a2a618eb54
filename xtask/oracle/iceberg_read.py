"""Spark's Iceberg reads the Iceberg tables the embedded engine wrote.

Input: the JSON lines of `cargo run -p glue-local --example iceberg_tables` (per table: its current metadata file,
the rows the engine reads, its `partition_by`). For every table, Spark 3.5 with Iceberg 1.10 (the oracle, as Glue 5
runs it, ANSI off) loads the table from its metadata file and must find:
- the same rows (as a multiset; cells compared as the semantics corpus compares them);
- the partition spec `partition_by` asks for, its fields named as Spark names them (`ts_day`, `id_bucket`, …);
- every row in a data file whose partition values are what Spark's own transform functions (`system.days`,
  `system.bucket`, …) give for that row.

Usage: iceberg_read.py <tables.jsonl>
"""

import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from semantics import engine_cell, norm, same  # noqa: E402

SUFFIX = {"years": "_year", "months": "_month", "days": "_day", "hours": "_hour", "bucket": "_bucket",
          "truncate": "_trunc"}


def parse(field):
    """`days(ts)` -> ('days', None, 'ts'); `bucket(4, id)` -> ('bucket', 4, 'id'); `dt` -> (None, None, 'dt')."""
    m = re.fullmatch(r"\s*(\w+)\s*\(\s*(?:(\d+)\s*,\s*)?(\w+)\s*\)\s*", field)
    if not m:
        return None, None, field.strip().strip("`")
    return m.group(1).lower(), int(m.group(2)) if m.group(2) else None, m.group(3)


def spark_transform(kind, width, column):
    """Spark's expression of a partition transform, through the Iceberg catalog's system functions."""
    if kind is None:
        return f"`{column}`"
    args = f"{width}, `{column}`" if width is not None else f"`{column}`"
    return f"ice.system.{kind}({args})"


def check(spark, table):
    name, problems = table["table"], []
    df = spark.read.format("iceberg").load(table["metadata"])
    spark_rows = [[norm(c) for c in r] for r in df.collect()]
    types = table["types"]
    mine = [[engine_cell(c, types[i] if i < len(types) else "") for i, c in enumerate(r)] for r in table["rows"]]
    key = lambda row: [str(c) for c in row]  # noqa: E731
    a, b = sorted(spark_rows, key=key), sorted(mine, key=key)
    if not (len(a) == len(b) and all(len(x) == len(y) and all(same(p, v) for p, v in zip(x, y))
                                     for x, y in zip(a, b))):
        problems.append(f"rows differ:\n  spark:  {a}\n  engine: {b}")
    spark_types = [f.dataType.simpleString() for f in df.schema.fields]
    if spark_types != types:
        problems.append(f"column types differ: spark {spark_types}, engine {types}")

    fields = [parse(f) for f in table["partition_by"]]
    with open(table["metadata"]) as f:
        meta = json.load(f)
    spec = next(s for s in meta["partition-specs"] if s["spec-id"] == meta["default-spec-id"])
    names = [f["name"] for f in spec["fields"]]
    expected = [c + SUFFIX.get(k, "") if k else c for k, _, c in fields]
    if names != expected:
        problems.append(f"partition fields {names}, Spark names them {expected}")
    if fields:
        files = {r["file_path"]: [norm(v) for v in r["partition"]]
                 for r in spark.read.format("iceberg").load(table["metadata"] + "#files")
                 .select("file_path", "partition").collect()}
        exprs = [f"{spark_transform(*f)} AS p{i}" for i, f in enumerate(fields)]
        for r in df.selectExpr("_file", *exprs).collect():
            want = [norm(v) for v in list(r)[1:]]
            got = files.get(r["_file"])
            if got is None or len(got) != len(want) or not all(same(w, g) for w, g in zip(want, got)):
                problems.append(f"a row of {r['_file']} partitions as {want} by Spark's transforms; "
                                f"the file is recorded under {got}")
    return name, len(a), problems


def main(path):
    os.environ["TZ"] = "UTC"
    from oracle import spark_session
    spark = spark_session("glue-rs-iceberg-read")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # An Iceberg catalog for the system functions (bucket, days, …); the tables themselves load by path.
    spark.conf.set("spark.sql.catalog.ice", "org.apache.iceberg.spark.SparkCatalog")
    spark.conf.set("spark.sql.catalog.ice.type", "hadoop")
    spark.conf.set("spark.sql.catalog.ice.warehouse", tempfile.mkdtemp())
    tables = [json.loads(line) for line in open(path) if line.strip()]
    failed = 0
    for t in tables:
        name, rows, problems = check(spark, t)
        if problems:
            failed += 1
            print(f"DIFFERS {name}:", *problems, sep="\n  ", file=sys.stderr)
        else:
            print(f"  {name}: {rows} rows, partitions {t['partition_by'] or 'none'}: as Spark reads them")
    spark.stop()
    print(f"Spark's Iceberg read {len(tables)} tables the embedded engine wrote: {len(tables) - failed} equal, "
          f"{failed} differ")
    if len(tables) < 9:
        print("expected at least 9 tables", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
