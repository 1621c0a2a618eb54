//! Spark functions dispatched on their argument types before type coercion, and Spark's wider types of COALESCE,
//! CASE, IN and UNION: an analyzer rule.

use arrow_schema::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, config::ConfigOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr::{ScalarFunction, TryCast};
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, cast, lit};
use datafusion::optimizer::AnalyzerRule;

use super::plan::{is_list, rewrite_expressions, spark_wider, udf};
use crate::functions::common::is_string_type as is_string;

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
