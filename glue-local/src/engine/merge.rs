//! MERGE of incremental models and snapshots: Delta's merge, or an Iceberg table rebuilt with the merged rows.

use datafusion::logical_expr::cast;
use datafusion::prelude::{DataFrame, ident};
use glue_materialize::FileFormat;
use glue_materialize::step::UpdateColumns;
use glue_sql::dml::{DEST_ALIAS, SOURCE_ALIAS};
use glue_sql::{RelationName, SqlFragment};

use crate::catalog::{ColumnEntry, TableEntry};
use crate::delta;
use crate::error::LocalError;
use crate::types::arrow_type;

use super::columns::nullable;
use super::local_engine::LocalEngine;
use super::writes::RowsWrite;

impl LocalEngine {
    pub(super) async fn merge(
        &self,
        target: &RelationName,
        source: &RelationName,
        keys: &[glue_sql::Ident],
        predicates: &[SqlFragment],
        update: &UpdateColumns,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        let e = self.require(target)?;
        if !matches!(e.format, Some(FileFormat::Delta | FileFormat::Iceberg)) {
            return Err(LocalError::Unsupported(format!(
                "MERGE into a {} table",
                e.format.map(|f| f.to_string()).unwrap_or_default()
            )));
        }
        let all_columns = columns.clone().unwrap_or_else(|| e.columns.clone());
        let tgt: Vec<String> = all_columns.iter().map(|c| c.name.clone()).collect();
        // The same ON condition the Spark engines render (user predicates, then the keys; FALSE without either).
        let on = glue_sql::dml::MergeInto::upsert(
            target.clone(),
            glue_sql::dml::Source::Relation(source.clone()),
            keys.to_vec(),
        )
        .predicates(predicates.to_vec())
        .on_condition();
        let target_idents: Vec<glue_sql::Ident> = tgt
            .iter()
            .filter_map(|c| glue_sql::Ident::new(c.as_str()).ok())
            .collect();
        let update_cols: Vec<String> = update
            .resolve(&target_idents)
            .iter()
            .map(|i| i.as_str().to_string())
            .collect();
        let set = |cols: &[String]| -> Vec<(String, String)> {
            cols.iter()
                .map(|c| (c.clone(), format!("{SOURCE_ALIAS}.{}", glue_sql::quote_ident(c))))
                .collect()
        };
        let spec = delta::MergeSpec {
            on,
            update: Some(delta::MergeClause {
                predicate: None,
                set: set(&update_cols),
            }),
            insert: Some(delta::MergeClause {
                predicate: None,
                set: set(&tgt),
            }),
        };
        let df = self.conformed_to(target, columns.as_deref(), source).await?;
        let df = if columns.is_some() { nullable(df)? } else { df };
        if e.format == Some(FileFormat::Iceberg) {
            return self.merge_rebuild(target, &e, df, &spec, columns).await;
        }
        delta::merge(
            &self.ctx,
            e.location.as_deref().unwrap_or_default(),
            df,
            SOURCE_ALIAS,
            DEST_ALIAS,
            spec,
            columns.is_some(),
        )
        .await?;
        if let Some(columns) = columns {
            self.record_columns(target, columns)?;
        }
        Ok(())
    }

    /// A MERGE as a new version of the table (Iceberg: iceberg-rust 0.10 commits appends only, so the merged rows
    /// are written beside the old version and the catalog entry switches to them in one write, checked against the
    /// version read; the table's snapshot history starts again, as after a rebuild). The rows are Spark's: target
    /// rows matched by the ON condition (and the WHEN MATCHED predicate) take the SET values, the others stay, and
    /// source rows no target row matches are inserted (with the WHEN NOT MATCHED predicate). As Spark's Iceberg and
    /// Delta do, a target row matched by more than one source row fails the MERGE before anything is written.
    pub(super) async fn merge_rebuild(
        &self,
        target: &RelationName,
        e: &TableEntry,
        source: DataFrame,
        spec: &delta::MergeSpec,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        static VIEWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = VIEWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (name, old) = (format!("glue_rs_merge_source_{n}"), format!("glue_rs_merge_target_{n}"));
        self.register_temp(&name, source);
        // The target's rows, with its new columns when they change in this commit.
        let target_rows = match &columns {
            Some(c) => {
                let rows = self.adapted_rows(target, c).await;
                rows.map(|r| {
                    self.register_temp(&old, r);
                    glue_sql::quote_ident(&old)
                })
            }
            None => Ok(target.without_catalog().to_string()),
        };
        let all_columns = columns.unwrap_or_else(|| e.columns.clone());
        let result = match target_rows {
            Ok(t) => self.merged_rows(target, &t, &all_columns, &name, spec).await,
            Err(err) => Err(err),
        };
        let result = match result {
            Ok(df) => {
                self.iceberg_write_rows(target, e, df, RowsWrite::ReplaceAll, None)
                    .await
            }
            Err(err) => Err(err),
        };
        self.warehouse.drop_temp(&name);
        self.warehouse.drop_temp(&old);
        result
    }

    /// The rows of `target` after a MERGE from the temporary view `source` (see [`LocalEngine::merge_rebuild`]).
    pub(super) async fn merged_rows(
        &self,
        target: &RelationName,
        target_rows: &str,
        columns: &[ColumnEntry],
        source: &str,
        spec: &delta::MergeSpec,
    ) -> Result<DataFrame, LocalError> {
        let from_t = format!("{target_rows} AS {DEST_ALIAS}");
        let from_s = format!("{} AS {SOURCE_ALIAS}", glue_sql::quote_ident(source));
        let on = &spec.on;
        let dest = |c: &str| format!("{DEST_ALIAS}.{}", glue_sql::quote_ident(c));
        let select = |exprs: Vec<String>| exprs.join(", ");
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let mut parts = Vec::new();
        match &spec.update {
            Some(u) => {
                let matched = match &u.predicate {
                    Some(p) => format!("({on}) AND ({p})"),
                    None => format!("({on})"),
                };
                let pairs = self
                    .sql(&format!("SELECT 1 FROM {from_t} JOIN {from_s} ON {matched}"))
                    .await?
                    .count()
                    .await
                    .map_err(LocalError::df("MERGE: matching rows"))?;
                let rows = self
                    .sql(&format!("SELECT 1 FROM {from_t} LEFT SEMI JOIN {from_s} ON {matched}"))
                    .await?
                    .count()
                    .await
                    .map_err(LocalError::df("MERGE: matching rows"))?;
                if pairs > rows {
                    return Err(LocalError::Data(format!(
                        "[MERGE_CARDINALITY_VIOLATION] MERGE into {target}: a row of the target matched more than one \
                         row of the source ({} source rows matched {rows} target rows); make the unique_key unique in \
                         the new rows",
                        pairs
                    )));
                }
                let set = |c: &str| {
                    u.set
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(c))
                        .map(|(_, x)| x.clone())
                        .unwrap_or_else(|| dest(c))
                };
                let updated = names
                    .iter()
                    .map(|c| format!("{} AS {}", set(c), glue_sql::quote_ident(c)));
                parts.push(format!(
                    "SELECT {} FROM {from_t} JOIN {from_s} ON {matched}",
                    select(updated.collect())
                ));
                let kept = names.iter().map(|c| dest(c));
                parts.push(format!(
                    "SELECT {} FROM {from_t} LEFT ANTI JOIN {from_s} ON {matched}",
                    select(kept.collect())
                ));
            }
            None => parts.push(format!(
                "SELECT {} FROM {from_t}",
                select(names.iter().map(|c| dest(c)).collect())
            )),
        }
        if let Some(i) = &spec.insert {
            let value = |c: &str| {
                i.set
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(c))
                    .map(|(_, x)| x.clone())
                    .unwrap_or_else(|| "NULL".into())
            };
            let inserted = names
                .iter()
                .map(|c| format!("{} AS {}", value(c), glue_sql::quote_ident(c)));
            let filter = i.predicate.as_ref().map(|p| format!(" WHERE {p}")).unwrap_or_default();
            parts.push(format!(
                "SELECT {} FROM {from_s} LEFT ANTI JOIN {from_t} ON {on}{filter}",
                select(inserted.collect())
            ));
        }
        let df = self.sql(&parts.join(" UNION ALL ")).await?;
        // The table's own column types, whatever the branches' types unified to.
        let exprs = columns
            .iter()
            .map(|c| Ok(cast(ident(c.name.as_str()), arrow_type(c.data_type.as_str())?).alias(c.name.as_str())))
            .collect::<Result<Vec<_>, LocalError>>()?;
        df.select(exprs)
            .map_err(LocalError::df(format!("the merged rows of {target}")))
    }

    pub(super) async fn snapshot_merge(
        &self,
        target: &RelationName,
        staging: &RelationName,
        spec: &glue_materialize::step::SnapshotSpec,
        columns: Option<Vec<ColumnEntry>>,
    ) -> Result<(), LocalError> {
        let e = self.require(target)?;
        if !matches!(e.format, Some(FileFormat::Delta | FileFormat::Iceberg)) {
            return Err(LocalError::Unsupported(format!(
                "snapshots on {} tables",
                e.format.map(|f| f.to_string()).unwrap_or_default()
            )));
        }
        let iceberg = e.format == Some(FileFormat::Iceberg);
        let m = &spec.config.meta_columns;
        let vt = format!("{DEST_ALIAS}.{}", m.dbt_valid_to);
        let current = match &spec.config.dbt_valid_to_current {
            // dbt-spark's snapshot_merge_sql, as is: the rows are computed by DataFusion, not logged by delta-rs.
            Some(v) if iceberg => format!("({vt} = ({}) OR {vt} IS NULL)", v.trimmed()),
            Some(v) => {
                // delta-rs must write the merge predicate into its log and cannot for casts to timestamps: the
                // current-row marker is evaluated first and compared as text.
                let marker = self
                    .sql(&format!("SELECT CAST(({}) AS STRING) AS v", v.trimmed()))
                    .await?
                    .collect()
                    .await
                    .map_err(LocalError::df("evaluating dbt_valid_to_current"))?;
                let text = marker
                    .first()
                    .filter(|b| b.num_rows() == 1)
                    .and_then(|b| {
                        datafusion::arrow::util::display::ArrayFormatter::try_new(b.column(0), &Default::default())
                            .ok()
                            .map(|f| f.value(0).to_string())
                    })
                    .ok_or_else(|| LocalError::Data("dbt_valid_to_current did not evaluate to one value".into()))?;
                format!(
                    "(CAST({vt} AS STRING) = {} OR {vt} IS NULL)",
                    glue_sql::string_literal(&text)
                )
            }
            None => format!("{vt} IS NULL"),
        };
        let tgt: Vec<String> = columns
            .as_ref()
            .unwrap_or(&e.columns)
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let src = self.sql(&format!("SELECT * FROM {staging}")).await?;
        let src_names: Vec<String> = src.schema().fields().iter().map(|f| f.name().clone()).collect();
        let inserts: Vec<(String, String)> = tgt
            .iter()
            .filter(|c| src_names.iter().any(|s| s.eq_ignore_ascii_case(c)))
            .map(|c| (c.clone(), format!("{SOURCE_ALIAS}.{}", glue_sql::quote_ident(c))))
            .collect();
        let merge = delta::MergeSpec {
            on: format!("{SOURCE_ALIAS}.{} = {DEST_ALIAS}.{}", m.dbt_scd_id, m.dbt_scd_id),
            update: Some(delta::MergeClause {
                predicate: Some(format!(
                    "{current} AND {SOURCE_ALIAS}.dbt_change_type IN ('update', 'delete')"
                )),
                set: vec![(
                    m.dbt_valid_to.as_str().to_string(),
                    format!("{SOURCE_ALIAS}.{}", m.dbt_valid_to),
                )],
            }),
            insert: Some(delta::MergeClause {
                predicate: Some(format!("{SOURCE_ALIAS}.dbt_change_type = 'insert'")),
                set: inserts,
            }),
        };
        if iceberg {
            return self.merge_rebuild(target, &e, src, &merge, columns).await;
        }
        delta::merge(
            &self.ctx,
            e.location.as_deref().unwrap_or_default(),
            src,
            SOURCE_ALIAS,
            DEST_ALIAS,
            merge,
            columns.is_some(),
        )
        .await?;
        if let Some(columns) = columns {
            self.record_columns(target, columns)?;
        }
        Ok(())
    }
}
