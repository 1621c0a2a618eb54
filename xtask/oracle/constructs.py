"""Spark SQL constructs: a corpus of queries, one or more for every query construct and literal form of the Spark SQL
reference, run on Spark 3.5 (ANSI off, UTC) and on the embedded engine; values and result types compared as
xtask/oracle/catalogue.py compares them.

  python constructs.py gen <queries.jsonl>                     Spark's answers
  python constructs.py compare <queries.jsonl> <engine.jsonl>  the counts per construct; exit 1 on any different
                                                               query or unclear refusal

Each query reads small inline `VALUES` tables with NULLs and ties; rows are compared as a multiset unless the query
ends with a top-level ORDER BY. Nondeterministic forms (TABLESAMPLE, LIMIT without ORDER BY, SORT BY) are written so
that the answer is deterministic (a sample of 100 percent, a count over a limit). A query Spark itself refuses (QUALIFY,
`SELECT * EXCEPT`, `::` are not Spark 3.5) is counted apart and not compared.

Outcomes: `equal`; `unsupported` (the engine's `unsupported on the embedded engine: <construct>` error); `different`
(another value, another type, or any other engine error). A refusal whose text is a raw parser or planner message
("Expected: …", "Invalid function", "This feature is not implemented", …) rather than the construct's name is an
unclear refusal: it fails the check like a different answer.
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from catalogue import compare_corpus, ordered, spark_norm, spark_type  # noqa: E402


def T(a="t"):
    """k int (NULL, ties), g string (NULL, ties), v int (NULL, ties), d double (NULL, ties)."""
    return ("(select * from values (1, 'a', 10, 1.5d), (2, 'a', 20, cast(null as double)), (2, 'b', null, 2.5d), "
            "(3, null, 30, 2.5d), (null, 'b', 10, -1.0d), (3, 'c', 30, 0.0d) as t(k, g, v, d)) " + a)


def U(a="u"):
    """k int (NULL, a duplicate key), w string."""
    return f"(select * from values (1, 'x'), (2, 'y'), (2, 'z'), (4, 'w'), (null, 'n') as u(k, w)) {a}"


def N(a="n"):
    """Nested values: an array, a map and a struct per row, NULL ones, an empty array and map."""
    return ("(select * from values (1, array(1, 2, 3), map('a', 1, 'b', 2), named_struct('f', 1, 'g', 'x')), "
            "(2, array(4, null), map('a', 3), named_struct('f', 2, 'g', cast(null as string))), "
            "(3, null, null, null), (4, cast(array() as array<int>), map('c', 4), named_struct('f', cast(null as int), 'g', 'z')) "
            f"as n(id, arr, m, st)) {a}")


def D(a="e"):
    """Dates and timestamps with a tie and a NULL."""
    return ("(select * from values (1, date '2024-01-01', timestamp '2024-01-01 10:00:00', 5), "
            "(2, date '2024-01-03', timestamp '2024-01-01 10:30:00', 7), "
            "(3, date '2024-01-10', timestamp '2024-01-02 09:00:00', 1), "
            "(4, date '2024-01-10', timestamp '2024-01-03 12:00:00', 2), "
            f"(5, cast(null as date), cast(null as timestamp), 4) as e(id, dt, ts, x)) {a}")


def S(a="s"):
    """Sales for PIVOT: a repeated (year, quarter), a NULL amount, a NULL year."""
    return ("(select * from values (2023, 'q1', 10), (2023, 'q2', 20), (2023, 'q1', 5), (2024, 'q1', 7), "
            f"(2024, 'q3', null), (null, 'q2', 3) as s(yr, q, amt)) {a}")


def W(a="w"):
    """Wide rows for UNPIVOT, with NULLs."""
    return f"(select * from values (1, 10, 20, null), (2, null, 5, 6) as w(id, a, b, c)) {a}"


def J(a="j"):
    """JSON text."""
    return ("(select * from values (1, '{\"a\": 1, \"b\": \"x\"}'), (2, '{\"a\": 2}'), (3, cast(null as string)) "
            f"as j(id, js)) {a}")


def select_clauses(add):
    c = "select"
    add(c, f"select * from {T()}")
    add(c, f"select k, g from {T()}")
    add(c, f"select t.* from {T()}")
    add(c, f"select k + v as s, -k, k * 2 from {T()}")
    add(c, f"select distinct g from {T()}")
    add(c, f"select distinct k, g from {T()}")
    add(c, f"select all g from {T()}")
    add(c, f"select distinct d from {T()}")
    add(c, f"select * from {T()} where k > 1")
    add(c, f"select * from {T()} where k > 1 and g = 'a' or v is null")
    add(c, f"select * from {T()} where not (k = 2)")
    add(c, f"select * from {T()} where g = null")
    add(c, f"select * from {T()} where k in (1, 3)")
    add(c, f"select * from {T()} where k not in (1, null)")
    add(c, f"select * from {T()} where k in (1, null)")
    add(c, f"select * from {T()} where v is not null and d is null")
    # duplicate output names
    add(c, f"select k, k from {T()}")
    add(c, f"select k as a, v as a from {T()}")
    add(c, "select 1, 1")
    add(c, f"select k, * from {T()}")
    add(c, f"select t.k, u.k from {T()} join {U()} on t.k = u.k")
    add(c, f"select * from (select k, k from {T()}) x")
    add(c, "select 1 as x, 'a' as y")
    add(c, "select 1 x, 2 `y z`")
    add(c, f"select `k`, `g` as `the g` from {T()}")
    add(c, f"select k from {T()} where exists (select 1)")
    # GROUP BY / HAVING
    c = "group by"
    add(c, f"select g, count(*), sum(v), min(d), max(d) from {T()} group by g")
    add(c, f"select k, g, count(*) from {T()} group by k, g")
    add(c, f"select g, count(*) from {T()} group by 1")
    add(c, f"select k % 2 as p, count(*) from {T()} group by k % 2")
    add(c, f"select k % 2 as p, count(*) from {T()} group by p")
    add(c, f"select g, count(v) from {T()} group by g having count(*) > 1")
    add(c, f"select g from {T()} group by g having sum(v) > 15")
    add(c, f"select count(*) from {T()} having count(*) > 1")
    add(c, f"select g, count(*) from {T()} group by all")
    add(c, f"select count(distinct k) from {T()}")
    add(c, f"select count(distinct k, g) from {T()}")
    add(c, f"select count(distinct k, v) from {T()}")
    add(c, f"select g, count(distinct k, v) from {T()} group by g")
    add(c, f"select sum(distinct v), avg(distinct v) from {T()}")
    add(c, f"select count(*), count(1), count(k), count(d) from {T()}")
    add(c, f"select g, sum(v) filter (where k > 1) from {T()} group by g")
    add(c, f"select max(g), min(g) from {T()}")
    add(c, f"select sum(v) from {T()} where k > 100")
    add(c, f"select g, sum(v) from {T()} where k > 100 group by g")
    add(c, f"select g, collect_list(v) from {T()} where g is not null and v is not null group by g")
    # ORDER BY, SORT BY, DISTRIBUTE BY, CLUSTER BY
    c = "order by"
    add(c, f"select k, g from {T()} order by k, g")
    add(c, f"select k, g from {T()} order by k desc, g")
    add(c, f"select k, g from {T()} order by k asc nulls last, g desc nulls first")
    add(c, f"select k, g from {T()} order by 2, 1")
    add(c, f"select k, v from {T()} order by k + v, k, v")
    add(c, f"select k as x, g from {T()} order by x desc, g")
    add(c, f"select k, g from {T()} order by d, k")
    add(c, f"select g, count(*) as c from {T()} group by g order by c desc, g")
    add(c, f"select g from {T()} group by g order by sum(v), g")
    add(c, f"select k from {T()} order by g, k")
    add(c, f"select k, g from {T()} sort by k, g")
    add(c, f"select k, g from {T()} distribute by g")
    add(c, f"select k, g from {T()} distribute by g sort by k")
    add(c, f"select k, g from {T()} cluster by k")
    c = "limit"
    add(c, f"select k, g from {T()} order by k, g limit 3")
    add(c, f"select k, g from {T()} order by k desc, g limit 2 offset 1")
    add(c, f"select k, g from {T()} order by k, g offset 4")
    add(c, f"select k from {T()} limit 0")
    add(c, f"select count(*) from (select * from {T()} limit 3)")
    add(c, f"select count(*) from (select * from {T()} limit 100)")
    add(c, f"select k from {T()} order by k limit 2 + 1")


def lateral_views(add):
    c = "lateral view"
    add(c, f"select id, x from {N()} lateral view explode(arr) v as x")
    add(c, f"select id, x from {N()} lateral view outer explode(arr) v as x")
    add(c, f"select id, p, x from {N()} lateral view posexplode(arr) v as p, x")
    add(c, f"select id, p, x from {N()} lateral view outer posexplode(arr) v as p, x")
    add(c, f"select id, key, value from {N()} lateral view explode(m) v as key, value")
    add(c, f"select id, key, value from {N()} lateral view outer explode(m) v as key, value")
    add(c, f"select id, a, b from {N()} lateral view inline(array(st)) v as a, b")
    add(c, f"select id, v.f, v.g from {N()} lateral view inline(array(st, st)) v")
    add(c, f"select id, a, b from {J()} lateral view json_tuple(js, 'a', 'b') v as a, b")
    add(c, f"select id, a from {J()} lateral view outer json_tuple(js, 'a') v as a")
    add(c, f"select k, a, b from {T()} lateral view stack(2, k, g, v, 'z') s as a, b")
    add(c, f"select id, x, y from {N()} lateral view explode(arr) v1 as x lateral view explode(arr) v2 as y")
    add(c, f"select id, x from {N()} lateral view explode(arr) v as x where x > 1")
    add(c, f"select x, count(*) from {N()} lateral view explode(arr) v as x group by x")
    add(c, f"select id, v.x from {N()} lateral view explode(arr) v as x")
    add(c, f"select id, col from {N()} lateral view explode(arr) v")
    add(c, f"select n.id, x, u.w from {N()} join {U()} on n.id = u.k lateral view explode(n.arr) v as x")
    add(c, f"select k, x from {T()} lateral view explode(array(k, v)) v as x")
    add(c, f"select k, x from {T()} lateral view explode(sequence(1, k)) v as x")
    c = "generator in select"
    add(c, f"select id, explode(arr) from {N()}")
    add(c, f"select id, explode(arr) as x from {N()}")
    add(c, f"select id, explode_outer(arr) from {N()}")
    add(c, f"select id, posexplode(arr) from {N()}")
    add(c, f"select id, posexplode_outer(arr) from {N()}")
    add(c, f"select explode(m) from {N()}")
    add(c, f"select inline(array(st)) from {N()}")
    add(c, "select inline(array(named_struct('a', 1, 'b', 'x'), named_struct('a', 2, 'b', 'y')))")
    add(c, "select stack(3, 1, 'a', 2, 'b', 3, 'c')")
    add(c, "select stack(2, 1, 2, 3)")
    add(c, f"select json_tuple(js, 'a', 'b') from {J()}")
    add(c, "select explode(array(1, 2, 3))")
    add(c, "select explode(map('a', 1, 'b', 2))")
    add(c, "select * from explode(array(10, 20))")
    add(c, "select * from range(3)")
    add(c, "select * from range(1, 10, 3)")


def pivots(add):
    c = "pivot"
    add(c, f"select * from {S()} pivot (sum(amt) for q in ('q1', 'q2', 'q3'))")
    add(c, f"select * from {S()} pivot (sum(amt) as total for q in ('q1' as first, 'q2' as second))")
    add(c, f"select * from {S()} pivot (sum(amt) as s, count(amt) as c for q in ('q1', 'q2'))")
    add(c, f"select * from {S()} pivot (max(amt) for q in ('q1', 'q4'))")
    add(c, f"select * from (select q, amt from {S()}) pivot (sum(amt) for q in ('q1', 'q2'))")
    add(c, f"select * from (select yr, q, amt from {S()}) pivot (avg(amt) for yr in (2023, 2024))")
    add(c, f"select * from {S()} pivot (count(*) for (yr, q) in ((2023, 'q1') as a, (2024, 'q1') as b))")
    add(c, f"select * from {S()} pivot (sum(amt) for q in ('q1', 'q2')) order by yr")
    c = "unpivot"
    add(c, f"select * from {W()} unpivot (val for col in (a, b, c))")
    add(c, f"select * from {W()} unpivot include nulls (val for col in (a, b, c))")
    add(c, f"select * from {W()} unpivot exclude nulls (val for col in (a, b))")
    add(c, f"select * from {W()} unpivot (val for col in (a as x, b as y))")
    add(c, f"select * from {W()} unpivot ((v1, v2) for col in ((a, b) as ab, (b, c) as bc))")
    add(c, f"select id, col, val from {W()} unpivot (val for col in (a, b, c)) order by id, col")


def grouping_sets(add):
    c = "grouping sets"
    add(c, f"select k, g, count(*) from {T()} group by grouping sets ((k), (g), ())")
    add(c, f"select k, g, sum(v) from {T()} group by grouping sets ((k, g), k)")
    add(c, f"select k, g, sum(v) from {T()} group by k, g grouping sets ((k, g), (k))")
    add(c, f"select k, g, count(*) from {T()} group by rollup(k, g)")
    add(c, f"select k, g, count(*) from {T()} group by k, g with rollup")
    add(c, f"select k, g, count(*) from {T()} group by cube(k, g)")
    add(c, f"select k, g, count(*) from {T()} group by k, g with cube")
    add(c, f"select k, g, count(*), grouping(k), grouping(g) from {T()} group by rollup(k, g)")
    add(c, f"select k, g, grouping_id() from {T()} group by cube(k, g)")
    add(c, f"select k, g, grouping_id(k, g) from {T()} group by cube(k, g)")
    add(c, f"select k, g, grouping_id(k, g), grouping(k) + grouping(g) from {T()} group by rollup(k, g)")
    add(c, f"select g, sum(v) from {T()} group by rollup(g) having grouping(g) = 1")
    add(c, f"select k, count(*) from {T()} group by grouping sets (k, ())")
    add(c, f"select k, g, v, count(*) from {T()} group by k, rollup(g, v)")
    add(c, f"select k, g, count(*) from {T()} group by cube(k, g) order by k, g, 3")
    add(c, f"select coalesce(g, 'all') as g, sum(v) from {T()} group by rollup(g)")


def windows(add):
    def w(expr, order_by=" order by k, g, v"):
        return f"select k, g, v, d, {expr} as r from {T()}" + order_by

    c = "window"
    add(c, w("row_number() over (order by k, g, v)"))
    add(c, w("rank() over (order by k)"))
    add(c, w("dense_rank() over (partition by g order by k)"))
    add(c, w("sum(v) over (partition by g)"))
    add(c, w("sum(v) over (partition by g order by k)"))
    add(c, w("count(*) over ()"))
    add(c, w("lag(v) over (order by k, g, v)"))
    add(c, w("lag(v, 2, -1) over (order by k, g, v)"))
    add(c, w("lead(g, 1) over (partition by k order by g)"))
    add(c, w("first_value(v) over (partition by g order by k, v)"))
    add(c, w("last_value(v) over (partition by g order by k, v)"))
    add(c, w("first_value(v, true) over (partition by g order by k, v)"))
    add(c, w("nth_value(v, 2) over (order by k, g, v)"))
    add(c, w("ntile(3) over (order by k, g, v)"))
    add(c, w("percent_rank() over (order by k)"))
    add(c, w("cume_dist() over (order by k)"))
    add(c, f"select k, g, v, sum(v) over w as r from {T()} window w as (partition by g order by k, v)")
    add(c, f"select k, sum(v) over w1 as a, max(v) over w2 as b from {T()} window w1 as (order by k, g, v), "
           "w2 as (partition by k)")
    c = "window frame rows"
    add(c, w("sum(v) over (order by k, g, v rows between 1 preceding and 1 following)"))
    add(c, w("sum(v) over (order by k, g, v rows between unbounded preceding and current row)"))
    add(c, w("sum(v) over (order by k, g, v rows between current row and unbounded following)"))
    add(c, w("sum(v) over (order by k, g, v rows between 2 preceding and 1 preceding)"))
    add(c, w("sum(v) over (order by k, g, v rows between 1 following and 3 following)"))
    add(c, w("count(v) over (partition by g order by k, v rows unbounded preceding)"))
    add(c, w("max(d) over (order by k, g, v rows 1 preceding)"))
    add(c, w("avg(v) over (order by k, g, v rows between unbounded preceding and unbounded following)"))
    c = "window frame range"
    add(c, w("sum(v) over (order by k range between 1 preceding and current row)"))
    add(c, w("sum(v) over (order by k range between current row and 1 following)"))
    add(c, w("sum(v) over (order by k range between unbounded preceding and current row)"))
    add(c, w("count(*) over (order by k desc range between 1 preceding and 1 following)"))
    add(c, w("sum(v) over (order by d range between 1.0 preceding and 1.0 following)"))
    add(c, w("sum(v) over (order by k range unbounded preceding)"))
    add(c, w("sum(k) over (order by v range between 10 preceding and current row)"))
    add(c, f"select id, ts, sum(x) over (order by ts range between interval 2 days preceding and current row) as r "
           f"from {D()}")
    add(c, f"select id, ts, sum(x) over (order by ts range between interval '7' day preceding and current row) as r "
           f"from {D()}")
    add(c, f"select id, ts, count(*) over (order by ts range between current row and interval 9 days following) "
           f"as r from {D()}")
    add(c, f"select id, ts, sum(x) over (order by ts range between interval 1 hour preceding and current row) as r "
           f"from {D()}")
    add(c, f"select id, ts, sum(x) over (order by ts range between interval '1 00:00:00' day to second preceding "
           f"and current row) as r from {D()}")
    add(c, f"select id, ts, max(x) over (order by ts desc range between interval 1 day preceding and current row) "
           f"as r from {D()}")
    add(c, f"select id, dt, sum(x) over (order by dt range between 2 preceding and current row) as r from {D()}")


def set_operations(add):
    a = "(select * from values (1), (1), (2), (null), (null), (3) as a(x))"
    b = "(select * from values (1), (2), (2), (null), (4) as b(x))"
    c = "set operations"
    for op in ["union", "union all", "union distinct", "intersect", "intersect all", "intersect distinct",
               "except", "except all", "except distinct", "minus", "minus all"]:
        add(c, f"select x from {a} {op} select x from {b}")
    add(c, f"select x from {a} union select x from {b} order by x")
    add(c, f"select x from {a} union all select x from {b} order by x desc limit 3")
    add(c, f"(select x from {a} except select x from {b}) union all select 9")
    add(c, f"select x from {a} union all select x from {b} intersect select x from {b}")
    add(c, f"select x from {a} except select x from {b} except select 3")
    add(c, f"select count(*) from (select x from {a} union all select x from {b})")
    add(c, "select 1 as x union all select 2L")
    add(c, "select 1 as x union all select 'a'")
    add(c, "select 1 as x union all select 2.5")
    add(c, "select cast(1 as tinyint) as x union select cast(2 as smallint)")
    add(c, "select 1 as a, 'x' as b union all select 2, null")
    add(c, "select null as a union all select date '2024-01-01'")
    add(c, f"select k, g from {T()} intersect select k, w from {U()}")
    add(c, f"select k from {T()} except all select k from {U()}")
    add(c, f"select k from {T()} intersect all select k from {U()}")


def subqueries(add):
    c = "scalar subquery"
    add(c, f"select k, (select max(v) from {T('x')}) as m from {T()}")
    add(c, f"select k, v, (select count(*) from {U()} where u.k = t.k) as c from {T()}")
    add(c, f"select k, (select max(w) from {U()} where u.k = t.k) as c from {T()}")
    add(c, f"select * from {T()} where v > (select avg(v) from {T('x')})")
    add(c, f"select * from {T()} where v = (select max(v) from {T('x')} where x.g = t.g)")
    add(c, "select (select 1) + 1")
    add(c, f"select (select k from {U()} where u.k = 4) as s")
    add(c, f"select (select k from {U()} where u.k = 99) as s")
    c = "in subquery"
    add(c, f"select * from {T()} where k in (select k from {U()})")
    add(c, f"select * from {T()} where k not in (select k from {U()})")
    add(c, f"select * from {T()} where k not in (select k from {U()} where u.k is not null)")
    add(c, f"select * from {T()} where k not in (select k from {U()} where u.k > 100)")
    add(c, f"select * from {T()} where g in (select w from {U()} where u.k = t.k)")
    add(c, f"select * from {T()} where (k, g) in (select k, w from {U()})")
    add(c, f"select k, k in (select k from {U()}) as r from {T()}")
    add(c, f"select k, k not in (select k from {U()}) as r from {T()}")
    add(c, f"select k, k not in (select k from {U()} where u.k is not null) as r from {T()}")
    add(c, f"select * from {T()} where k in (select k from {U()}) or v > 25")
    add(c, f"select * from {T()} where k not in (select k from {U()} where u.w = t.g)")
    c = "exists subquery"
    add(c, f"select * from {T()} where exists (select 1 from {U()} where u.k = t.k)")
    add(c, f"select * from {T()} where not exists (select 1 from {U()} where u.k = t.k)")
    add(c, f"select * from {T()} where exists (select 1 from {U()} where u.k > t.k)")
    add(c, f"select * from {T()} where exists (select 1 from {U()} where u.k = 99)")
    add(c, f"select k, exists (select 1 from {U()} where u.k = t.k) as r from {T()}")
    add(c, f"select * from {T()} where exists (select 1 from {U()} where u.k = t.k) and k > 1")
    c = "from subquery"
    add(c, f"select x.k, x.c from (select k, count(*) as c from {T()} group by k) x")
    add(c, f"select * from (select * from (select k from {T()}) a) b")
    add(c, f"select * from {T()}, lateral (select t.k + 1 as k1)")
    add(c, f"select t.k, l.c from {T()} join lateral (select count(*) as c from {U()} where u.k = t.k) l")


def ctes(add):
    c = "cte"
    add(c, f"with a as (select k, v from {T()}) select * from a")
    add(c, f"with a as (select k, v from {T()}), b as (select k, sum(v) as s from a group by k) select * from b")
    add(c, f"with a as (select k from {T()}) select * from a x join a y on x.k = y.k")
    add(c, f"with a(x, y) as (select k, g from {T()}) select x, y from a")
    add(c, f"with a as (with b as (select k from {T()}) select k + 1 as k from b) select * from a")
    add(c, f"select * from (with a as (select k from {T()}) select * from a)")
    add(c, f"with a as (select 1 as x) select * from a where x in (with b as (select 1 as y) select y from b)")
    add(c, f"with a as (select k from {T()}), b as (select k from a where k > 1) select * from b union all "
           f"select * from a")
    add(c, "with a as (select 1 as x), b as (select x + 1 as x from a), c as (select x * 10 as x from b) "
           "select * from c")
    add(c, "with a as (select 1 as x) select * from a a1, a a2")


def sampling_hints(add):
    c = "tablesample"
    add(c, f"select * from {T('tablesample (100 percent) t')}")
    add(c, f"select count(*) from {T('tablesample (100 percent) t')}")
    add(c, f"select count(*) from {T('tablesample (0 percent) t')}")
    add(c, f"select count(*) from {T('tablesample (3 rows) t')}")
    add(c, f"select count(*) from {T('tablesample (100 rows) t')}")
    add(c, f"select count(*) from {T('tablesample (bucket 1 out of 1) t')}")
    add(c, f"select count(*) from {T('tablesample (50 percent) t')} where false")
    add(c, f"with c as (select * from {T()}) select count(*) from c tablesample (100 percent)")
    add(c, f"select sum(k) from {T('tablesample (100 percent) as t')}")
    c = "hints"
    add(c, f"select /*+ BROADCAST(u) */ t.k, u.w from {T()} join {U()} on t.k = u.k")
    add(c, f"select /*+ BROADCASTJOIN(u), MERGE(t) */ t.k, u.w from {T()} join {U()} on t.k = u.k")
    add(c, f"select /*+ SHUFFLE_HASH(t) */ t.k, u.w from {T()} left join {U()} on t.k = u.k")
    add(c, f"select /*+ SHUFFLE_REPLICATE_NL(u) */ t.k, u.w from {T()} join {U()} on t.k = u.k")
    add(c, f"select /*+ REPARTITION(2) */ * from {T()}")
    add(c, f"select /*+ REPARTITION(2, g) */ k, g from {T()}")
    add(c, f"select /*+ COALESCE(1) */ * from {T()}")
    add(c, f"select /*+ REPARTITION_BY_RANGE(k) */ k from {T()}")
    add(c, f"select /*+ REBALANCE */ k from {T()}")
    add(c, f"select /* a comment, not a hint */ k from {T()}")


def operators(add):
    c = "arithmetic"
    for e in ["7 div 2", "-7 div 2", "7 div -2", "7 div 0", "7L div 2", "7.9 div 2", "7.5 div 2.5",
              "cast(7 as tinyint) div cast(2 as tinyint)", "null div 2", "9223372036854775807 div -1"]:
        add(c, f"select {e} as r")
    add(c, f"select k, v, v div k as r from {T()}")
    add(c, f"select k, d, cast(d as bigint) div 1 as r from {T()}")
    for e in ["7 % 3", "-7 % 3", "7.5 % 2", "-7 % 0", "+3", "-(-3)", "~5", "5 & 3", "5 | 3", "5 ^ 3",
              "2 + 3 * 4", "(2 + 3) * 4", "10 - 2 - 3", "shiftleft(1, 3)", "shiftright(-16, 2)"]:
        add(c, f"select {e} as r")
    c = "comparison"
    for e in ["1 <=> 1", "null <=> null", "1 <=> null", "1 is distinct from null", "null is not distinct from null",
              "1 is distinct from 1", "1 != 2", "1 <> 1", "1 == 1", "not 1 = 1", "! true",
              "2 between 1 and 3", "2 not between 1 and 3", "null between 1 and 3", "2 between 3 and 1",
              "'b' between 'a' and 'c'", "1 in (1, null)", "2 in (1, null)", "2 not in (1, null)", "null in (1)",
              "true is true", "null is unknown", "false is not false", "null is null", "1 is not null",
              "true and null", "false and null", "true or null", "not null"]:
        add(c, f"select {e} as r")
    add(c, f"select k, v, k <=> v as r, k is distinct from 2 as s from {T()}")
    add(c, f"select * from {T()} where k between 2 and 3")
    add(c, f"select * from {T()} where g is not distinct from null")


def access(add):
    c = "struct map array access"
    add(c, f"select id, st.f, st.g from {N()}")
    add(c, f"select id, n.st.f from {N()}")
    add(c, f"select id, st.* from {N()}")
    add(c, f"select id, m['a'], m['z'] from {N()}")
    add(c, f"select id, arr[0], arr[2], arr[5] from {N()}")
    add(c, f"select id, arr[id - 1] from {N()}")
    add(c, f"select id, element_at(arr, 1), element_at(m, 'b') from {N()}")
    add(c, "select named_struct('a', 1, 'b', named_struct('c', 'x')).b.c as r")
    add(c, "select array(array(1, 2), array(3))[1][0] as r")
    add(c, "select map('k', array(1, 2))['k'][1] as r")
    add(c, "select array(named_struct('f', 1), named_struct('f', 2))[1].f as r")
    add(c, "select struct(1 as a, 'x' as b).b as r")
    add(c, "select array(1, 2, 3)[-1] as r")
    add(c, "select map(1, 'a', 2, 'b')[2] as r")
    add(c, f"select id, size(arr), cardinality(m) from {N()}")
    add(c, f"select id from {N()} where st.f = 1")
    add(c, f"select st.g, count(*) from {N()} group by st.g")
    add(c, f"select id, arr.f from (select 1 as id, array(named_struct('f', 1), named_struct('f', 2)) as arr)")


def patterns(add):
    c = "like"
    Wv = r"(select * from values ('a_b'), ('ab'), ('c%d'), ('ABC'), ('x\\y'), (cast(null as string)) as p(s)) p"
    for e in ["s like 'a%'", "s like '_b'", "s not like 'a%'", r"s like '%\_%'", "s like '%!_%' escape '!'",
              "s like '%#%%' escape '#'", "s like 'a%' escape '/'", "s ilike 'a%'", "s not ilike 'a%'",
              "s like any ('a%', '%d')", "s like all ('a%', '%b')", "s not like any ('a%', '%b')",
              "s like some ('x%', 'c%')", "s rlike '^a'", "s regexp 'b$'", "s rlike '[%_]'", "s not rlike 'a'",
              "s ilike any ('abc', 'x%')", r"s like 'x\\\\%'"]:
        add(c, f"select s, {e} as r from {Wv}")
    add(c, f"select s from {Wv} where s like 'a%' or s rlike 'd$'")
    add(c, r"select 'a%b' like 'a\%b' as r")
    add(c, "select 'a%b' like 'a|%b' escape '|' as r")
    add(c, "select 'aXb' like 'a_b' as r, 'ab' like 'a_b' as s")


def literals(add):
    c = "typed literals"
    for e in ["date '2024-02-29'", "date '2024-2-9'", "date'2024-01-01'", "timestamp '2024-02-29 10:11:12'",
              "timestamp '2024-02-29 10:11:12.123456'", "timestamp '2024-02-29'", "timestamp '2024-02-29T10:11:12'",
              "timestamp_ntz '2024-02-29 10:11:12'", "timestamp_ltz '2024-02-29 10:11:12'",
              "X'0A1B'", "x'ff'", "X''", "date '2024-01-31' + 1", "date '2024-03-01' - date '2024-02-01'"]:
        add(c, f"select {e} as r")
    c = "interval literals"
    for e in ["interval 1 day", "interval '1' day", "interval 3 hours", "interval '1-2' year to month",
              "interval 2 years", "interval 1 day 2 hours", "interval '1 02:03:04' day to second",
              "interval '10:20' minute to second", "interval -1 month",
              "date '2024-01-31' + interval 1 month", "date '2024-02-29' - interval 1 year",
              "timestamp '2024-01-01 00:00:00' + interval 90 minutes",
              "timestamp '2024-01-01 00:00:00' - interval '1 12:00:00' day to second",
              "date '2024-01-01' + interval 36 hours", "timestamp '2024-03-01 00:00:00' + interval '1-1' year to month",
              "date_add(date '2024-01-01', 10)", "extract(day from interval 3 days)",
              "interval 1 day > interval 23 hours", "interval 1 week"]:
        add(c, f"select {e} as r")
    c = "numeric literals"
    for e in ["1", "-1", "2147483647", "2147483648", "9223372036854775807", "9223372036854775808", "1L", "1S", "1Y",
              "-128Y", "1BD", "1.5BD", "1D", "1.5D", "1F", "1.5f", "1E3", "1.5E-2", "-2e2", ".5", "5.", "1.0",
              "0.00", "123456789012345678901234567890.1", "00012"]:
        add(c, f"select {e} as r")
    add(c, "select 1L + 1S + 1Y as r")
    add(c, "select 1BD / 3 as r")
    add(c, "select 1E3 + 1 as r")
    c = "string literals"
    for e in [r"'it''s'", r"'it\'s'", r'"double"', r"'a' 'b' 'c'", r"'tab\there'", r"'nl\nx'", r"'\\'",
              r"'\u00e9t\u00e9'", r"'\%\_'", r"'back\\slash'", "'日本'", r"'\101'", "''", r"'\"'", r'"it\'s"',
              "'true' = 'TRUE'", "true", "false", "null", "cast(null as string)", r"r'raw\n'", r"R'\d+'"]:
        add(c, f"select {e} as r")


def joins(add):
    c = "join"
    for kind in ["join", "inner join", "left join", "left outer join", "right join", "right outer join",
                 "full join", "full outer join", "left semi join", "left anti join", "semi join", "anti join"]:
        add(c, f"select * from {T()} {kind} {U()} on t.k = u.k")
    add(c, f"select * from {T()} cross join {U()}")
    add(c, f"select count(*) from {T()}, {U()}")
    add(c, f"select * from {T()}, {U()} where t.k = u.k")
    add(c, f"select * from {T()} join {U()} using (k)")
    add(c, f"select * from {T()} left join {U()} using (k)")
    add(c, f"select * from {T()} full join {U()} using (k)")
    add(c, f"select k, t.g, u.w from {T()} full outer join {U()} using (k)")
    add(c, f"select * from {T()} natural join {U()}")
    add(c, f"select * from {T()} natural left join {U()}")
    add(c, f"select * from {T()} natural full outer join {U()}")
    add(c, f"select * from {T()} join {U()} on t.k < u.k")
    add(c, f"select * from {T()} left join {U()} on t.k = u.k and u.w > 'x'")
    add(c, f"select * from {T()} left join {U()} on t.k = u.k where u.k is null")
    add(c, f"select * from {T()} join {U()} on t.k <=> u.k")
    add(c, f"select * from {T()} left semi join {U()} on t.k = u.k and u.w = 'z'")
    add(c, f"select * from {T()} left anti join {U()} on t.k < u.k")
    add(c, f"select a.k, b.k from {T('a')} join {T('b')} on a.k = b.k and a.g < b.g")
    add(c, f"select * from {T()} join {U()} on t.k = u.k join {U('u2')} on u.k = u2.k")
    add(c, f"select * from {T()} join {U()} on true")
    add(c, f"select * from {T()} full join {U()} on t.k = u.k and t.v > 15")
    add(c, f"select * from {T()} right join {U()} on t.k = u.k where t.g is not null or u.w = 'n'")


def values_forms(add):
    c = "values"
    add(c, "values (1, 'a'), (2, 'b')")
    add(c, "values 1, 2, 3")
    add(c, "select * from values (1, 'a'), (2, null) as v(a, b)")
    add(c, "select * from values (1, 'a') v(a, b)")
    add(c, "select * from values 1, 2 as v(a)")
    add(c, "select * from values (1), (2L), (null) as v(a)")
    add(c, "select * from values (1), (cast(null as int)) as v(a)")
    add(c, "select * from values (1, 2.5), (2, 3) as v(a, b)")
    add(c, "select * from values (date '2024-01-01'), (null) as v(a)")
    add(c, "select a + 1 from values (1), (2) as v(a)")
    add(c, "select * from values (array(1, 2)), (array()) as v(a)")
    add(c, "select * from (values (1, 2), (3, 4)) as v(a, b)")
    add(c, "select col1, col2 from values (1, 'x')")
    add(c, "select * from values ('a', 1), ('a', 1) as v(a, b)")


def case_cast(add):
    c = "case"
    for e in ["case k when 1 then 'one' when 2 then 'two' else 'many' end",
              "case k when 1 then 'one' end", "case when k > 1 then v else -v end",
              "case when k is null then 'null' when k > 2 then 'big' end",
              "case g when null then 'null?' else 'other' end", "case when v > 15 then d end",
              "case when k = 1 then 1 when k = 2 then 2.5 else null end",
              "case k when 1 then case g when 'a' then 'x' else 'y' end else 'z' end",
              "if(k > 1, 'a', 'b')", "if(k is null, 0, k)", "nvl(k, -1)", "coalesce(v, k, 0)",
              "nullif(k, 2)", "nvl2(v, 'has', 'none')", "decode(k, 1, 'one', 2, 'two', 'other')"]:
        add(c, f"select k, g, v, {e} as r from {T()}")
    c = "cast"
    for e in ["cast(k as string)", "cast(g as int)", "cast(d as int)", "cast(k as decimal(5, 2))",
              "cast(v as double)", "cast(k as boolean)", "try_cast(g as int)", "cast(d as string)",
              "cast(k as bigint)", "int(d)", "string(k)", "bigint(v)", "double(k)",
              "cast(cast(k as string) as date)"]:
        add(c, f"select k, {e} as r from {T()}")
    for e in ["cast('2024-01-01' as date)", "cast('2024-01-01 10:00:00' as timestamp)", "cast(1.9 as int)",
              "cast('1.5' as decimal(3,1))", "cast(true as int)", "cast('abc' as int)",
              "cast(array(1, 2) as array<string>)", "cast(named_struct('a', 1) as struct<a:string>)",
              "cast(map('a', 1) as map<string,bigint>)", "cast(date '2024-01-01' as timestamp)",
              "cast(timestamp '2024-01-01 10:00:00' as date)", "cast(X'41' as string)", "cast('A' as binary)",
              "cast(1 as tinyint)", "cast(300 as tinyint)", "cast(1.5e10 as int)",
              "cast(null as struct<f:int,g:string>)", "cast(null as map<string,int>)", "cast(null as array<int>)"]:
        add(c, f"select {e} as r")


def lambdas(add):
    c = "lambda"
    for e in ["transform(arr, x -> x + 1)", "transform(arr, (x, i) -> x * i)", "filter(arr, x -> x > 1)",
              "filter(arr, (x, i) -> i > 0)", "aggregate(arr, 0, (acc, x) -> acc + x)",
              "aggregate(arr, 0, (acc, x) -> acc + x, acc -> acc * 10)", "exists(arr, x -> x > 2)",
              "forall(arr, x -> x > 0)", "zip_with(arr, arr, (a, b) -> a + b)",
              "map_filter(m, (k, v) -> v > 1)", "transform_keys(m, (k, v) -> upper(k))",
              "transform_values(m, (k, v) -> v * 2)", "array_sort(arr, (a, b) -> if(a is null or b is null, 0, b - a))",
              "reduce(arr, 0, (acc, x) -> acc + x)"]:
        add(c, f"select id, {e} as r from {N()}")
    add(c, "select transform(array(1, 2, 3), x -> x * 2) as r")
    add(c, "select filter(array(1, null, 3), x -> x is not null) as r")


def not_spark(add):
    c = "not spark 3.5"
    add(c, f"select * except (g) from {T()}")
    add(c, f"select k::string from {T()}")
    add(c, f"select k from {T()} qualify rank() over (order by k) = 1")


def corpus():
    """(construct, sql, ordered) for every query of the corpus."""
    out = []

    def add(construct, sql):
        out.append((construct, sql, ordered(sql)))

    for part in (select_clauses, lateral_views, pivots, grouping_sets, windows, set_operations, subqueries, ctes,
                 sampling_hints, operators, access, patterns, literals, joins, values_forms, case_cast, lambdas,
                 not_spark):
        part(add)
    return out


def gen(path):
    os.environ["TZ"] = "UTC"
    from oracle import spark_session
    spark = spark_session("glue-rs-constructs")
    spark.sparkContext.setLogLevel("OFF")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    started = time.time()
    queries = []
    for construct, sql, is_ordered in corpus():
        q = {"fn": construct, "sql": sql, "ordered": is_ordered}
        try:
            df = spark.sql(sql)
            q["types"] = [spark_type(f.dataType) for f in df.schema.fields]
            q["rows"] = [[spark_norm(c) for c in row] for row in df.collect()]
        except Exception as e:  # noqa: BLE001 - Spark refuses the query: not compared
            q["spark_error"] = str(e).strip().splitlines()[0][:300]
        queries.append(q)
    spark.stop()
    with open(path, "w") as f:
        for i, q in enumerate(queries):
            q["id"] = i
            f.write(json.dumps(q, default=str) + "\n")
    print(f"constructs corpus: {len(queries)} queries; Spark ran them in {time.time() - started:.0f} s",
          file=sys.stderr)


# A refusal that names no construct: a parser's or planner's own words reaching the user.
RAW = re.compile(r"Expected: |Invalid function|Unsupported ast node|This feature is not implemented|sql parser error|"
                 r"ParserError|Error during planning|Execution error|Schema error|Arrow error|Internal error|"
                 r"No function matches|Did you mean", re.I)


def unclear_refusals(queries_path, engine_path):
    """The refusals of queries Spark answers whose text is a raw DataFusion or sqlparser message."""
    queries = {q["id"]: q for q in (json.loads(l) for l in open(queries_path) if l.strip())}
    out = []
    for r in (json.loads(l) for l in open(engine_path) if l.strip()):
        q = queries.get(r["id"])
        if q is None or "spark_error" in q or r["status"] != "unsupported":
            continue
        if RAW.search(r["message"]) or not r["message"].startswith("unsupported on the embedded engine: "):
            out.append((q, r["message"]))
    return out


def compare(queries_path, engine_path):
    status = compare_corpus(queries_path, engine_path, "constructs corpus", "queries", 300)
    unclear = unclear_refusals(queries_path, engine_path)
    for q, message in unclear:
        print(f"UNCLEAR REFUSAL {q['sql'][:160]}\n  {message[:300]}", file=sys.stderr)
    if unclear:
        print(f"{len(unclear)} refusals name no construct (a raw parser or planner message)")
    return 1 if unclear else status


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
        sys.exit(0)
    sys.exit(compare(sys.argv[2], sys.argv[3]))
