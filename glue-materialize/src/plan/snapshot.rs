//! Planning a snapshot (dbt's SCD2): the first build from the query, then each run's staging of changed rows,
//! the schema sync of new source columns, and the merge that closes and opens versions.

use glue_sql::RelationName;
use glue_sql::ddl::DropKind;

use super::{Built, Planner, left_behind};
use crate::config::FileFormat;
use crate::error::{ConfigProblem, PlanError};
use crate::model::Existing;
use crate::step::{HookPhase, SnapshotSpec, Step, TempKind};

impl Planner<'_> {
    pub(super) fn snapshot(&mut self) -> Result<Built, PlanError> {
        let format = self.format();
        const ALLOWED: [FileFormat; 4] = [
            FileFormat::Delta,
            FileFormat::Iceberg,
            FileFormat::Hudi,
            FileFormat::S3Tables,
        ];
        if !ALLOWED.contains(&format) {
            return Err(self.err(
                "file_format",
                ConfigProblem::FormatNotAllowed {
                    format: format.as_str(),
                    materialization: "snapshot (it needs MERGE)",
                    allowed: ALLOWED.iter().map(|f| f.as_str()).collect(),
                },
            ));
        }
        self.check_format(format)?;
        if self.cfg.unique_key.is_empty() {
            return Err(self.err("unique_key", ConfigProblem::Required { why: "for a snapshot" }));
        }
        let Some(config) = self.cfg.snapshot.clone() else {
            return Err(self.err("strategy", ConfigProblem::Required { why: "for a snapshot" }));
        };
        let unique_key = self
            .cfg
            .unique_key
            .iter()
            .map(|k| {
                crate::config::key_part(k)
                    .ok_or_else(|| self.err("unique_key", ConfigProblem::Invalid("empty key".into())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let spec = SnapshotSpec { unique_key, config };
        let relation = self.relation(format)?;
        let mut steps = self.hooks(HookPhase::Pre);
        match self.existing {
            Existing::Absent => {
                let table = self.table_spec(relation.clone(), format, Some(self.location()?));
                steps.push(Step::SnapshotCreate {
                    table,
                    spec,
                    query: self.model.sql.clone(),
                });
            }
            Existing::View => {
                return Err(self.err(
                    "materialized",
                    ConfigProblem::ExistingRelation {
                        relation: relation.to_string(),
                        existing: "a view",
                        why: "a snapshot keeps history in a table; drop the view or choose another name",
                    },
                ));
            }
            Existing::Table(t) if t.known_format() != Some(format) => {
                return Err(self.format_mismatch("file_format", t, format.as_str()));
            }
            Existing::Table(existing) => {
                let name =
                    crate::staging::temp_name(&format!("{}__dbt_tmp", self.model.alias), &self.flags.invocation_id);
                let (staging, kind) = if format.in_iceberg_catalog() && !self.iceberg_temp_views() {
                    let (schema, name) = self.scratch_place(name);
                    let r = RelationName::in_catalog(self.target.iceberg_catalog.as_deref(), schema, name)
                        .map_err(self.sql_err("temp_schema"))?;
                    (r, TempKind::Table)
                } else {
                    (
                        RelationName::temp_view(name).map_err(self.sql_err("alias"))?,
                        TempKind::View,
                    )
                };
                // Left by a run that stopped before dropping it: it goes with its files.
                steps.extend(left_behind(&staging, kind));
                steps.push(Step::SnapshotStaging {
                    staging: staging.clone(),
                    kind,
                    target: relation.clone(),
                    spec: spec.clone(),
                    query: self.model.sql.clone(),
                });
                steps.push(Step::SyncSchema {
                    target: relation.clone(),
                    source: staging.clone(),
                    mode: crate::config::OnSchemaChange::AppendNewColumns,
                    format,
                    ignore_prefix: Some("dbt_".into()),
                });
                steps.push(Step::RefreshTable {
                    relation: relation.clone(),
                });
                steps.push(Step::SnapshotMerge {
                    target: relation.clone(),
                    staging: staging.clone(),
                    spec,
                });
                steps.extend(self.persist_column_docs(&relation));
                steps.extend(self.lake_formation());
                steps.extend(self.hooks(HookPhase::Post));
                let leftovers = self.other_runs_temp(existing, &staging, kind)?;
                steps.push(Step::Drop {
                    relation: staging,
                    kind: if kind == TempKind::View {
                        DropKind::View
                    } else {
                        DropKind::Table
                    },
                    // glue-rs's own scratch table: its files go with it.
                    purge: kind == TempKind::Table,
                });
                steps.extend(leftovers);
                return Ok((relation, steps));
            }
        }
        steps.extend(self.persist_column_docs(&relation));
        self.finish(relation, steps)
    }
}
