"""Quoting round trip against Spark: every value of the corpus, rendered by glue-sql as a string literal and as an
identifier, is evaluated by a local Spark and must come back unchanged.

Usage: python quoting_roundtrip.py <corpus.jsonl>
- literals: `SELECT <literal> AS c0, …` in batches; each column's value must equal the original;
- identifiers: `SELECT 0 AS <ident>, …`; each column name must equal the original;
- identifiers as relation names: `CREATE TEMPORARY VIEW <ident> AS SELECT <n> AS n`, then `SELECT n FROM <ident>`
  must give n back.
Exits 1 on any difference or if the corpus has fewer than 1,000 values.
"""

import json
import sys

from oracle import spark_session

BATCH = 100


def main() -> int:
    corpus = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
    if len(corpus) < 1000:
        print(f"corpus has {len(corpus)} values; at least 1,000 are required", file=sys.stderr)
        return 1
    spark = spark_session("glue-rs-quoting")
    failures = []

    for start in range(0, len(corpus), BATCH):
        batch = corpus[start : start + BATCH]
        sql = "SELECT " + ", ".join(f"{e['literal']} AS c{i}" for i, e in enumerate(batch))
        row = spark.sql(sql).collect()[0]
        for i, e in enumerate(batch):
            if row[i] != e["value"]:
                failures.append(("literal", e["value"], e["literal"], row[i]))

    idents = [e for e in corpus if e["ident"]]
    for start in range(0, len(idents), BATCH):
        batch = idents[start : start + BATCH]
        sql = "SELECT " + ", ".join(f"{i} AS {e['ident']}" for i, e in enumerate(batch))
        columns = spark.sql(sql).columns
        for i, e in enumerate(batch):
            if columns[i] != e["value"]:
                failures.append(("identifier", e["value"], e["ident"], columns[i]))

    for n, e in enumerate(idents):
        spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {e['ident']} AS SELECT {n} AS n")
        got = spark.sql(f"SELECT n FROM {e['ident']}").collect()[0][0]
        if got != n:
            failures.append(("relation name", e["value"], e["ident"], got))
        spark.sql(f"DROP VIEW IF EXISTS {e['ident']}")

    spark.stop()
    for kind, value, rendered, got in failures[:50]:
        print(f"{kind}: {value!r} rendered {rendered!r} came back {got!r}", file=sys.stderr)
    print(
        f"quoting round trip: {len(corpus)} literals, {len(idents)} identifiers, {len(idents)} relation names; "
        f"{len(failures)} differences"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
