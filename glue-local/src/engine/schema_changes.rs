//! Column changes (`on_schema_change`): checked as Spark checks them, then committed with the target's next write or
//! on their own.

use std::collections::BTreeMap;

use datafusion::logical_expr::{Expr, cast};
use datafusion::prelude::{DataFrame, ident};
use glue_materialize::FileFormat;
use glue_sql::RelationName;
use glue_sql::ddl::AlterTable;

use crate::catalog::{ColumnEntry, TableEntry};
use crate::delta;
use crate::error::LocalError;
use crate::types::arrow_type;

use super::columns::column_defs;
use super::local_engine::{LocalEngine, key_of};
use super::writes::RowsWrite;

impl LocalEngine {
    pub(super) async fn alter(&self, a: &AlterTable) -> Result<(), LocalError> {
        match a {
            AlterTable::AddColumns(t, cols) => {
                let e = self.require(t)?;
                if e.format == Some(FileFormat::Delta) {
                    // A Delta schema change is a commit: append no rows with the wider schema.
                    let mut fields: Vec<Expr> = e.columns.iter().map(|c| ident(c.name.as_str())).collect();
                    for c in cols {
                        let dt = arrow_type(c.data_type.as_str())?;
                        fields.push(
                            cast(Expr::Literal(datafusion::scalar::ScalarValue::Null, None), dt).alias(c.name.as_str()),
                        );
                    }
                    let df = self
                        .sql(&format!("SELECT * FROM {} LIMIT 0", t.without_catalog()))
                        .await?;
                    let df = df.select(fields).map_err(LocalError::df("adding columns"))?;
                    let loc = e.location.clone().unwrap_or_default();
                    delta::write(
                        &self.ctx,
                        &loc,
                        df,
                        delta::WriteMode::Append,
                        delta::TableMeta {
                            partition_by: &e.partition_columns,
                            name: t.identifier.as_str(),
                            description: None,
                            properties: &BTreeMap::new(),
                        },
                    )
                    .await?;
                }
                let key = key_of(t);
                self.catalog.update(|s| {
                    let e = s
                        .tables
                        .get_mut(&key)
                        .ok_or_else(|| LocalError::NotFound(t.to_string()))?;
                    // New columns go before the partition columns, as Spark shows them.
                    let at = e.columns.len() - e.partition_columns.len().min(e.columns.len());
                    for (i, c) in cols.iter().enumerate() {
                        e.columns.insert(
                            at + i,
                            ColumnEntry {
                                name: c.name.as_str().to_string(),
                                data_type: c.data_type.as_str().to_string(),
                                comment: c.comment.clone(),
                            },
                        );
                    }
                    Ok(())
                })
            }
            other => Err(LocalError::Unsupported(format!("`{}`", other.to_sql()))),
        }
    }

    /// The column changes a `SyncSchema` left for `target`'s write, if any.
    pub(super) fn take_pending(&self, target: &RelationName) -> Option<Vec<ColumnEntry>> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key_of(target))
    }

    /// Records a table's columns in its catalog entry (after a Delta commit that changed them).
    pub(super) fn record_columns(&self, target: &RelationName, columns: Vec<ColumnEntry>) -> Result<(), LocalError> {
        let key = key_of(target);
        self.catalog.update(|s| {
            let e = s
                .tables
                .get_mut(&key)
                .ok_or_else(|| LocalError::NotFound(target.to_string()))?;
            e.columns = columns.clone();
            Ok(())
        })
    }

    /// Changes `target`'s columns to `columns` with no rows to write (a `SyncSchema` no write step follows), in one
    /// commit: an Iceberg table is rewritten as a new version with them; Delta commits the wider schema; a plain
    /// table's entry records them.
    pub(super) async fn apply_columns(
        &self,
        target: &RelationName,
        e: &TableEntry,
        columns: Vec<ColumnEntry>,
    ) -> Result<(), LocalError> {
        match e.format {
            Some(FileFormat::Iceberg) => {
                let rows = self.adapted_rows(target, &columns).await?;
                self.iceberg_write_rows(target, e, rows, RowsWrite::ReplaceAll, None)
                    .await
            }
            Some(FileFormat::Delta) => {
                // Only added columns reach here (`evolved_columns` refuses the rest): ADD COLUMNS commits them to
                // the Delta log and records them in the entry, at the positions `evolved_columns` gave them.
                let new = columns
                    .iter()
                    .filter(|c| !e.columns.iter().any(|o| o.name.eq_ignore_ascii_case(&c.name)));
                self.alter(&AlterTable::AddColumns(target.clone(), column_defs(new)?))
                    .await
            }
            _ => self.record_columns(target, columns),
        }
    }

    /// The rows of `target` with `columns`: the columns it lacks as NULLs, retyped ones cast, dropped ones gone.
    pub(super) async fn adapted_rows(
        &self,
        target: &RelationName,
        columns: &[ColumnEntry],
    ) -> Result<DataFrame, LocalError> {
        let df = self.sql(&format!("SELECT * FROM {}", target.without_catalog())).await?;
        let have: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
        let exprs = columns
            .iter()
            .map(|c| {
                let t = arrow_type(c.data_type.as_str())?;
                let value = match have.iter().find(|h| h.eq_ignore_ascii_case(&c.name)) {
                    Some(h) => cast(ident(h.as_str()), t),
                    None => cast(Expr::Literal(datafusion::scalar::ScalarValue::Null, None), t),
                };
                Ok(value.alias(c.name.as_str()))
            })
            .collect::<Result<Vec<_>, LocalError>>()?;
        df.select(exprs)
            .map_err(LocalError::df(format!("the rows of {target} with its new columns")))
    }
}

/// `entry`'s columns after `alters` (a `SyncSchema`), checked as Spark checks them before anything is committed:
/// Iceberg adds columns at the end, drops any column but a partition source, and widens types (int to bigint, float
/// to double, a decimal's precision); Delta and the plain formats add columns (before the partition columns, as
/// Spark shows a Hive table's) and drop none (a Delta table needs column mapping, which glue-rs's tables do not
/// use).
pub(super) fn evolved_columns(
    target: &RelationName,
    entry: &TableEntry,
    alters: &[AlterTable],
) -> Result<Vec<ColumnEntry>, LocalError> {
    let iceberg = entry.format == Some(FileFormat::Iceberg);
    let mut columns = entry.columns.clone();
    let position = |columns: &[ColumnEntry], name: &str| columns.iter().position(|c| c.name.eq_ignore_ascii_case(name));
    for a in alters {
        match a {
            AlterTable::AddColumns(_, added) => {
                let at = if iceberg {
                    columns.len()
                } else {
                    columns.len() - entry.partition_columns.len().min(columns.len())
                };
                for (i, c) in added.iter().enumerate() {
                    columns.insert(
                        at + i,
                        ColumnEntry {
                            name: c.name.as_str().to_string(),
                            data_type: c.data_type.as_str().to_string(),
                            comment: c.comment.clone(),
                        },
                    );
                }
            }
            AlterTable::DropColumns(_, dropped) if iceberg => {
                for d in dropped {
                    if entry
                        .partition_columns
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(d.as_str()))
                    {
                        return Err(LocalError::Data(format!(
                            "cannot drop column `{}` of {target}: the table is partitioned by it \
                             (on_schema_change: sync_all_columns)",
                            d.as_str()
                        )));
                    }
                    if let Some(i) = position(&columns, d.as_str()) {
                        columns.remove(i);
                    }
                }
            }
            AlterTable::DropColumns(_, dropped) => {
                return Err(LocalError::Data(format!(
                    "cannot drop columns ({}) of the {} table {target}: as on Spark, dropping columns needs an \
                     Iceberg table (or a Delta table with column mapping, which glue-rs does not create); the table \
                     is unchanged (on_schema_change: sync_all_columns)",
                    dropped.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", "),
                    entry.format.map(|f| f.to_string()).unwrap_or_default()
                )));
            }
            AlterTable::AlterColumnType(_, column, to) => {
                let i = position(&columns, column.as_str())
                    .ok_or_else(|| LocalError::Data(format!("{target} has no column `{}`", column.as_str())))?;
                let from = columns[i].data_type.clone();
                if !iceberg || !widens(&from, to.as_str()) {
                    return Err(LocalError::Data(format!(
                        "cannot change the type of column `{}` of {target} from {from} to {to}: as on Spark, \
                         only an Iceberg table's int to bigint, float to double and a decimal's precision widen in \
                         place; the table is unchanged (on_schema_change: sync_all_columns; a full refresh rebuilds \
                         it)",
                        column.as_str()
                    )));
                }
                columns[i].data_type = to.as_str().to_string();
            }
            other => return Err(LocalError::Unsupported(format!("`{}`", other.to_sql()))),
        }
    }
    Ok(columns)
}

/// Whether Iceberg changes a column of type `from` to `to` in place (its type promotions, as Spark allows them).
pub(super) fn widens(from: &str, to: &str) -> bool {
    let (from, to) = (from.trim().to_lowercase(), to.trim().to_lowercase());
    let decimal = |t: &str| -> Option<(u32, u32)> {
        let inner = t.strip_prefix("decimal(")?.strip_suffix(')')?;
        let (p, s) = inner.split_once(',')?;
        Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
    };
    match (from.as_str(), to.as_str()) {
        (f, t) if f == t => true,
        ("int" | "integer", "bigint" | "long") | ("float", "double") => true,
        (f, t) => matches!((decimal(f), decimal(t)), (Some((p1, s1)), Some((p2, s2))) if s1 == s2 && p2 >= p1),
    }
}
