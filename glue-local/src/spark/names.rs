//! Spark functions that DataFusion has under another name or as another expression, rewritten in the SQL syntax tree
//! before planning (`lcase` is `lower`, `count_if(p)` is a `count` of a `CASE`, `max_by(x, y)` an ordered
//! `first_value`, …). Called by [`crate::spark::rewrite`] for calls its own rules leave alone; each rule gives Spark's
//! answer and result type, as Spark's function catalogue measures them (`xtask/oracle/catalogue.sh`).

use sqlparser::ast::{
    BinaryOperator, CaseWhen, DataType as SqlType, Expr as SqlExpr, Function, FunctionArgumentClause,
    FunctionArguments, Ident, ObjectName, OrderByExpr, OrderByOptions, UnaryOperator, Value,
    helpers::attached_token::AttachedToken,
};

use super::sql::{bool_literal, call, sql_cast, string_literal};

/// The rewritten expression of a call to `name` with the unnamed arguments `args`, or `None` when no rule applies.
/// `Err` refuses a form that cannot be answered as Spark does.
pub(crate) fn rewrite(name: &str, f: &Function, args: &[SqlExpr]) -> Result<Option<SqlExpr>, String> {
    let int = || SqlType::Int(None);
    Ok(Some(match (name, args) {
        ("lcase", [s]) => call("lower", vec![s.clone()]),
        ("ucase", [s]) => call("upper", vec![s.clone()]),
        // Spark's sample statistics (NULL for one row, as DataFusion's).
        ("std", [x]) => call("stddev_samp", vec![x.clone()]),
        ("variance", [x]) => call("var_samp", vec![x.clone()]),
        ("some" | "any", [p]) => aggregate_like(f, "bool_or", vec![p.clone()]),
        ("every", [p]) => aggregate_like(f, "bool_and", vec![p.clone()]),
        // count_if(p): the rows where p is true (0 when none).
        ("count_if", [p]) => aggregate_like(f, "count", vec![case(vec![(p.clone(), number("1"))], None)]),
        // max_by(x, y): x of the row with the greatest y, rows with a NULL y left out (NULL when none is left).
        ("max_by" | "min_by", [x, y]) => {
            let mut g = aggregate_like(f, "first_value", vec![x.clone()]);
            if let SqlExpr::Function(g) = &mut g {
                if let FunctionArguments::List(list) = &mut g.args {
                    list.clauses = vec![FunctionArgumentClause::OrderBy(vec![OrderByExpr {
                        expr: y.clone(),
                        options: OrderByOptions {
                            asc: Some(name == "min_by"),
                            nulls_first: Some(false),
                        },
                        with_fill: None,
                    }])];
                }
                let not_null = SqlExpr::IsNotNull(Box::new(y.clone()));
                g.filter = Some(Box::new(match g.filter.take() {
                    Some(p) => and(*p, not_null),
                    None => not_null,
                }));
            }
            g
        }
        // any_value(x[, ignoreNulls]) is first(x[, ignoreNulls]).
        ("any_value", [x]) => aggregate_like(f, "first_value", vec![x.clone()]),
        ("any_value", [x, flag]) => {
            let Some(ignore) = bool_literal(flag) else {
                return Err("any_value with an ignoreNulls argument that is not a boolean literal".into());
            };
            let mut g = aggregate_like(f, "first_value", vec![x.clone()]);
            if let (SqlExpr::Function(g), true) = (&mut g, ignore) {
                g.null_treatment = Some(sqlparser::ast::NullTreatment::IgnoreNulls);
            }
            g
        }
        // The outer length, NULL for NULL (size gives -1).
        ("array_size", [a]) => case(
            vec![(
                SqlExpr::IsNull(Box::new(a.clone())),
                sql_cast(SqlExpr::value(Value::Null), int()),
            )],
            Some(call("size", vec![a.clone()])),
        ),
        ("map_contains_key", [m, k]) => call("array_has", vec![call("map_keys", vec![m.clone()]), k.clone()]),
        // get(array, i) is a[i]: 0-based, NULL outside the array (constructs.rs plans it).
        ("get", [a, i]) => SqlExpr::CompoundFieldAccess {
            root: Box::new(nested(a.clone())),
            access_chain: vec![sqlparser::ast::AccessExpr::Subscript(
                sqlparser::ast::Subscript::Index { index: i.clone() },
            )],
        },
        ("equal_null", [a, b]) => SqlExpr::IsNotDistinctFrom(Box::new(a.clone()), Box::new(b.clone())),
        ("positive", [x]) => nested(x.clone()),
        ("e", []) => sql_cast(
            number("2.718281828459045"),
            SqlType::Double(sqlparser::ast::ExactNumberInfo::None),
        ),
        // regexp / rlike as functions are the RLIKE operator.
        ("regexp" | "rlike", [s, p]) => rlike(s.clone(), p.clone()),
        // The type names as functions are casts (`date('2024-01-01')`, `int(x)`).
        ("date", [x]) => sql_cast(x.clone(), SqlType::Date),
        ("timestamp", [x]) => sql_cast(x.clone(), super::sql::spark_timestamp_type()),
        ("boolean", [x]) => sql_cast(x.clone(), SqlType::Boolean),
        ("tinyint", [x]) => sql_cast(x.clone(), SqlType::TinyInt(None)),
        ("smallint", [x]) => sql_cast(x.clone(), SqlType::SmallInt(None)),
        ("int", [x]) => sql_cast(x.clone(), int()),
        ("bigint", [x]) => sql_cast(x.clone(), SqlType::BigInt(None)),
        ("float", [x]) => sql_cast(x.clone(), SqlType::Float(sqlparser::ast::ExactNumberInfo::None)),
        ("double", [x]) => sql_cast(x.clone(), SqlType::Double(sqlparser::ast::ExactNumberInfo::None)),
        ("decimal", [x]) => sql_cast(
            x.clone(),
            SqlType::Decimal(sqlparser::ast::ExactNumberInfo::PrecisionAndScale(10, 0)),
        ),
        ("binary", [x]) => sql_cast(x.clone(), SqlType::Bytea),
        // regexp_substr: the first match, NULL when there is none or it is empty (Spark: NullIf of regexp_extract).
        ("regexp_substr", [s, p]) => call(
            "nullif",
            vec![
                call("regexp_extract", vec![s.clone(), p.clone(), number("0")]),
                SqlExpr::value(Value::SingleQuotedString(String::new())),
            ],
        ),
        // weekday: 0 = Monday … 6 = Sunday (dayofweek is 1 = Sunday … 7 = Saturday).
        ("weekday", [d]) => sql_cast(
            SqlExpr::BinaryOp {
                left: Box::new(nested(add(
                    call(
                        "date_part",
                        vec![
                            SqlExpr::value(Value::SingleQuotedString("dow".into())),
                            sql_cast(d.clone(), SqlType::Date),
                        ],
                    ),
                    number("5"),
                ))),
                op: BinaryOperator::Modulo,
                right: Box::new(number("7")),
            },
            int(),
        ),
        // Days since 1970-01-01, both ways.
        ("unix_date", [d]) => sql_cast(sql_cast(d.clone(), SqlType::Date), int()),
        ("date_from_unix_date", [n]) => sql_cast(sql_cast(n.clone(), int()), SqlType::Date),
        // levenshtein(a, b, threshold): -1 when the distance is above the threshold.
        ("levenshtein", [a, b, t]) => {
            let distance = sql_cast(call("levenshtein", vec![a.clone(), b.clone()]), int());
            case(
                vec![
                    (
                        SqlExpr::IsNull(Box::new(t.clone())),
                        sql_cast(SqlExpr::value(Value::Null), int()),
                    ),
                    (
                        SqlExpr::BinaryOp {
                            left: Box::new(distance.clone()),
                            op: BinaryOperator::Gt,
                            right: Box::new(t.clone()),
                        },
                        number("-1"),
                    ),
                ],
                Some(distance),
            )
        }
        // locate(sub, str, pos) / position(sub, str, pos): 1-based, searching from pos; 0 when pos is NULL or below
        // 1, or nothing is found; an empty sub is found at 1 (Java's UTF8String.indexOf).
        ("locate" | "position", [sub, s, pos]) => {
            let found = sql_cast(
                call(
                    "strpos",
                    vec![call("substr", vec![s.clone(), pos.clone()]), sub.clone()],
                ),
                int(),
            );
            let is_null = |e: &SqlExpr| SqlExpr::IsNull(Box::new(e.clone()));
            let null_int = sql_cast(SqlExpr::value(Value::Null), int());
            case(
                vec![
                    (is_null(pos), number("0")),
                    (
                        SqlExpr::BinaryOp {
                            left: Box::new(is_null(sub)),
                            op: BinaryOperator::Or,
                            right: Box::new(is_null(s)),
                        },
                        null_int,
                    ),
                    (lt(pos.clone(), number("1")), number("0")),
                    (
                        SqlExpr::BinaryOp {
                            left: Box::new(sub.clone()),
                            op: BinaryOperator::Eq,
                            right: Box::new(SqlExpr::value(Value::SingleQuotedString(String::new()))),
                        },
                        number("1"),
                    ),
                    (
                        SqlExpr::BinaryOp {
                            left: Box::new(found.clone()),
                            op: BinaryOperator::Eq,
                            right: Box::new(number("0")),
                        },
                        number("0"),
                    ),
                ],
                Some(sql_cast(add(add(found, nested(pos.clone())), number("-1")), int())),
            )
        }
        // The options of to_json/from_json: Spark's `map('k', 'v', …)` as name/value arguments.
        ("to_json", [x, options]) => call("to_json", [vec![x.clone()], json_options(name, options)?].concat()),
        ("from_json", [s, schema, options]) => call(
            "from_json",
            [vec![s.clone(), schema.clone()], json_options(name, options)?].concat(),
        ),
        ("get_json_object", [_, path]) if string_literal(path).is_some_and(|p| p.contains('*')) => {
            return Err(format!(
                "get_json_object with the wildcard path {}",
                string_literal(path).unwrap_or_default()
            ));
        }
        _ => return Ok(None),
    }))
}

/// The literal name/value pairs of a `map(…)` of JSON options.
fn json_options(name: &str, options: &SqlExpr) -> Result<Vec<SqlExpr>, String> {
    let refuse = || format!("{name} with options that are not a map(…) of string literals");
    let SqlExpr::Function(f) = options else {
        return Err(refuse());
    };
    if !f.name.to_string().eq_ignore_ascii_case("map") {
        return Err(refuse());
    }
    let FunctionArguments::List(list) = &f.args else {
        return Err(refuse());
    };
    let mut pairs = Vec::new();
    for a in &list.args {
        match a {
            sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(e))
                if string_literal(e).is_some() =>
            {
                pairs.push(e.clone())
            }
            _ => return Err(refuse()),
        }
    }
    if pairs.len() % 2 != 0 {
        return Err(refuse());
    }
    Ok(pairs)
}

/// Spark's prefix operators DataFusion lacks: `! p` is `NOT p`, `~ x` is `x ^ -1` (the bitwise complement).
pub(crate) fn rewrite_unary(op: &UnaryOperator, operand: &SqlExpr) -> Option<SqlExpr> {
    match op {
        UnaryOperator::BangNot => Some(SqlExpr::UnaryOp {
            op: UnaryOperator::Not,
            expr: Box::new(operand.clone()),
        }),
        UnaryOperator::BitwiseNot => Some(SqlExpr::BinaryOp {
            left: Box::new(nested(operand.clone())),
            op: BinaryOperator::BitwiseXor,
            right: Box::new(number("-1")),
        }),
        _ => None,
    }
}

/// A call of `to` that keeps `f`'s DISTINCT, FILTER and OVER (an aggregate or window use of `f`).
fn aggregate_like(f: &Function, to: &str, args: Vec<SqlExpr>) -> SqlExpr {
    let mut g = f.clone();
    g.name = ObjectName::from(vec![Ident::new(to)]);
    if let FunctionArguments::List(list) = &mut g.args {
        list.args = args.into_iter().map(super::sql::unnamed).collect();
    }
    SqlExpr::Function(g)
}

fn number(n: &str) -> SqlExpr {
    SqlExpr::value(Value::Number(n.into(), false))
}

fn nested(e: SqlExpr) -> SqlExpr {
    SqlExpr::Nested(Box::new(e))
}

fn add(a: SqlExpr, b: SqlExpr) -> SqlExpr {
    SqlExpr::BinaryOp {
        left: Box::new(a),
        op: BinaryOperator::Plus,
        right: Box::new(b),
    }
}

fn and(a: SqlExpr, b: SqlExpr) -> SqlExpr {
    SqlExpr::BinaryOp {
        left: Box::new(nested(a)),
        op: BinaryOperator::And,
        right: Box::new(nested(b)),
    }
}

fn lt(a: SqlExpr, b: SqlExpr) -> SqlExpr {
    SqlExpr::BinaryOp {
        left: Box::new(a),
        op: BinaryOperator::Lt,
        right: Box::new(b),
    }
}

/// `s RLIKE p`: a match of the regular expression anywhere in `s` (DataFusion's SQL planner has no RLIKE).
pub(crate) fn rlike(s: SqlExpr, p: SqlExpr) -> SqlExpr {
    call("regexp_like", vec![s, p])
}

/// `CASE WHEN c1 THEN r1 … [ELSE e] END`.
pub(crate) fn case(whens: Vec<(SqlExpr, SqlExpr)>, otherwise: Option<SqlExpr>) -> SqlExpr {
    SqlExpr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: whens
            .into_iter()
            .map(|(condition, result)| CaseWhen { condition, result })
            .collect(),
        else_result: otherwise.map(Box::new),
    }
}
