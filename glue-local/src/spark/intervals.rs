//! Spark's types of interval literals: `INTERVAL '1' MONTH` is Spark's `interval month`, `INTERVAL 3 HOURS` its
//! `interval hour` (ANSI intervals, whose start and end fields depend on the literal's unit). DataFusion plans both as
//! an `Interval(MonthDayNano)` value and forgets the unit; its arithmetic on that value is kept as it is. Here such a
//! literal carries its Spark type in its field's metadata ([`crate::types::AnsiInterval`]), through the columns of
//! the VALUES and UNIONs it goes into (Spark's wider type of their rows: `interval month` with `interval year` is
//! `interval year to month`), so that a function that keeps its argument's type (`percentile_approx`) gives Spark's:
//!
//! 1. the statement rewrite ([`ansi_literal`]) wraps each literal of one unit whose value Spark and DataFusion read
//!    alike (a whole number; seconds with at most six decimals) in `spark_interval_literal(<literal>, '<spark type>')`
//!    ([`SparkIntervalType`], named as the literal is);
//! 2. [`SparkIntervalLiterals`], the first analyzer rule, turns that call back into the literal with the Spark type
//!    in its metadata, and types the VALUES columns of such literals;
//! 3. [`SparkIntervalUnions`], the last analyzer rule, types the UNION columns (DataFusion's type coercion keeps the
//!    metadata of its last input) and the INTERSECT/EXCEPT ones (DataFusion keeps the left input's): each input's
//!    column is typed as the wider type of all, so that DataFusion's logical and physical plans, which merge the
//!    inputs' metadata each in their own way, agree.
//!
//! An interval whose Spark type is not known here (a sum of intervals, `INTERVAL '1 month 2 days'`, a `… TO …`
//! qualifier DataFusion does not read) has no metadata: the functions that would keep its type refuse it, and no
//! result column holds it ([`crate::constructs::check_result_types`]).

use std::any::Any;
use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, IntervalUnit};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, NullEquality, config::ConfigOptions, metadata::FieldMetadata, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Distinct, Expr, ExprSchemable, Join, JoinType, LogicalPlan, Projection, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Union, Values, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;
use sqlparser::ast::{DateTimeField, Expr as SqlExpr, Interval, UnaryOperator, Value};

use super::plan::{rewrite_expressions, udf};
use super::sql::call;
use crate::types::{AnsiInterval, SPARK_TYPE_KEY};

/// The name of [`SparkIntervalType::literal`].
const MARKER: &str = "spark_interval_literal";
/// The name of [`SparkIntervalType::column`].
const TYPED: &str = "spark_interval_type";

/// An interval literal as the statement rewrite leaves it: `spark_interval_literal(INTERVAL '<n>' <UNIT>, '<type>')`
/// when Spark types it as an ANSI interval and DataFusion reads the same value; `None` leaves it as it is.
pub(super) fn ansi_literal(interval: &Interval) -> Option<SqlExpr> {
    if interval.last_field.is_some() || interval.leading_precision.is_some() {
        return None;
    }
    if interval.fractional_seconds_precision.is_some() {
        return None;
    }
    // Spark's type of the unit, the largest count of it both read (Spark's range; DataFusion's nanoseconds in an
    // i64 for the units below a day), and whether a fraction is read (seconds only, to the microsecond).
    let (spark, limit, fraction): (&str, u64, bool) = match interval.leading_field.as_ref()? {
        DateTimeField::Year | DateTimeField::Years => ("interval year", 178_956_970, false),
        DateTimeField::Month | DateTimeField::Months => ("interval month", i32::MAX as u64, false),
        DateTimeField::Week(None) | DateTimeField::Weeks => ("interval day", 106_751_991 / 7, false),
        DateTimeField::Day | DateTimeField::Days => ("interval day", 106_751_991, false),
        DateTimeField::Hour | DateTimeField::Hours => ("interval hour", 2_562_047_788, false),
        DateTimeField::Minute | DateTimeField::Minutes => ("interval minute", 153_722_867_280, false),
        DateTimeField::Second | DateTimeField::Seconds => ("interval second", 9_223_372_035, true),
        DateTimeField::Millisecond | DateTimeField::Milliseconds => ("interval second", 9_223_372_036_854, false),
        DateTimeField::Microsecond | DateTimeField::Microseconds => ("interval second", 9_223_372_036_854_775, false),
        _ => return None,
    };
    let (negative, text) = match interval.value.as_ref() {
        SqlExpr::Value(v) => match &v.value {
            Value::Number(n, false) => (false, n.clone()),
            Value::SingleQuotedString(s) => {
                let s = s.trim();
                match s.strip_prefix('-') {
                    Some(rest) => (true, rest.trim_start().to_string()),
                    None => (false, s.strip_prefix('+').unwrap_or(s).trim_start().to_string()),
                }
            }
            _ => return None,
        },
        SqlExpr::UnaryOp { op, expr } => match (op, expr.as_ref()) {
            (UnaryOperator::Minus | UnaryOperator::Plus, SqlExpr::Value(v)) => match &v.value {
                Value::Number(n, false) => (*op == UnaryOperator::Minus, n.clone()),
                _ => return None,
            },
            _ => return None,
        },
        _ => return None,
    };
    let (whole, decimals) = text.split_once('.').unwrap_or((&text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(decimals.is_empty() || fraction && digits(decimals) && decimals.len() <= 6) {
        return None;
    }
    if whole.parse::<u64>().ok()? > limit {
        return None;
    }
    let value = format!("{}{}", if negative { "-" } else { "" }, text);
    let literal = SqlExpr::Interval(Interval {
        value: Box::new(SqlExpr::value(Value::SingleQuotedString(value))),
        leading_field: interval.leading_field.clone(),
        leading_precision: None,
        last_field: None,
        fractional_seconds_precision: None,
    });
    Some(call(
        MARKER,
        vec![literal, SqlExpr::value(Value::SingleQuotedString(spark.to_string()))],
    ))
}

/// `spark_interval_literal(interval, 'spark type')` (the interval, named as it is: [`SparkIntervalLiterals`]
/// replaces the call by the literal with its Spark type) and `spark_interval_type(interval, 'spark type')` (the
/// interval with that Spark type in its field's metadata, or with none for a text that names no ANSI interval type:
/// [`SparkIntervalUnions`] types the inputs of a UNION, INTERSECT or EXCEPT with it).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkIntervalType {
    name: &'static str,
    signature: Signature,
}

impl SparkIntervalType {
    /// `spark_interval_literal`, which the statement rewrite writes around an interval literal.
    pub fn literal() -> Self {
        Self {
            name: MARKER,
            signature: Signature::exact(
                vec![DataType::Interval(IntervalUnit::MonthDayNano), DataType::Utf8],
                Volatility::Immutable,
            ),
        }
    }

    /// `spark_interval_type`, which types a column.
    pub fn column() -> Self {
        Self {
            name: TYPED,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkIntervalType {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args.first() {
            Some(e) => Ok(e.schema_name().to_string()),
            None => plan_err!("{} takes an interval and its Spark type", self.name),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let arg = &args.arg_fields[0];
        let field = Field::new(self.name, arg.data_type().clone(), arg.is_nullable());
        let spark = match args.scalar_arguments.get(1) {
            Some(Some(ScalarValue::Utf8(Some(name)))) if self.name == TYPED => AnsiInterval::parse(name),
            _ => None,
        };
        Ok(Arc::new(match spark {
            Some(i) => field.with_metadata(i.metadata()),
            None => field,
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args[0].clone())
    }
}

/// The literal of a [`SparkIntervalType::literal`] call, with its Spark type in its metadata.
fn fold(e: Expr) -> Result<Transformed<Expr>> {
    e.transform_up(|e| {
        let Expr::ScalarFunction(f) = &e else {
            return Ok(Transformed::no(e));
        };
        if f.name() != MARKER {
            return Ok(Transformed::no(e));
        }
        let (value, spark) = match f.args.as_slice() {
            [
                Expr::Literal(v @ ScalarValue::IntervalMonthDayNano(Some(x)), _),
                Expr::Literal(ScalarValue::Utf8(Some(name)), _),
            ] => match AnsiInterval::parse(name) {
                // A year-month interval holds months only, a day-time one days and nanoseconds only.
                Some(i)
                    if if i.year_month {
                        x.days == 0 && x.nanoseconds == 0
                    } else {
                        x.months == 0
                    } =>
                {
                    (v.clone(), i)
                }
                _ => return plan_err!("{MARKER}: {v} is no `{name}`"),
            },
            _ => return plan_err!("{MARKER} takes an interval literal and its Spark type"),
        };
        Ok(Transformed::yes(Expr::Literal(
            value,
            Some(FieldMetadata::from(spark.metadata())),
        )))
    })
}

/// Spark's type of values that meet in one column: the wider of their ANSI interval types, NULLs aside. `None` when
/// one of them has no known Spark type, or when year-month meets day-time.
fn wider<'a>(fields: impl IntoIterator<Item = &'a Field>) -> Option<AnsiInterval> {
    let mut out: Option<AnsiInterval> = None;
    for f in fields {
        if f.data_type().is_null() {
            continue;
        }
        let i = AnsiInterval::of(f)?;
        out = Some(match out {
            Some(o) => o.wider(i)?,
            None => i,
        });
    }
    out
}

/// `field` with the Spark type `spark` in its metadata (or none).
fn typed(field: &Field, spark: Option<AnsiInterval>) -> Field {
    let mut metadata = field.metadata().clone();
    metadata.remove(SPARK_TYPE_KEY);
    if let Some(i) = spark {
        metadata.extend(i.metadata());
    }
    field.clone().with_metadata(metadata)
}

fn is_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(_) | DataType::Duration(_))
}

/// A schema with each field's Spark interval type set from `spark` (one per field; `None` fields keep theirs).
fn retyped(schema: &DFSchema, spark: &[Option<Option<AnsiInterval>>]) -> Result<Arc<DFSchema>> {
    let fields: Vec<_> = schema
        .iter()
        .zip(spark)
        .map(|((q, f), s)| match s {
            Some(s) => (q.cloned(), Arc::new(typed(f, *s))),
            None => (q.cloned(), f.clone()),
        })
        .collect();
    Ok(Arc::new(DFSchema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )?))
}

/// The VALUES rows with their interval literals typed, and each interval column typed as Spark types it.
fn values(v: Values) -> Result<Transformed<LogicalPlan>> {
    let Values { schema, values } = v;
    let values = values
        .into_iter()
        .map(|row| row.into_iter().map(|e| fold(e).map(|t| t.data)).collect())
        .collect::<Result<Vec<Vec<Expr>>>>()?;
    let empty = DFSchema::empty();
    let spark = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(j, f)| {
            if !is_interval(f.data_type()) {
                return None;
            }
            // A cell whose field cannot be told here leaves the column without a Spark type.
            let cells = values
                .iter()
                .filter(|row| !matches!(&row[j], Expr::Literal(v, _) if v.is_null()))
                .map(|row| row[j].to_field(&empty).ok().map(|(_, f)| f))
                .collect::<Option<Vec<_>>>();
            Some(cells.and_then(|c| wider(c.iter().map(|f| f.as_ref()))))
        })
        .collect::<Vec<_>>();
    let schema = retyped(&schema, &spark)?;
    Ok(Transformed::yes(LogicalPlan::Values(Values { schema, values })))
}

/// The first analyzer rule: each interval literal the statement rewrite marked (`INTERVAL '1' MONTH`) becomes the
/// literal with its Spark ANSI interval type in its field's metadata, and a VALUES column of them has Spark's wider
/// type of its rows (NULLs aside). DataFusion keeps planning the value as an `Interval(MonthDayNano)`.
#[derive(Debug, Default)]
pub struct SparkIntervalLiterals;

impl AnalyzerRule for SparkIntervalLiterals {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        if !has_marker(&plan)? {
            return Ok(plan);
        }
        plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::Values(v) => values(v),
            LogicalPlan::Limit(_) | LogicalPlan::Extension(_) | LogicalPlan::Dml(_) | LogicalPlan::Ddl(_) => {
                Ok(Transformed::no(node))
            }
            // The schema is recomputed whatever changed: an input's column may have been typed.
            node => rewrite_expressions(node, fold),
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "spark_interval_literals"
    }
}

fn is_marker(e: &Expr) -> bool {
    matches!(e, Expr::ScalarFunction(f) if f.name() == MARKER)
}

fn has_marker(plan: &LogicalPlan) -> Result<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|n| {
        n.apply_expressions(|e| {
            found |= e.exists(|x| Ok(is_marker(x)))?;
            Ok(TreeNodeRecursion::Continue)
        })?;
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(found)
}

/// The last analyzer rule: the interval columns of UNION, INTERSECT and EXCEPT typed as Spark types them, the wider
/// type of their inputs' (type coercion, which runs before, keeps the last input's; DataFusion's INTERSECT the left
/// one's). Each input's column is typed so, so that the logical and the physical plan, which merge the inputs'
/// metadata each in their own way, agree.
#[derive(Debug, Default)]
pub struct SparkIntervalUnions;

impl AnalyzerRule for SparkIntervalUnions {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let mut any = false;
        plan.apply_with_subqueries(|n| {
            any |= n.schema().fields().iter().any(|f| AnsiInterval::of(f).is_some());
            Ok(if any {
                TreeNodeRecursion::Stop
            } else {
                TreeNodeRecursion::Continue
            })
        })?;
        if !any {
            return Ok(plan);
        }
        let mut changed = false;
        plan.transform_up_with_subqueries(|node| {
            let t = match node {
                LogicalPlan::Union(u) => union(u)?,
                LogicalPlan::Join(j) if is_set_operation(&j) => set_operation(j)?,
                // Above a retyped input, the schemas are recomputed.
                node if changed => Transformed::yes(node.recompute_schema()?),
                node => Transformed::no(node),
            };
            changed |= t.transformed;
            Ok(t)
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "spark_interval_unions"
    }
}

/// `input` with its interval columns typed as `spark` says (one entry per column; `None` leaves it as it is), under
/// the same names; unchanged when they are already so typed.
fn typed_input(input: Arc<LogicalPlan>, spark: &[Option<Option<AnsiInterval>>]) -> Result<Arc<LogicalPlan>> {
    let schema = input.schema().clone();
    let todo = |(f, s): (&FieldRef, &Option<Option<AnsiInterval>>)| s.is_some_and(|s| AnsiInterval::of(f) != s);
    if !schema.fields().iter().zip(spark).any(todo) {
        return Ok(input);
    }
    let exprs = schema
        .iter()
        .zip(spark)
        .map(|((q, f), s)| {
            let column = Expr::Column(Column::from((q, f.as_ref())));
            match s {
                Some(s) if AnsiInterval::of(f) != *s => {
                    let name = s.map(|i| i.name()).unwrap_or_default();
                    let typed = Arc::new(ScalarUDF::from(SparkIntervalType::column()));
                    udf(typed, vec![column, Expr::Literal(ScalarValue::Utf8(Some(name)), None)])
                        .alias_qualified(q.cloned(), f.name())
                }
                _ => column,
            }
        })
        .collect();
    Ok(Arc::new(LogicalPlan::Projection(Projection::try_new(exprs, input)?)))
}

fn union(u: Union) -> Result<Transformed<LogicalPlan>> {
    let Union { inputs, schema } = u;
    let spark: Vec<Option<Option<AnsiInterval>>> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let fields = inputs
                .iter()
                .filter(|i| !null_constant(i, j))
                .map(|i| i.schema().field(j).as_ref());
            is_interval(f.data_type()).then(|| wider(fields))
        })
        .collect();
    let typed = |f: &FieldRef, s: &Option<Option<AnsiInterval>>| s.is_none_or(|s| AnsiInterval::of(f) == s);
    let done = inputs
        .iter()
        .map(|i| i.schema())
        .chain([&schema])
        .all(|s| s.fields().iter().zip(&spark).all(|(f, s)| typed(f, s)));
    if done {
        return Ok(Transformed::no(LogicalPlan::Union(Union { inputs, schema })));
    }
    let inputs = inputs
        .into_iter()
        .map(|i| typed_input(i, &spark))
        .collect::<Result<Vec<_>>>()?;
    let schema = retyped(&schema, &spark)?;
    Ok(Transformed::yes(LogicalPlan::Union(Union { inputs, schema })))
}

/// True when the column `j` of `plan` is a NULL constant (type coercion casts a UNION's NULL to the others' type).
fn null_constant(plan: &LogicalPlan, j: usize) -> bool {
    fn null(e: &Expr) -> bool {
        match e {
            Expr::Literal(v, _) => v.is_null(),
            Expr::Alias(a) => null(&a.expr),
            Expr::Cast(c) => null(&c.expr),
            Expr::TryCast(c) => null(&c.expr),
            _ => false,
        }
    }
    match plan {
        LogicalPlan::Projection(p) => p.expr.get(j).is_some_and(null),
        _ => false,
    }
}

/// INTERSECT or EXCEPT as DataFusion plans them (their ALL forms are refused): a semi or anti join of the distinct
/// rows of the left input on all columns, NULLs equal; its columns are the left input's. (A join in SQL has a table
/// or a named subquery on its left, never a DISTINCT.)
fn is_set_operation(j: &Join) -> bool {
    matches!(j.join_type, JoinType::LeftSemi | JoinType::LeftAnti)
        && j.null_equality == NullEquality::NullEqualsNull
        && matches!(j.left.as_ref(), LogicalPlan::Distinct(Distinct::All(_)))
        && j.on.len() == j.left.schema().fields().len()
        && j.on.len() == j.right.schema().fields().len()
}

/// The join of an INTERSECT or EXCEPT, its left input typed as Spark types the result: the wider of both inputs'.
fn set_operation(j: Join) -> Result<Transformed<LogicalPlan>> {
    let (left, right) = (j.left.schema().clone(), j.right.schema().clone());
    let spark: Vec<Option<Option<AnsiInterval>>> = left
        .fields()
        .iter()
        .zip(right.fields())
        .map(|(l, r)| is_interval(l.data_type()).then(|| wider([l.as_ref(), r.as_ref()])))
        .collect();
    let left_input = typed_input(j.left.clone(), &spark)?;
    if Arc::ptr_eq(&left_input, &j.left) {
        return Ok(Transformed::no(LogicalPlan::Join(j)));
    }
    let join = Join { left: left_input, ..j };
    Ok(Transformed::yes(LogicalPlan::Join(join).recompute_schema()?))
}
