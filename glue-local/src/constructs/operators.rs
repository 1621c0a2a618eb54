//! Spark's operators that DataFusion plans otherwise (`DIV`, `a[i]`, `a.f` of an array of structs): an expression
//! planner.

use arrow_schema::DataType;
use datafusion::common::DFSchema;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::GetFieldAccess;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr, RawFieldAccessExpr};
use datafusion::logical_expr::{Expr as LExpr, ExprSchemable, cast, lit};
use sqlparser::ast::BinaryOperator;

/// - integral division `a DIV b` (sqlparser's `MyIntegerDivide`): BIGINT, the quotient truncated toward zero, NULL
///   when `b` is 0. Integers divide as BIGINTs; decimals (or a decimal and an integer) are divided at a common scale
///   and the exact quotient truncated. Other operand types (Spark refuses doubles) are refused;
/// - `a[i]` of an array: 0-based, NULL outside the array (DataFusion's index is 1-based and counts back from the end
///   when negative); `a.f` of an array of structs is Spark's array of the field (`spark_get_field`).
#[derive(Debug)]
pub struct SparkOperators;

impl ExprPlanner for SparkOperators {
    fn plan_field_access(
        &self,
        expr: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> datafusion::error::Result<PlannerResult<RawFieldAccessExpr>> {
        let t = expr.expr.get_type(schema)?;
        if !matches!(
            t,
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
        ) {
            return Ok(PlannerResult::Original(expr));
        }
        match expr.field_access {
            GetFieldAccess::ListIndex { key } => {
                let index = cast(*key, DataType::Int64);
                let element = LExpr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
                    datafusion::functions_nested::extract::array_element_udf(),
                    vec![expr.expr, index.clone() + lit(1i64)],
                ));
                let negative = index.lt(lit(0i64));
                let null = lit(datafusion::scalar::ScalarValue::Null);
                Ok(PlannerResult::Planned(LExpr::Case(
                    datafusion::logical_expr::Case::new(
                        None,
                        vec![(Box::new(negative), Box::new(null))],
                        Some(Box::new(element)),
                    ),
                )))
            }
            // Spark's `a.f` of an array of structs: the array of the field.
            GetFieldAccess::NamedStructField { name } => Ok(PlannerResult::Planned(LExpr::ScalarFunction(
                datafusion::logical_expr::expr::ScalarFunction::new_udf(
                    std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(
                        crate::functions::scalars::SparkGetField::new(),
                    )),
                    vec![expr.expr, lit(name)],
                ),
            ))),
            GetFieldAccess::ListRange { .. } => Err(DataFusionError::Plan(
                "unsupported on the embedded engine: an array slice `a[i:j]`".into(),
            )),
        }
    }

    /// `col.a.b` where an array of structs is on the way: Spark's array of the field (DataFusion reads structs only).
    fn plan_compound_identifier(
        &self,
        field: &arrow_schema::Field,
        qualifier: Option<&datafusion::common::TableReference>,
        nested_names: &[String],
    ) -> datafusion::error::Result<PlannerResult<Vec<LExpr>>> {
        use crate::functions::scalars::SparkGetField;
        let mut t = field.data_type().clone();
        let mut through_array = false;
        for name in nested_names {
            through_array |= matches!(t, DataType::List(_));
            t = SparkGetField::field_type(&t, name)?;
        }
        if !through_array {
            return Ok(PlannerResult::Original(vec![]));
        }
        let udf = std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(SparkGetField::new()));
        let mut expr = LExpr::Column(datafusion::common::Column::from((qualifier, field)));
        for name in nested_names {
            expr = LExpr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
                udf.clone(),
                vec![expr, lit(name.clone())],
            ));
        }
        Ok(PlannerResult::Planned(expr))
    }

    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> datafusion::error::Result<PlannerResult<RawBinaryExpr>> {
        if expr.op != BinaryOperator::MyIntegerDivide {
            return Ok(PlannerResult::Original(expr));
        }
        let (lt, rt) = (expr.left.get_type(schema)?, expr.right.get_type(schema)?);
        let integral = |t: &DataType| t.is_integer() || t.is_null();
        let decimal = |t: &DataType| matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..));
        if integral(&lt) && integral(&rt) {
            let (l, r) = (cast(expr.left, DataType::Int64), cast(expr.right, DataType::Int64));
            return Ok(PlannerResult::Planned(crate::spark::arithmetic::divide(l, r)));
        }
        if (decimal(&lt) || integral(&lt)) && (decimal(&rt) || integral(&rt)) {
            // Integers as their decimal digits (a NULL operand as a BIGINT's).
            let digits = |t: &DataType| {
                crate::spark::arithmetic::decimal_digits(t).map_or((20, 0), |(p, s)| (p as u8, s.max(0) as u8))
            };
            let ((p1, s1), (p2, s2)) = (digits(&lt), digits(&rt));
            let scale = s1.max(s2);
            let l = cast(expr.left, DataType::Decimal256(p1 - s1 + scale, scale as i8));
            let r = cast(expr.right, DataType::Decimal256(p2 - s2 + scale, scale as i8));
            let q = crate::spark::arithmetic::divide(l, r);
            return Ok(PlannerResult::Planned(LExpr::TryCast(
                datafusion::logical_expr::TryCast::new(Box::new(q), DataType::Int64),
            )));
        }
        Err(DataFusionError::Plan(format!(
            "unsupported on the embedded engine: `DIV` of {} and {} (Spark divides integers and decimals only)",
            spark_name(&lt),
            spark_name(&rt)
        )))
    }
}

fn spark_name(t: &DataType) -> String {
    crate::types::spark_type(t).unwrap_or_else(|_| t.to_string())
}
