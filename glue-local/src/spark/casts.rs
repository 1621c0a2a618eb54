//! Spark's casts where DataFusion's answer otherwise: strings trimmed and read as Spark reads them, integral casts
//! that wrap, numbers and timestamps as seconds, timestamps as Spark's text: an analyzer rule.

use arrow_schema::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, config::ConfigOptions};
use datafusion::error::Result;
use datafusion::logical_expr::expr::TryCast;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, cast, lit};
use datafusion::optimizer::AnalyzerRule;

use super::plan::{rewrite_expressions, udf};
use crate::functions::common::is_string_type as is_string;

/// Spark's string casts: trim first; integers through a decimal (so `'12.5'` is 12); the empty string is no decimal.
#[derive(Debug, Default)]
pub struct SparkCasts;

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
