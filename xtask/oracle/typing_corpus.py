"""Decimal and mixed-type typing: a generated corpus of expressions run on Spark 3.5 (ANSI off, UTC) and on the
embedded engine, result types and values compared as xtask/oracle/catalogue.py compares them.

  python typing_corpus.py gen <queries.jsonl>                     Spark's answers
  python typing_corpus.py compare <queries.jsonl> <engine.jsonl>  the counts; exit 1 on any different expression

Operands: integer, decimal, double and float literals, and columns of a 3-row table (decimal(5,2), decimal(10,0),
decimal(18,2), decimal(38,10), decimal(38,0), int, bigint, smallint, tinyint, double, string, with a row of NULLs).
Expressions: `+ - * / %` of every pair, comparisons, CASE, COALESCE, IN, greatest/least, UNION ALL of two operands,
and sum/avg/min/max over each column and over products. Spark computes each group of expressions in one query (one
column each); every expression is one engine query.
"""

import itertools
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from catalogue import compare_corpus, spark_norm, spark_type  # noqa: E402

COLUMNS = [("d52", "decimal(5,2)"), ("d100", "decimal(10,0)"), ("d182", "decimal(18,2)"),
           ("d3810", "decimal(38,10)"), ("d380", "decimal(38,0)"), ("i", "int"), ("b", "bigint"),
           ("s", "smallint"), ("t", "tinyint"), ("dbl", "double"), ("str", "string")]
ROWS = [["123.45", "9876543210", "1234567890123456.78", "1234567890.0123456789", "12345678901234567890123456789",
         "7", "9000000000", "300", "12", "2.5", "'12.5'"],
        ["-0.07", "-3", "-0.01", "-0.0000000001", "-1", "-2", "-1", "-1", "-1", "-0.1", "'-3'"]]
LITERALS = ["1", "12", "-7", "2147483648", "1.5", "0.07", "123.456", "99999999999.99", "1.5d", "1e2",
            "cast(2.5 as float)", "0"]
T = None


def table():
    cols = ", ".join(f"cast(c{i} as {t}) as {n}" for i, (n, t) in enumerate(COLUMNS))
    rows = ", ".join("(" + ", ".join(r) + ")" for r in ROWS) + ", (" + ", ".join("null" for _ in COLUMNS) + ")"
    names = ", ".join(f"c{i}" for i in range(len(COLUMNS)))
    return f"(select {cols} from values {rows} as v({names})) as tab"


def expressions():
    """(group, expression) pairs; a group is computed by Spark in one query."""
    cols = [n for n, _ in COLUMNS]
    numeric = [c for c in cols if c != "str"]
    operands = cols + LITERALS
    out = []
    for op in ["+", "-", "*", "/", "%"]:
        for a, b in itertools.product(operands, operands):
            if a in LITERALS and b in LITERALS and not (a == "1.5" or b == "1.5"):
                continue  # literal with literal: a sample is enough
            out.append((f"{op} {a}", f"({a}) {op} ({b})"))
    for op in ["=", "<", ">=", "<=>"]:
        for a, b in itertools.product(operands, cols):
            out.append((f"{op} {b}", f"({a}) {op} ({b})"))
    for a, b in itertools.product(numeric + ["1", "1.5", "2.5d"], numeric):
        out.append((f"case {b}", f"case when {b} is null then {a} else {b} end"))
        out.append((f"coalesce {b}", f"coalesce({b}, {a})"))
        out.append((f"in {b}", f"{b} in ({a}, 1.5)"))
        out.append((f"greatest {b}", f"greatest({a}, {b})"))
    return out


def aggregates():
    cols = [n for n, _ in COLUMNS if n != "str"]
    out = []
    for c in cols:
        for f in ["sum", "avg", "min", "max"]:
            out.append(f"{f}({c})")
        out.append(f"sum({c} * d52)")
        out.append(f"avg({c} * 1.5)")
        out.append(f"case when sum({c} * d52) >= 500 then 1 else 0 end")
    return out


def gen(path):
    os.environ["TZ"] = "UTC"
    from oracle import spark_session
    spark = spark_session("glue-rs-typing")
    spark.sparkContext.setLogLevel("OFF")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    started = time.time()
    tab = table()
    queries = []

    def record(sql, types=None, rows=None, error=None):
        q = {"fn": "typing", "sql": sql, "ordered": False}
        if error is None:
            q["types"], q["rows"] = types, rows
        else:
            q["spark_error"] = error
        queries.append(q)

    def run_group(exprs, single):
        """One Spark query for the group (column i is expression i); one query each when Spark fails it."""
        batch = "select " + ", ".join(f"{e} as x{i}" for i, e in enumerate(exprs)) + f" from {tab}"
        try:
            df = spark.sql(batch)
            types = [spark_type(f.dataType) for f in df.schema.fields]
            rows = [[spark_norm(c) for c in row] for row in df.collect()]
            for i, e in enumerate(exprs):
                record(single(e), [types[i]], [[r[i]] for r in rows])
        except Exception:  # noqa: BLE001
            for e in exprs:
                try:
                    df = spark.sql(single(e))
                    record(single(e), [spark_type(f.dataType) for f in df.schema.fields],
                           [[spark_norm(c) for c in row] for row in df.collect()])
                except Exception as ex:  # noqa: BLE001
                    record(single(e), error=str(ex).strip().splitlines()[0][:300])

    groups = {}
    for g, e in expressions():
        groups.setdefault(g, []).append(e)
    for exprs in groups.values():
        run_group(exprs, lambda e: f"select {e} as x from {tab}")
    run_group(aggregates(), lambda e: f"select {e} as x from {tab}")
    # UNION ALL of two operands: the wider type, Spark's rules.
    cols = [n for n, _ in COLUMNS]
    for a, b in itertools.product(cols + ["1", "1.5", "1.5d"], cols):
        sql = f"select {a} as x from {tab} union all select {b} from {tab}"
        try:
            df = spark.sql(sql)
            record(sql, [spark_type(f.dataType) for f in df.schema.fields],
                   [[spark_norm(c) for c in row] for row in df.collect()])
        except Exception as ex:  # noqa: BLE001
            record(sql, error=str(ex).strip().splitlines()[0][:300])
    spark.stop()
    with open(path, "w") as f:
        for i, q in enumerate(queries):
            q["id"] = i
            f.write(json.dumps(q, default=str) + "\n")
    print(f"typing corpus: {len(queries)} expressions; Spark ran them in {time.time() - started:.0f} s",
          file=sys.stderr)


def compare(queries_path, engine_path):
    return compare_corpus(queries_path, engine_path, "typing corpus", "expressions", 1000)


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
        sys.exit(0)
    sys.exit(compare(sys.argv[2], sys.argv[3]))
