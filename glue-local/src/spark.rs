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

/// Functions whose format argument is a Java datetime pattern, which DataFusion (chrono) reads differently.
const JAVA_PATTERN_FUNCTIONS: [(&str, usize); 6] = [
    ("date_format", 2),
    ("to_date", 2),
    ("to_timestamp", 2),
    ("from_unixtime", 1),
    ("unix_timestamp", 2),
    ("to_unix_timestamp", 2),
];

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
            SqlExpr::Function(f) => {
                let name = f.name.to_string().to_ascii_lowercase();
                if let FunctionArguments::List(list) = &mut f.args {
                    let n = list.args.len();
                    if let Some((_, min)) = JAVA_PATTERN_FUNCTIONS.iter().find(|(f, _)| *f == name)
                        && n >= *min
                    {
                        return ControlFlow::Break(format!(
                            "{name} with a datetime pattern (Java patterns are not translated yet)"
                        ));
                    }
                    if name == "regexp_replace" && n == 3 {
                        list.args
                            .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::value(
                                Value::SingleQuotedString("g".into()),
                            ))));
                    }
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

fn unnamed(e: SqlExpr) -> FunctionArg {
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
        "quarter" => Some("quarter"),
        "dayofyear" => Some("doy"),
        "weekofyear" => Some("week"),
        _ => None,
    };
    match (name, args.as_slice()) {
        (_, [x]) if part.is_some() => Some(date_part(part.unwrap_or_default(), x.clone())),
        // 1 = Sunday … 7 = Saturday (datafusion-spark's date_part follows Spark here).
        ("dayofweek", [x]) => Some(date_part("dow", x.clone())),
        ("isnull", [x]) => Some(SqlExpr::IsNull(Box::new(x.clone()))),
        ("isnotnull", [x]) => Some(SqlExpr::IsNotNull(Box::new(x.clone()))),
        ("string", [x]) => Some(SqlExpr::Cast {
            kind: CastKind::TryCast,
            expr: Box::new(x.clone()),
            data_type: SqlType::String(None),
            array: false,
            format: None,
        }),
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
        ("date_add" | "date_sub" | "add_months", [d, n]) => {
            if let FunctionArguments::List(list) = &mut f.args {
                let n = SqlExpr::Cast {
                    kind: CastKind::TryCast,
                    expr: Box::new(n.clone()),
                    data_type: SqlType::Int(None),
                    array: false,
                    format: None,
                };
                list.args = vec![unnamed(d.clone()), unnamed(n)];
            }
            None
        }
        _ => None,
    }
}

/// Spark's string casts: trim first; integers through a decimal (so `'12.5'` is 12); the empty string is no decimal.
#[derive(Debug, Default)]
pub struct SparkCasts;

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn udf(f: std::sync::Arc<datafusion::logical_expr::ScalarUDF>, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(f, args))
}

fn spark_string_cast(e: Expr, to: &DataType) -> Option<Expr> {
    let trimmed = udf(datafusion::functions::string::btrim(), vec![e]);
    let try_cast = |e: Expr, t: DataType| Expr::TryCast(TryCast::new(Box::new(e), t));
    let non_empty = udf(datafusion::functions::core::nullif(), vec![trimmed.clone(), lit("")]);
    Some(match to {
        t if t.is_integer() => try_cast(try_cast(non_empty, DataType::Decimal128(38, 10)), t.clone()),
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
        DataType::Float32 | DataType::Float64 | DataType::Date32 | DataType::Timestamp(..) | DataType::Boolean => {
            try_cast(trimmed, to.clone())
        }
        _ => return None,
    })
}

impl AnalyzerRule for SparkCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let schema = merge_schema(&node.inputs());
            node.map_expressions(|e| {
                e.transform_up(|e| match &e {
                    Expr::TryCast(TryCast { expr, data_type }) => {
                        let from = expr.get_type(&schema).unwrap_or(DataType::Null);
                        if !is_string(&from) {
                            return Ok(Transformed::no(e));
                        }
                        match spark_string_cast((**expr).clone(), data_type) {
                            Some(new) => Ok(Transformed::yes(new)),
                            None => Ok(Transformed::no(e)),
                        }
                    }
                    _ => Ok(Transformed::no(e)),
                })
            })
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

impl ExprPlanner for SparkArithmetic {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        let op = match expr.op {
            BinaryOperator::Divide => Operator::Divide,
            BinaryOperator::Modulo => Operator::Modulo,
            BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply => {
                return Ok(int_literal_arithmetic(expr));
            }
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
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
            let mut scale = 6.max(s1 + p2 + 1);
            let mut precision = p1 - s1 + s2 + scale;
            if precision > 38 {
                let int_digits = precision - scale;
                scale = (38 - int_digits).max(scale.min(6));
                precision = 38;
            }
            // DataFusion divides decimals exactly to its own scale: give the dividend enough scale for Spark's
            // digits plus one to round on (as far as 38 digits allow), then take Spark's type (rounding half up).
            let (int_digits, _) = (p1 - s1, s1);
            let dividend_scale = (38 - int_digits).min(scale + s2 + 1).max(s1);
            let l = cast(
                expr.left,
                DataType::Decimal128((int_digits + dividend_scale) as u8, dividend_scale as i8),
            );
            let r = if matches!(rt, DataType::Decimal128(..)) {
                expr.right
            } else {
                cast(expr.right, DataType::Decimal128(p2 as u8, s2 as i8))
            };
            let q = divide(l, r);
            return Ok(PlannerResult::Planned(cast(
                q,
                DataType::Decimal128(precision as u8, scale as i8),
            )));
        }
        Ok(PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(expr.left),
            op,
            Box::new(null_if_zero(expr.right)),
        ))))
    }
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

fn divide(l: Expr, r: Expr) -> Expr {
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
    match t {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => Some((*p as i32, *s as i32)),
        DataType::Int8 => Some((3, 0)),
        DataType::Int16 => Some((5, 0)),
        DataType::Int32 => Some((10, 0)),
        DataType::Int64 => Some((20, 0)),
        _ => None,
    }
}

/// True when an error means "DataFusion cannot read or plan this Spark SQL", not "this SQL is wrong".
pub fn is_unsupported(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::SQL(..) | DataFusionError::NotImplemented(_) => true,
        DataFusionError::Plan(m) => {
            m.starts_with("Invalid function")
                || m.contains("Unsupported")
                || m.starts_with("Failed to coerce arguments")
                || m.contains("unsupported on the embedded engine")
                || m.contains("coercion failed")
        }
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => is_unsupported(inner),
        _ => false,
    }
}
