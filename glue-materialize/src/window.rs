//! The write of one microbatch batch: the statements that replace exactly the batch's window `[start, end)` on the
//! model's `event_time` of its table, per file format (see [`crate::microbatch`] for the batches themselves).

use glue_sql::dml::{Delete, Insert, PartitionSpec, Source};
use glue_sql::types::{IcebergTransform, PartitionField};
use glue_sql::{Ident, RelationName};

use crate::config::{FileFormat, IncrementalStrategy, ModelConfig};
use crate::error::{ConfigError, ConfigProblem, PlanError};
use crate::microbatch::{Batch, BatchSize};
use crate::model::Model;
use crate::render::{Rendered, StatementSetting};

/// How one batch's window of the target is replaced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum WindowMethod {
    /// `INSERT INTO t REPLACE WHERE <window> SELECT …`: one commit (Delta; Iceberg when every file lies inside or
    /// outside any window, i.e. the table is partitioned by a time transform of `event_time` no coarser than
    /// `batch_size`). Spark 3.4+ (Glue 5).
    ReplaceWhere,
    /// `DELETE FROM t WHERE <window>` then `INSERT INTO t SELECT …`: two commits (Iceberg partitioned otherwise).
    DeleteInsert,
    /// `INSERT OVERWRITE t PARTITION (<cols>) SELECT …` with dynamic partition overwrite: the partitions the batch
    /// writes are replaced (Hive-format tables, as dbt-spark's microbatch does).
    DynamicPartitions(Vec<Ident>),
}

/// The write of one batch: replace `[batch.start, batch.end)` on `event_time` of `target` with the rows of
/// `source` (the model's query for the batch, as a temporary relation) that fall in that window.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WindowWrite {
    /// The model's table.
    pub target: RelationName,
    /// The batch's rows.
    pub source: RelationName,
    /// The model's `event_time` column.
    pub event_time: Ident,
    /// The batch.
    pub batch: Batch,
    /// How the window is replaced.
    pub method: WindowMethod,
}

impl WindowWrite {
    /// The statements, in order, selecting the target's `columns` (in the target's order; empty selects `*`). Only
    /// source rows inside the window are written, so nothing outside it changes whatever the model's query returns.
    pub fn statements(&self, columns: &[Ident]) -> Vec<Rendered> {
        let window = self.batch.predicate(&self.event_time);
        let insert = |i: Insert| i.columns(columns.to_vec()).filter(window.clone());
        let from = || Source::Relation(self.source.clone());
        match &self.method {
            WindowMethod::ReplaceWhere => vec![Rendered::Sql(
                insert(Insert::into(self.target.clone(), from()).replace_where(window.clone())).to_sql(),
            )],
            WindowMethod::DeleteInsert => vec![
                Rendered::Sql(
                    Delete {
                        target: self.target.clone(),
                        condition: window.clone(),
                    }
                    .to_sql(),
                ),
                Rendered::Sql(insert(Insert::into(self.target.clone(), from())).to_sql()),
            ],
            WindowMethod::DynamicPartitions(cols) => vec![Rendered::Scoped {
                sql: insert(
                    Insert::overwrite(self.target.clone(), from())
                        .partition(cols.iter().cloned().map(PartitionSpec::Dynamic).collect()),
                )
                .to_sql(),
                settings: vec![StatementSetting::DynamicPartitionOverwrite],
            }],
        }
    }
}

/// Whether an Iceberg partition field on `event_time` puts every file wholly inside or outside each batch window.
fn aligned(p: &PartitionField, event_time: &Ident, size: BatchSize) -> bool {
    if p.column().as_str() != event_time.as_str() {
        return false;
    }
    match p {
        PartitionField::Column(_) => true,
        PartitionField::Transform { transform, .. } => match transform {
            IcebergTransform::Hours => true,
            IcebergTransform::Days => size != BatchSize::Hour,
            IcebergTransform::Months => matches!(size, BatchSize::Month | BatchSize::Year),
            IcebergTransform::Years => size == BatchSize::Year,
            IcebergTransform::Bucket | IcebergTransform::Truncate => false,
        },
    }
}

/// The write that replaces `batch`'s window of the model's table `target` with the rows of `source`, and the
/// warnings it comes with. Refused: a model that is not microbatch, Hudi (no replacement by predicate), and a
/// Hive-format table without `partition_by` (dynamic partition overwrite would replace the whole table).
pub fn window_write(
    model: &Model,
    target: RelationName,
    source: RelationName,
    batch: Batch,
) -> Result<(WindowWrite, Vec<String>), PlanError> {
    let cfg: &ModelConfig = &model.config;
    let err = |field: &str, problem| ConfigError::new(field, problem).for_model(&model.model_ref());
    let mb = match (&cfg.microbatch, cfg.incremental_strategy) {
        (Some(mb), IncrementalStrategy::Microbatch) => mb,
        _ => {
            return Err(err(
                "incremental_strategy",
                ConfigProblem::Invalid(format!(
                    "`{}`: only a microbatch model is written batch by batch",
                    cfg.incremental_strategy
                )),
            ));
        }
    };
    let format = cfg.file_format;
    let size = mb.batch_size;
    let mut warnings = Vec::new();
    let method = match format {
        FileFormat::Delta => WindowMethod::ReplaceWhere,
        f if f.in_iceberg_catalog() => {
            if cfg.partition_by.iter().any(|p| aligned(p, &mb.event_time, size)) {
                WindowMethod::ReplaceWhere
            } else {
                warnings.push(format!(
                    "microbatch: the table is not partitioned by `{e}` at batch_size `{size}` or finer (e.g. \
                     partition_by: ['{t}({e})']): each batch is replaced by a DELETE then an INSERT, two Iceberg \
                     commits; a batch that fails between them leaves its window empty until it is run again",
                    e = mb.event_time.as_str(),
                    t = match size {
                        BatchSize::Hour => "hours",
                        BatchSize::Day => "days",
                        BatchSize::Month => "months",
                        BatchSize::Year => "years",
                    }
                ));
                WindowMethod::DeleteInsert
            }
        }
        FileFormat::Hudi => {
            return Err(err(
                "file_format",
                ConfigProblem::Invalid(
                    "`hudi`: microbatch replaces each batch's window of the table, and Hudi tables have no \
                     replacement by predicate; use delta, iceberg or a partitioned parquet table"
                        .into(),
                ),
            ));
        }
        _ if cfg.partition_by.is_empty() => {
            return Err(err(
                "partition_by",
                ConfigProblem::Invalid(format!(
                    "microbatch on file_format `{format}` replaces the partitions each batch writes (dynamic \
                     partition overwrite, as dbt-spark does) and needs partition_by: a column derived from `{}` at \
                     batch_size `{size}` or finer (such as the event's date); or use file_format delta or iceberg",
                    mb.event_time.as_str()
                )),
            ));
        }
        _ => {
            let cols: Vec<Ident> = cfg.partition_by.iter().map(|p| p.column().clone()).collect();
            warnings.push(format!(
                "microbatch: each batch replaces the partitions its rows fall in (partition_by {}); every value of \
                 partition_by must lie inside one batch of `{}` (batch_size `{size}`), and a partition the batch no \
                 longer has rows for keeps its old rows",
                cols.iter()
                    .map(|c| format!("`{}`", c.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
                mb.event_time.as_str()
            ));
            WindowMethod::DynamicPartitions(cols)
        }
    };
    Ok((
        WindowWrite {
            target,
            source,
            event_time: mb.event_time.clone(),
            batch,
            method,
        },
        warnings,
    ))
}
