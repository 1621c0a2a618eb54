//! One step of a plan, run: each `Step` dispatched to what does it, temporary relations and drops.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::view::ViewTable;
use datafusion::prelude::DataFrame;
use glue_materialize::FileFormat;
use glue_materialize::render::{query_sql, snapshot_sql};
use glue_materialize::schema::{SchemaDiff, schema_change};
use glue_materialize::step::{Partitions, Step, TableSpec, TempKind};
use glue_sql::RelationName;
use glue_sql::ddl::DropKind;

use crate::catalog::{EntryKind, TableEntry};
use crate::delta;
use crate::error::LocalError;

use super::columns::{column_entries, schema_columns};
use super::local_engine::{LocalEngine, key_of};
use super::schema_changes::evolved_columns;
use super::writes::RowsWrite;

impl LocalEngine {
    /// Runs one step.
    pub async fn run_step(&self, step: &Step) -> Result<(), LocalError> {
        self.run_step_in(step, false).await
    }

    /// Runs one step of a plan; with `deferred`, a `SyncSchema` step only checks its column changes and leaves them
    /// for the target's next write step, which commits them with its rows.
    pub(super) async fn run_step_in(&self, step: &Step, deferred: bool) -> Result<(), LocalError> {
        match step {
            Step::RunPython { .. } => {
                return Err(LocalError::Unsupported(
                    "Python models (they run on Glue sessions)".into(),
                ));
            }
            Step::Hook { sql, .. } => {
                self.sql(sql.as_str())
                    .await?
                    .collect()
                    .await
                    .map_err(LocalError::df("running a hook"))?;
            }
            Step::CheckQuery { query, .. } => {
                self.query_df(query).await?; // planning analyses the query; nothing runs
            }
            Step::Drop { relation, kind, .. } => self.drop_relation(relation, *kind)?,
            Step::CreateTableAs { table, query, replace } => {
                let df = self.query_df(query).await?;
                self.create_table(table, df, *replace).await?;
            }
            Step::SwapTable {
                target,
                staging,
                expected_version,
                ..
            } => {
                let expected = expected_version.as_deref().and_then(|v| v.parse().ok());
                self.swap_checked(target, staging, expected)?
            }
            Step::DropOtherStaging { staging, .. } => self.drop_other_staging(staging)?,
            Step::DeleteLocation { location } => self.remove_owned(location)?,
            Step::CreateView {
                relation,
                query,
                comment,
            } => {
                let sql =
                    query_sql(query, &self.render_ctx(None, None)).map_err(|e| LocalError::Data(e.to_string()))?;
                let df = self.sql(sql.as_str()).await?;
                let columns = column_entries(df.schema().as_arrow())?;
                let key = key_of(relation);
                let entry = TableEntry {
                    kind: EntryKind::View,
                    format: None,
                    location: None,
                    columns,
                    partition_columns: vec![],
                    clustered_by: None,
                    properties: BTreeMap::new(),
                    comment: comment.clone(),
                    view_sql: Some(sql.trimmed().to_string()),
                    version: 1,
                    previous_location: None,
                    iceberg_metadata: None,
                };
                self.catalog.update(|s| {
                    if s.tables.get(&key).is_some_and(|e| e.kind == EntryKind::Table) {
                        return Err(LocalError::Data(format!(
                            "{relation} is a table; drop it before creating a view"
                        )));
                    }
                    s.tables.insert(key.clone(), entry);
                    Ok(())
                })?;
            }
            Step::CreateTempRelation {
                relation, kind, query, ..
            } => {
                let df = self.query_df(query).await?;
                self.temp_relation(relation, *kind, df).await?;
            }
            Step::SyncSchema {
                target,
                source,
                mode,
                format,
                ignore_prefix,
            } => {
                let src = self.columns_of(source).await?;
                let tgt = self.columns_of(target).await?;
                let diff = SchemaDiff::between(&src, &tgt, ignore_prefix.as_deref());
                let alters = schema_change(target, &diff, *mode, *format)?;
                if alters.is_empty() {
                    return Ok(());
                }
                // Every change is checked before anything is committed.
                let entry = self.require(target)?;
                let columns = evolved_columns(target, &entry, &alters)?;
                if deferred {
                    self.pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key_of(target), columns);
                } else {
                    self.apply_columns(target, &entry, columns).await?;
                }
            }
            Step::InsertInto { target, source } => {
                let columns = self.take_pending(target);
                let df = self.conformed_to(target, columns.as_deref(), source).await?;
                self.write_rows(target, df, RowsWrite::Append, columns).await?;
            }
            Step::InsertOverwrite {
                target,
                source,
                partitions,
                ..
            } => {
                let columns = self.take_pending(target);
                let df = self.conformed_to(target, columns.as_deref(), source).await?;
                let mode = match partitions {
                    Partitions::Whole => RowsWrite::ReplaceAll,
                    Partitions::Dynamic(_) => RowsWrite::ReplacePartitions,
                };
                self.write_rows(target, df, mode, columns).await?;
            }
            Step::Merge {
                target,
                source,
                keys,
                predicates,
                update,
            } => {
                let columns = self.take_pending(target);
                self.merge(target, source, keys, predicates, update, columns).await?;
            }
            Step::SnapshotCreate { table, spec, query } => {
                let s = snapshot_sql(spec, &self.render_ctx(None, None), false)
                    .map_err(|e| LocalError::Data(e.to_string()))?;
                let df = self.sql(&s.build_select(query)).await?;
                self.create_table(table, df, false).await?;
            }
            Step::SnapshotStaging {
                staging,
                kind,
                target,
                spec,
                query,
            } => {
                let src = schema_columns(self.sql(query.as_str()).await?.schema().as_arrow())?;
                let s = snapshot_sql(spec, &self.render_ctx(None, Some(src.clone())), true)
                    .map_err(|e| LocalError::Data(e.to_string()))?;
                let names: Vec<_> = src.iter().map(|c| c.name.clone()).collect();
                let df = self
                    .sql(&s.staging_select(query, &target.without_catalog(), &names))
                    .await?;
                self.temp_relation(staging, *kind, df).await?;
            }
            Step::SnapshotMerge { target, staging, spec } => {
                let columns = self.take_pending(target);
                self.snapshot_merge(target, staging, spec, columns).await?
            }
            Step::LoadSeed {
                relation,
                path,
                format,
                mode,
                location,
                column_types,
                delimiter,
                casting,
                exists,
                replace,
                ..
            } => {
                self.load_seed(
                    relation,
                    path.as_deref(),
                    *format,
                    *mode,
                    location.as_deref(),
                    column_types,
                    *delimiter,
                    *casting,
                    *exists,
                    *replace,
                )
                .await?;
            }
            Step::RefreshTable { .. } => {} // no caches: every query reads the catalog and the files afresh
            Step::PersistColumnDocs { relation, columns } => {
                let key = key_of(relation);
                self.catalog.update(|s| {
                    let e = s
                        .tables
                        .get_mut(&key)
                        .ok_or_else(|| LocalError::NotFound(relation.to_string()))?;
                    for (name, comment) in columns {
                        if let Some(c) = e
                            .columns
                            .iter_mut()
                            .find(|c| c.name.eq_ignore_ascii_case(name.as_str()))
                        {
                            c.comment = Some(comment.clone());
                        }
                    }
                    Ok(())
                })?;
            }
            Step::DeltaManifest { location, .. } => {
                // The symlink manifest is written as on Glue; the Athena table over it is a Glue-only artefact.
                delta::generate_manifest(&self.local_path(location)?.display().to_string()).await?;
            }
            Step::HudiWrite { .. } => {
                return Err(LocalError::Unsupported("file_format hudi".into()));
            }
            Step::ExpireSnapshots {
                relation, retain_last, ..
            } => self.expire_snapshots(relation, *retain_last).await?,
            Step::LakeFormation { .. } => {
                return Err(LocalError::Unsupported(
                    "Lake Formation tags and data-cell filters (an AWS service)".into(),
                ));
            }
        }
        Ok(())
    }

    /// A plan's temporary relation: a temporary view, or a physical table (an Iceberg table, as dbt-glue builds
    /// one without `use_iceberg_temp_views`: a model's temp relation, a snapshot's staging).
    pub(super) async fn temp_relation(
        &self,
        relation: &RelationName,
        kind: TempKind,
        df: DataFrame,
    ) -> Result<(), LocalError> {
        if kind != TempKind::Table {
            self.register_temp(relation.identifier.as_str(), df);
            return Ok(());
        }
        let spec = TableSpec {
            relation: relation.clone(),
            format: FileFormat::Iceberg,
            partition_by: vec![],
            clustered_by: None,
            properties: BTreeMap::new(),
            options: BTreeMap::new(),
            location: None,
            own_location: false,
            comment: None,
        };
        self.create_table(&spec, df, true).await
    }

    pub(super) fn register_temp(&self, name: &str, df: DataFrame) {
        let plan = df.logical_plan().clone();
        let view = ViewTable::new(plan, None);
        self.warehouse.register_temp(name, Arc::new(view));
    }

    pub(super) fn drop_relation(&self, r: &RelationName, kind: DropKind) -> Result<(), LocalError> {
        if r.is_temporary() {
            self.warehouse.drop_temp(r.identifier.as_str());
            return Ok(());
        }
        let key = key_of(r);
        let removed = self.catalog.update(|s| {
            match s.tables.get(&key) {
                None => return Ok(None),
                Some(e) if (e.kind == EntryKind::View) != (kind == DropKind::View) => {
                    let what = if e.kind == EntryKind::View { "a view" } else { "a table" };
                    return Err(LocalError::Data(format!("cannot drop {r}: it is {what}")));
                }
                Some(_) => {}
            }
            Ok(s.tables.remove(&key))
        })?;
        // Tables glue-rs created inside the warehouse are managed: their files go with them.
        if let Some(e) = removed {
            for l in e.location.iter().chain(e.previous_location.iter()) {
                self.remove_owned(l)?;
            }
        }
        Ok(())
    }
}
