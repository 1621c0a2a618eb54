//! What the plan rules share: rewriting a plan node's expressions under their names, a call of a UDF, and Spark's
//! wider type of values that meet in one result.

use arrow_schema::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Expr, LogicalPlan};

/// Rewrites each expression of a plan node with `f`, keeping the output names the planner gave (`count(Int64(1))`:
/// nodes above refer to them), and recomputes the node's schema whatever changed (an input's column type may have).
pub(super) fn rewrite_expressions(
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

pub(super) fn udf(f: std::sync::Arc<datafusion::logical_expr::ScalarUDF>, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(f, args))
}

pub(super) fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

/// Spark's wider type of values that meet in one result (COALESCE, greatest/least, CASE, IN): DOUBLE when a decimal
/// meets a FLOAT or DOUBLE; the wider decimal, bounded to 38 digits, when decimals of different types meet (integers
/// count as decimals of their digits: INT is DECIMAL(10,0)). `None` when DataFusion's own choice is Spark's.
pub(super) fn spark_wider(types: &[DataType]) -> Option<DataType> {
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
