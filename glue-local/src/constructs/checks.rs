//! Refusals of a planned query that DataFusion would answer otherwise than Spark: interval result columns, RANGE
//! frames over dates with numeric offsets, expressions checked after planning.

use arrow_schema::{DataType, Field};
use datafusion::common::DFSchema;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Expr as LExpr, ExprSchemable};
use datafusion::logical_expr::{LogicalPlan, Operator};
use datafusion::scalar::ScalarValue;

use crate::types::AnsiInterval;

/// Refuses a query whose result holds an interval (a column, or a field of one) of a type Spark would give another
/// type: any but Spark's own ANSI intervals as the engine types them (Spark's Arrow type with its Spark type in the
/// field's metadata, [`crate::types::AnsiInterval`], as `percentile_approx` of interval literals gives them).
pub fn check_result_types(schema: &DFSchema) -> Result<(), DataFusionError> {
    match schema.fields().iter().find_map(|f| foreign_interval(f).map(|_| f)) {
        Some(f) => Err(DataFusionError::Plan(format!(
            "unsupported on the embedded engine: an INTERVAL value as a result column (`{}`: Spark's interval types \
             are not the embedded engine's)",
            f.name()
        ))),
        None => Ok(()),
    }
}

/// The first interval in a field (itself or nested) that is not a Spark ANSI interval as the engine types them.
fn foreign_interval(f: &Field) -> Option<&Field> {
    match f.data_type() {
        DataType::Interval(_) | DataType::Duration(_) => match AnsiInterval::of(f) {
            Some(i) if &i.arrow_type() == f.data_type() => None,
            _ => Some(f),
        },
        DataType::List(c) | DataType::LargeList(c) | DataType::FixedSizeList(c, _) | DataType::Map(c, _) => {
            foreign_interval(c)
        }
        DataType::Struct(fields) => fields.iter().find_map(|c| foreign_interval(c)),
        _ => None,
    }
}

/// Refuses what DataFusion's plan of the query (before the analyzer) would answer otherwise than Spark: a RANGE
/// frame over a DATE ordering with a numeric offset (Spark counts days).
pub fn check_plan(plan: &LogicalPlan) -> Result<(), DataFusionError> {
    plan.apply(|node| {
        if let LogicalPlan::Window(w) = node
            && w.window_expr.iter().any(|e| date_range_offset(e, w.input.schema()))
        {
            return refuse(
                "a RANGE window frame over a DATE ordering with a numeric offset (Spark counts days; write an \
                 INTERVAL, or order by a timestamp)",
            );
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map(|_| ())
}

/// Refuses what the analyzed plan would answer otherwise than Spark: `DATE - DATE` (Spark's INTERVAL DAY),
/// `DATE ± INTERVAL` with a time part (Spark's TIMESTAMP).
pub fn check_expressions(plan: &LogicalPlan) -> Result<(), DataFusionError> {
    plan.apply(|node| {
        let schema = match node.inputs().as_slice() {
            [input] => input.schema().clone(),
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        node.apply_expressions(|e| {
            e.apply(|x| match refused_expression(x, &schema) {
                Some(construct) => refuse(construct),
                None => Ok(TreeNodeRecursion::Continue),
            })
        })?;
        Ok(TreeNodeRecursion::Continue)
    })
    .map(|_| ())
}

fn refuse<T>(construct: &str) -> Result<T, DataFusionError> {
    Err(DataFusionError::Plan(format!(
        "unsupported on the embedded engine: {construct}"
    )))
}

fn refused_expression(e: &LExpr, schema: &DFSchema) -> Option<&'static str> {
    let is_date = |t: &DataType| matches!(t, DataType::Date32 | DataType::Date64);
    match e {
        LExpr::BinaryExpr(b) if matches!(b.op, Operator::Minus | Operator::Plus) => {
            let (l, r) = (b.left.get_type(schema).ok()?, b.right.get_type(schema).ok()?);
            if is_date(&l) && is_date(&r) {
                return Some("DATE - DATE (Spark's answer is an INTERVAL DAY; use datediff)");
            }
            let time_part = match b.right.as_ref() {
                LExpr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) => v.nanoseconds != 0,
                LExpr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => v.milliseconds != 0,
                LExpr::Literal(ScalarValue::IntervalYearMonth(_), _) => false,
                _ => matches!(r, DataType::Interval(_) | DataType::Duration(_)),
            };
            (is_date(&l) && time_part)
                .then_some("DATE ± an INTERVAL with hours, minutes or seconds (Spark's answer is a TIMESTAMP)")
        }
        _ => None,
    }
}

fn date_range_offset(e: &LExpr, schema: &DFSchema) -> bool {
    let LExpr::WindowFunction(f) = strip_alias(e) else {
        return false;
    };
    let p = &f.params;
    let numeric = |b: &datafusion::logical_expr::WindowFrameBound| match b {
        datafusion::logical_expr::WindowFrameBound::Preceding(v)
        | datafusion::logical_expr::WindowFrameBound::Following(v) => match v {
            // DataFusion's planner keeps a bound's literal as text until the analyzer types it.
            ScalarValue::Utf8(Some(s)) => s.trim().parse::<f64>().is_ok(),
            v => !v.is_null() && v.data_type().is_numeric(),
        },
        datafusion::logical_expr::WindowFrameBound::CurrentRow => false,
    };
    p.window_frame.units == datafusion::logical_expr::WindowFrameUnits::Range
        && (numeric(&p.window_frame.start_bound) || numeric(&p.window_frame.end_bound))
        && p.order_by
            .iter()
            .any(|s| matches!(s.expr.get_type(schema), Ok(DataType::Date32 | DataType::Date64)))
}

fn strip_alias(e: &LExpr) -> &LExpr {
    match e {
        LExpr::Alias(a) => strip_alias(&a.expr),
        other => other,
    }
}
