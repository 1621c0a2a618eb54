"""Java datetime patterns: a generated corpus of pattern/value pairs run on Spark 3.5 (ANSI off, UTC) and on the
embedded engine, values and types compared as xtask/oracle/catalogue.py compares them.

  python datetime_corpus.py gen <queries.jsonl>                     Spark's answers
  python datetime_corpus.py compare <queries.jsonl> <engine.jsonl>  the counts; exit 1 on any different pair

Formatting: every pattern letter Spark knows, one to five times, and composite patterns (quoted text, optional
sections), each with eight timestamps in one query (a pair per timestamp). Parsing: composite patterns with the text
Spark itself formats for those timestamps, and for `to_timestamp` that text altered (no zero padding, other case, spaces, trailing text,
impossible dates) through `to_timestamp`, `to_date` and `unix_timestamp`: one query per pattern, or one per pair
when Spark fails the whole query (its upgrade error on one input). Then `from_unixtime`, `date_trunc` and `trunc`. A pattern or input Spark
refuses is not compared (counted apart).
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from catalogue import compare_corpus, spark_norm, spark_type  # noqa: E402

TIMESTAMPS = ["2024-03-05 07:08:09.123456", "2024-02-29 00:00:00", "2023-12-31 23:59:59.999999",
              "1999-01-01 12:00:00", "2000-10-10 13:45:30.5", "1970-01-01 00:00:00", "1969-07-20 20:17:40",
              "2024-11-03 00:30:00.000001"]
LETTERS = "GyMLdDQqEFahKkHmsSzZXxVO" + "YwWuecnNAbi"
COMPOSITE = ["yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd HH:mm:ss.SSSSSS",
             "dd/MM/yyyy", "MM/dd/yyyy hh:mm a", "yyyyMMdd", "yyyyMMddHHmmss", "yyyy-MM", "MMM d, yyyy",
             "MMMM dd yyyy", "EEE, dd MMM yyyy HH:mm:ss", "EEEE", "yy-M-d", "d.M.yyyy H:m:s", "yyyy-DDD",
             "HH:mm", "h a", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "yyyy-MM-dd HH:mm:ss Z",
             "yyyy-MM-dd HH:mm:ss xxx", "''yyyy''", "'Q'Q yyyy", "QQQ yyyy", "yyyy [MM] [dd]", "yyyy-MM-dd[ HH:mm]",
             "k:mm", "K:mm a", "yyyy G", "dd-MMM-yy", "yyyy.MM.dd 'at' HH:mm:ss z", "MMMMM", "EEEEE", "yyyyy-MM"]
PARSE = ["yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd HH:mm:ss.SSSSSS", "dd/MM/yyyy",
         "MM/dd/yyyy hh:mm a", "yyyyMMdd", "yyyyMMddHHmmss", "yyyy-MM", "MMM d, yyyy", "MMMM dd yyyy", "yy-M-d",
         "d.M.yyyy H:m:s", "yyyy-DDD", "HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
         "yyyy-MM-dd HH:mm:ss Z", "dd-MMM-yy", "yyyy-MM-dd[ HH:mm]", "K:mm a"]


def sql_string(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def variants(text):
    """The text Spark formatted, and alterations of it."""
    out = {text, text.upper(), " " + text, text + "x", text.replace("-0", "-"), text.replace("/0", "/"),
           text.replace(":0", ":"), text[:-1], text.replace("-02-29", "-02-30"),
           text.replace("12", "13").replace("31", "32")}
    return sorted(x for x in out if x)


def gen(path):
    os.environ["TZ"] = "UTC"
    from oracle import spark_session
    spark = spark_session("glue-rs-datetime")
    spark.sparkContext.setLogLevel("OFF")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    started = time.time()
    values = ", ".join(f"(timestamp {sql_string(t)})" for t in TIMESTAMPS)
    queries = []

    def add(fn, sql, pairs, ordered=True):
        q = {"fn": fn, "sql": sql, "ordered": ordered, "pairs": pairs}
        try:
            df = spark.sql(sql)
            q["types"] = [spark_type(f.dataType) for f in df.schema.fields]
            q["rows"] = [[spark_norm(c) for c in row] for row in df.collect()]
        except Exception as e:  # noqa: BLE001 - Spark refuses the pattern or the input: not compared
            q["spark_error"] = str(e).strip().splitlines()[0][:300]
        queries.append(q)

    # Every letter Spark knows one to five times; the letters it refuses once each.
    patterns = [c * n for c in LETTERS[:24] for n in range(1, 6)] + list(LETTERS[24:]) + COMPOSITE
    for p in patterns:
        add("date_format", f"select ts, date_format(ts, {sql_string(p)}) from values {values} as t(ts) order by ts",
            len(TIMESTAMPS))
    # Parsing: Spark's own text for each timestamp, and alterations of it.
    for p in PARSE:
        formatted = [r[0] for r in spark.sql(
            f"select date_format(ts, {sql_string(p)}) from values {values} as t(ts)").collect()]
        # to_timestamp: Spark's text of four timestamps and its alterations; to_date and unix_timestamp: the text of
        # all eight (the alterations exercise the same parser).
        altered = sorted({v for t in formatted[:4] for v in variants(t)})
        for fn, texts in (("to_timestamp", altered), ("to_date", sorted(set(formatted))),
                          ("unix_timestamp", sorted(set(formatted)))):
            rows = ", ".join(f"({sql_string(t)})" for t in texts)
            # One query for all the texts of a pattern; when Spark fails it (its upgrade error on one text), one
            # query per text.
            batch = f"select s, {fn}(s, {sql_string(p)}) from values {rows} as t(s) order by s"
            try:
                spark.sql(batch).collect()
                add(fn, batch, len(texts))
            except Exception:  # noqa: BLE001
                for text in texts:
                    add(fn, f"select {fn}({sql_string(text)}, {sql_string(p)})", 1)
    for n in ["0", "-1", "1467367872", "951782400", "253402300799", "cast(null as bigint)"]:
        for p in ["yyyy-MM-dd HH:mm:ss", "yyyy/MM/dd", "HH:mm:ss.SSS", "EEE MMM d yyyy", "D"]:
            add("from_unixtime", f"select from_unixtime({n}, {sql_string(p)})", 1)
    for unit in ["YEAR", "yyyy", "yy", "QUARTER", "MONTH", "mm", "mon", "WEEK", "DAY", "dd", "HOUR", "MINUTE",
                 "SECOND", "MILLISECOND", "MICROSECOND", "decade", "x"]:
        add("date_trunc", f"select ts, date_trunc({sql_string(unit)}, ts) from values {values} as t(ts) order by ts",
            len(TIMESTAMPS))
    for fmt in ["year", "yyyy", "yy", "quarter", "month", "mm", "mon", "week", "day", "dd", "x"]:
        add("trunc", f"select ts, trunc(cast(ts as date), {sql_string(fmt)}) from values {values} as t(ts) order by ts",
            len(TIMESTAMPS))
    spark.stop()
    with open(path, "w") as f:
        for i, q in enumerate(queries):
            q["id"] = i
            f.write(json.dumps(q, default=str) + "\n")
    print(f"datetime corpus: {len(queries)} queries, {sum(q['pairs'] for q in queries)} pattern/value pairs; Spark "
          f"ran them in {time.time() - started:.0f} s", file=sys.stderr)


def compare(queries_path, engine_path):
    return compare_corpus(queries_path, engine_path, "datetime corpus", "pattern/value pairs", 500)


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
        sys.exit(0)
    sys.exit(compare(sys.argv[2], sys.argv[3]))
