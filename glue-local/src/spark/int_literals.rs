//! Spark's types of integer literals and of inline tables (`VALUES`): an analyzer rule.

use arrow_schema::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, config::ConfigOptions};
use datafusion::error::Result;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, cast};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use super::plan::{is_list, rewrite_expressions, spark_wider};

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
