//! Columns between the catalog, Arrow schemas and `ColumnDef`s, and rows laid out as Spark creates a table's.

use datafusion::logical_expr::Expr;
use datafusion::prelude::{DataFrame, ident};
use glue_sql::types::ColumnDef;

use crate::catalog::{ColumnEntry, TableEntry};
use crate::error::LocalError;
use crate::types::spark_type;

/// Catalog columns as `ColumnDef`s, comments kept.
pub(super) fn column_defs<'a>(columns: impl Iterator<Item = &'a ColumnEntry>) -> Result<Vec<ColumnDef>, LocalError> {
    columns
        .map(|c| {
            let mut d =
                ColumnDef::new(c.name.clone(), c.data_type.clone()).map_err(|e| LocalError::Data(e.to_string()))?;
            d.comment = c.comment.clone();
            Ok(d)
        })
        .collect()
}

/// The rows with every column nullable, as Spark creates a table's columns (see [`crate::nullable`]).
pub(super) fn nullable(df: DataFrame) -> Result<DataFrame, LocalError> {
    crate::nullable::nullable(df).map_err(LocalError::df("the rows as nullable columns"))
}

/// Moves the partition columns to the end, in partition order (Spark's layout).
pub(super) fn partition_columns_last(df: DataFrame, partition_by: &[String]) -> Result<DataFrame, LocalError> {
    if partition_by.is_empty() {
        return Ok(df);
    }
    let names: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut exprs: Vec<Expr> = names
        .iter()
        .filter(|n| !partition_by.iter().any(|p| p.eq_ignore_ascii_case(n)))
        .map(|n| ident(n.as_str()))
        .collect();
    for p in partition_by {
        let n = names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(p))
            .ok_or_else(|| LocalError::Data(format!("partition column `{p}` is not in the model's columns")))?;
        exprs.push(ident(n.as_str()));
    }
    df.select(exprs).map_err(LocalError::df("ordering partition columns"))
}

pub(super) fn column_entries(schema: &arrow_schema::Schema) -> Result<Vec<ColumnEntry>, LocalError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            Ok(ColumnEntry {
                name: f.name().clone(),
                data_type: spark_type(f.data_type())?,
                comment: None,
            })
        })
        .collect()
}

pub(super) fn with_comments(mut cols: Vec<ColumnEntry>, old: Option<&TableEntry>) -> Vec<ColumnEntry> {
    if let Some(o) = old {
        for c in &mut cols {
            if c.comment.is_none() {
                c.comment = o
                    .columns
                    .iter()
                    .find(|x| x.name.eq_ignore_ascii_case(&c.name))
                    .and_then(|x| x.comment.clone());
            }
        }
    }
    cols
}

pub(super) fn schema_columns(schema: &arrow_schema::Schema) -> Result<Vec<ColumnDef>, LocalError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            ColumnDef::new(f.name().clone(), spark_type(f.data_type())?).map_err(|e| LocalError::Data(e.to_string()))
        })
        .collect()
}
