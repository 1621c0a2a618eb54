//! Planning an incremental model: append, insert_overwrite and merge per file format (the temporary relation of
//! new rows, the schema sync `on_schema_change` asks for, the write, the Iceberg housekeeping), and Hudi's own
//! DataFrame writes.

use std::collections::BTreeMap;

use glue_sql::ddl::DropKind;
use glue_sql::{Ident, RelationName};

use super::{Built, Planner, left_behind};
use crate::config::{FileFormat, IncrementalStrategy};
use crate::error::{ConfigProblem, PlanError};
use crate::model::Existing;
use crate::step::{HookPhase, HudiOperation, Partitions, Step, TempKind, UpdateColumns};

impl Planner<'_> {
    pub(super) fn incremental(&mut self) -> Result<Built, PlanError> {
        let format = self.format();
        let strategy = self.cfg.incremental_strategy;
        self.check_format(format)?;
        if strategy == IncrementalStrategy::Microbatch {
            return Err(self.microbatch_refused());
        }
        if strategy == IncrementalStrategy::Merge && !format.supports_merge() {
            return Err(self.err(
                "incremental_strategy",
                ConfigProblem::MergeNeedsLakehouseFormat {
                    format: format.as_str(),
                    allowed: FileFormat::merge_formats(),
                },
            ));
        }
        if format == FileFormat::Hudi && self.cfg.unique_key.is_empty() {
            return Err(self.err(
                "unique_key",
                ConfigProblem::Required {
                    why: "for Hudi incremental models",
                },
            ));
        }
        if strategy == IncrementalStrategy::Merge && self.cfg.unique_key.is_empty() && format != FileFormat::Hudi {
            self.warnings.push(
                "merge without unique_key: the merge condition is FALSE, so every row is inserted (like append)".into(),
            );
        }
        if format == FileFormat::Hudi {
            return self.hudi();
        }
        let full_refresh = self.full_refresh();
        let incremental_run = match self.existing {
            Existing::Absent | Existing::View => false,
            Existing::Table(t) if t.known_format() == Some(format) => !full_refresh,
            Existing::Table(_) if full_refresh => false,
            // Plain formats read and write each other's rows; a table whose provider is unknown (a crawler's or
            // Athena's table) is treated as plain too. The lakehouse formats need a rebuild.
            Existing::Table(t) if !format.is_lakehouse() && !t.known_format().is_some_and(FileFormat::is_lakehouse) => {
                self.warnings.push(format!(
                    "the existing table is {}, the model is configured as {format}; new rows are written in the \
                     table's format until a --full-refresh",
                    t.format_name()
                ));
                true
            }
            Existing::Table(t) => {
                return Err(self.format_mismatch("file_format", t, format.as_str()));
            }
        };
        let mut steps = self.hooks(HookPhase::Pre);
        if !incremental_run {
            let (relation, build) = self.rebuild(format)?;
            steps.extend(build);
            if matches!(self.existing, Existing::Table(t) if t.known_format() == Some(format)) {
                steps.extend(self.expire(&relation));
            }
            steps.extend(self.persist_column_docs(&relation));
            steps.extend(self.hooks(HookPhase::Post));
            steps.extend(self.lake_formation());
            if format == FileFormat::Delta {
                let loc = self.built_location()?;
                steps.extend(self.delta_manifest(&relation, loc, true)?);
            }
            return Ok((relation, steps));
        }
        let Existing::Table(existing) = self.existing else {
            unreachable!("incremental run needs a table")
        };
        let relation = self.relation(existing.known_format().unwrap_or(format))?;
        let (tmp, kind) = self.temp_relation(format)?;
        // A temporary table left by a run that stopped before dropping it goes with its files (CREATE OR REPLACE
        // would keep them, unreferenced).
        steps.extend(left_behind(&tmp, kind));
        steps.push(Step::CreateTempRelation {
            relation: tmp.clone(),
            kind,
            format,
            query: self.query(format),
        });
        if self.cfg.on_schema_change != crate::config::OnSchemaChange::Ignore {
            steps.push(Step::SyncSchema {
                target: relation.clone(),
                source: tmp.clone(),
                mode: self.cfg.on_schema_change,
                format,
                ignore_prefix: None,
            });
        }
        steps.extend(self.hooks(HookPhase::SqlHeader));
        steps.push(match strategy {
            IncrementalStrategy::Append => Step::InsertInto {
                target: relation.clone(),
                source: tmp.clone(),
            },
            IncrementalStrategy::InsertOverwrite => Step::InsertOverwrite {
                target: relation.clone(),
                source: tmp.clone(),
                partitions: if self.cfg.partition_by.is_empty() {
                    Partitions::Whole
                } else {
                    Partitions::Dynamic(
                        self.cfg
                            .partition_by
                            .iter()
                            .filter(|p| p.is_identity())
                            .map(|p| p.column().clone())
                            .collect(),
                    )
                },
                format,
            },
            IncrementalStrategy::Microbatch => return Err(self.microbatch_refused()),
            IncrementalStrategy::Merge => Step::Merge {
                target: relation.clone(),
                source: tmp.clone(),
                keys: self
                    .cfg
                    .unique_key
                    .iter()
                    .map(|k| Ident::new(k.trim()))
                    .collect::<Result<_, _>>()
                    .map_err(self.sql_err("unique_key"))?,
                predicates: self.cfg.incremental_predicates.clone(),
                update: match (&self.cfg.merge_update_columns, &self.cfg.merge_exclude_columns) {
                    (Some(only), _) => UpdateColumns::Only(only.clone()),
                    (None, Some(ex)) => UpdateColumns::AllExcept(ex.clone()),
                    (None, None) => UpdateColumns::All,
                },
            },
        });
        steps.extend(self.expire(&relation));
        steps.extend(self.persist_column_docs(&relation));
        steps.extend(self.hooks(HookPhase::Post));
        steps.extend(self.lake_formation());
        let leftovers = self.other_runs_temp(existing, &tmp, kind)?;
        steps.push(Step::Drop {
            relation: tmp,
            kind: if kind == TempKind::View {
                DropKind::View
            } else {
                DropKind::Table
            },
            // glue-rs's own scratch table: its files go with it, whatever `purge_dropped_iceberg_data` says.
            purge: kind == TempKind::Table,
        });
        steps.extend(leftovers);
        if format == FileFormat::Delta {
            let loc = existing.location.clone().map(Ok).unwrap_or_else(|| self.location())?;
            steps.extend(self.delta_manifest(&relation, loc, false)?);
        }
        Ok((relation, steps))
    }

    /// A microbatch model has no plan of its own: a run plans it batch by batch.
    fn microbatch_refused(&self) -> PlanError {
        self.err(
            "incremental_strategy",
            ConfigProblem::Invalid(
                "`microbatch` is planned batch by batch (glue_materialize::microbatch: the batches of the run, each \
                 replacing its window of the table), and this command does not drive batches yet; use \
                 insert_overwrite, append or merge meanwhile"
                    .into(),
            ),
        )
    }

    /// `<alias>_<custom_temp_suffix>__run_<run tag>` (see [`crate::staging`]): a temporary view, or for Iceberg / S3
    /// Tables (unless use_iceberg_temp_views) a table in temp_schema or the model's schema.
    fn temp_relation(&self, format: FileFormat) -> Result<(RelationName, TempKind), PlanError> {
        let name = crate::staging::temp_name(
            &format!("{}_{}", self.model.alias, self.cfg.custom_temp_suffix),
            &self.flags.invocation_id,
        );
        if format.in_iceberg_catalog() && !self.iceberg_temp_views() {
            let (schema, name) = self.scratch_place(name);
            let r = RelationName::in_catalog(self.target.iceberg_catalog.as_deref(), schema, name)
                .map_err(self.sql_err("temp_schema"))?;
            Ok((r, TempKind::Table))
        } else {
            Ok((
                RelationName::temp_view(name).map_err(self.sql_err("custom_temp_suffix"))?,
                TempKind::View,
            ))
        }
    }

    /// Drops of the temporary tables other runs of the model left beside `tmp` (found among the listed
    /// [`siblings`](crate::ExistingTable::siblings) or [`temp_siblings`](crate::ExistingTable::temp_siblings)), after this run's
    /// write: a run still using one fails before it writes (its temporary rows are gone), never after.
    pub(super) fn other_runs_temp(
        &self,
        existing: &crate::model::ExistingTable,
        tmp: &RelationName,
        kind: TempKind,
    ) -> Result<Vec<Step>, PlanError> {
        if kind != TempKind::Table {
            return Ok(Vec::new());
        }
        self.scratch_siblings(existing, tmp.schema_str())
            .iter()
            .filter(|n| crate::staging::is_other_runs_temp(tmp.identifier.as_str(), n))
            .map(|n| {
                Ok(Step::Drop {
                    relation: tmp.with_identifier(n.clone()).map_err(self.sql_err("alias"))?,
                    kind: DropKind::Table,
                    purge: true,
                })
            })
            .collect()
    }

    fn hudi(&mut self) -> Result<Built, PlanError> {
        let relation = self.relation(FileFormat::Hudi)?;
        let full_refresh = self.full_refresh();
        let mut steps = self.hooks(HookPhase::Pre);
        let (write_relation, location, operation, swap_from) = match self.existing {
            Existing::Absent => (relation.clone(), self.location()?, HudiOperation::BulkInsert, None),
            Existing::View => {
                steps.push(Step::CheckQuery {
                    view: self.check_view()?,
                    query: self.query(FileFormat::Hudi),
                });
                steps.push(Step::Drop {
                    relation: relation.clone(),
                    kind: DropKind::View,
                    purge: false,
                });
                (relation.clone(), self.location()?, HudiOperation::BulkInsert, None)
            }
            Existing::Table(t) if t.known_format() == Some(FileFormat::Hudi) => {
                let op = if full_refresh {
                    HudiOperation::InsertOverwriteTable
                } else {
                    HudiOperation::Upsert
                };
                (
                    relation.clone(),
                    t.location.clone().map(Ok).unwrap_or_else(|| self.location())?,
                    op,
                    None,
                )
            }
            Existing::Table(t) if full_refresh => {
                let staging = self.staging(&relation)?;
                let at = self.versioned(&self.location()?);
                steps.push(Step::Drop {
                    relation: staging.clone(),
                    kind: DropKind::Table,
                    purge: false,
                });
                (staging, at, HudiOperation::BulkInsert, Some(t))
            }
            Existing::Table(t) => {
                return Err(self.format_mismatch("file_format", t, "hudi"));
            }
        };
        steps.push(Step::HudiWrite {
            relation: write_relation.clone(),
            location,
            query: self.model.sql.clone(),
            options: self.hudi_options(&write_relation, operation),
            operation,
            substitute_variables: self.cfg.substitute_variables.clone(),
        });
        if let Some(t) = swap_from {
            let other_staging = self.other_staging(t, &write_relation)?;
            steps.push(Step::SwapTable {
                target: relation.clone(),
                staging: write_relation,
                old_location: t.location.clone(),
                delete_old_location: false,
                expected_version: t.version.clone(),
                other_staging,
            });
        }
        steps.extend(self.persist_column_docs(&relation));
        steps.extend(self.hooks(HookPhase::Post));
        steps.extend(self.lake_formation());
        Ok((relation, steps))
    }

    /// dbt-glue's Hudi options: base < partition < operation < `hudi_options` (the user wins).
    fn hudi_options(&self, relation: &RelationName, op: HudiOperation) -> BTreeMap<String, String> {
        let mut o = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            o.insert(k.to_string(), v.to_string());
        };
        let table = relation.identifier.as_str();
        set("className", "org.apache.hudi");
        set("hoodie.datasource.hive_sync.use_jdbc", "false");
        set("hoodie.datasource.write.precombine.field", "update_hudi_ts");
        set(
            "hoodie.datasource.write.recordkey.field",
            &self.cfg.unique_key.join(","),
        );
        set("hoodie.table.name", table);
        set("hoodie.datasource.hive_sync.database", &self.model.schema);
        set("hoodie.datasource.hive_sync.table", table);
        set("hoodie.datasource.hive_sync.enable", "true");
        set("hoodie.datasource.write.hive_style_partitioning", "true");
        let parts: Vec<&str> = self.cfg.partition_by.iter().map(|p| p.column().as_str()).collect();
        if parts.is_empty() {
            set(
                "hoodie.datasource.hive_sync.partition_extractor_class",
                "org.apache.hudi.hive.NonPartitionedExtractor",
            );
            set(
                "hoodie.datasource.write.keygenerator.class",
                "org.apache.hudi.keygen.NonpartitionedKeyGenerator",
            );
        } else {
            set("hoodie.datasource.write.partitionpath.field", &parts.join(","));
            set(
                "hoodie.datasource.hive_sync.partition_extractor_class",
                "org.apache.hudi.hive.MultiPartKeysValueExtractor",
            );
            set("hoodie.datasource.hive_sync.partition_fields", &parts.join(","));
        }
        set("hoodie.index.type", "GLOBAL_BLOOM");
        set("hoodie.bloom.index.update.partition.path", "true");
        match op {
            HudiOperation::BulkInsert => set("hoodie.datasource.write.operation", "bulk_insert"),
            HudiOperation::Upsert => {
                set("hoodie.datasource.write.operation", "upsert");
                set("hoodie.cleaner.policy", "KEEP_LATEST_COMMITS");
                set("hoodie.cleaner.commits.retained", "10");
            }
            HudiOperation::InsertOverwriteTable => set("hoodie.datasource.write.operation", "insert_overwrite_table"),
        }
        for (k, v) in &self.cfg.hudi_options {
            o.insert(k.clone(), v.clone());
        }
        o
    }
}
