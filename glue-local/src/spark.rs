//! Spark semantics (ANSI mode off, as Glue runs Spark) on top of DataFusion, where DataFusion's own differ:
//!
//! - `CAST` never fails: a value that does not convert is NULL (`CAST` is planned as `TRY_CAST`); strings are
//!   trimmed before they are cast, `'12.5'` casts to the integer 12, and `''` to a NULL decimal;
//! - literals with a decimal point are decimals (`1.1 + 2.2` is exactly 3.3);
//! - `/` on integers divides as doubles (`7 / 2` is 3.5); on decimals the result has Spark's precision and scale
//!   (`1.0 / 3` is 0.333333); `/` and `%` by zero are NULL, not an error;
//! - `regexp_replace` replaces every match;
//! - Spark's names for DataFusion functions: `year`, `month`, `day(ofmonth)`, `hour`, `minute`, `quarter`,
//!   `dayofyear`, `weekofyear`, `dayofweek`, `isnull`, `isnotnull`, `string`, `startswith`, `endswith`, `sign`,
//!   `locate`; INT day counts for `date_add`, `date_sub`, `add_months`;
//! - string literals are read as Spark reads them (glue-sql's tokens: `'%\_%'` keeps its backslash, `'a' 'b'` is
//!   `'ab'`), and `LIKE … ESCAPE '<c>'` with a literal pattern is rewritten to DataFusion's backslash escapes;
//! - `initcap` is Spark's ([`crate::functions::SparkInitcap`]);
//! - NULLs sort first in ascending order (set in the session's parser options);
//! - Spark's functions come from `datafusion-spark`.
//!
//! A query DataFusion cannot read or plan (syntax it does not know, a function it lacks) is reported as
//! `unsupported on the embedded engine: …` rather than as a generic error.

use std::ops::ControlFlow;

use arrow_schema::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, config::ConfigOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr::{ScalarFunction, TryCast};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, cast, lit};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;
use sqlparser::ast::{
    BinaryOperator, CastKind, Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value,
    visit_expressions_mut,
};

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
                let like = crate::spark_names::rlike((**expr).clone(), (**pattern).clone());
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
            SqlExpr::UnaryOp { op, expr } => {
                if let Some(new) = crate::spark_names::rewrite_unary(op, expr) {
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

pub(crate) fn unnamed(e: SqlExpr) -> FunctionArg {
    FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
}

fn args_of(f: &sqlparser::ast::Function) -> Option<Vec<SqlExpr>> {
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    list.args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// `TRY_CAST(e AS to)` in the SQL syntax tree (the engine plans every CAST as Spark's non-failing one).
pub(crate) fn sql_cast(e: SqlExpr, to: sqlparser::ast::DataType) -> SqlExpr {
    SqlExpr::Cast {
        kind: CastKind::TryCast,
        expr: Box::new(e),
        data_type: to,
        array: false,
        format: None,
    }
}

pub(crate) fn string_literal(e: &SqlExpr) -> Option<&str> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn bool_literal(e: &SqlExpr) -> Option<bool> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            Value::Boolean(b) => Some(*b),
            _ => None,
        },
        _ => None,
    }
}

fn set_args(f: &mut sqlparser::ast::Function, args: Vec<SqlExpr>) {
    if let FunctionArguments::List(list) = &mut f.args {
        list.args = args.into_iter().map(unnamed).collect();
    }
}

/// A call of `name` with unnamed arguments, in the SQL syntax tree.
pub(crate) fn call(name: &str, args: Vec<SqlExpr>) -> SqlExpr {
    SqlExpr::Function(sqlparser::ast::Function {
        name: sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(sqlparser::ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: args.into_iter().map(unnamed).collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
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
        _ => crate::spark_names::rewrite(name, f, &args),
    }
}

/// Spark's `timestamp` in the syntax tree: microseconds (DataFusion's default, nanoseconds, cannot hold 9999-12-31).
pub(crate) fn spark_timestamp_type() -> sqlparser::ast::DataType {
    sqlparser::ast::DataType::Timestamp(Some(6), sqlparser::ast::TimezoneInfo::None)
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

/// Rewrites each expression of a plan node with `f`, keeping the output names the planner gave (`count(Int64(1))`:
/// nodes above refer to them), and recomputes the node's schema whatever changed (an input's column type may have).
fn rewrite_expressions(
    node: LogicalPlan,
    mut f: impl FnMut(Expr) -> Result<Transformed<Expr>>,
) -> Result<Transformed<LogicalPlan>> {
    let names = datafusion::logical_expr::expr_rewriter::NamePreserver::new(&node);
    let t = node.map_expressions(|e| {
        let name = names.save(&e);
        f(e).map(|t| t.update_data(|e| name.restore(e)))
    })?;
    Ok(Transformed::yes(t.data.recompute_schema()?))
}

/// Spark's integer literals: a number without a point that fits 32 bits is an INT (`1`, `array(1, 2)` is
/// `array<int>`), a larger one a BIGINT, one beyond 64 bits a DECIMAL(20,0). DataFusion types them all BIGINT (and
/// the largest as an unsigned integer). Runs before type coercion, so that `int_column + 1` stays INT as in Spark.
/// A literal directly under a cast keeps its type (`1L` is read as `CAST(1 AS BIGINT)` by glue-sql's tokens), and
/// `LIMIT`/`OFFSET` keep theirs (positional `ORDER BY 1` and `GROUP BY 1` are resolved before this rule runs).
#[derive(Debug, Default)]
pub struct SparkIntLiterals;

fn spark_int_literal(v: &ScalarValue) -> Option<ScalarValue> {
    match v {
        ScalarValue::Int64(Some(n)) => i32::try_from(*n).ok().map(|n| ScalarValue::Int32(Some(n))),
        // Beyond a long, Spark's integer literal is a DECIMAL of its digits.
        ScalarValue::UInt64(Some(n)) => Some(ScalarValue::Decimal128(Some(*n as i128), n.to_string().len() as u8, 0)),
        _ => None,
    }
}

fn spark_int_literals(e: Expr) -> Result<Transformed<Expr>> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    e.transform_down(|e| match &e {
        Expr::Cast(c) if matches!(*c.expr, Expr::Literal(..)) => {
            Ok(Transformed::new(e, false, TreeNodeRecursion::Jump))
        }
        Expr::TryCast(c) if matches!(*c.expr, Expr::Literal(..)) => {
            Ok(Transformed::new(e, false, TreeNodeRecursion::Jump))
        }
        Expr::Literal(v, meta) => match spark_int_literal(v) {
            Some(n) => Ok(Transformed::yes(Expr::Literal(n, meta.clone()))),
            None => Ok(Transformed::no(e)),
        },
        _ => Ok(Transformed::no(e)),
    })
}

/// A `VALUES` column takes Spark's types: its rows are rewritten as [`spark_int_literals`] rewrites any expression
/// (`1` INT, `array(1, 2)` `array<int>`), without the casts DataFusion's planner added to its own common type, and the
/// column's type is the rows' common type as Spark finds it ([`values_type`]): `(1), (CAST(NULL AS INT))` is INT,
/// `(1, 2.5), (2, 3)` is DECIMAL(11,1), `(array(1, 2)), (array())` is `array<int>`. Each row is then cast to it.
/// When Spark's rule is not known here the column stays as DataFusion typed it.
fn spark_int_values(values: datafusion::logical_expr::Values) -> Result<Transformed<LogicalPlan>> {
    use datafusion::logical_expr::Values;
    let Values { schema, mut values } = values;
    let empty = DFSchema::empty();
    let mut changed = false;
    let mut fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (j, field) in fields.iter_mut().enumerate() {
        let rewritten: Vec<Expr> = values
            .iter()
            .map(|row| {
                // The planner's own coercion of a value is a CAST to the column's type (the user's casts are TRY_CASTs
                // here; a typed literal such as `TIMESTAMP '…'` is a CAST from a string, and is kept).
                let natural = match &row[j] {
                    Expr::Cast(c) if &c.data_type == field.data_type() && is_constant_value(&c.expr) => {
                        (*c.expr).clone()
                    }
                    e => e.clone(),
                };
                spark_int_literals(natural).map(|t| t.data)
            })
            .collect::<Result<_>>()?;
        let types: Vec<DataType> = rewritten
            .iter()
            .map(|e| match e {
                Expr::Literal(v, _) if v.is_null() => DataType::Null,
                e => e.get_type(&empty).unwrap_or(DataType::Null),
            })
            .collect();
        let Some(target) = values_type(&types) else {
            continue;
        };
        if &target == field.data_type() {
            continue;
        }
        for ((row, e), t) in values.iter_mut().zip(rewritten).zip(&types) {
            row[j] = match e {
                Expr::Literal(v, meta) if v.is_null() => Expr::Literal(ScalarValue::try_from(&target)?, meta),
                e if t == &target => e,
                e => cast(e, target.clone()),
            };
        }
        *field = field.clone().with_data_type(target);
        changed = true;
    }
    let schema = if changed {
        let qualified: Vec<_> = schema
            .iter()
            .zip(fields)
            .map(|((q, _), f)| (q.cloned(), std::sync::Arc::new(f)))
            .collect();
        std::sync::Arc::new(DFSchema::new_with_metadata(qualified, schema.metadata().clone())?)
    } else {
        schema
    };
    Ok(Transformed::new_transformed(
        LogicalPlan::Values(Values { schema, values }),
        changed,
    ))
}

/// A literal other than a string, a `TRY_CAST` of a literal, or an array, struct or map built of such values: what
/// a VALUES row holds when the planner's CAST around it is its own coercion (`7.5 DIV 2` or `TIMESTAMP '…'` keep
/// their CAST).
fn is_constant_value(e: &Expr) -> bool {
    match e {
        Expr::Literal(v, _) => !matches!(v.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
        Expr::TryCast(c) => matches!(*c.expr, Expr::Literal(..)) || is_constant_value(&c.expr),
        Expr::ScalarFunction(f) => {
            matches!(
                f.func.name(),
                "array" | "make_array" | "named_struct" | "struct" | "map"
            ) && f
                .args
                .iter()
                .all(|a| is_constant_value(a) || matches!(a, Expr::Literal(..)))
        }
        _ => false,
    }
}

/// Spark's common type of a VALUES column's rows, where it is known here: NULLs (and empty arrays) take the others'
/// type; equal types (nested fields all nullable) are that type; arrays have the common type of their elements;
/// integers and decimals the wider decimal. `None`: no rule here.
fn values_type(types: &[DataType]) -> Option<DataType> {
    let known: Vec<DataType> = types.iter().filter(|t| !t.is_null()).map(loosened).collect();
    let first = known.first()?.clone();
    if known.iter().all(|t| t == &first) {
        return Some(first);
    }
    if known.iter().all(is_list) {
        let elements: Vec<DataType> = known
            .iter()
            .map(|t| match t {
                DataType::List(f) => f.data_type().clone(),
                _ => DataType::Null,
            })
            .collect();
        let inner = values_type(&elements)?;
        return Some(DataType::List(std::sync::Arc::new(
            datafusion::arrow::datatypes::Field::new_list_field(inner, true),
        )));
    }
    // Structs with the same field names: field by field.
    if let DataType::Struct(names) = &first
        && known.iter().all(|t| {
            matches!(t, DataType::Struct(f) if f.len() == names.len()
                && f.iter().zip(names.iter()).all(|(a, b)| a.name() == b.name()))
        })
    {
        let fields = names
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let column: Vec<DataType> = known
                    .iter()
                    .map(|t| match t {
                        DataType::Struct(fs) => fs[i].data_type().clone(),
                        _ => DataType::Null,
                    })
                    .collect();
                values_type(&column)
                    .map(|t| std::sync::Arc::new(datafusion::arrow::datatypes::Field::new(f.name(), t, true)))
            })
            .collect::<Option<Vec<_>>>()?;
        return Some(DataType::Struct(fields.into()));
    }
    spark_wider(&known)
}

/// `t` with every nested field nullable and lists' fields named as Arrow names them.
fn loosened(t: &DataType) -> DataType {
    use datafusion::arrow::datatypes::Field;
    use std::sync::Arc;
    match t {
        DataType::List(f) => DataType::List(Arc::new(Field::new_list_field(loosened(f.data_type()), true))),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| Arc::new(Field::new(f.name(), loosened(f.data_type()), true)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A subquery's references to the outer query take the outer columns' types, which this rule may have changed (an
/// outer VALUES column that became INT): otherwise a correlated comparison is planned between BIGINT and INT and fails
/// when it runs.
fn outer_reference_types(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::logical_expr::{Subquery, expr::Exists, expr::InSubquery};
    fn retype(sq: &Subquery, schema: &DFSchema) -> Result<Subquery> {
        let fix = |e: Expr| {
            e.transform_up(|e| match &e {
                Expr::OuterReferenceColumn(f, c) => match schema.qualified_field_from_column(c).map(|(_, f)| f) {
                    Ok(outer) if outer.data_type() != f.data_type() => {
                        Ok(Transformed::yes(Expr::OuterReferenceColumn(
                            std::sync::Arc::new(f.as_ref().clone().with_data_type(outer.data_type().clone())),
                            c.clone(),
                        )))
                    }
                    _ => Ok(Transformed::no(e)),
                },
                _ => Ok(Transformed::no(e)),
            })
        };
        let plan = sq
            .subquery
            .as_ref()
            .clone()
            .transform_up_with_subqueries(|n| {
                let t = n.map_expressions(&fix)?;
                if t.transformed {
                    Ok(Transformed::yes(t.data.recompute_schema()?))
                } else {
                    Ok(t)
                }
            })?
            .data;
        let outer_ref_columns = sq
            .outer_ref_columns
            .iter()
            .map(|e| fix(e.clone()).map(|t| t.data))
            .collect::<Result<Vec<_>>>()?;
        Ok(Subquery {
            subquery: std::sync::Arc::new(plan),
            outer_ref_columns,
            spans: sq.spans.clone(),
        })
    }
    plan.transform_up_with_subqueries(|node| {
        if !node.expressions().iter().any(|e| e.contains_outer() || has_subquery(e)) {
            return Ok(Transformed::no(node));
        }
        let schema = merge_schema(&node.inputs());
        node.map_expressions(|e| {
            e.transform_up(|e| match &e {
                Expr::Exists(x) => Ok(Transformed::yes(Expr::Exists(Exists {
                    subquery: retype(&x.subquery, &schema)?,
                    negated: x.negated,
                }))),
                Expr::InSubquery(x) => Ok(Transformed::yes(Expr::InSubquery(InSubquery {
                    expr: x.expr.clone(),
                    subquery: retype(&x.subquery, &schema)?,
                    negated: x.negated,
                }))),
                Expr::ScalarSubquery(x) => Ok(Transformed::yes(Expr::ScalarSubquery(retype(x, &schema)?))),
                _ => Ok(Transformed::no(e)),
            })
        })
    })
    .map(|t| t.data)
}

fn has_subquery(e: &Expr) -> bool {
    e.exists(|e| {
        Ok(matches!(
            e,
            Expr::Exists(_) | Expr::InSubquery(_) | Expr::ScalarSubquery(_)
        ))
    })
    .unwrap_or(false)
}

impl AnalyzerRule for SparkIntLiterals {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = self.retype(plan)?;
        outer_reference_types(plan)
    }

    fn name(&self) -> &str {
        "spark_int_literals"
    }
}

impl SparkIntLiterals {
    fn retype(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::Limit(_) | LogicalPlan::Extension(_) | LogicalPlan::Dml(_) | LogicalPlan::Ddl(_) => {
                Ok(Transformed::no(node))
            }
            LogicalPlan::Values(values) => spark_int_values(values),
            // The union's type is its inputs' (type coercion widens them after this rule).
            LogicalPlan::Union(u) => Ok(Transformed::yes(LogicalPlan::Union(
                datafusion::logical_expr::Union::try_new_with_loose_types(u.inputs)?,
            ))),
            // The schema is recomputed whatever changed: an input's column may have become INT.
            node => rewrite_expressions(node, spark_int_literals),
        })
        .map(|t| t.data)
    }
}

/// Spark functions whose DataFusion namesake takes other argument types, dispatched on the argument types before
/// type coercion (which would otherwise turn an array into a string): `reverse` and `concat` of arrays are
/// `array_reverse` and `array_concat`; `element_at` of a map is the value (DataFusion's `map_extract` gives a one-element
/// array); `sum`/`avg` of an untyped NULL column are DOUBLE. The string functions refuse binary arguments, which
/// Spark handles byte-wise and DataFusion not at all.
#[derive(Debug, Default)]
pub struct SparkFunctionTypes;

/// DataFusion's names of string functions that Spark also runs on binary values.
const STRING_ONLY: [&str; 16] = [
    "substr",
    "left",
    "right",
    "lpad",
    "rpad",
    "btrim",
    "ltrim",
    "rtrim",
    "overlay",
    "instr",
    "strpos",
    "replace",
    "translate",
    "initcap",
    "upper",
    "lower",
];

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_)
    )
}

fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

/// Spark's wider type of values that meet in one result (COALESCE, greatest/least, CASE, IN): DOUBLE when a decimal
/// meets a FLOAT or DOUBLE; the wider decimal, bounded to 38 digits, when decimals of different types meet (integers
/// count as decimals of their digits: INT is DECIMAL(10,0)). `None` when DataFusion's own choice is Spark's.
fn spark_wider(types: &[DataType]) -> Option<DataType> {
    let decimal = |t: &DataType| match t {
        DataType::Decimal128(p, s) => Some((*p as i32, *s as i32)),
        DataType::Int8 => Some((3, 0)),
        DataType::Int16 => Some((5, 0)),
        DataType::Int32 => Some((10, 0)),
        DataType::Int64 => Some((20, 0)),
        _ => None,
    };
    if !types.iter().any(|t| matches!(t, DataType::Decimal128(..))) {
        return None;
    }
    if types.iter().any(|t| matches!(t, DataType::Float32 | DataType::Float64)) {
        return Some(DataType::Float64);
    }
    let decimals: Vec<(i32, i32)> = types.iter().filter_map(decimal).collect();
    let scale = decimals.iter().map(|(_, s)| *s).max()?;
    let ints = decimals.iter().map(|(p, s)| p - s).max()?;
    let wider = DataType::Decimal128((ints + scale).clamp(1, 38) as u8, scale.min(38) as i8);
    let distinct = types.iter().filter(|t| !t.is_null()).any(|t| t != &wider);
    distinct.then_some(wider)
}

fn spark_function_types(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::expr::AggregateFunction;
    e.transform_down(|e| {
        let types = |args: &[Expr]| {
            args.iter()
                .map(|a| a.get_type(schema).unwrap_or(DataType::Null))
                .collect::<Vec<_>>()
        };
        match &e {
            Expr::ScalarFunction(f) => {
                let name = f.func.name();
                let arg_types = types(&f.args);
                if name == "array_element"
                    && matches!(f.args.first(), Some(Expr::ScalarFunction(g)) if g.func.name() == "map_extract")
                {
                    return Ok(Transformed::new(e, false, TreeNodeRecursion::Jump));
                }
                // lpad/rpad of bytes, padded with bytes, as Spark's ByteArray pads.
                if matches!(name, "lpad" | "rpad")
                    && arg_types.first().is_some_and(is_binary)
                    && arg_types.get(2).is_none_or(|t| is_binary(t) || t.is_null())
                {
                    return Ok(Transformed::new(
                        udf(
                            std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(
                                crate::functions::scalars::SparkBinaryPad::new(name == "lpad"),
                            )),
                            f.args.clone(),
                        ),
                        true,
                        TreeNodeRecursion::Jump,
                    ));
                }
                if STRING_ONLY.contains(&name) && arg_types.iter().any(is_binary) {
                    return Err(DataFusionError::Plan(format!(
                        "unsupported on the embedded engine: {name} of a binary value"
                    )));
                }
                if matches!(name, "coalesce" | "greatest" | "least" | "nvl2" | "nullif")
                    && let Some(to) = spark_wider(&arg_types)
                {
                    let args = f
                        .args
                        .iter()
                        .zip(&arg_types)
                        .map(|(a, t)| {
                            if t == &to || t.is_null() || !(t.is_numeric()) {
                                a.clone()
                            } else {
                                Expr::TryCast(TryCast::new(Box::new(a.clone()), to.clone()))
                            }
                        })
                        .collect();
                    return Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                        f.func.clone(),
                        args,
                    ))));
                }
                let replacement = match name {
                    "reverse" if arg_types.iter().any(is_list) => Some(udf(
                        datafusion::functions_nested::reverse::array_reverse_udf(),
                        f.args.clone(),
                    )),
                    "concat" if arg_types.iter().any(is_list) => Some(udf(
                        datafusion::functions_nested::concat::array_concat_udf(),
                        f.args.clone(),
                    )),
                    "map_extract" => Some(udf(
                        datafusion::functions_nested::extract::array_element_udf(),
                        vec![e.clone(), lit(1i64)],
                    )),
                    _ => None,
                };
                match replacement {
                    Some(r) => Ok(Transformed::new(r, true, TreeNodeRecursion::Jump)),
                    None => Ok(Transformed::no(e)),
                }
            }
            // IN: Spark's wider type of the value and the list (a decimal and a double are DOUBLE; decimals of
            // different types their wider decimal, bounded to 38 digits, NULL where a value does not fit).
            Expr::InList(list) => {
                let all: Vec<DataType> = std::iter::once(&*list.expr)
                    .chain(list.list.iter())
                    .map(|x| x.get_type(schema).unwrap_or(DataType::Null))
                    .collect();
                let Some(to) = spark_wider(&all) else {
                    return Ok(Transformed::no(e));
                };
                let convert = |x: &Expr| match x.get_type(schema) {
                    Ok(t) if t == to => x.clone(),
                    _ => Expr::TryCast(TryCast::new(Box::new(x.clone()), to.clone())),
                };
                let mut list = list.clone();
                list.expr = Box::new(convert(&list.expr));
                list.list = list.list.iter().map(convert).collect();
                Ok(Transformed::yes(Expr::InList(list)))
            }
            Expr::Case(c) => {
                let results: Vec<DataType> = c
                    .when_then_expr
                    .iter()
                    .map(|(_, t)| t.get_type(schema).unwrap_or(DataType::Null))
                    .chain(c.else_expr.iter().map(|e| e.get_type(schema).unwrap_or(DataType::Null)))
                    .collect();
                let Some(to) = spark_wider(&results) else {
                    return Ok(Transformed::no(e));
                };
                let double = |x: &Expr| match x.get_type(schema) {
                    Ok(t) if t == to || t.is_null() || !t.is_numeric() => Box::new(x.clone()),
                    _ => Box::new(Expr::TryCast(TryCast::new(Box::new(x.clone()), to.clone()))),
                };
                let mut c = c.clone();
                c.when_then_expr = c.when_then_expr.iter().map(|(w, t)| (w.clone(), double(t))).collect();
                c.else_expr = c.else_expr.as_deref().map(double);
                Ok(Transformed::yes(Expr::Case(c)))
            }
            // Spark's avg of a decimal is a decimal (p + 4, s + 4), as DataFusion's own avg gives it;
            // datafusion-spark's avg (registered over it) gives a double.
            Expr::AggregateFunction(AggregateFunction { func, params })
                if func.name() == "avg"
                    && matches!(types(&params.args).as_slice(), [DataType::Decimal128(..)])
                    && !std::sync::Arc::ptr_eq(func, &datafusion::functions_aggregate::average::avg_udaf()) =>
            {
                Ok(Transformed::yes(Expr::AggregateFunction(AggregateFunction {
                    func: datafusion::functions_aggregate::average::avg_udaf(),
                    params: params.clone(),
                })))
            }
            Expr::AggregateFunction(AggregateFunction { func, params })
                if matches!(func.name(), "sum" | "avg") && types(&params.args).iter().all(|t| t.is_null()) =>
            {
                let mut params = params.clone();
                params.args = params.args.into_iter().map(|a| cast(a, DataType::Float64)).collect();
                Ok(Transformed::yes(Expr::AggregateFunction(AggregateFunction {
                    func: func.clone(),
                    params,
                })))
            }
            _ => Ok(Transformed::no(e)),
        }
    })
}

/// A UNION's columns in Spark's wider type of its inputs' (see [`spark_wider`]): each input whose column has another
/// type gets a projection that converts it.
fn spark_union(union: datafusion::logical_expr::Union) -> Result<Transformed<LogicalPlan>> {
    use datafusion::logical_expr::{Projection, Union};
    let width = union.schema.fields().len();
    let targets: Vec<Option<DataType>> = (0..width)
        .map(|j| {
            let types: Vec<DataType> = union
                .inputs
                .iter()
                .map(|i| i.schema().field(j).data_type().clone())
                .collect();
            // A string with a number or a date: Spark's union is a string.
            if types.iter().any(is_string)
                && types
                    .iter()
                    .any(|t| !is_string(t) && !t.is_null() && (t.is_numeric() || t.is_temporal()))
            {
                return Some(DataType::Utf8);
            }
            spark_wider(&types)
        })
        .collect();
    if targets.iter().all(Option::is_none) {
        // The inputs may have changed type below (`concat` of arrays is `array_concat`): the union's schema is
        // derived from them again.
        let stale = union
            .schema
            .fields()
            .iter()
            .zip(union.inputs[0].schema().fields().iter())
            .any(|(u, i)| u.data_type() != i.data_type());
        if !stale {
            return Ok(Transformed::no(LogicalPlan::Union(union)));
        }
        return Ok(Transformed::yes(LogicalPlan::Union(Union::try_new_with_loose_types(
            union.inputs,
        )?)));
    }
    let inputs = union
        .inputs
        .into_iter()
        .map(|input| {
            let exprs: Vec<Expr> = input
                .schema()
                .iter()
                .zip(&targets)
                .map(|((q, f), to)| {
                    let col = Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()));
                    match to {
                        Some(to) if f.data_type() != to => {
                            Expr::TryCast(TryCast::new(Box::new(col), to.clone())).alias_qualified(q.cloned(), f.name())
                        }
                        _ => col,
                    }
                })
                .collect();
            Projection::try_new(exprs, input).map(|p| std::sync::Arc::new(LogicalPlan::Projection(p)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Transformed::yes(LogicalPlan::Union(Union::try_new_with_loose_types(
        inputs,
    )?)))
}

impl AnalyzerRule for SparkFunctionTypes {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            if matches!(
                node,
                LogicalPlan::Extension(_) | LogicalPlan::Dml(_) | LogicalPlan::Ddl(_)
            ) {
                return Ok(Transformed::no(node));
            }
            let node = match node {
                LogicalPlan::Union(u) => return spark_union(u),
                node => node,
            };
            let schema = merge_schema(&node.inputs());
            rewrite_expressions(node, |e| spark_function_types(e, &schema))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "spark_function_types"
    }
}

/// Spark's string casts: trim first; integers through a decimal (so `'12.5'` is 12); the empty string is no decimal.
#[derive(Debug, Default)]
pub struct SparkCasts;

use crate::functions::is_string_type as is_string;

fn udf(f: std::sync::Arc<datafusion::logical_expr::ScalarUDF>, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(f, args))
}

/// True for an expression this rule made (`btrim(x)`, `nullif(btrim(x), '')`): the rule runs again on a plan it
/// analyzed before (the engine analyzes each query when it is planned, DataFusion once more before running it).
fn is_trimmed(e: &Expr) -> bool {
    match e {
        Expr::ScalarFunction(f) if f.func.name() == "btrim" => true,
        Expr::ScalarFunction(f) if f.func.name() == "nullif" => f.args.first().is_some_and(is_trimmed),
        _ => false,
    }
}

fn spark_string_cast(e: Expr, to: &DataType) -> Option<Expr> {
    let trimmed = udf(datafusion::functions::string::btrim(), vec![e.clone()]);
    let try_cast = |e: Expr, t: DataType| Expr::TryCast(TryCast::new(Box::new(e), t));
    let non_empty = udf(datafusion::functions::core::nullif(), vec![trimmed.clone(), lit("")]);
    Some(match to {
        // Through a decimal truncated to a whole number ('12.5' is 12), by a function the optimizer cannot move.
        t if t.is_integer() => try_cast(
            udf(
                std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(
                    crate::functions::SparkTruncateDecimal::new(),
                )),
                vec![try_cast(non_empty, DataType::Decimal128(38, 10))],
            ),
            t.clone(),
        ),
        DataType::Decimal128(..) | DataType::Decimal256(..) => {
            // Spark reads scientific notation into decimals too; DataFusion only through a double.
            let scientific = udf(datafusion::functions::string::upper(), vec![non_empty.clone()]);
            let scientific = udf(datafusion::functions::string::contains(), vec![scientific, lit("E")]);
            let via_double = try_cast(try_cast(non_empty.clone(), DataType::Float64), to.clone());
            Expr::Case(datafusion::logical_expr::expr::Case::new(
                None,
                vec![(Box::new(scientific), Box::new(via_double))],
                Some(Box::new(try_cast(non_empty, to.clone()))),
            ))
        }
        DataType::Date32 => udf(
            std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(
                crate::functions::SparkStringToDate::new(),
            )),
            vec![e],
        ),
        DataType::Float32 | DataType::Float64 | DataType::Timestamp(..) | DataType::Boolean => {
            try_cast(trimmed, to.clone())
        }
        _ => return None,
    })
}

/// Spark's numeric casts where Arrow's differ: an integer narrowed or a double cast to an integer type (Spark wraps
/// or saturates, Arrow gives NULL; [`crate::functions::scalars::SparkIntegralCast`]), and casts between numbers and
/// timestamps, which count seconds since 1970-01-01 UTC (DataFusion's count the timestamp's own unit): a number to a
/// timestamp is `timestamp_seconds`, a timestamp to an integer its whole seconds (rounded down), to a double its
/// seconds with their fraction.
fn numeric_timestamp_cast(e: &Expr, from: &DataType, to: &DataType, users: bool) -> Option<Expr> {
    use crate::functions::scalars::{Epoch, SparkEpoch};
    let epoch = |kind: Epoch, e: Expr| {
        udf(
            std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(SparkEpoch::new(kind))),
            vec![e],
        )
    };
    let spark_timestamp = DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()));
    let width = |t: &DataType| match t {
        DataType::Int8 | DataType::UInt8 => 1,
        DataType::Int16 | DataType::UInt16 => 2,
        DataType::Int32 | DataType::UInt32 => 4,
        _ => 8,
    };
    match (from, to) {
        // Spark's integral casts wrap (or, from a double, saturate); Arrow's give NULL.
        // Only the user's casts (TRY_CAST here): a CAST the planner adds (an INSERT into a narrower column) is left
        // to fail or give NULL, as Spark's store assignment refuses an overflow.
        (f, t @ (DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64))
            if users
                && ((f.is_integer() && width(f) > width(t)) || matches!(f, DataType::Float32 | DataType::Float64)) =>
        {
            Some(udf(
                std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(
                    crate::functions::scalars::SparkIntegralCast::new(t.clone()),
                )),
                vec![e.clone()],
            ))
        }
        (f, DataType::Timestamp(..)) if f.is_numeric() => {
            let t = epoch(Epoch::TimestampSeconds, e.clone());
            Some(if to == &spark_timestamp { t } else { cast(t, to.clone()) })
        }
        (DataType::Timestamp(..), t) if t.is_integer() => {
            let seconds = epoch(Epoch::UnixSeconds, e.clone());
            // Narrower integers wrap, as Spark's `timestampToLong(t).toInt` does.
            Some(if t == &DataType::Int64 {
                seconds
            } else {
                udf(
                    std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(
                        crate::functions::scalars::SparkIntegralCast::new(t.clone()),
                    )),
                    vec![seconds],
                )
            })
        }
        (DataType::Timestamp(..), DataType::Float64 | DataType::Float32) => {
            let micros = cast(epoch(Epoch::UnixMicros, e.clone()), DataType::Float64);
            let seconds = micros / lit(1_000_000f64);
            Some(if to == &DataType::Float64 {
                seconds
            } else {
                cast(seconds, to.clone())
            })
        }
        _ => None,
    }
}

/// One of Spark's casts (see [`SparkCasts`]), or the expression unchanged.
fn spark_cast(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match &e {
        // Spark's text of a timestamp (`2024-01-01 10:11:12.5`), for CAST and TRY_CAST alike (deltalake
        // plans its merge predicates with this session, with CAST).
        Expr::TryCast(TryCast { expr, data_type })
        | Expr::Cast(datafusion::logical_expr::expr::Cast { expr, data_type })
            if is_string(data_type) && matches!(expr.get_type(schema), Ok(DataType::Timestamp(..))) =>
        {
            let text = udf(
                std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(
                    crate::functions::SparkTimestampToString::new(),
                )),
                vec![(**expr).clone()],
            );
            Ok(Transformed::yes(if data_type == &DataType::Utf8 {
                text
            } else {
                cast(text, data_type.clone())
            }))
        }
        Expr::TryCast(TryCast { expr, data_type })
        | Expr::Cast(datafusion::logical_expr::expr::Cast { expr, data_type })
            if let Some(new) = numeric_timestamp_cast(
                expr,
                &expr.get_type(schema).unwrap_or(DataType::Null),
                data_type,
                matches!(e, Expr::TryCast(_)),
            ) =>
        {
            Ok(Transformed::yes(new))
        }
        Expr::TryCast(TryCast { expr, data_type }) => {
            let from = expr.get_type(schema).unwrap_or(DataType::Null);
            if !is_string(&from) || is_trimmed(expr) {
                return Ok(Transformed::no(e));
            }
            match spark_string_cast((**expr).clone(), data_type) {
                Some(new) => Ok(Transformed::yes(new)),
                None => Ok(Transformed::no(e)),
            }
        }
        _ => Ok(Transformed::no(e)),
    }
}

impl AnalyzerRule for SparkCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let schema = merge_schema(&node.inputs());
            let rule = |e: Expr| e.transform_up(|e| spark_cast(e, &schema));
            if matches!(
                node,
                LogicalPlan::Extension(_) | LogicalPlan::Dml(_) | LogicalPlan::Ddl(_)
            ) {
                node.map_expressions(rule)
            } else {
                // The output names stay those the planner gave (an unaliased `CAST(s AS TIMESTAMP)` is named after
                // `s`; the nodes above refer to it so).
                rewrite_expressions(node, rule)
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "spark_casts"
    }
}

/// Plans `/` and `%` the way Spark does (see the module docs).
#[derive(Debug, Default)]
pub struct SparkArithmetic;

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

fn null_if_zero(e: Expr) -> Expr {
    let nullif = datafusion::functions::core::nullif();
    Expr::ScalarFunction(ScalarFunction::new_udf(nullif, vec![e, lit(0)]))
}

/// `nullif(e, 0)` with a zero of `e`'s own type, so that the result keeps it (`smallint % smallint` is a SMALLINT).
fn null_if_zero_typed(e: Expr, t: &DataType) -> Expr {
    let zero = ScalarValue::new_zero(t).unwrap_or(ScalarValue::Int32(Some(0)));
    let nullif = datafusion::functions::core::nullif();
    Expr::ScalarFunction(ScalarFunction::new_udf(nullif, vec![e, lit(zero)]))
}

impl ExprPlanner for SparkArithmetic {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        let op = match expr.op {
            BinaryOperator::Divide => Operator::Divide,
            BinaryOperator::Modulo => Operator::Modulo,
            BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply => {
                let expr = match int_literal_arithmetic(expr) {
                    PlannerResult::Original(e) => e,
                    planned => return Ok(planned),
                };
                return decimal_arithmetic(expr, schema);
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
            | BinaryOperator::Spaceship => return string_number_comparison(expr, schema),
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        if let Some(planned) = double_arithmetic(&expr, &lt, &rt, op) {
            return Ok(PlannerResult::Planned(planned));
        }
        let numeric = |t: &DataType| t.is_numeric() || t.is_null();
        if !numeric(&lt) || !numeric(&rt) {
            return Ok(PlannerResult::Original(expr));
        }
        let int_like = |t: &DataType| is_integer(t) || t.is_null();
        if op == Operator::Divide && int_like(&lt) && int_like(&rt) {
            let (l, r) = (cast(expr.left, DataType::Float64), cast(expr.right, DataType::Float64));
            return Ok(PlannerResult::Planned(divide(l, r)));
        }
        if op == Operator::Divide
            && (matches!(lt, DataType::Decimal128(..)) || matches!(rt, DataType::Decimal128(..)))
            && let (Some((p1, s1)), Some((p2, s2))) = (decimal_of(&expr.left, &lt), decimal_of(&expr.right, &rt))
        {
            // Spark's result type (allowPrecisionLoss): scale max(6, s1 + p2 + 1), bounded to 38 digits.
            let (precision, scale) = adjust_precision_scale(p1 - s1 + s2 + 6.max(s1 + p2 + 1), 6.max(s1 + p2 + 1));
            // DataFusion divides decimals exactly to its own scale: give the dividend enough scale for Spark's
            // digits plus one to round on (as far as 38 digits allow), then take Spark's type (rounding half up).
            // In 256-bit decimals, so that the scaled dividend cannot overflow.
            let (int_digits, _) = (p1 - s1, s1);
            let dividend_scale = (76 - int_digits).min(scale + s2 + 1).max(s1);
            let l = cast(
                expr.left,
                DataType::Decimal256((int_digits + dividend_scale).max(1) as u8, dividend_scale as i8),
            );
            let r = cast(expr.right, DataType::Decimal256(p2.max(1) as u8, s2 as i8));
            let q = divide(l, r);
            return Ok(PlannerResult::Planned(spark_decimal(q, precision, scale)));
        }
        if op == Operator::Modulo
            && let Some((p, s)) = spark_decimal_type(op, &expr, &lt, &rt)
        {
            let (l, r) = (wide_decimal(expr.left, &lt), wide_decimal(expr.right, &rt));
            let rem = Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(null_if_zero(r))));
            return Ok(PlannerResult::Planned(spark_decimal(rem, p, s)));
        }
        // Spark divides FLOATs as DOUBLEs.
        if op == Operator::Divide && (lt == DataType::Float32 || rt == DataType::Float32) {
            let (l, r) = (cast(expr.left, DataType::Float64), cast(expr.right, DataType::Float64));
            return Ok(PlannerResult::Planned(divide(l, r)));
        }
        Ok(PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(expr.left),
            op,
            Box::new(null_if_zero_typed(expr.right, &rt)),
        ))))
    }
}

/// Arithmetic that Spark (ANSI off) computes in doubles: a string operand is read as a DOUBLE (`'12.5' + 1` is 13.5),
/// and a FLOAT with a decimal is a DOUBLE (DataFusion: a type error, and a FLOAT). `None` for other operands.
fn double_arithmetic(expr: &RawBinaryExpr, lt: &DataType, rt: &DataType, op: Operator) -> Option<Expr> {
    let string_side = is_string(lt) || is_string(rt);
    let numeric_or_string = |t: &DataType| t.is_numeric() || t.is_null() || is_string(t);
    let float_decimal = matches!(
        (lt, rt),
        (DataType::Float32, DataType::Decimal128(..)) | (DataType::Decimal128(..), DataType::Float32)
    );
    if !(float_decimal || (string_side && numeric_or_string(lt) && numeric_or_string(rt))) {
        return None;
    }
    let double = |e: Expr| Expr::TryCast(TryCast::new(Box::new(e), DataType::Float64));
    let (l, r) = (double(expr.left.clone()), double(expr.right.clone()));
    let r = if matches!(op, Operator::Divide | Operator::Modulo) {
        null_if_zero(r)
    } else {
        r
    };
    Some(Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r))))
}

/// Spark's `DecimalType.adjustPrecisionScale` (precision loss allowed, as Spark's default): a precision beyond 38
/// digits keeps the integer digits and gives up scale, down to 6 (or the scale asked for, when smaller).
fn adjust_precision_scale(precision: i32, scale: i32) -> (i32, i32) {
    if precision <= 38 {
        (precision, scale)
    } else if scale < 0 {
        (38, scale)
    } else {
        let int_digits = precision - scale;
        let min_scale = scale.min(6);
        (38, (38 - int_digits).max(min_scale))
    }
}

/// The (precision, scale) Spark gives `l <op> r` when one side is a decimal and the other a decimal or an integer
/// (Spark's `DecimalPrecision` rules); `None` for other operands (a double makes the result a double, as here).
fn spark_decimal_type(op: Operator, expr: &RawBinaryExpr, lt: &DataType, rt: &DataType) -> Option<(i32, i32)> {
    if !(matches!(lt, DataType::Decimal128(..)) || matches!(rt, DataType::Decimal128(..))) {
        return None;
    }
    let (p1, s1) = decimal_of(&expr.left, lt)?;
    let (p2, s2) = decimal_of(&expr.right, rt)?;
    let (p, s) = match op {
        Operator::Plus | Operator::Minus => {
            let s = s1.max(s2);
            ((p1 - s1).max(p2 - s2) + s + 1, s)
        }
        Operator::Multiply => (p1 + p2 + 1, s1 + s2),
        Operator::Modulo => ((p1 - s1).min(p2 - s2) + s1.max(s2), s1.max(s2)),
        _ => return None,
    };
    Some(adjust_precision_scale(p, s))
}

/// `+`, `-` and `*` with a decimal operand: DataFusion's result, in Spark's decimal type (an integer literal counts
/// with its own digits, as in Spark, not as a BIGINT).
fn decimal_arithmetic(expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
    let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
        return Ok(PlannerResult::Original(expr));
    };
    let op = match expr.op {
        BinaryOperator::Plus => Operator::Plus,
        BinaryOperator::Minus => Operator::Minus,
        _ => Operator::Multiply,
    };
    if let Some(planned) = double_arithmetic(&expr, &lt, &rt, op) {
        return Ok(PlannerResult::Planned(planned));
    }
    let Some((p, s)) = spark_decimal_type(op, &expr, &lt, &rt) else {
        return Ok(PlannerResult::Original(expr));
    };
    let (l, r) = (wide_decimal(expr.left, &lt), wide_decimal(expr.right, &rt));
    let e = Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)));
    Ok(PlannerResult::Planned(spark_decimal(e, p, s)))
}

/// A decimal (or integer) operand as a 256-bit decimal, so that the operation cannot wrap around; doubles and floats
/// stay as they are.
fn wide_decimal(e: Expr, t: &DataType) -> Expr {
    match t {
        DataType::Decimal128(p, s) => cast(e, DataType::Decimal256(*p, *s)),
        t if t.is_integer() => {
            let digits = decimal_of(&e, t).map_or(20, |(p, _)| p);
            cast(e, DataType::Decimal256(digits.max(1) as u8, 0))
        }
        _ => e,
    }
}

/// A 256-bit result in Spark's decimal type: rounded half up to its scale, NULL when it does not fit its precision
/// (Spark with ANSI off).
fn spark_decimal(e: Expr, precision: i32, scale: i32) -> Expr {
    Expr::TryCast(TryCast::new(
        Box::new(e),
        DataType::Decimal128(precision as u8, scale as i8),
    ))
}

fn comparison_operator(op: &BinaryOperator) -> Operator {
    match op {
        BinaryOperator::Eq => Operator::Eq,
        BinaryOperator::NotEq => Operator::NotEq,
        BinaryOperator::Lt => Operator::Lt,
        BinaryOperator::LtEq => Operator::LtEq,
        BinaryOperator::Gt => Operator::Gt,
        BinaryOperator::GtEq => Operator::GtEq,
        _ => Operator::IsNotDistinctFrom,
    }
}

/// Spark compares two decimals of different types in their wider decimal type, bounded to 38 digits (a value that
/// does not fit is NULL, ANSI off), and a decimal with a FLOAT or DOUBLE as doubles; DataFusion fails on the overflow
/// and compares with a double as decimals.
fn decimal_comparison(expr: &RawBinaryExpr, lt: &DataType, rt: &DataType) -> Option<Expr> {
    let to = match (lt, rt) {
        (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) if (p1, s1) != (p2, s2) => {
            let (p1, s1, p2, s2) = (*p1 as i32, *s1 as i32, *p2 as i32, *s2 as i32);
            let scale = s1.max(s2);
            let precision = ((p1 - s1).max(p2 - s2) + scale).min(38);
            DataType::Decimal128(precision as u8, scale.min(38) as i8)
        }
        (DataType::Decimal128(..), DataType::Float32 | DataType::Float64)
        | (DataType::Float32 | DataType::Float64, DataType::Decimal128(..)) => DataType::Float64,
        _ => return None,
    };
    let convert = |e: Expr| Expr::TryCast(TryCast::new(Box::new(e), to.clone()));
    Some(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(convert(expr.left.clone())),
        comparison_operator(&expr.op),
        Box::new(convert(expr.right.clone())),
    )))
}

/// Spark (ANSI off) compares a string with a number as that number's type, a string with a decimal, float or
/// double as doubles (`1.0 <= '1'` is true, `1 = '1.0'` too); DataFusion compares them as strings.
fn string_number_comparison(expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
    let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
        return Ok(PlannerResult::Original(expr));
    };
    if let Some(planned) = decimal_comparison(&expr, &lt, &rt) {
        return Ok(PlannerResult::Planned(planned));
    }
    let target = match (is_string(&lt), is_string(&rt)) {
        (true, false) if rt.is_numeric() => &rt,
        (false, true) if lt.is_numeric() => &lt,
        _ => return Ok(PlannerResult::Original(expr)),
    };
    let to = if target.is_integer() {
        target.clone()
    } else {
        DataType::Float64
    };
    let try_cast = |e: Expr| Expr::TryCast(TryCast::new(Box::new(e), to.clone()));
    let op = comparison_operator(&expr.op);
    Ok(PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(try_cast(expr.left)),
        op,
        Box::new(try_cast(expr.right)),
    ))))
}

/// Spark types an integer literal that fits 32 bits as INT, so `2147483647 + 1` wraps around (ANSI off); DataFusion
/// would type both as BIGINT. Only literal-with-literal arithmetic differs in its result.
fn int_literal_arithmetic(expr: RawBinaryExpr) -> PlannerResult<RawBinaryExpr> {
    let small = |e: &Expr| matches!(e, Expr::Literal(ScalarValue::Int64(Some(n)), _) if i32::try_from(*n).is_ok());
    if !(small(&expr.left) && small(&expr.right)) {
        return PlannerResult::Original(expr);
    }
    let (Expr::Literal(ScalarValue::Int64(Some(a)), _), Expr::Literal(ScalarValue::Int64(Some(b)), _)) =
        (&expr.left, &expr.right)
    else {
        return PlannerResult::Original(expr);
    };
    let (a, b) = (*a as i32, *b as i32);
    let v = match expr.op {
        BinaryOperator::Plus => a.wrapping_add(b),
        BinaryOperator::Minus => a.wrapping_sub(b),
        _ => a.wrapping_mul(b),
    };
    PlannerResult::Planned(lit(ScalarValue::Int32(Some(v))))
}

pub(crate) fn divide(l: Expr, r: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(
        Box::new(l),
        Operator::Divide,
        Box::new(null_if_zero(r)),
    ))
}

/// The decimal (precision, scale) Spark gives an operand: decimals as they are, integer literals by their digits,
/// integer columns by their type.
fn decimal_of(e: &Expr, t: &DataType) -> Option<(i32, i32)> {
    if let Expr::Literal(v, _) = e
        && let Some(n) = match v {
            ScalarValue::Int8(Some(n)) => Some(*n as i128),
            ScalarValue::Int16(Some(n)) => Some(*n as i128),
            ScalarValue::Int32(Some(n)) => Some(*n as i128),
            ScalarValue::Int64(Some(n)) => Some(*n as i128),
            _ => None,
        }
    {
        return Some((n.unsigned_abs().to_string().len() as i32, 0));
    }
    decimal_digits(t)
}

/// (precision, scale) of a decimal type, or of the decimal that holds every value of an integer type.
pub(crate) fn decimal_digits(t: &DataType) -> Option<(i32, i32)> {
    match t {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => Some((*p as i32, *s as i32)),
        DataType::Int8 => Some((3, 0)),
        DataType::Int16 => Some((5, 0)),
        DataType::Int32 => Some((10, 0)),
        DataType::Int64 => Some((20, 0)),
        _ => None,
    }
}

/// What follows `unsupported on the embedded engine: ` for an error [`is_unsupported`] accepts: the construct named
/// by glue-rs's own refusals, else DataFusion's message.
pub fn unsupported_message(e: &DataFusionError) -> String {
    let m = e.strip_backtrace();
    m.split("unsupported on the embedded engine: ")
        .nth(1)
        .map(str::to_string)
        .unwrap_or(m)
}

/// True when an error means "DataFusion cannot read or plan this Spark SQL", not "this SQL is wrong".
pub fn is_unsupported(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::SQL(..) | DataFusionError::NotImplemented(_) => true,
        DataFusionError::Plan(m) => {
            m.starts_with("Invalid function")
                || m.contains("Unsupported")
                || m.contains("No function matches")
                || m.contains("expected zero argument")
                || m.contains("requires TypeSignature")
                || m.contains("does not support type")
                || m.starts_with("table function")
                || (m.starts_with("Function '") && m.contains(" expects "))
                || m.starts_with("Failed to coerce arguments")
                || m.contains("unsupported on the embedded engine")
                || m.contains("coercion failed")
        }
        // DataFusion's aggregates refuse an untyped NULL column (`VALUES (NULL), (NULL)`), which Spark types as void.
        DataFusionError::Execution(m) => {
            m.contains("not supported for Null") || m.contains("unsupported on the embedded engine")
        }
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => is_unsupported(inner),
        _ => false,
    }
}
