//! Rows written into an existing table: appended, replacing it, or replacing the partitions they fall in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use datafusion::logical_expr::{Expr, cast};
use datafusion::prelude::{DataFrame, ident};
use glue_materialize::FileFormat;
use glue_sql::RelationName;

use crate::catalog::ColumnEntry;
use crate::error::LocalError;
use crate::types::arrow_type;
use crate::{delta, plain};

use super::columns::{column_defs, nullable, partition_columns_last};
use super::local_engine::{LocalEngine, is_plain};

impl LocalEngine {
    /// The source rows in the target's column order and types (by name, case-insensitive).
    pub(super) async fn conformed(
        &self,
        target: &RelationName,
        source: &RelationName,
    ) -> Result<DataFrame, LocalError> {
        self.conformed_to(target, None, source).await
    }

    /// [`LocalEngine::conformed`] to `columns` when given (the target's columns after a pending schema change).
    pub(super) async fn conformed_to(
        &self,
        target: &RelationName,
        columns: Option<&[ColumnEntry]>,
        source: &RelationName,
    ) -> Result<DataFrame, LocalError> {
        let tgt = match columns {
            Some(c) => column_defs(c.iter())?,
            None => self.columns_of(target).await?,
        };
        let df = self.sql(&format!("SELECT * FROM {source}")).await?;
        let src_names: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut exprs = Vec::new();
        for c in &tgt {
            let Some(name) = src_names.iter().find(|n| n.eq_ignore_ascii_case(c.name.as_str())) else {
                return Err(LocalError::Data(format!(
                    "the new rows of {target} lack column `{}` (on_schema_change keeps the table's columns)",
                    c.name.as_str()
                )));
            };
            exprs.push(cast(ident(name.as_str()), arrow_type(c.data_type.as_str())?).alias(c.name.as_str()));
        }
        df.select(exprs)
            .map_err(LocalError::df(format!("selecting the columns of {target}")))
    }

    /// Writes rows into an existing table; with `columns`, the table's columns change to them in the same commit
    /// (a pending `SyncSchema`): Delta merges the new columns into its schema with the rows, Iceberg writes the
    /// table's new version with both, plain formats record them in the entry that publishes the new files.
    pub(super) async fn write_rows(
        &self,
        target: &RelationName,
        df: DataFrame,
        mode: RowsWrite,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        let e = self.require(target)?;
        let format = e
            .format
            .ok_or_else(|| LocalError::Data(format!("{target} has no format")))?;
        let loc = e
            .location
            .clone()
            .ok_or_else(|| LocalError::Data(format!("{target} has no location")))?;
        if format == FileFormat::Delta {
            // New columns join the Delta schema with these rows: nullable, as Spark's ADD COLUMNS makes them.
            let df = if columns.is_some() { nullable(df)? } else { df };
            let mode = match mode {
                RowsWrite::Append => delta::WriteMode::Append,
                RowsWrite::ReplaceAll => delta::WriteMode::Replace,
                RowsWrite::ReplacePartitions => {
                    delta::WriteMode::ReplaceWhere(self.partition_predicate(&df, &e.partition_columns).await?)
                }
            };
            delta::write(
                &self.ctx,
                &loc,
                df,
                mode,
                delta::TableMeta {
                    partition_by: &e.partition_columns,
                    name: target.identifier.as_str(),
                    description: None,
                    properties: &BTreeMap::new(),
                },
            )
            .await?;
            if let Some(columns) = columns {
                self.record_columns(target, columns)?;
            }
            return Ok(());
        }
        if format == FileFormat::Iceberg {
            return self.iceberg_write_rows(target, &e, df, mode, columns).await;
        }
        if !is_plain(format) {
            return Err(LocalError::Unsupported(format!("writing rows to a {format} table")));
        }
        let version = e.version + 1;
        let new_dir = PathBuf::from(plain::fresh_version_dir(&loc, version));
        let old_dir = self.local_path(&loc)?;
        let df = partition_columns_last(df, &e.partition_columns)?;
        plain::write_files(df, &new_dir, format, &e.partition_columns).await?;
        match mode {
            RowsWrite::Append => plain::link_files(&old_dir, &new_dir, |_| true)?,
            RowsWrite::ReplaceAll => {}
            RowsWrite::ReplacePartitions => {
                let touched = plain::partition_dirs(&new_dir)?;
                plain::link_files(&old_dir, &new_dir, |part| !touched.contains(part))?;
            }
        }
        let mut entry = e.clone();
        entry.version = version;
        entry.previous_location = Some(loc);
        entry.location = Some(new_dir.display().to_string());
        if let Some(columns) = columns {
            entry.columns = columns;
        }
        let written = new_dir.display().to_string();
        self.commit_entry_checked(target, entry, Some(Some(e.version)), Some(&written))
    }

    /// `col IN (…)` over the partition values present in `df` (the partitions a dynamic overwrite replaces).
    pub(super) async fn partition_predicate(&self, df: &DataFrame, cols: &[String]) -> Result<String, LocalError> {
        if cols.is_empty() {
            return Ok("TRUE".into());
        }
        let exprs: Vec<Expr> = cols
            .iter()
            .map(|c| cast(ident(c.as_str()), arrow_schema::DataType::Utf8).alias(c.as_str()))
            .collect();
        let batches = df
            .clone()
            .select(exprs)
            .and_then(|d| d.distinct())
            .map_err(LocalError::df("partition values"))?
            .collect()
            .await
            .map_err(LocalError::df("partition values"))?;
        let mut disjuncts = Vec::new();
        for b in &batches {
            for row in 0..b.num_rows() {
                let mut conj = Vec::new();
                for (i, c) in cols.iter().enumerate() {
                    let col = b.column(i);
                    let q = glue_sql::quote_ident(c);
                    if col.is_null(row) {
                        conj.push(format!("{q} IS NULL"));
                    } else {
                        let v = arrow_array::cast::AsArray::as_string::<i32>(col.as_ref()).value(row);
                        conj.push(format!("CAST({q} AS STRING) = {}", sql_string(v)));
                    }
                }
                disjuncts.push(format!("({})", conj.join(" AND ")));
            }
        }
        Ok(if disjuncts.is_empty() {
            "FALSE".into()
        } else {
            disjuncts.join(" OR ")
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum RowsWrite {
    Append,
    ReplaceAll,
    ReplacePartitions,
}

pub(super) fn sql_string(v: &str) -> String {
    // deltalake parses predicates with sqlparser's generic dialect: standard '' escaping.
    format!("'{}'", v.replace('\'', "''"))
}
