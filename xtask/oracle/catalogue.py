"""Spark's own function catalogue as the oracle of the embedded engine.

Every built-in function of the installed pyspark (3.5, the Glue 5 line) is listed with its examples, through py4j
(`PythonSQLUtils.listBuiltinFunctionInfos()`): nothing is copied into the repository. Each example runs on Spark
(ANSI mode off, UTC, as Glue runs it) and on the embedded engine twice: as written (literal arguments, which only
exercises constant folding) and with its literal arguments turned into columns of a 3-row `VALUES` table whose middle
row is all NULLs (only when the example has no FROM clause and Spark accepts the column form). Values and result types
are compared.

  python catalogue.py gen <queries.jsonl>                        Spark's answers for every example, both forms
  python catalogue.py compare <queries.jsonl> <engine.jsonl> [--unrefused <engine.jsonl>] [--readme <README.md>]
                                 [--update-list]

`--unrefused` is a second engine run with the list's refusals off: a refused function that is equal there is stale.
`--update-list` rewrites the list from this run (keeping the reasons written by hand) and its ceiling: for the
developer who fixed functions, never in CI.

Outcomes per example: `equal`; `unsupported` (the engine's clear `unsupported on the embedded engine` error, raised
while planning, before anything runs); `different` (another value, another type, or any other error where Spark
answers). Nondeterministic functions (listed as such) are compared by result type and row count only.

A function is `equal` when all its examples are, `partial` when the others are `unsupported`. Every function that is
not equal is listed in
`glue-local/spark-functions.tsv` with its reason; the embedded engine refuses the listed functions by name with that
reason (see glue-local's `spark_functions`). `compare` fails on any `different` example, on a function that is not
equal but not listed, on a listed function that is now equal (remove it), and when the list holds more entries than
its `# ceiling:` line allows (the ceiling only comes down).

Types: the engine's Arrow types are named as Spark names them (glue-local's `spark_type`, the table in glue-local's
README); values are compared as text after `semantics.norm` (Spark) and `semantics.engine_cell` (engine; an ANSI
interval as pyspark's value of it: months, a `timedelta`).
"""

import datetime
import decimal
import json
import math
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from semantics import engine_cell, engine_interval, norm, same  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LIST = os.path.join(ROOT, "glue-local", "spark-functions.tsv")
README_BEGIN = "<!-- catalogue:begin (xtask/oracle/catalogue.sh --readme) -->"
README_END = "<!-- catalogue:end -->"


def examples(text):
    """The `> SELECT …;` statements of an ExpressionInfo's examples."""
    out, cur = [], None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("> "):
            cur = s[2:]
        elif cur is not None and not s.endswith(";") and s and not cur.rstrip().endswith(";"):
            cur += " " + s
        if cur is not None and cur.rstrip().endswith(";"):
            out.append(cur.rstrip().rstrip(";").strip())
            cur = None
    return out


# A literal of Spark SQL: a string (optionally typed: DATE/TIMESTAMP/X), a number with Spark's suffixes, a boolean.
TOKEN = re.compile(r"""
    (?P<str>(?:\b(?:date|timestamp|timestamp_ntz|timestamp_ltz|x)\s*)?'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<num>(?<![\w.])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?:bd|BD|[LlSsYyDdFf])?(?![\w.]))
  | (?P<bool>\b(?:true|false)\b)
  | (?P<interval>\binterval\b)
  | (?P<kw>\b(?:from|over|as)\b)
  | (?P<other>.)
""", re.X | re.I | re.S)


def column_form(sql):
    """The example with its literal arguments as columns of a 3-row VALUES table (literals, NULLs, literals), or None
    when it has a FROM clause, an INTERVAL literal, or no literal."""
    m = re.match(r"(?is)select\s+(.*)$", sql)
    if not m:
        return None
    body, out, lits = m.group(1), [], []
    for t in TOKEN.finditer(body):
        kind, text = t.lastgroup, t.group(0)
        if kind == "interval" or (kind == "kw" and text.lower() in ("from", "over")):
            return None
        if kind in ("str", "num", "bool"):
            # A minus that is a sign (after `(`, `,` or at the start) belongs to the literal.
            solid = [i for i, x in enumerate(out) if not x.isspace()]
            if solid and out[solid[-1]] == "-" and (len(solid) == 1 or out[solid[-2]] in ("(", ",")):
                del out[solid[-1]:]
                text = "-" + text
            out.append(f"c{len(lits)}")
            lits.append(text)
        else:
            out.append(text)
    if not lits:
        return None
    cols = ", ".join(f"c{i}" for i in range(len(lits)))
    row = "(" + ", ".join(lits) + ")"
    nulls = "(" + ", ".join("null" for _ in lits) + ")"
    return f"SELECT {''.join(out)} FROM VALUES {row}, {nulls}, {row} AS t({cols})"


def ordered(sql):
    """True when the query ends with a top-level ORDER BY (not one inside OVER (…))."""
    return re.search(r"(?is)\border\s+by\b[^()]*$", sql) is not None


def spark_type(t):
    return t.simpleString()


def spark_norm(v):
    if isinstance(v, decimal.Decimal):
        return format(v, "f")  # no exponent: rows are sorted by their text
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, datetime.timedelta):
        return f"timedelta({v.total_seconds()})"
    return norm(v)


def engine_value(c, t):
    """An engine cell as `spark_norm` writes Spark's: an ANSI interval column as pyspark's value of it (months, a
    `timedelta`), anything else as `semantics.engine_cell` writes it."""
    interval = None if c is None else engine_interval(c, t)
    return engine_cell(c, t) if interval is None else spark_norm(interval)


def gen(path):
    os.environ["TZ"] = "UTC"
    from oracle import spark_session
    spark = spark_session("glue-rs-catalogue")
    spark.sparkContext.setLogLevel("OFF")  # examples that fail print Java stack traces otherwise
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    started = time.time()
    infos = spark._jvm.org.apache.spark.sql.api.python.PythonSQLUtils.listBuiltinFunctionInfos()
    queries, functions = [], []
    for info in infos:
        name, group = info.getName(), info.getGroup() or "other"
        # `SET k=v` examples change how Spark reads the examples that follow (escapedStringLiterals): those run with
        # Spark's defaults only, the others are left out.
        exs, default = [], True
        for ex in examples(info.getExamples() or ""):
            m = re.match(r"(?is)set\s+([\w.]+)\s*=\s*(\w+)$", ex)
            if m:
                default = str(spark.conf.get(m.group(1))).lower() == m.group(2).lower()
            elif default:
                exs.append(ex)
        functions.append({"kind": "function", "fn": name, "group": group, "examples": len(exs)})
        for i, ex in enumerate(exs):
            for form, sql in (("literal", ex), ("column", column_form(ex))):
                if sql is None:
                    continue
                q = {"fn": name, "group": group, "example": i, "form": form, "sql": sql, "ordered": ordered(sql)}
                try:
                    df = spark.sql(sql)
                    q["types"] = [spark_type(f.dataType) for f in df.schema.fields]
                    q["rows"] = [[spark_norm(c) for c in row] for row in df.collect()]
                except Exception as e:  # noqa: BLE001 - any Spark failure: the form is not compared
                    if form == "column":
                        continue  # Spark needs a constant there: the column form does not exist
                    q["spark_error"] = str(e).strip().splitlines()[0][:300]
                queries.append(q)
    spark.stop()
    with open(path, "w") as f:
        for i, q in enumerate(queries):
            q["id"] = i
            f.write(json.dumps(q, default=str) + "\n")
        for fn in functions:
            f.write(json.dumps(fn) + "\n")
    print(f"catalogue: {len(functions)} functions, {sum(1 for q in queries if q['form'] == 'literal')} examples, "
          f"{sum(1 for q in queries if q['form'] == 'column')} column forms; Spark ran them in "
          f"{time.time() - started:.0f} s", file=sys.stderr)


def read_list():
    """The committed list: {function: (status, reason)} and its ceiling."""
    entries, ceiling = {}, None
    for line in open(LIST):
        if line.startswith("# ceiling:"):
            ceiling = int(line.split(":", 1)[1])
        if not line.strip() or line.startswith("#"):
            continue
        fn, status, reason = line.rstrip("\n").split("\t", 2)
        entries[fn] = (status, reason)
    return entries, ceiling


def value_equal(a, b, t):
    if t == "float" and a is not None and b is not None:
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-6)
        except ValueError:
            return False
    return same(a, b)


# Functions whose array answer has no defined order in Spark: its elements are compared as a multiset.
UNORDERED_ARRAYS = {"collect_set"}


def elements_sorted(cell):
    if not isinstance(cell, str) or not (cell.startswith("[") and cell.endswith("]")):
        return cell
    return "[" + ", ".join(sorted(x.strip() for x in cell[1:-1].split(","))) + "]"


def outcome(q, r, nondeterministic):
    """(outcome, detail) of one example form."""
    if r is None:
        return "different", "no engine result"
    if r["status"] == "unsupported":
        return "unsupported", r["message"]
    if r["status"] != "ok":
        return "different", "engine error: " + r["message"][:300]
    if r["types"] != q["types"]:
        return "different", f"types: spark {q['types']}, engine {r['types']}"
    mine = [[engine_value(c, t) for c, t in zip(row, q["types"])] for row in r["rows"]]
    spark = q["rows"]
    if q["fn"] in UNORDERED_ARRAYS:
        spark = [[elements_sorted(c) for c in row] for row in spark]
        mine = [[elements_sorted(c) for c in row] for row in mine]
    if nondeterministic:
        return ("equal", "") if len(mine) == len(q["rows"]) else ("different", "row count")
    key = lambda row: [str(c) for c in row]
    a, b = (spark, mine) if q["ordered"] else (sorted(spark, key=key), sorted(mine, key=key))
    ok = len(a) == len(b) and all(
        len(x) == len(y) and all(value_equal(p, v, t) for p, v, t in zip(x, y, q["types"])) for x, y in zip(a, b))
    return ("equal", "") if ok else ("different", f"spark {spark[:4]}, engine {mine[:4]}")


# Functions whose answer depends on the clock, chance or the environment: compared by type and row count only.
NONDETERMINISTIC = {"current_date", "current_timestamp", "now", "localtimestamp", "curdate", "current_timezone",
                    "rand", "randn", "random", "uuid", "shuffle", "monotonically_increasing_id", "spark_partition_id",
                    "input_file_name", "input_file_block_start", "input_file_block_length", "unix_timestamp",
                    "current_user", "user", "session_user", "version"}
# Functions that need the JVM (Java reflection, XPath, Hive, Avro): refused.
JVM_ONLY = {"java_method", "reflect", "xpath", "xpath_boolean", "xpath_double", "xpath_float", "xpath_int",
            "xpath_long", "xpath_number", "xpath_short", "xpath_string", "from_avro", "to_avro"}


def readable(message):
    """An engine error as a reason a user can read: DataFusion's prefixes and parser positions dropped."""
    m = re.sub(r"\s+", " ", message.replace("unsupported on the embedded engine: ", ""))
    m = re.sub(r"^(query: )?(Error during planning: |This feature is not implemented: |Execution error: )+", "", m)
    m = re.sub(r"^SQL error: ParserError\(\"(.*?)( at Line: \d+, Column: \d+)?\"\)", r"a form the parser does not read: \1", m)
    m = re.sub(r" No function matches the given name.*", "", m)
    return m[:140]


def first_reason(details):
    """A short reason for a new list entry, from the first example that is not equal."""
    for o, d in details:
        if o == "unsupported" and ("Invalid function" in d or "not found" in d
                                   or re.search(r"embedded engine: the function `[^`]*`$", d)):
            return "DataFusion has no such function"
        if o == "unsupported":
            return readable(d)
        if d.startswith("types:"):
            return "another result type than Spark's (" + d[len("types: "):][:120] + ")"
        if d.startswith("engine error"):
            return "fails where Spark answers: " + readable(d[len("engine error: "):])
        return "another answer than Spark's"
    return "not yet"


def write_list(fn_outcome, fn_details, listed):
    entries = {}
    for fn, o in sorted(fn_outcome.items()):
        if o in ("equal", "no example"):
            continue
        if o == "nondeterministic" or fn in NONDETERMINISTIC:
            entries[fn] = ("nondeterministic", listed.get(fn, ("", "its answer depends on the clock, chance or "
                                                                "the environment"))[1])
        elif fn in listed and listed[fn][0] != "nondeterministic":
            entries[fn] = listed[fn]
        elif fn in JVM_ONLY:
            entries[fn] = ("jvm-only", "it runs Java code in the JVM")
        elif o == "partial":
            entries[fn] = ("partial", "refuses " + first_reason([d for d in fn_details.get(fn, []) if d[0] != "equal"]))
        else:
            entries[fn] = ("not-yet", first_reason([d for d in fn_details.get(fn, []) if d[0] != "equal"]))
    head = [l for l in open(LIST) if l.startswith("#") and not l.startswith("# ceiling:")]
    with open(LIST, "w") as f:
        f.writelines(head)
        f.write(f"# ceiling: {len(entries)}\n")
        for fn, (status, reason) in entries.items():
            f.write(f"{fn}\t{status}\t{reason}\n")
    print(f"wrote {len(entries)} functions to {os.path.relpath(LIST)}", file=sys.stderr)


def compare_corpus(queries_path, engine_path, label, unit, minimum):
    """The counts of a generated corpus (a query weighs `pairs`, default 1) per outcome and per function; prints each
    different query; exit status 1 on any different query or fewer than `minimum` counted."""
    queries = [json.loads(l) for l in open(queries_path) if l.strip()]
    results = {r["id"]: r for r in (json.loads(l) for l in open(engine_path) if l.strip())}
    counts = {"equal": 0, "unsupported": 0, "different": 0, "spark refuses": 0}
    per_fn = {}
    for q in queries:
        if "spark_error" in q:
            o = "spark refuses"
        else:
            o, detail = outcome(q, results.get(q["id"]), False)
            if o == "different":
                print(f"DIFFERENT {q['sql'][:160]}\n  {detail[:300]}", file=sys.stderr)
        weight = q.get("pairs", 1)
        counts[o] += weight
        per_fn.setdefault(q["fn"], {}).setdefault(o, 0)
        per_fn[q["fn"]][o] += weight
    total = sum(counts.values())
    print(f"{label}: {total} {unit}: {counts['equal']} equal, {counts['unsupported']} unsupported, "
          f"{counts['different']} different ({counts['spark refuses']} refused by Spark itself)")
    if len(per_fn) > 1:
        for fn, c in sorted(per_fn.items()):
            print(f"  {fn}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    if total < minimum:
        print(f"the corpus must hold at least {minimum} {unit}", file=sys.stderr)
        return 1
    return 1 if counts["different"] else 0


def equal_without_refusals(queries, path, listed):
    """The listed functions (refused by name) whose every example is equal when the engine does not refuse them."""
    results = {r["id"]: r for r in (json.loads(l) for l in open(path) if l.strip())}
    per_fn = {}
    for q in queries:
        if "spark_error" in q or listed.get(q["fn"], ("",))[0] not in ("not-yet", "jvm-only"):
            continue
        per_fn.setdefault(q["fn"], []).append(outcome(q, results.get(q["id"]), False)[0])
    return sorted(fn for fn, os_ in per_fn.items() if all(o == "equal" for o in os_))


def compare(queries_path, engine_path, readme=None, update_list=False, unrefused=None):
    lines = [json.loads(l) for l in open(queries_path) if l.strip()]
    queries = [x for x in lines if x.get("kind") != "function"]
    functions = [x for x in lines if x.get("kind") == "function"]
    results = {r["id"]: r for r in (json.loads(l) for l in open(engine_path) if l.strip())}
    listed, ceiling = read_list()
    per_fn, fn_details, counts, spark_errors = {}, {}, {"equal": 0, "unsupported": 0, "different": 0}, 0
    form_counts = {f: {"equal": 0, "unsupported": 0, "different": 0} for f in ("literal", "column")}
    failures = []
    for q in queries:
        if "spark_error" in q:
            spark_errors += 1
            continue
        nondet = listed.get(q["fn"], ("",))[0] == "nondeterministic" or (update_list and q["fn"] in NONDETERMINISTIC)
        o, detail = outcome(q, results.get(q["id"]), nondet)
        fn_details.setdefault(q["fn"], []).append((o, detail))
        counts[o] += 1
        form_counts[q["form"]][o] += 1
        per_fn.setdefault(q["fn"], []).append(o)
        if o == "different":
            failures.append(f"DIFFERENT {q['fn']} [{q['form']}] {q['sql']}\n  {detail}")
    fn_outcome, by_group = {}, {}
    for f in functions:
        os_ = per_fn.get(f["fn"])
        if not os_:
            o = "no example"
        elif "different" in os_:
            o = "different"
        elif "unsupported" in os_:
            o = "partial" if "equal" in os_ else "unsupported"
        else:
            nondet = listed.get(f["fn"], ("",))[0] == "nondeterministic" or (update_list and f["fn"] in NONDETERMINISTIC)
            o = "nondeterministic" if nondet else "equal"
        fn_outcome[f["fn"]] = o
        g = by_group.setdefault(f["group"], {})
        g[o] = g.get(o, 0) + 1
    stale = equal_without_refusals(queries, unrefused, listed) if unrefused else []
    if update_list:
        for fn in stale:
            fn_outcome[fn] = "equal"
            listed.pop(fn, None)
        write_list(fn_outcome, fn_details, listed)
        listed, ceiling = read_list()
        stale = []
    problems = [f"`{fn}` is refused but equal when it runs: remove it from {os.path.relpath(LIST)}" for fn in stale]
    for fn, o in sorted(fn_outcome.items()):
        if o in ("unsupported", "partial", "different") and fn not in listed:
            problems.append(f"`{fn}` is {o} but not in {os.path.relpath(LIST)}")
        if o == "nondeterministic" and fn not in listed:
            problems.append(f"`{fn}` is nondeterministic but not in {os.path.relpath(LIST)}")
        if o == "equal" and fn in listed:
            problems.append(f"`{fn}` is equal now: remove it from {os.path.relpath(LIST)}")
    for fn in listed:
        if fn not in fn_outcome:
            problems.append(f"`{fn}` is listed but is no Spark function")
    if ceiling is None or len(listed) > ceiling:
        problems.append(f"{os.path.relpath(LIST)} lists {len(listed)} functions, more than its ceiling {ceiling}")
    elif len(listed) < ceiling:
        problems.append(f"{os.path.relpath(LIST)} lists {len(listed)} functions: lower its `# ceiling:` to that")
    for x in failures:
        print(x, file=sys.stderr)
    for p in problems:
        print("LIST: " + p, file=sys.stderr)
    n_fn = len(functions)
    eq = sum(1 for o in fn_outcome.values() if o == "equal")
    print(f"catalogue: {n_fn} functions ({eq} equal, {100 * eq / n_fn:.0f} %), "
          f"{sum(form_counts['literal'].values())} examples and {sum(form_counts['column'].values())} column forms: "
          f"{counts['equal']} equal, {counts['unsupported']} unsupported, {counts['different']} different "
          f"({spark_errors} examples Spark itself refuses with ANSI off)")
    if readme:
        write_readme(readme, fn_outcome, by_group, form_counts, n_fn)
    return 1 if failures or problems else 0


def write_readme(path, fn_outcome, by_group, form_counts, n_fn):
    cols = ["equal", "nondeterministic", "partial", "unsupported", "different", "no example"]
    rows = ["| Spark function group | functions | " + " | ".join(cols) + " |",
            "|---|---:|" + "---:|" * len(cols)]
    for g in sorted(by_group):
        c = by_group[g]
        rows.append(f"| {g} | {sum(c.values())} | " + " | ".join(str(c.get(k, 0)) for k in cols) + " |")
    total = {k: sum(1 for o in fn_outcome.values() if o == k) for k in cols}
    rows.append(f"| **all** | **{n_fn}** | " + " | ".join(f"**{total[k]}**" for k in cols) + " |")
    rows.append("")
    rows.append("| examples | equal | unsupported | different |")
    rows.append("|---|---:|---:|---:|")
    for form in ("literal", "column"):
        c = form_counts[form]
        rows.append(f"| {form} form | {c['equal']} | {c['unsupported']} | {c['different']} |")
    text = open(path).read()
    a, b = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    open(path, "w").write(text[:a] + "\n" + "\n".join(rows) + "\n" + text[b:])


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
        sys.exit(0)
    readme = sys.argv[sys.argv.index("--readme") + 1] if "--readme" in sys.argv else None
    unrefused = sys.argv[sys.argv.index("--unrefused") + 1] if "--unrefused" in sys.argv else None
    sys.exit(compare(sys.argv[2], sys.argv[3], readme, "--update-list" in sys.argv, unrefused))
