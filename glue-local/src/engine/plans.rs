//! The `Engine` of glue-materialize: a plan checked, then run step by step; queries and the catalog's relations.

use std::sync::Arc;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use glue_materialize::engine::{Capabilities, PlanOutcome, RelationInfo};
use glue_materialize::step::Step;
use glue_materialize::{Engine, EngineError, Existing, ExistingTable, FileFormat, Plan, StepKind, TableFormat};
use glue_sql::RelationName;
use glue_sql::types::ColumnDef;

use crate::catalog::{ColumnEntry, EntryKind};
use crate::error::LocalError;

use super::local_engine::{FORMATS, LocalEngine, key_of};

impl LocalEngine {
    pub(super) async fn precheck(&self, plan: &Plan) -> Result<(), LocalError> {
        let mergeable = |f: FileFormat| matches!(f, FileFormat::Delta | FileFormat::Iceberg);
        let mut merge_targets: Vec<(&RelationName, Option<FileFormat>)> = Vec::new();
        for step in &plan.steps {
            match step {
                Step::Merge { target, .. } | Step::SnapshotMerge { target, .. } => {
                    merge_targets.push((target, self.entry(target)?.and_then(|e| e.format)));
                }
                // A snapshot's later runs MERGE: only Delta and Iceberg take them (as on Spark).
                Step::SnapshotCreate { table, .. } if !mergeable(table.format) => {
                    return Err(LocalError::Unsupported(format!(
                        "snapshots on {} tables (MERGE)",
                        table.format
                    )));
                }
                _ => {}
            }
        }
        for (target, format) in merge_targets {
            if let Some(f) = format
                && !mergeable(f)
            {
                return Err(LocalError::Unsupported(format!("MERGE into the {f} table {target}")));
            }
        }
        Ok(())
    }

    /// Runs a plan's steps, deferring each `SyncSchema` a write of its target follows (see `execute`).
    async fn execute_steps(&self, plan: &Plan, outcome: &mut PlanOutcome) -> Result<(), EngineError> {
        for (index, step) in plan.steps.iter().enumerate() {
            // Lake Formation governs the Glue Data Catalog: a local run builds the table and says what it skipped,
            // so a project with `lf_tags_config` / `lf_grants` still runs on the embedded engine.
            if let Step::LakeFormation { database, table, .. } = step {
                outcome.warnings.push(format!(
                    "Lake Formation tags and data-cell filters of {database}.{table} are not applied on the embedded \
                     engine (there is no Lake Formation here); a Glue target applies them"
                ));
                continue;
            }
            // A schema change waits for the target's write when one follows: both commit together.
            let deferred = match step {
                Step::SyncSchema { target, .. } => plan.steps[index + 1..].iter().any(|s| match s {
                    Step::InsertInto { target: t, .. }
                    | Step::InsertOverwrite { target: t, .. }
                    | Step::Merge { target: t, .. }
                    | Step::SnapshotMerge { target: t, .. } => key_of(t) == key_of(target),
                    _ => false,
                }),
                _ => false,
            };
            self.run_step_in(step, deferred).await.map_err(|e| match e {
                LocalError::Unsupported(c) => EngineError::Unsupported {
                    engine: "the embedded engine",
                    construct: c,
                },
                other => EngineError::Other {
                    context: format!("model `{}`, step {step}", plan.model),
                    source: Box::new(other),
                },
            })?;
            outcome.executed.push(step.to_string());
        }
        Ok(())
    }
}

#[async_trait]
impl Engine for LocalEngine {
    fn capabilities(&self) -> Capabilities {
        // Lake Formation steps are accepted and skipped with a warning (see `execute`).
        let unsupported = [StepKind::HudiWrite, StepKind::RunPython];
        Capabilities {
            engine: "the embedded engine",
            formats: FORMATS.into_iter().collect(),
            steps: StepKind::ALL
                .iter()
                .copied()
                .filter(|k| !unsupported.contains(k))
                .collect(),
            format_help: Default::default(),
        }
    }

    async fn execute(&self, plan: &Plan) -> Result<PlanOutcome, EngineError> {
        self.capabilities().check(plan)?;
        self.precheck(plan).await.map_err(EngineError::from)?;
        if let Some(r) = &plan.relation
            && !r.is_temporary()
        {
            self.create_schema(r.schema_str())?;
            self.warehouse.set_current_schema(r.schema_str());
        }
        let mut outcome = PlanOutcome::default();
        let result = self.execute_steps(plan, &mut outcome).await;
        // Whatever a failed plan left pending is not applied; what no write took is applied now.
        let left: Vec<(String, Vec<ColumnEntry>)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<String> = plan
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::SyncSchema { target, .. } => Some(key_of(target)),
                    _ => None,
                })
                .collect();
            keys.iter()
                .filter_map(|k| pending.remove(k).map(|c| (k.clone(), c)))
                .collect()
        };
        result?;
        for (key, columns) in left {
            let Some(target) = plan.steps.iter().find_map(|s| match s {
                Step::SyncSchema { target, .. } if key_of(target) == key => Some(target),
                _ => None,
            }) else {
                continue;
            };
            let entry = self.require(target)?;
            self.apply_columns(target, &entry, columns).await?;
        }
        Ok(outcome)
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, EngineError> {
        let df = self.sql(sql).await?;
        Ok(df.collect().await.map_err(LocalError::df("query"))?)
    }

    async fn query_schema(&self, sql: &str) -> Result<arrow_schema::SchemaRef, EngineError> {
        let df = self.sql(sql).await?;
        Ok(Arc::new(df.schema().as_arrow().clone()))
    }

    async fn list_relations(&self, schema: &str) -> Result<Vec<RelationInfo>, EngineError> {
        let state = self.catalog.read()?;
        let mut out = Vec::new();
        for (name, e) in state.tables_in(schema) {
            let existing = match e.kind {
                EntryKind::View => Existing::View,
                EntryKind::Table => Existing::Table(ExistingTable {
                    format: e
                        .format
                        .map(TableFormat::Known)
                        .unwrap_or_else(|| TableFormat::Other("unknown".into())),
                    location: e.location.clone(),
                    columns: e
                        .columns
                        .iter()
                        .filter_map(|c| ColumnDef::new(c.name.clone(), c.data_type.clone()).ok())
                        .collect(),
                    partition_columns: e.partition_columns.clone(),
                    version: Some(e.version.to_string()),
                    siblings: Vec::new(),
                    temp_siblings: Vec::new(),
                }),
            };
            let name = RelationName::new(schema.to_lowercase(), name).map_err(|e| LocalError::Data(e.to_string()))?;
            out.push(RelationInfo { name, existing });
        }
        Ok(out)
    }

    async fn describe(&self, relation: &RelationName) -> Result<Vec<ColumnDef>, EngineError> {
        Ok(self.columns_of(relation).await?)
    }
}
