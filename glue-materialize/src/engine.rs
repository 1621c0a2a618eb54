//! The `Engine` trait: what the CLI asks of an engine (the embedded engine, a Glue session, a Spark Connect
//! server). Only `arrow-array` / `arrow-schema` are pulled in, so the planner stays light.

use std::collections::{BTreeMap, BTreeSet};

use arrow_array::RecordBatch;
use async_trait::async_trait;
use glue_sql::RelationName;
use glue_sql::types::ColumnDef;

use crate::config::FileFormat;
use crate::model::Existing;
use crate::plan::Plan;
use crate::step::StepKind;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine cannot run this faithfully; raised before anything is written.
    #[error("unsupported on {engine}: {construct}")]
    Unsupported {
        /// The engine's name.
        engine: &'static str,
        /// What it cannot run.
        construct: String,
    },
    /// The engine rejected a statement (Spark analysis or parse error, DataFusion error…).
    #[error("{}{message}", .error_class.as_deref().map(|c| format!("[{c}] ")).unwrap_or_default())]
    Sql {
        /// Spark's error class when known (`TABLE_OR_VIEW_NOT_FOUND`, …).
        error_class: Option<String>,
        /// The message.
        message: String,
    },
    /// Anything else (I/O, network, AWS), with its source.
    #[error("{context}: {source}")]
    Other {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What an engine runs faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The engine's name, for messages.
    pub engine: &'static str,
    /// Table formats it writes.
    pub formats: BTreeSet<FileFormat>,
    /// Steps it executes.
    pub steps: BTreeSet<StepKind>,
    /// For formats it does not write, what would make it write them (appended to the refusal).
    pub format_help: BTreeMap<FileFormat, String>,
}

impl Capabilities {
    /// Checks a plan before anything runs: the first step or format the engine cannot run is an error.
    pub fn check(&self, plan: &Plan) -> Result<(), EngineError> {
        for step in &plan.steps {
            if !self.steps.contains(&step.kind()) {
                return Err(EngineError::Unsupported {
                    engine: self.engine,
                    construct: format!("step {:?} of model `{}`", step.kind(), plan.model),
                });
            }
            if let Some(f) = step.format()
                && !self.formats.contains(&f)
            {
                return Err(EngineError::Unsupported {
                    engine: self.engine,
                    construct: format!(
                        "file_format `{f}` (model `{}`){}",
                        plan.model,
                        self.format_help.get(&f).map(|h| format!(": {h}")).unwrap_or_default()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// A relation listed in a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationInfo {
    /// Its name.
    pub name: RelationName,
    /// What it is.
    pub existing: Existing,
}

/// What executing a plan produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOutcome {
    /// Rows written by the main statement, when the engine knows.
    pub rows_affected: Option<u64>,
    /// The statements or actions run, in order (for logs and `run_results.json`).
    pub executed: Vec<String>,
    /// What the engine did differently from the plan and the user should know (a housekeeping step the engine
    /// cannot run, files it had to leave in place).
    pub warnings: Vec<String>,
}

/// An engine that runs plans. Object-safe (`Box<dyn Engine>`), `Send + Sync` for `--threads`.
#[async_trait]
pub trait Engine: Send + Sync {
    /// What this engine runs faithfully.
    fn capabilities(&self) -> Capabilities;

    /// Runs a plan's steps in order; stops at the first failure.
    async fn execute(&self, plan: &Plan) -> Result<PlanOutcome, EngineError>;

    /// Runs a query and returns its rows.
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, EngineError>;

    /// The columns a query returns, without its rows (model contracts). The default runs the query with no rows
    /// wanted; engines that can plan without running override it.
    async fn query_schema(&self, sql: &str) -> Result<arrow_schema::SchemaRef, EngineError> {
        let batches = self
            .query(&format!("select * from (\n{sql}\n) glue_schema_probe limit 0"))
            .await?;
        batches.first().map(|b| b.schema()).ok_or_else(|| EngineError::Sql {
            error_class: None,
            message: "the engine returned no schema for the query".into(),
        })
    }

    /// Lists the relations of a schema (an absent schema lists nothing).
    async fn list_relations(&self, schema: &str) -> Result<Vec<RelationInfo>, EngineError>;

    /// Describes a relation's columns.
    async fn describe(&self, relation: &RelationName) -> Result<Vec<ColumnDef>, EngineError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Existing, ExistingTable, Model, ModelConfig, PlanFlags, Target, plan};

    fn merge_plan() -> Plan {
        let cfg = ModelConfig::from_json(
            &serde_json::json!({"materialized": "incremental", "file_format": "iceberg",
            "incremental_strategy": "merge", "unique_key": "id"}),
        )
        .unwrap();
        let m = Model::new("m", "s", "select 1 as id", cfg);
        let e = Existing::Table(ExistingTable::of(FileFormat::Iceberg));
        plan(&m, &e, &Target::new("s", Some("/w".into())), &PlanFlags::default()).unwrap()
    }

    #[test]
    fn capabilities_refuse_what_the_engine_cannot_run() {
        let p = merge_plan();
        let all = Capabilities {
            engine: "test engine",
            formats: FileFormat::ALL.iter().copied().collect(),
            steps: StepKind::ALL.iter().copied().collect(),
            format_help: BTreeMap::new(),
        };
        assert!(all.check(&p).is_ok());
        let mut no_merge = all.clone();
        no_merge.steps.remove(&StepKind::Merge);
        let e = no_merge.check(&p).unwrap_err().to_string();
        assert!(
            e.starts_with("unsupported on test engine: step Merge of model `m`"),
            "{e}"
        );
        let mut no_iceberg = all.clone();
        no_iceberg.formats.remove(&FileFormat::Iceberg);
        let e = no_iceberg.check(&p).unwrap_err().to_string();
        assert!(e.contains("file_format `iceberg`"), "{e}");
        no_iceberg
            .format_help
            .insert(FileFormat::Iceberg, "list it in datalake_formats".into());
        let e = no_iceberg.check(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("file_format `iceberg` (model `m`): list it in datalake_formats"),
            "{e}"
        );
    }
}
