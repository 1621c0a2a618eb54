//! The rewrite of a parsed statement for Spark's semantics before DataFusion plans it: CAST as TRY_CAST, LIKE's
//! escapes, `struct`'s field names, RLIKE, field access of any expression, and Spark's functions that DataFusion
//! has under another name, shape or result type (the calls [`super::names`] does not rewrite itself).

use std::ops::ControlFlow;

use datafusion::error::Result;
use sqlparser::ast::{
    BinaryOperator, CastKind, Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value,
    visit_expressions_mut,
};

use super::sql::{args_of, bool_literal, call, set_args, spark_timestamp_type, sql_cast, string_literal, unnamed};

/// Rewrites a parsed statement for Spark's non-ANSI semantics (CAST as TRY_CAST, regexp_replace of every match),
/// or says which construct the embedded engine cannot run faithfully.
pub fn rewrite(statement: &mut Statement) -> Result<(), String> {
    let flow = visit_expressions_mut(statement, |e| {
        match e {
            SqlExpr::Cast { kind, data_type, .. } => {
                if matches!(kind, CastKind::Cast | CastKind::DoubleColon) {
                    *kind = CastKind::TryCast;
                }
                // Spark timestamps have microsecond precision (years 1–9999); DataFusion's default is nanoseconds,
                // which cannot hold `9999-12-31` (the usual dbt_valid_to_current): the cast would give NULL.
                if let sqlparser::ast::DataType::Timestamp(precision @ None, _) = data_type {
                    *precision = Some(6);
                }
                // Spark's BINARY is DataFusion's BYTEA.
                if matches!(data_type, sqlparser::ast::DataType::Binary(_)) {
                    *data_type = sqlparser::ast::DataType::Bytea;
                }
            }
            SqlExpr::Like {
                pattern, escape_char, ..
            }
            | SqlExpr::ILike {
                pattern, escape_char, ..
            } => {
                if let Err(construct) = backslash_escape(pattern, escape_char) {
                    return ControlFlow::Break(construct);
                }
            }
            // `struct(1, x)`: Spark names the fields `col1` and `x`, DataFusion `c0` and `c1`.
            SqlExpr::Struct { values, fields } if fields.is_empty() && !values.is_empty() => {
                let args = values
                    .iter()
                    .enumerate()
                    .flat_map(|(i, v)| {
                        let (name, value) = match v {
                            SqlExpr::Named { expr, name } => (name.value.clone(), (**expr).clone()),
                            SqlExpr::Identifier(id) => (id.value.clone(), v.clone()),
                            SqlExpr::CompoundIdentifier(ids) => {
                                (ids.last().map(|i| i.value.clone()).unwrap_or_default(), v.clone())
                            }
                            _ => (format!("col{}", i + 1), v.clone()),
                        };
                        [unnamed(SqlExpr::value(Value::SingleQuotedString(name))), unnamed(value)]
                    })
                    .collect();
                *e = SqlExpr::Function(sqlparser::ast::Function {
                    name: sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::new("named_struct")]),
                    uses_odbc_syntax: false,
                    parameters: FunctionArguments::None,
                    args: FunctionArguments::List(sqlparser::ast::FunctionArgumentList {
                        duplicate_treatment: None,
                        args,
                        clauses: vec![],
                    }),
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: vec![],
                });
            }
            SqlExpr::RLike {
                negated, expr, pattern, ..
            } => {
                let like = super::names::rlike((**expr).clone(), (**pattern).clone());
                *e = if *negated {
                    SqlExpr::UnaryOp {
                        op: sqlparser::ast::UnaryOperator::Not,
                        expr: Box::new(like),
                    }
                } else {
                    like
                };
            }
            // `f(…).a.b`: DataFusion's planner reads dots after columns only (`spark_get_field` reads structs and
            // arrays of structs).
            SqlExpr::CompoundFieldAccess { root, access_chain }
                if !matches!(**root, SqlExpr::Identifier(_) | SqlExpr::CompoundIdentifier(_))
                    && access_chain
                        .iter()
                        .all(|a| matches!(a, sqlparser::ast::AccessExpr::Dot(SqlExpr::Identifier(_)))) =>
            {
                let mut out = (**root).clone();
                for a in access_chain.iter() {
                    if let sqlparser::ast::AccessExpr::Dot(SqlExpr::Identifier(id)) = a {
                        out = call(
                            "spark_get_field",
                            vec![out, SqlExpr::value(Value::SingleQuotedString(id.value.clone()))],
                        );
                    }
                }
                *e = out;
            }
            // Spark's type of an interval literal (`interval month`), which DataFusion's value does not hold.
            SqlExpr::Interval(interval) => {
                if let Some(new) = super::intervals::ansi_literal(interval) {
                    *e = new;
                }
            }
            SqlExpr::UnaryOp { op, expr } => {
                if let Some(new) = super::names::rewrite_unary(op, expr) {
                    *e = new;
                }
            }
            // Spark's seconds with their fraction, as DECIMAL(8,6); DataFusion's are whole.
            SqlExpr::Extract {
                field: sqlparser::ast::DateTimeField::Second | sqlparser::ast::DateTimeField::Seconds,
                ..
            } => return ControlFlow::Break("EXTRACT(SECOND FROM …) (Spark's DECIMAL(8,6) seconds)".to_string()),
            SqlExpr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                if let Some(refusal) = crate::spark_functions::refusal(&name) {
                    return ControlFlow::Break(refusal);
                }
                if let FunctionArguments::List(list) = &mut f.args {
                    let n = list.args.len();
                    if name == "regexp_replace" && n == 3 {
                        list.args
                            .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::value(
                                Value::SingleQuotedString("g".into()),
                            ))));
                    }
                }
                match spark_call(&name, f) {
                    Err(refusal) => return ControlFlow::Break(refusal),
                    Ok(Some(new)) => {
                        *e = new;
                        return ControlFlow::Continue(());
                    }
                    Ok(None) => {}
                }
                if let Some(new) = spark_function(&name, f) {
                    *e = new;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    });
    match flow {
        ControlFlow::Break(construct) => Err(construct),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// DataFusion's LIKE escapes with the backslash only. A literal pattern with another escape character
/// (`LIKE '%!_%' ESCAPE '!'`) is rewritten to the backslash form, as Spark reads it: the escape character before `_`,
/// `%` or itself makes that character literal; anything else after it, or a pattern ending with it, is an error in
/// Spark and refused here. A pattern that is not a literal cannot be rewritten and is refused.
fn backslash_escape(pattern: &mut SqlExpr, escape: &mut Option<Value>) -> Result<(), String> {
    let esc = match escape {
        None => return Ok(()),
        Some(Value::SingleQuotedString(s)) => s.clone(),
        Some(other) => return Err(format!("LIKE … ESCAPE {other}")),
    };
    let mut chars = esc.chars();
    let e = match (chars.next(), chars.next()) {
        (Some(e), None) => e,
        _ => return Err(format!("LIKE … ESCAPE '{esc}' (the escape must be one character)")),
    };
    if e == '\\' {
        return Ok(());
    }
    let literal = match pattern {
        SqlExpr::Value(v) => match &mut v.value {
            Value::SingleQuotedString(p) => p,
            _ => {
                return Err(format!(
                    "LIKE … ESCAPE '{e}' with a pattern that is not a string literal"
                ));
            }
        },
        _ => {
            return Err(format!(
                "LIKE … ESCAPE '{e}' with a pattern that is not a string literal"
            ));
        }
    };
    let mut out = String::with_capacity(literal.len() + 4);
    let mut it = literal.chars();
    while let Some(c) = it.next() {
        match c {
            c if c == e => match it.next() {
                Some(n @ ('_' | '%')) => {
                    out.push('\\');
                    out.push(n);
                }
                Some(n) if n == e => out.push(n),
                Some(n) => return Err(format!("LIKE … ESCAPE '{e}': the escape character before '{n}'")),
                None => {
                    return Err(format!(
                        "LIKE … ESCAPE '{e}': a pattern ending with the escape character"
                    ));
                }
            },
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    *literal = out;
    *escape = None;
    Ok(())
}

/// The charsets Spark's `encode`/`decode` take that are UTF-8 (the only one the engine reads).
fn is_utf8(charset: &str) -> bool {
    matches!(charset.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
}

/// Spark functions whose result type, argument types or shape differ from DataFusion's namesake, rewritten to give
/// Spark's answer and type; `Err` refuses a form the engine cannot answer as Spark does. `Ok(None)`: no change (the
/// call may have been edited in place).
fn spark_call(name: &str, f: &mut sqlparser::ast::Function) -> Result<Option<SqlExpr>, String> {
    use sqlparser::ast::{DataType as SqlType, Ident, ObjectName};
    if f.name.0.len() != 1 {
        return Ok(None);
    }
    let Some(args) = args_of(f) else {
        return Ok(None);
    };
    let with_type = |f: &sqlparser::ast::Function, t: SqlType| Ok(Some(sql_cast(SqlExpr::Function(f.clone()), t)));
    // Window functions: Spark's ranks are INT (DataFusion's unsigned BIGINT); Spark accepts and ignores arguments
    // to the ranking functions; `first_value(x, true)` is `first_value(x) IGNORE NULLS`.
    if f.over.is_some() {
        return match name {
            "row_number" | "rank" | "dense_rank" | "ntile" => {
                if name != "ntile" {
                    set_args(f, vec![]);
                }
                with_type(f, SqlType::Int(None))
            }
            "percent_rank" | "cume_dist" => {
                set_args(f, vec![]);
                Ok(None)
            }
            "first_value" | "last_value" | "first" | "last" => ignore_nulls_argument(name, f, &args),
            _ => Ok(None),
        };
    }
    if let Some(e) = java_pattern_call(name, &args)? {
        return Ok(Some(e));
    }
    match (name, args.as_slice()) {
        ("first" | "last" | "first_value" | "last_value", _) => ignore_nulls_argument(name, f, &args),
        ("nvl" | "ifnull", [a, b]) => Ok(Some(call("coalesce", vec![a.clone(), b.clone()]))),
        ("isnan", [_]) => Ok(Some(call(
            "coalesce",
            vec![SqlExpr::Function(f.clone()), SqlExpr::value(Value::Boolean(false))],
        ))),
        // Spark computes these in doubles whatever the argument (DataFusion: in FLOAT for integers, or not at all for
        // decimals); `median` is `percentile(x, 0.5)`, a DOUBLE.
        ("rint" | "atan2" | "median", _) => {
            set_args(
                f,
                args.iter()
                    .map(|a| sql_cast(a.clone(), SqlType::Double(sqlparser::ast::ExactNumberInfo::None)))
                    .collect(),
            );
            Ok(None)
        }
        ("mod", [a, b]) => Ok(Some(SqlExpr::BinaryOp {
            left: Box::new(SqlExpr::Nested(Box::new(a.clone()))),
            op: BinaryOperator::Modulo,
            right: Box::new(SqlExpr::Nested(Box::new(b.clone()))),
        })),
        // position(substr, str[, pos]) is locate.
        ("position", [sub, s]) => {
            f.name = ObjectName::from(vec![Ident::new("strpos")]);
            set_args(f, vec![s.clone(), sub.clone()]);
            Ok(None)
        }
        // Spark: concat_ws(sep) is '' (NULL for a NULL separator).
        ("concat_ws", [sep]) => {
            set_args(
                f,
                vec![sep.clone(), SqlExpr::value(Value::SingleQuotedString(String::new()))],
            );
            Ok(None)
        }
        // Spark's encode/decode convert between strings and bytes in a charset (DataFusion's are base64/hex).
        ("encode", [x, charset]) => match string_literal(charset) {
            Some(c) if is_utf8(c) => Ok(Some(sql_cast(x.clone(), SqlType::Bytea))),
            _ => Err(format!("encode with the charset {charset} (UTF-8 only)")),
        },
        ("decode", [x, charset]) => match string_literal(charset) {
            Some(c) if is_utf8(c) => Ok(Some(sql_cast(x.clone(), SqlType::String(None)))),
            _ => Err(format!("decode with the charset {charset} (UTF-8 only)")),
        },
        // decode(expr, search, result, …[, default]): the first search equal to expr (NULL matches NULL).
        ("decode", [x, rest @ ..]) if rest.len() >= 2 => {
            let mut conditions = Vec::new();
            for pair in rest.chunks_exact(2) {
                conditions.push(sqlparser::ast::CaseWhen {
                    condition: SqlExpr::IsNotDistinctFrom(Box::new(x.clone()), Box::new(pair[0].clone())),
                    result: pair[1].clone(),
                });
            }
            Ok(Some(SqlExpr::Case {
                case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions,
                else_result: (rest.len() % 2 == 1).then(|| Box::new(rest[rest.len() - 1].clone())),
            }))
        }
        ("date_part" | "datepart", [part, _]) => match string_literal(part) {
            Some(p)
                if matches!(
                    p.to_ascii_lowercase().as_str(),
                    "s" | "sec" | "secs" | "second" | "seconds"
                ) =>
            {
                Err(format!("{name}('{p}', …) (Spark's DECIMAL(8,6) seconds)"))
            }
            Some(_) => Ok(None),
            None => Err(format!("{name} with a part that is not a literal")),
        },
        // Without a pattern, to_date and to_timestamp are Spark's casts.
        ("to_date", [x]) => Ok(Some(sql_cast(x.clone(), SqlType::Date))),
        ("to_timestamp", [x]) => Ok(Some(sql_cast(x.clone(), spark_timestamp_type()))),
        // date_trunc reads its argument as a timestamp (a date is midnight; a string is cast as Spark casts it).
        ("date_trunc", [fmt, x]) if !is_timestamp_cast(x) => {
            let x = sql_cast(x.clone(), spark_timestamp_type());
            let mut g = f.clone();
            set_args(&mut g, vec![fmt.clone(), x.clone()]);
            spark_call(name, &mut g).map(|r| r.or(Some(SqlExpr::Function(g))))
        }
        // A format that is not a literal: one branch per unit Spark knows (any case), NULL for any other.
        ("date_trunc", [fmt, x]) | ("trunc", [x, fmt]) if string_literal(fmt).is_none() => {
            let (units, to) = truncation_units(name);
            let branch = |u: &str| {
                let unit = SqlExpr::value(Value::SingleQuotedString(u.to_string()));
                if name == "trunc" {
                    call("trunc", vec![x.clone(), unit])
                } else {
                    call("date_trunc", vec![unit, x.clone()])
                }
            };
            Ok(Some(SqlExpr::Case {
                case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                operand: Some(Box::new(call("lower", vec![fmt.clone()]))),
                conditions: units
                    .iter()
                    .map(|u| sqlparser::ast::CaseWhen {
                        condition: SqlExpr::value(Value::SingleQuotedString(u.to_string())),
                        result: branch(u),
                    })
                    .collect(),
                else_result: Some(Box::new(sql_cast(SqlExpr::value(Value::Null), to))),
            }))
        }
        // A unit Spark does not know gives NULL (DataFusion fails); `trunc` of a date knows no unit below the week.
        ("date_trunc", [fmt, _]) | ("trunc", [_, fmt])
            if !string_literal(fmt)
                .is_some_and(|u| truncation_units(name).0.contains(&u.to_ascii_lowercase().as_str())) =>
        {
            Ok(Some(sql_cast(SqlExpr::value(Value::Null), truncation_units(name).1)))
        }
        // sort_array(a[, ascending]): NULLs first ascending, last descending.
        ("sort_array", [a, rest @ ..]) if rest.len() <= 1 => {
            let ascending = match rest {
                [] => true,
                [flag] => {
                    bool_literal(flag).ok_or_else(|| "sort_array with an order that is not a literal".to_string())?
                }
                _ => true,
            };
            let (order, nulls) = if ascending {
                ("ASC", "NULLS FIRST")
            } else {
                ("DESC", "NULLS LAST")
            };
            Ok(Some(call(
                "array_sort",
                vec![
                    a.clone(),
                    SqlExpr::value(Value::SingleQuotedString(order.into())),
                    SqlExpr::value(Value::SingleQuotedString(nulls.into())),
                ],
            )))
        }
        // Spark's size of a NULL array or map is -1 (spark.sql.legacy.sizeOfNull, true with ANSI off).
        // datafusion-spark's `size`: the outer length (DataFusion's `cardinality` multiplies the dimensions of
        // nested arrays), -1 for NULL.
        ("cardinality" | "size", [x]) => Ok(Some(call("size", vec![x.clone()]))),
        // DataFusion's take an INT argument only (integer literals are BIGINT while a query is planned).
        ("space" | "factorial", [n]) => {
            set_args(f, vec![sql_cast(n.clone(), SqlType::Int(None))]);
            Ok(None)
        }
        // Spark: NULL for a NULL string or pattern (DataFusion: 0).
        ("regexp_count", [s, p]) => Ok(Some(SqlExpr::Case {
            case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
            end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
            operand: None,
            conditions: vec![sqlparser::ast::CaseWhen {
                condition: SqlExpr::BinaryOp {
                    left: Box::new(SqlExpr::IsNull(Box::new(s.clone()))),
                    op: BinaryOperator::Or,
                    right: Box::new(SqlExpr::IsNull(Box::new(p.clone()))),
                },
                result: sql_cast(SqlExpr::value(Value::Null), SqlType::Int(None)),
            }],
            else_result: Some(Box::new(sql_cast(SqlExpr::Function(f.clone()), SqlType::Int(None)))),
        })),
        ("regexp_instr", _) => with_type(f, SqlType::Int(None)),
        ("array_position" | "regr_count" | "width_bucket", _) => with_type(f, SqlType::BigInt(None)),
        ("grouping", _) => with_type(f, SqlType::TinyInt(None)),
        _ => super::names::rewrite(name, f, &args),
    }
}

/// True for `TRY_CAST(… AS TIMESTAMP(6))`, the argument `date_trunc` is given.
fn is_timestamp_cast(e: &SqlExpr) -> bool {
    matches!(
        e,
        SqlExpr::Cast {
            data_type: sqlparser::ast::DataType::Timestamp(Some(6), _),
            ..
        }
    )
}

/// The units Spark's `trunc` (of a date) or `date_trunc` (of a timestamp) knows, in lower case, and the result type.
fn truncation_units(name: &str) -> (&'static [&'static str], sqlparser::ast::DataType) {
    use sqlparser::ast::DataType as SqlType;
    const DATE: &[&str] = &["year", "yyyy", "yy", "quarter", "month", "mm", "mon", "week"];
    const TIMESTAMP: &[&str] = &[
        "year",
        "yyyy",
        "yy",
        "quarter",
        "month",
        "mm",
        "mon",
        "week",
        "day",
        "dd",
        "hour",
        "minute",
        "second",
        "millisecond",
        "microsecond",
    ];
    if name == "trunc" {
        (DATE, SqlType::Date)
    } else {
        (TIMESTAMP, spark_timestamp_type())
    }
}

/// The datetime functions with a Java pattern (glue-local's `datetime`): `date_format`, `to_timestamp`, `to_date`,
/// `unix_timestamp`, `to_unix_timestamp`, `from_unixtime`. A literal pattern Spark refuses is refused here.
fn java_pattern_call(name: &str, args: &[SqlExpr]) -> Result<Option<SqlExpr>, String> {
    use sqlparser::ast::DataType as SqlType;
    const DEFAULT: &str = "yyyy-MM-dd HH:mm:ss";
    let default = || SqlExpr::value(Value::SingleQuotedString(DEFAULT.into()));
    let (value, pattern) = match (name, args) {
        (
            "date_format" | "to_timestamp" | "to_date" | "unix_timestamp" | "to_unix_timestamp" | "from_unixtime",
            [v, p],
        ) => (v.clone(), p.clone()),
        ("unix_timestamp" | "to_unix_timestamp" | "from_unixtime", [v]) => (v.clone(), default()),
        _ => return Ok(None),
    };
    if let Some(p) = string_literal(&pattern) {
        let compiled = crate::datetime::JavaPattern::new(p).map_err(|e| format!("{name} with {e}"))?;
        if matches!(
            name,
            "to_timestamp" | "to_date" | "unix_timestamp" | "to_unix_timestamp"
        ) {
            compiled.check_parsable().map_err(|e| format!("{name} with {e}"))?;
        }
    }
    let timestamp = spark_timestamp_type();
    Ok(Some(match name {
        "date_format" => call("spark_date_format", vec![sql_cast(value, timestamp), pattern]),
        "to_timestamp" => call("spark_to_timestamp", vec![value, pattern]),
        "to_date" => sql_cast(call("spark_to_timestamp", vec![value, pattern]), SqlType::Date),
        "from_unixtime" => call(
            "spark_date_format",
            vec![
                call("to_timestamp_seconds", vec![sql_cast(value, SqlType::BigInt(None))]),
                pattern,
            ],
        ),
        _ => call("spark_unix_timestamp", vec![value, pattern]),
    }))
}

/// Spark's `first(x, ignoreNulls)` / `last(…)` / `first_value(…)` / `last_value(…)`: the second argument, a boolean
/// literal, is DataFusion's `IGNORE NULLS`; `first`/`last` are DataFusion's `first_value`/`last_value`.
fn ignore_nulls_argument(
    name: &str,
    f: &mut sqlparser::ast::Function,
    args: &[SqlExpr],
) -> Result<Option<SqlExpr>, String> {
    use sqlparser::ast::{Ident, NullTreatment, ObjectName};
    let to = if name.starts_with("first") {
        "first_value"
    } else {
        "last_value"
    };
    f.name = ObjectName::from(vec![Ident::new(to)]);
    match args {
        [_] => Ok(None),
        [x, flag] => match bool_literal(flag) {
            Some(ignore) => {
                set_args(f, vec![x.clone()]);
                if ignore {
                    f.null_treatment = Some(NullTreatment::IgnoreNulls);
                }
                Ok(None)
            }
            None => Err(format!(
                "{name} with an ignoreNulls argument that is not a boolean literal"
            )),
        },
        _ => Err(format!("{name} with {} arguments", args.len())),
    }
}

/// Spark functions DataFusion knows under another name or shape. `None` leaves the call as it is.
fn spark_function(name: &str, f: &mut sqlparser::ast::Function) -> Option<SqlExpr> {
    use sqlparser::ast::{DataType as SqlType, Ident, ObjectName};
    if f.over.is_some() || f.name.0.len() != 1 {
        return None;
    }
    let args = args_of(f)?;
    let rename = |f: &mut sqlparser::ast::Function, to: &str| f.name = ObjectName::from(vec![Ident::new(to)]);
    let date_part = |part: &str, arg: SqlExpr| {
        let mut g = f.clone();
        rename(&mut g, "date_part");
        if let FunctionArguments::List(list) = &mut g.args {
            list.args = vec![
                unnamed(SqlExpr::value(Value::SingleQuotedString(part.into()))),
                unnamed(arg),
            ];
        }
        SqlExpr::Function(g)
    };
    let part = match name {
        "year" => Some("year"),
        "month" => Some("month"),
        "day" | "dayofmonth" => Some("day"),
        "hour" => Some("hour"),
        "minute" => Some("minute"),
        "second" => Some("second"),
        "quarter" => Some("quarter"),
        "dayofyear" => Some("doy"),
        "weekofyear" => Some("week"),
        _ => None,
    };
    // Spark casts the argument: a string or timestamp to a date for the date fields, to a timestamp for the time of day.
    let as_date = |x: &SqlExpr| sql_cast(x.clone(), SqlType::Date);
    let as_timestamp = |x: &SqlExpr| sql_cast(x.clone(), spark_timestamp_type());
    match (name, args.as_slice()) {
        ("hour" | "minute" | "second", [x]) => Some(date_part(part.unwrap_or_default(), as_timestamp(x))),
        (_, [x]) if part.is_some() => Some(date_part(part.unwrap_or_default(), as_date(x))),
        // 1 = Sunday … 7 = Saturday (datafusion-spark's date_part follows Spark here).
        ("dayofweek", [x]) => Some(date_part("dow", as_date(x))),
        ("last_day", [x]) => {
            set_args(f, vec![as_date(x)]);
            None
        }
        ("next_day", [x, day]) => {
            set_args(f, vec![as_date(x), day.clone()]);
            None
        }
        // Spark names a struct's fields after the columns it is given, `col1`, `col2`, … for anything else.
        ("struct", args) if !args.is_empty() => {
            let mut named = f.clone();
            rename(&mut named, "named_struct");
            if let FunctionArguments::List(list) = &mut named.args {
                list.args = args
                    .iter()
                    .enumerate()
                    .flat_map(|(i, a)| {
                        let name = match a {
                            SqlExpr::Identifier(id) => id.value.clone(),
                            SqlExpr::CompoundIdentifier(ids) => ids.last().map(|i| i.value.clone()).unwrap_or_default(),
                            _ => format!("col{}", i + 1),
                        };
                        [
                            unnamed(SqlExpr::value(Value::SingleQuotedString(name))),
                            unnamed(a.clone()),
                        ]
                    })
                    .collect();
            }
            Some(SqlExpr::Function(named))
        }
        ("isnull", [x]) => Some(SqlExpr::IsNull(Box::new(x.clone()))),
        ("isnotnull", [x]) => Some(SqlExpr::IsNotNull(Box::new(x.clone()))),
        ("string", [x]) => Some(sql_cast(x.clone(), SqlType::String(None))),
        ("startswith" | "endswith" | "sign", _) => {
            rename(
                f,
                match name {
                    "startswith" => "starts_with",
                    "endswith" => "ends_with",
                    _ => "signum",
                },
            );
            None
        }
        // locate(substr, str) is strpos(str, substr).
        ("locate", [sub, s]) => {
            rename(f, "strpos");
            if let FunctionArguments::List(list) = &mut f.args {
                list.args = vec![unnamed(s.clone()), unnamed(sub.clone())];
            }
            None
        }
        // Spark's integer literals are INT; the date functions take INT day/month counts.
        ("date_add" | "dateadd" | "date_sub" | "add_months", [d, n]) => {
            if name == "dateadd" {
                rename(f, "date_add");
            }
            set_args(f, vec![as_date(d), sql_cast(n.clone(), SqlType::Int(None))]);
            None
        }
        _ => None,
    }
}
