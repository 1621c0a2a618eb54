"""Spark semantics corpus: queries evaluated by the embedded engine and by Spark 3.5 (ANSI off, UTC, as Glue runs
it). Each engine result must equal Spark's, or the engine must reject the query with the clear
`unsupported on the embedded engine` error.

  python semantics.py gen <queries.jsonl>                      writes the corpus (deterministic)
  python semantics.py compare <queries.jsonl> <engine.jsonl>   runs Spark, compares, prints the counts

Exit status 1 when a result differs, when the engine fails with another error, or with fewer than 200 queries.
"""

import datetime
import decimal
import itertools
import json
import math
import os
import re
import sys

T = "(select * from values (1, 'a', cast(10.5 as double), cast(null as int)), (2, 'b', null, 4), " \
    "(3, null, cast(2.25 as double), 7), (null, 'c', cast(-1.0 as double), 2), (2, 'b', cast(3.0 as double), null) " \
    "as t(k, s, x, n))"


def corpus():
    q = []
    add = lambda sql, ordered=False: q.append({"sql": sql, "ordered": ordered})
    # NULL ordering
    for col, d in itertools.product(["k", "s", "x", "n"], ["", " asc", " desc", " nulls last", " desc nulls first"]):
        add(f"select {col} from {T} order by {col}{d}", True)
    # integer, decimal and double division; modulo; by zero
    for a, b in [("7", "2"), ("-7", "2"), ("7", "0"), ("0", "0"), ("7L", "2"), ("1", "3"), ("7.0", "2"),
                 ("7.5", "2.5"), ("1.0", "3"), ("7d", "2"), ("7d", "0"), ("cast(7 as decimal(10,2))", "3"),
                 ("cast(1 as decimal(38,10))", "cast(3 as decimal(38,10))"), ("null", "2"), ("7", "null"),
                 ("cast(99.99 as decimal(10,2))", "7"), ("cast(1 as decimal(20,2))", "cast(3 as bigint)"),
                 ("123456789.12", "0.07")]:
        add(f"select {a} / {b} as r")
        add(f"select {a} % {b} as r")
    # casts of good and bad strings
    values = ["'abc'", "'12'", "'12.5'", "' 7 '", "'1e3'", "''", "'true'", "'2024-02-30'", "'2024-02-29'",
              "'2024-01-01 10:11:12'", "'-0'", "'99999999999'"]
    types = ["int", "bigint", "double", "decimal(10,2)", "date", "timestamp", "boolean"]
    for v, t in itertools.product(values, types):
        add(f"select cast({v} as {t}) as r")
    # date and timestamp functions
    for e in ["date_add(date '2024-02-28', 2)", "date_sub(date '2024-03-01', 1)", "datediff(date '2024-03-01', date '2024-02-01')",
              "year(date '2024-02-29')", "month(date '2024-02-29')", "dayofmonth(date '2024-02-29')",
              "dayofweek(date '2024-02-29')", "last_day(date '2024-02-10')", "add_months(date '2024-01-31', 1)",
              "trunc(date '2024-02-29', 'MM')", "date_trunc('month', timestamp '2024-02-29 10:11:12')",
              "to_date('2024-02-29')", "to_date('29/02/2024', 'dd/MM/yyyy')", "date_format(date '2024-02-29', 'yyyy-MM')",
              "hour(timestamp '2024-02-29 10:11:12')", "minute(timestamp '2024-02-29 10:11:12')",
              "unix_timestamp(timestamp '2024-01-01 00:00:00')", "from_unixtime(0)", "make_date(2024, 2, 29)",
              "weekofyear(date '2024-02-29')", "quarter(date '2024-02-29')", "months_between(date '2024-03-31', date '2024-02-29')",
              "next_day(date '2024-02-29', 'Mon')", "to_timestamp('2024-02-29 10:11:12')", "current_date() is not null",
              "date '2024-02-29' + interval 1 day", "extract(year from date '2024-02-29')", "dayofyear(date '2024-12-31')",
              "timestamp '2024-02-29 10:11:12' < timestamp '2024-03-01 00:00:00'", "cast(date '2024-02-29' as string)"]:
        add(f"select {e} as r")
    # string functions
    for e in ["concat('a', 'b', 'c')", "concat('a', null)", "concat_ws('-', 'a', null, 'c')", "upper('abc')", "lower('ABC')",
              "length('héllo')", "substring('hello', 2, 3)", "substring('hello', -3)", "substr('hello', 0, 2)",
              "trim('  x  ')", "ltrim('  x')", "rtrim('x  ')", "lpad('7', 3, '0')", "rpad('7', 3, '0')", "instr('hello', 'l')",
              "locate('l', 'hello')", "replace('aXbX', 'X', '-')", "reverse('abc')", "repeat('ab', 3)", "split('a,b,c', ',')",
              "regexp_replace('a1b22', '[0-9]+', '#')", "regexp_extract('abc123', '([a-z]+)([0-9]+)', 2)", "initcap('hello world')",
              "left('hello', 2)", "right('hello', 2)", "'a' || 'b'", "ascii('A')", "chr(65)", "md5('abc')", "sha2('abc', 256)",
              "lower(null)", "coalesce(null, 'x')", "nvl(null, 'y')", "if(1 > 2, 'a', 'b')", "translate('abc', 'ab', 'xy')",
              "format_number(1234567.891, 2)", "string(123)", "cast(1.5 as string)", "cast(true as string)",
              "base64('abc')", "hex(255)", "startswith('hello', 'he')", "contains('hello', 'ell')", "endswith('hello', 'lo')"]:
        add(f"select {e} as r")
    # window functions
    for w in ["row_number() over (order by k, s, x)", "rank() over (order by k)", "dense_rank() over (order by k)",
              "sum(x) over (partition by k)", "sum(x) over (partition by k order by x)", "lag(x) over (order by k, x)",
              "lead(x, 1, 0) over (order by k, x)", "first_value(x) over (partition by k order by x)",
              "count(*) over (partition by s)", "avg(x) over ()", "max(n) over (order by k rows between 1 preceding and current row)",
              "ntile(2) over (order by k, x)", "percent_rank() over (order by x)", "cume_dist() over (order by k)",
              "min(x) over (partition by k order by x rows unbounded preceding)"]:
        add(f"select k, s, x, {w} as r from {T}")
    # grouping and aggregates
    for g in ["select k, count(*) from {T} group by k", "select k, sum(x), avg(x), min(x), max(x) from {T} group by k",
              "select s, count(distinct k) from {T} group by s", "select k, count(n) from {T} group by k having count(*) > 1",
              "select count(*), count(k), count(distinct s) from {T}", "select sum(n) from {T} where k > 5",
              "select k, collect_list(s) from {T} group by k", "select avg(n) from {T}", "select stddev(x) from {T}",
              "select k, s, count(*) from {T} group by rollup(k, s)", "select k, s, count(*) from {T} group by cube(k, s)",
              "select k, s, count(*) from {T} group by grouping sets ((k), (s))", "select sum(distinct k) from {T}",
              "select max(s), min(s) from {T}", "select k, first(s) from {T} group by k", "select bool_and(x > 0) from {T}",
              "select percentile_approx(x, 0.5) from {T}", "select count_if(x > 0) from {T}",
              "select k, sum(x) filter (where n is not null) from {T} group by k", "select approx_count_distinct(s) from {T}",
              "select k, sum(cast(x as decimal(10,2))) / count(*) from {T} group by k",
              "select s, avg(cast(x as decimal(10,2))) from {T} group by s"]:
        add(g.format(T=T))
    # miscellaneous expressions
    for e in ["1 + null", "null = null", "null <=> null", "1 <=> null", "greatest(1, null, 3)", "least(1, 2)",
              "abs(-2)", "round(2.5)", "round(-2.5)", "round(1.2345, 2)", "bround(2.5)", "ceil(1.2)", "floor(-1.2)",
              "pow(2, 10)", "sqrt(16)", "ln(1)", "exp(0)", "2147483647 + 1", "9223372036854775807 + 1", "cast(2.9 as int)",
              "cast(-2.9 as int)", "1.1 + 2.2", "0.1 * 3", "case when 1 = 1 then 'y' else 'n' end", "nullif(1, 1)",
              "isnull(null)", "nanvl(cast('NaN' as double), 0)", "array(1, 2, 3)", "size(array(1, 2))", "array_contains(array(1, 2), 2)",
              "map('a', 1)", "struct(1 as a, 'x' as b)", "named_struct('a', 1)", "element_at(array(1, 2, 3), 2)",
              "sign(-3)", "mod(-7, 3)", "pmod(-7, 3)", "shiftleft(1, 3)", "bin(5)", "conv('ff', 16, 10)", "rand(1) < 2",
              "uuid() is not null", "typeof(1)", "1 in (1, 2)", "3 between 1 and 5", "'abc' like 'a%'", "'abc' rlike '^a'",
              "'ABC' ilike 'a%'"]:
        add(f"select {e} as r")
    # string literals as Spark's lexer reads them (escapedStringLiterals off): backslash escapes, \u and octal escapes,
    # \% and \_ keeping their backslash, adjacent literals joined ('it''s' is its); and LIKE patterns built from them
    W = r"(select * from values ('a_b'), ('ab'), ('c%d'), ('x\\y'), (null) as w(v))"
    for e in [r"'it''s'", r"'a' 'b'", r"""'a' "b" 'c'""", r'"dq\"x"', r"'\a\f\q\$\{'", r"'\u0041\101\1'", r"'\%\_\\'",
              r"'\0\Z\b\t'", r"'\U0001F600'", r"'\400\377\200\177'", r"'\x41'", r"'a\'b'", r"'\012x\08\0123'",
              r"'\u12 \uzzzz'", r"'\u00e9\uD83D\uDE00'", r"'\78\1234'", r"'a\\\''", "'x' -- comment\n 'y'",
              r"length('\%')", r"'a_b' like '%\_%'", r"'ab' like '%\_%'", r"'a_b' like '%\_%' escape '\\'",
              r"'ab' like '%!_%' escape '!'", r"'c%d' like 'c\%d'", r"'cxd' like 'c\%d'", r"'x\y' like 'x\\\\y'",
              r"'a!b' like 'a!!b' escape '!'", r"'50%' like '50#%' escape '#'", r"'x\\y' like 'x\\y' escape '#'",
              r"'A_B' ilike 'a#_b' escape '#'", r"'a1' rlike '\\d'", r"regexp_replace('a1b2', '\\d', '#')", r"'a\tb' = concat('a', char(9), 'b')"]:
        add(f"select {e} as r")
    for e in [r"v like '%\_%'", r"v like '%\%%'", r"v like '%!_%' escape '!'", r"v not like 'a\_%'", r"v like 'x\\\\%'"]:
        add(f"select v, {e} as r from {W}")
    # initcap: upper case only at the start and after a space (not a tab, quote or hyphen), the rest lower case
    for e in [r"initcap('it\'s a dog\'s life')", "initcap('mc-donald o_neil')", r"initcap('hello\tworld')",
              "initcap('a  b')", "initcap('ÉCOLE élan')", "initcap('ǆemal ßtraße')", "initcap('')", "initcap(null)",
              "initcap('1st place, 2ND try')", "initcap(' lead')", "initcap('x.y z')", "initcap(cast(null as string))"]:
        add(f"select {e} as r")
    add(f"select s, initcap(concat(s, '\\'s x-y')) as r from {T}")
    for i, x in enumerate(q):
        x["id"] = i
    return q


def norm(v):
    """A cell as comparable text."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return repr(float(v))
    if isinstance(v, decimal.Decimal):
        return v
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if hasattr(v, "asDict"):  # a Row: a struct
        return "{" + ", ".join(f"{k}: {'NULL' if x is None else norm(x)}" for k, x in v.asDict().items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join("NULL" if x is None else str(norm(x)) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {'NULL' if x is None else norm(x)}" for k, x in v.items()) + "}"
    return str(v)


def engine_norm(s):
    if s is None:
        return None
    s = s.replace("\x00NULL", "NULL")  # a NULL inside an array, map or struct (run_queries marks NULLs so)
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]00:00)?", s)
    if m:
        frac = (m.group(3) or "").rstrip("0").rstrip(".")
        return f"{m.group(1)}T{m.group(2)}{frac}"
    return s


# Arrow's text of Spark's ANSI intervals: `Interval(YearMonth)` as `<years> years <months> mons` (years rounded
# down), `Duration(Microsecond)` in ISO 8601 (`PT1.5S`, `-PT2S`).
YEAR_MONTH = re.compile(r"(-?\d+) years (-?\d+) mons")
DAY_TIME = re.compile(r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{1,9}))?S)?)?")


def engine_interval(c, spark_type):
    """An engine cell of an ANSI interval type (`interval month`, `interval day to second`) as the Python value
    pyspark gives for Spark's: months as an int, a day-time interval as a `timedelta`; None when it is not one."""
    if not spark_type.startswith("interval "):
        return None
    m = YEAR_MONTH.fullmatch(c)
    if m and spark_type in ("interval year", "interval year to month", "interval month"):
        return int(m.group(1)) * 12 + int(m.group(2))
    m = DAY_TIME.fullmatch(c)
    if m and c not in ("P", "-P"):
        sign, days, hours, minutes, seconds, fraction = m.groups()
        micros = ((int(days or 0) * 24 + int(hours or 0)) * 60 + int(minutes or 0)) * 60 + int(seconds or 0)
        micros = micros * 1_000_000 + int(((fraction or "") + "000000")[:6])
        return datetime.timedelta(microseconds=-micros if sign else micros)
    return None


def engine_cell(c, spark_type):
    """An engine cell as comparable text: a timestamp in ISO form (as `norm` writes Spark's), an ANSI interval as
    `norm` writes pyspark's value of it, any other value as it is (a string that looks like a timestamp stays as it
    is), NULL inside arrays, maps and structs as `NULL`."""
    if c is None:
        return None
    if spark_type in ("timestamp", "timestamp_ntz"):
        return engine_norm(c)
    interval = engine_interval(c, spark_type)
    if interval is not None:
        return norm(interval)
    c = c.replace("\x00NULL", "NULL")
    if re.fullmatch(r"array<interval [a-z ]+>", spark_type) and c.startswith("[") and c.endswith("]"):
        inner = spark_type[len("array<"):-1]

        def element(x):
            v = None if x == "NULL" else engine_interval(x, inner)
            return x if v is None else str(norm(v))

        return c if c == "[]" else "[" + ", ".join(element(x) for x in c[1:-1].split(", ")) + "]"
    if "timestamp" in spark_type:
        # Timestamps inside a struct, array or map: each one as `engine_norm` writes a timestamp cell.
        c = re.sub(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]00:00)?", lambda m: engine_norm(m.group(0)), c)
    return c


def same(a, b):
    """Spark cell (normalized) vs engine cell (text)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, decimal.Decimal):
        try:
            return decimal.Decimal(b) == a
        except decimal.InvalidOperation:
            return False
    if a == b:
        return True
    try:
        fa, fb = float(a), float(b)
        return math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(fa) and math.isnan(fb))
    except (TypeError, ValueError):
        return False


def compare(queries_path, engine_path):
    os.environ["TZ"] = "UTC"
    from oracle import spark_session
    queries = [json.loads(l) for l in open(queries_path) if l.strip()]
    results = {r["id"]: r for r in (json.loads(l) for l in open(engine_path) if l.strip())}
    spark = spark_session("glue-rs-semantics")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    equal, unsupported, differ, errors, spark_rejects = 0, 0, [], [], 0
    for q in queries:
        r = results.get(q["id"])
        try:
            rows = [[norm(c) for c in row] for row in spark.sql(q["sql"]).collect()]
        except Exception as e:  # Spark rejects the query: it is not a Spark query, the corpus is wrong
            spark_rejects += 1
            errors.append((q, f"Spark rejects it: {str(e).splitlines()[0]}"))
            continue
        if r is None:
            errors.append((q, "no engine result"))
        elif r["status"] == "unsupported":
            if r["message"].startswith("unsupported on the embedded engine"):
                unsupported += 1
            else:
                errors.append((q, r["message"]))
        elif r["status"] == "error":
            errors.append((q, r["message"]))
        else:
            types = r.get("types") or []
            mine = [[engine_cell(c, types[i] if i < len(types) else "") for i, c in enumerate(row)]
                    for row in r["rows"]]
            key = lambda row: [str(c) for c in row]
            a, b = (rows, mine) if q["ordered"] else (sorted(rows, key=key), sorted(mine, key=key))
            ok = len(a) == len(b) and all(len(x) == len(y) and all(same(p, v) for p, v in zip(x, y)) for x, y in zip(a, b))
            if ok:
                equal += 1
            else:
                differ.append((q, rows, mine))
    spark.stop()
    for q, rows, mine in differ:
        print(f"DIFFERS #{q['id']}: {q['sql']}\n  spark:  {rows}\n  engine: {mine}", file=sys.stderr)
    for q, msg in errors:
        print(f"ERROR #{q['id']}: {q['sql']}\n  {msg}", file=sys.stderr)
    print(f"Spark semantics corpus: {len(queries)} queries: {equal} equal, {unsupported} rejected as unsupported, "
          f"{len(differ)} differ, {len(errors)} other errors ({spark_rejects} rejected by Spark itself)")
    if len(queries) < 200:
        print("the corpus must hold at least 200 queries", file=sys.stderr)
        return 1
    return 1 if differ or errors else 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        with open(sys.argv[2], "w") as f:
            for x in corpus():
                f.write(json.dumps(x) + "\n")
        sys.exit(0)
    sys.exit(compare(sys.argv[2], sys.argv[3]))
