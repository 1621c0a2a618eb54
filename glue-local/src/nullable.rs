//! Columns made nullable as Spark makes them: a CTAS writes `query.schema.asNullable`, and ALTER TABLE ADD COLUMNS
//! adds nullable columns, so a table built from `select 1 as id` takes NULLs later and a column added to a Delta
//! or Iceberg table reads as NULL from the files written before it.
//!
//! DataFusion derives nullability from expressions and folds the usual tricks away (`CASE WHEN x IS NULL …` of a
//! non-nullable `x` simplifies to `x`), so [`AsNullable`] is an identity function whose result is declared
//! nullable: the projection's output batches then carry nullable fields, which writers that compare batch schemas
//! (delta-rs) accept.

use std::any::Any;
use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{DataFrame, ident};

/// The identity function with a nullable result.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AsNullable {
    signature: Signature,
}

impl Default for AsNullable {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AsNullable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "glue_rs_as_nullable"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] => Ok(t.clone()),
            other => exec_err!("glue_rs_as_nullable takes one argument, got {}", other.len()),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        match args.arg_fields {
            [f] => Ok(Arc::new(Field::new(self.name(), f.data_type().clone(), true))),
            other => exec_err!("glue_rs_as_nullable takes one argument, got {}", other.len()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.as_slice() {
            [v] => Ok(v.clone()),
            other => exec_err!("glue_rs_as_nullable takes one argument, got {}", other.len()),
        }
    }
}

/// The rows with every column nullable (columns that already are pass through untouched).
pub fn nullable(df: DataFrame) -> datafusion::common::Result<DataFrame> {
    if df.schema().fields().iter().all(|f| f.is_nullable()) {
        return Ok(df);
    }
    let udf = ScalarUDF::from(AsNullable::default());
    let exprs: Vec<Expr> = df
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let column = ident(f.name().as_str());
            if f.is_nullable() {
                column
            } else {
                udf.call(vec![column]).alias(f.name().as_str())
            }
        })
        .collect();
    df.select(exprs)
}
