//! The strategy planner: (model, existing relation, target, flags) → [`Plan`].

use std::collections::BTreeMap;

use glue_sql::ddl::DropKind;
use glue_sql::{Ident, RelationName, SqlError, SqlFragment};

use crate::config::{FileFormat, Materialization, ModelConfig};
use crate::error::{ConfigProblem, ModelRef, PlanError};
use crate::model::{Existing, ExistingTable, Model, PlanFlags, Target};
use crate::query_comment::QueryComment;
use crate::step::{HookPhase, Query, Step, TableSpec, TempKind};

mod incremental;
mod snapshot;

/// An ordered list of typed steps that builds one model, with the warnings planning produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// The model.
    pub model: String,
    /// Its materialization.
    pub materialization: Materialization,
    /// The relation the model builds (none for ephemeral models).
    pub relation: Option<RelationName>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Things the user should know (e.g. a merge without unique_key inserts every row).
    pub warnings: Vec<String>,
    /// The remote session the plan runs on, when the model asks for one of its own (set by the caller; the planner
    /// leaves it empty). Engines without sessions ignore it.
    pub session: Option<SessionChoice>,
    /// The relations the model reads (its refs and sources; set by the caller, the planner leaves it empty). A
    /// session caches a table's definition and file listing: engines with long-lived sessions refresh these first,
    /// so that a table another session replaced is read at its new version.
    pub reads: Vec<RelationName>,
    /// dbt's `query-comment` rendered for the model (set by the caller; the planner leaves it empty): every
    /// statement sent for the plan carries it ([`render_plan`](crate::render_plan) shows it).
    pub query_comment: Option<QueryComment>,
}

impl Plan {
    /// The data locations the plan's steps write a table at, with that table: CTAS, snapshot builds, seeds, Hudi
    /// writes. (An engine refuses, before anything runs, a location that overlaps another table's.)
    pub fn written_locations(&self) -> Vec<(&RelationName, &str)> {
        let mut out = Vec::new();
        for step in &self.steps {
            match step {
                Step::CreateTableAs { table, .. } | Step::SnapshotCreate { table, .. } => {
                    if let Some(l) = &table.location {
                        out.push((&table.relation, l.as_str()));
                    }
                }
                Step::LoadSeed {
                    relation,
                    location: Some(l),
                    ..
                } => out.push((relation, l.as_str())),
                Step::HudiWrite { relation, location, .. } => out.push((relation, location.as_str())),
                _ => {}
            }
        }
        out
    }

    /// The location the model's table has once the plan has run, when the plan writes one: the location of the
    /// table switched in (a rebuild's staging table), else the last one written for the table itself.
    pub fn final_location(&self) -> Option<&str> {
        let relation = self.relation.as_ref()?.without_catalog();
        let written = self.written_locations();
        let swapped = self.steps.iter().find_map(|s| match s {
            Step::SwapTable { staging, .. } => Some(staging.without_catalog()),
            _ => None,
        });
        let wanted = swapped.unwrap_or(relation);
        written
            .iter()
            .rev()
            .find(|(r, _)| r.without_catalog() == wanted)
            .map(|(_, l)| *l)
    }

    /// Every relation the plan's steps build, replace or drop: the model's table, its staging and temporary
    /// relations, its Athena manifest table. Tables of other names are not the plan's.
    pub fn own_relations(&self) -> Vec<&RelationName> {
        let mut out: Vec<&RelationName> = self.relation.iter().collect();
        for step in &self.steps {
            match step {
                Step::CreateTableAs { table, .. } | Step::SnapshotCreate { table, .. } => out.push(&table.relation),
                Step::SwapTable { target, staging, .. } => out.extend([target, staging]),
                Step::Drop { relation, .. }
                | Step::CreateView { relation, .. }
                | Step::CreateTempRelation { relation, .. }
                | Step::LoadSeed { relation, .. }
                | Step::HudiWrite { relation, .. } => out.push(relation),
                Step::DeltaManifest {
                    table, manifest_table, ..
                } => out.extend([table, manifest_table]),
                Step::SnapshotStaging { staging, target, .. } => out.extend([staging, target]),
                _ => {}
            }
        }
        out
    }
}

/// A session of its own for a model or a group of models: dbt-glue's per-model and group sessions
/// (`enable_session_per_model`, profile options in a node's `meta`, `meta.group_session_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionChoice {
    /// The session's key: the group id, or the node's unique id (the session id is `<base>__<key>`, dots as
    /// underscores). Plans with the same key share the session, one at a time.
    pub key: String,
    /// Profile options set for this session only (from `meta`, e.g. `worker_type`, `workers`, `conf`).
    pub overrides: BTreeMap<String, serde_json::Value>,
}

/// Plans one model.
///
/// ```
/// use glue_materialize::{plan, Existing, Model, ModelConfig, PlanFlags, Target, StepKind};
/// let cfg = ModelConfig::from_json(&serde_json::json!({
///     "materialized": "incremental", "file_format": "iceberg",
///     "incremental_strategy": "merge", "unique_key": "id"
/// })).unwrap();
/// let model = Model::new("orders", "sales", "select * from raw.orders", cfg);
/// let target = Target::new("sales", Some("s3://lake".into()));
/// let existing = Existing::Table(glue_materialize::ExistingTable::of(glue_materialize::FileFormat::Iceberg));
/// let p = plan(&model, &existing, &target, &PlanFlags::default()).unwrap();
/// let kinds: Vec<StepKind> = p.steps.iter().map(|s| s.kind()).collect();
/// // The Iceberg temporary table: one a stopped run left goes first (with its files), then it is built, merged,
/// // and dropped with its files.
/// assert_eq!(
///     kinds,
///     [StepKind::Drop, StepKind::CreateTempRelation, StepKind::Merge, StepKind::ExpireSnapshots, StepKind::Drop]
/// );
/// ```
pub fn plan(model: &Model, existing: &Existing, target: &Target, flags: &PlanFlags) -> Result<Plan, PlanError> {
    let mut p = Planner {
        model,
        cfg: &model.config,
        existing,
        target,
        flags,
        warnings: Vec::new(),
    };
    let (relation, steps) = match model.config.materialized {
        Materialization::Ephemeral => (None, Vec::new()),
        Materialization::Table => p.table().map(|(r, s)| (Some(r), s))?,
        Materialization::View => p.view().map(|(r, s)| (Some(r), s))?,
        Materialization::Incremental => p.incremental().map(|(r, s)| (Some(r), s))?,
        Materialization::Seed => p.seed().map(|(r, s)| (Some(r), s))?,
        Materialization::Snapshot => p.snapshot().map(|(r, s)| (Some(r), s))?,
    };
    let mut steps = steps;
    if relation.is_some() && !model.config.grants.is_empty() {
        p.warnings.push(format!(
            "`grants` of model `{}` has no effect: {}",
            model.name,
            crate::config::GRANTS_HAVE_NO_EFFECT
        ));
    }
    if let Some(py) = &model.python {
        // The DataFrame exists before anything reads it (the query check, the temp relation, the CTAS).
        steps.insert(
            0,
            Step::RunPython {
                view: py.view.clone(),
                code: py.code.clone(),
                context: py.context.clone(),
            },
        );
    }
    Ok(Plan {
        model: model.name.clone(),
        materialization: model.config.materialized,
        relation,
        steps,
        warnings: p.warnings,
        session: None,
        reads: Vec::new(),
        query_comment: None,
    })
}

/// The data location a model's table lives at when it is (re)built in place: its `custom_location`, else the
/// standard location under the target's (`<location>/<schema>/<alias>`, or `<location>/<alias>` with
/// root_location). None for models that store no table data of their own (views, ephemeral models, S3 Tables) or
/// without a location to derive. A rebuild's `__v<invocation>` version directories are siblings of it.
pub fn table_location(model: &Model, target: &Target) -> Option<String> {
    let stores = matches!(
        model.config.materialized,
        Materialization::Table | Materialization::Incremental | Materialization::Seed | Materialization::Snapshot
    );
    if !stores || model.config.file_format == FileFormat::S3Tables {
        return None;
    }
    let flags = PlanFlags::default();
    let p = Planner {
        model,
        cfg: &model.config,
        existing: &Existing::Absent,
        target,
        flags: &flags,
        warnings: Vec::new(),
    };
    p.location().ok()
}

/// Plans the creation of a schema (Glue database) at `<location>/<schema>/`.
pub fn plan_schema(schema: &str, target: &Target) -> Result<glue_sql::ddl::CreateDatabase, SqlError> {
    let mut c = glue_sql::ddl::CreateDatabase::new(Ident::named(schema, "schema")?);
    if let Some(l) = &target.location {
        c = c.location(format!("{}/{schema}/", l.trim_end_matches('/')));
    }
    Ok(c)
}

type Built = (RelationName, Vec<Step>);

/// The drop of a scratch table (a temporary relation that is a table) an earlier run may have left, with its files.
fn left_behind(relation: &RelationName, kind: TempKind) -> Option<Step> {
    (kind == TempKind::Table).then(|| Step::Drop {
        relation: relation.clone(),
        kind: DropKind::Table,
        purge: true,
    })
}

/// The table property naming the staged copy a `custom_location` rebuild made (`<custom_location>__v<invocation>`),
/// deleted by that rebuild at its end, else by the next one.
pub const STAGED_AT: &str = "glue_rs.staged_at";

/// The warning of a rebuild whose staging table lives, while it exists, beside a table with Lake Formation
/// data-cell filters (the same text for every model, so that a run shows it once).
pub const STAGING_EXPOSED: &str = "a rebuild of a table with Lake Formation data-cell filters builds its staging \
    table in the model's schema, where principals with access to that database can read it unfiltered while it \
    exists: set `temp_schema` in the profile to build staging tables there";

struct Planner<'a> {
    model: &'a Model,
    cfg: &'a ModelConfig,
    existing: &'a Existing,
    target: &'a Target,
    flags: &'a PlanFlags,
    warnings: Vec<String>,
}

impl Planner<'_> {
    fn mref(&self) -> ModelRef {
        self.model.model_ref()
    }

    fn err(&self, field: &str, problem: ConfigProblem) -> PlanError {
        PlanError {
            model: self.mref(),
            field: field.to_string(),
            problem: Box::new(problem),
        }
    }

    fn sql_err<'s>(&'s self, field: &'s str) -> impl Fn(SqlError) -> PlanError + 's {
        move |e| self.err(field, ConfigProblem::Invalid(e.to_string()))
    }

    /// The existing table has another format than the configuration asks for.
    fn format_mismatch(&self, field: &str, t: &ExistingTable, configured: &'static str) -> PlanError {
        match self.existing_relation(t) {
            Ok(r) => self.err(
                field,
                ConfigProblem::ExistingFormatMismatch {
                    relation: r.to_string(),
                    existing: t.format_name(),
                    configured,
                },
            ),
            Err(e) => e,
        }
    }

    fn format(&self) -> FileFormat {
        self.cfg.file_format
    }

    fn full_refresh(&self) -> bool {
        self.cfg.full_refresh.unwrap_or(self.flags.full_refresh)
    }

    /// Checks that apply to every table format choice.
    fn check_format(&mut self, format: FileFormat) -> Result<(), PlanError> {
        if format == FileFormat::S3Tables && self.target.iceberg_catalog.is_none() {
            return Err(self.err("file_format", ConfigProblem::S3TablesWithoutCatalog));
        }
        if format.is_lakehouse() {
            let needed = if format == FileFormat::S3Tables {
                FileFormat::Iceberg
            } else {
                format
            };
            if !self.target.datalake_formats.contains(&needed) {
                self.warnings.push(format!(
                    "file_format `{format}` but the profile's datalake_formats does not list `{needed}`: \
                     the session may lack its libraries"
                ));
            }
        }
        Ok(())
    }

    fn relation(&self, format: FileFormat) -> Result<RelationName, PlanError> {
        if format.in_iceberg_catalog() {
            RelationName::in_catalog(
                self.target.iceberg_catalog.as_deref(),
                &self.model.schema,
                &self.model.alias,
            )
        } else {
            RelationName::new(&self.model.schema, &self.model.alias)
        }
        .map_err(self.sql_err("schema"))
    }

    /// The relation as it exists now (an Iceberg table carries the catalog prefix even if the model is reconfigured).
    fn existing_relation(&self, t: &ExistingTable) -> Result<RelationName, PlanError> {
        self.relation(t.known_format().unwrap_or(FileFormat::Parquet))
    }

    /// `<location>/<schema>/<table>` (or `<location>/<table>` with root_location), ignoring custom_location.
    fn standard_location(&self) -> Result<String, PlanError> {
        let Some(root) = self.target.location.as_deref().filter(|l| !l.is_empty()) else {
            return Err(self.err(
                "location",
                ConfigProblem::Required {
                    why: "in profiles.yml to build a table location (or set custom_location on the model)",
                },
            ));
        };
        let root = root.trim_end_matches('/');
        Ok(if self.target.root_location {
            format!("{root}/{}", self.model.alias)
        } else {
            format!("{root}/{}/{}", self.model.schema, self.model.alias)
        })
    }

    /// custom_location as given, else the standard location.
    fn location(&self) -> Result<String, PlanError> {
        match &self.cfg.custom_location {
            Some(l) => Ok(l.clone()),
            None => self.standard_location(),
        }
    }

    /// The staging table a rebuild builds before it is switched in: `<alias>__dbt_swap_<run tag>` (one per run, see
    /// [`crate::staging`]), in `temp_schema` when the profile sets one (a model with Lake Formation grants: principals with access to the model's database would
    /// read the staging table unfiltered while it exists; without temp_schema the plan warns).
    fn staging(&mut self, relation: &RelationName) -> Result<RelationName, PlanError> {
        let name = crate::staging::staging_name(&self.model.alias, &self.flags.invocation_id);
        match self.scratch_schema() {
            Some(schema) => RelationName::new(schema, crate::staging::in_temp_schema(&self.model.schema, &name))
                .map_err(self.sql_err("temp_schema")),
            None => {
                if self.cfg.lf_grants.as_ref().is_some_and(|g| g.data_cell_filters.enabled) {
                    self.warnings.push(STAGING_EXPOSED.to_string());
                }
                relation.with_identifier(name).map_err(self.sql_err("alias"))
            }
        }
    }

    /// The profile's `temp_schema`, where it is not the model's own schema: scratch tables go there, named
    /// [`in_temp_schema`](crate::staging::in_temp_schema).
    pub(crate) fn scratch_schema(&self) -> Option<String> {
        self.target
            .temp_schema
            .clone()
            .filter(|t| !t.eq_ignore_ascii_case(&self.model.schema))
    }

    /// A scratch table `name` of this model: `(schema, name)` in the scratch schema, or in the model's schema.
    pub(crate) fn scratch_place(&self, name: String) -> (String, String) {
        match self.scratch_schema() {
            Some(schema) => (schema, crate::staging::in_temp_schema(&self.model.schema, &name)),
            None => (self.model.schema.clone(), name),
        }
    }

    /// The listed names of `t`'s schema or of the scratch schema (whichever `schema` is) among which the scratch
    /// tables other runs of this model left are.
    pub(crate) fn scratch_siblings<'t>(&self, t: &'t ExistingTable, schema: &str) -> &'t [String] {
        if schema.eq_ignore_ascii_case(&self.model.schema) {
            &t.siblings
        } else if self.scratch_schema().is_some_and(|s| s.eq_ignore_ascii_case(schema)) {
            &t.temp_siblings
        } else {
            &[]
        }
    }

    /// Other runs' staging tables listed with the table, or in the scratch schema, beside this run's `staging`.
    fn other_staging(&self, t: &ExistingTable, staging: &RelationName) -> Result<Vec<RelationName>, PlanError> {
        self.scratch_siblings(t, staging.schema_str())
            .iter()
            .filter(|n| crate::staging::is_other_runs_staging(staging.identifier.as_str(), n))
            .map(|n| staging.with_identifier(n.clone()).map_err(self.sql_err("alias")))
            .collect()
    }

    /// A fresh sibling of `base` for a rebuilt table's data.
    fn versioned(&self, base: &str) -> String {
        format!("{}__v{}", base.trim_end_matches('/'), self.flags.invocation_id)
    }

    fn comment(&self) -> Option<String> {
        if self.cfg.persist_docs.relation {
            self.model.description.clone().filter(|d| !d.is_empty())
        } else {
            None
        }
    }

    /// Whether `location` is glue-rs's own for this model: its standard location, a version directory of this
    /// invocation, or the location of the table being replaced (see [`TableSpec::own_location`]).
    fn own_location(&self, location: &str) -> bool {
        let l = location.trim_end_matches('/');
        let standard = self.standard_location().ok();
        let replaced = match self.existing {
            Existing::Table(t) => t.location.as_deref().is_some_and(|x| x.trim_end_matches('/') == l),
            _ => false,
        };
        replaced
            || standard.is_some_and(|s| s.trim_end_matches('/') == l)
            || l.ends_with(&format!("__v{}", self.flags.invocation_id))
    }

    fn table_spec(&self, relation: RelationName, format: FileFormat, location: Option<String>) -> TableSpec {
        let own_location = location.as_deref().is_some_and(|l| self.own_location(l));
        TableSpec {
            own_location,
            relation,
            format,
            partition_by: self.cfg.partition_by.clone(),
            clustered_by: (!self.cfg.clustered_by.is_empty())
                .then(|| (self.cfg.clustered_by.clone(), self.cfg.buckets.unwrap_or(1))),
            properties: self.cfg.table_properties.clone(),
            options: if format == FileFormat::Delta {
                self.cfg.write_options.clone()
            } else {
                BTreeMap::new()
            },
            location: if format == FileFormat::S3Tables { None } else { location },
            comment: self.comment(),
        }
    }

    fn query(&self, format: FileFormat) -> Query {
        Query {
            sql: self.model.sql.clone(),
            add_iceberg_timestamp: self.cfg.add_iceberg_timestamp && format.in_iceberg_catalog(),
        }
    }

    fn hooks(&self, phase: HookPhase) -> Vec<Step> {
        let list: Vec<SqlFragment> = match phase {
            HookPhase::Pre => self.cfg.pre_hook.clone(),
            HookPhase::Post => self.cfg.post_hook.clone(),
            HookPhase::SqlHeader => self.cfg.sql_header.iter().cloned().collect(),
        };
        list.into_iter().map(|sql| Step::Hook { phase, sql }).collect()
    }

    /// The steps every build ends with: the table's Lake Formation tags and grants, then the post-hooks.
    fn finish(&self, relation: RelationName, mut steps: Vec<Step>) -> Result<Built, PlanError> {
        steps.extend(self.lake_formation());
        steps.extend(self.hooks(HookPhase::Post));
        Ok((relation, steps))
    }

    fn purge(&self, format: FileFormat) -> bool {
        format == FileFormat::S3Tables || (format == FileFormat::Iceberg && self.cfg.purge_dropped_iceberg_data)
    }

    fn check_view(&self) -> Result<Ident, PlanError> {
        Ident::new(format!("{}__dbt_check", self.model.alias)).map_err(self.sql_err("alias"))
    }

    /// Steps that replace what exists with a freshly built table, never dropping a table before the new data is
    /// written.
    fn rebuild(&mut self, format: FileFormat) -> Result<(RelationName, Vec<Step>), PlanError> {
        let relation = self.relation(format)?;
        let mut steps = Vec::new();
        match self.existing {
            Existing::Absent => {
                let spec = self.table_spec(relation.clone(), format, Some(self.location()?));
                steps.extend(self.hooks(HookPhase::SqlHeader));
                steps.push(Step::CreateTableAs {
                    table: spec,
                    query: self.query(format),
                    replace: format.atomic_replace(),
                });
            }
            Existing::View => {
                // A view holds no data: check the query first, then drop the view and build the table.
                let spec = self.table_spec(relation.clone(), format, Some(self.location()?));
                steps.push(Step::CheckQuery {
                    view: self.check_view()?,
                    query: self.query(format),
                });
                steps.push(Step::Drop {
                    relation: RelationName::new(&self.model.schema, &self.model.alias)
                        .map_err(self.sql_err("schema"))?,
                    kind: DropKind::View,
                    purge: false,
                });
                steps.extend(self.hooks(HookPhase::SqlHeader));
                steps.push(Step::CreateTableAs {
                    table: spec,
                    query: self.query(format),
                    replace: format.atomic_replace(),
                });
            }
            Existing::Table(t) if t.known_format() == Some(format) && format.atomic_replace() => {
                // CREATE OR REPLACE swaps the data atomically; keep the table where it is.
                let location = match (&self.cfg.custom_location, &t.location) {
                    (Some(c), _) => c.clone(),
                    (None, Some(l)) => l.clone(),
                    (None, None) => self.standard_location()?,
                };
                let spec = self.table_spec(relation.clone(), format, Some(location));
                steps.extend(self.hooks(HookPhase::SqlHeader));
                steps.push(Step::CreateTableAs {
                    table: spec,
                    query: self.query(format),
                    replace: true,
                });
            }
            Existing::Table(t) => {
                let staging = self.staging(&relation)?;
                // This run's staging table, should the plan run again after a lost session.
                steps.push(Step::Drop {
                    relation: staging.clone(),
                    kind: DropKind::Table,
                    purge: false,
                });
                let other_staging = self.other_staging(t, &staging)?;
                if let Some(custom) = self.cfg.custom_location.clone() {
                    // Not guarded by the entry's version: staging tables other runs left go first.
                    if !other_staging.is_empty() {
                        steps.push(Step::DropOtherStaging {
                            staging: staging.clone(),
                            others: other_staging,
                            copies_of: custom.clone(),
                        });
                    }
                    // The user's path is kept: build a staging copy beside it, then rebuild the table at the
                    // path from the staging copy. If the build fails the old table is untouched; if the copy
                    // fails the new data is still in the staging table.
                    let staged_at = self.versioned(&custom);
                    let spec = self.table_spec(staging.clone(), format, Some(staged_at.clone()));
                    steps.extend(self.hooks(HookPhase::SqlHeader));
                    steps.push(Step::CreateTableAs {
                        table: spec,
                        query: self.query(format),
                        replace: false,
                    });
                    steps.push(Step::Drop {
                        relation: self.existing_relation(t)?,
                        kind: DropKind::Table,
                        purge: self.purge(t.known_format().unwrap_or(FileFormat::Parquet)),
                    });
                    let copy = Query {
                        sql: SqlFragment::new(format!("SELECT * FROM {staging}")),
                        add_iceberg_timestamp: false,
                    };
                    let mut spec = self.table_spec(relation.clone(), format, Some(custom));
                    // Names the staged copy on the table: if this run stops before deleting it, the next rebuild
                    // does (and only then: a copy another run is still reading is named by no table yet).
                    spec.properties.insert(STAGED_AT.to_string(), staged_at.clone());
                    steps.push(Step::CreateTableAs {
                        table: spec,
                        query: copy,
                        replace: format.atomic_replace(),
                    });
                    steps.push(Step::Drop {
                        relation: staging,
                        kind: DropKind::Table,
                        purge: false,
                    });
                    steps.push(Step::DeleteLocation { location: staged_at });
                } else {
                    let standard = self.standard_location()?;
                    let staged_at = self.versioned(&standard);
                    let spec = self.table_spec(staging.clone(), format, Some(staged_at));
                    steps.extend(self.hooks(HookPhase::SqlHeader));
                    steps.push(Step::CreateTableAs {
                        table: spec,
                        query: self.query(format),
                        replace: false,
                    });
                    let delete_old = t.location.as_deref().is_some_and(|l| {
                        let l = l.trim_end_matches('/');
                        l == standard || l.starts_with(&format!("{standard}__v"))
                    });
                    steps.push(Step::SwapTable {
                        target: relation.clone(),
                        staging,
                        old_location: t.location.clone(),
                        delete_old_location: delete_old,
                        expected_version: t.version.clone(),
                        other_staging,
                    });
                }
            }
        }
        Ok((relation, steps))
    }

    fn persist_column_docs(&self, relation: &RelationName) -> Vec<Step> {
        if !self.cfg.persist_docs.columns {
            return Vec::new();
        }
        let columns: Vec<(Ident, String)> = self
            .model
            .columns
            .iter()
            .filter_map(|c| {
                let d = c.description.as_deref().filter(|d| !d.is_empty())?;
                Some((Ident::new(c.name.clone()).ok()?, d.to_string()))
            })
            .collect();
        if columns.is_empty() {
            Vec::new()
        } else {
            vec![Step::PersistColumnDocs {
                relation: relation.clone(),
                columns,
            }]
        }
    }

    fn lake_formation(&self) -> Vec<Step> {
        let tags = self.cfg.lf_tags_config.clone().filter(|t| t.enabled);
        let grants = self.cfg.lf_grants.clone().filter(|g| g.data_cell_filters.enabled);
        if tags.is_none() && grants.is_none() {
            return Vec::new();
        }
        vec![Step::LakeFormation {
            database: self.model.schema.clone(),
            table: self.model.alias.clone(),
            catalog_id: self.target.catalog_id.clone(),
            tags,
            grants,
        }]
    }

    fn delta_prefix(&self) -> Option<&str> {
        self.cfg
            .delta_athena_prefix
            .as_deref()
            .or(self.target.delta_athena_prefix.as_deref())
            .filter(|p| !p.is_empty())
    }

    fn delta_manifest(&self, relation: &RelationName, location: String, create: bool) -> Result<Vec<Step>, PlanError> {
        let Some(prefix) = self.delta_prefix() else {
            return Ok(Vec::new());
        };
        let manifest_table = RelationName::new(&self.model.schema, format!("{prefix}_{}", self.model.alias))
            .map_err(self.sql_err("delta_athena_prefix"))?;
        Ok(vec![Step::DeltaManifest {
            table: relation.clone(),
            manifest_table,
            location,
            partition_by: self
                .cfg
                .partition_by
                .iter()
                .filter(|p| p.is_identity())
                .map(|p| p.column().clone())
                .collect(),
            create,
        }])
    }

    fn expire(&self, relation: &RelationName) -> Vec<Step> {
        if self.format() == FileFormat::Iceberg && self.cfg.iceberg_expire_snapshots {
            vec![Step::ExpireSnapshots {
                relation: relation.clone(),
                catalog: self.target.iceberg_catalog.as_deref().and_then(|c| Ident::new(c).ok()),
                retain_last: 1,
            }]
        } else {
            Vec::new()
        }
    }

    /// The location the table will have after the build (for the Delta manifest).
    fn built_location(&self) -> Result<String, PlanError> {
        match (&self.cfg.custom_location, self.existing) {
            (Some(c), _) => Ok(c.clone()),
            (None, Existing::Table(t)) if t.known_format() == Some(self.format()) && self.format().atomic_replace() => {
                t.location.clone().map(Ok).unwrap_or_else(|| self.standard_location())
            }
            (None, Existing::Table(_)) => Ok(self.versioned(&self.standard_location()?)),
            (None, _) => self.standard_location(),
        }
    }

    /// Whether Iceberg temp relations are views: the model's `use_iceberg_temp_views`, or an engine whose temporary
    /// views read Iceberg tables.
    fn iceberg_temp_views(&self) -> bool {
        self.cfg.use_iceberg_temp_views || self.target.iceberg_temp_views
    }

    // ---- table -------------------------------------------------------------------------------------------------

    fn table(&mut self) -> Result<Built, PlanError> {
        let format = self.format();
        self.check_format(format)?;
        if format == FileFormat::Hudi && !self.cfg.unique_key.is_empty() {
            self.warnings
                .push("unique_key is not used by a Hudi table materialization (only by incremental)".into());
        }
        let mut steps = self.hooks(HookPhase::Pre);
        let (relation, build) = self.rebuild(format)?;
        steps.extend(build);
        if matches!(self.existing, Existing::Table(t) if t.known_format() == Some(format)) {
            steps.extend(self.expire(&relation));
        }
        steps.extend(self.persist_column_docs(&relation));
        if format == FileFormat::Delta {
            let loc = self.built_location()?;
            steps.extend(self.delta_manifest(&relation, loc, true)?);
        }
        self.finish(relation, steps)
    }

    // ---- view --------------------------------------------------------------------------------------------------

    fn view(&mut self) -> Result<Built, PlanError> {
        let format = self.format();
        if format == FileFormat::Iceberg {
            // The Glue catalog has no Iceberg views: dbt-glue builds a table, and so do we (and say so).
            self.warnings.push(
                "file_format iceberg with materialized view builds an Iceberg table (the Glue catalog has no Iceberg views)"
                    .into(),
            );
            return self.table();
        }
        if format.is_lakehouse() && format != FileFormat::S3Tables && self.cfg.file_format_set {
            self.warnings
                .push(format!("file_format `{format}` has no effect on a view"));
        }
        self.check_format(if format == FileFormat::S3Tables {
            format
        } else {
            FileFormat::Parquet
        })?;
        let relation = if format == FileFormat::S3Tables {
            self.relation(format)?
        } else {
            self.relation(FileFormat::Parquet)?
        };
        let mut steps = self.hooks(HookPhase::Pre);
        if let Existing::Table(t) = self.existing {
            steps.push(Step::CheckQuery {
                view: self.check_view()?,
                query: self.query(FileFormat::Parquet),
            });
            let fmt = t.known_format().unwrap_or(FileFormat::Parquet);
            steps.push(Step::Drop {
                relation: self.existing_relation(t)?,
                kind: DropKind::Table,
                purge: self.purge(fmt),
            });
        }
        steps.push(Step::CreateView {
            relation: relation.clone(),
            query: Query {
                sql: self.model.sql.clone(),
                add_iceberg_timestamp: false,
            },
            comment: self.comment(),
        });
        self.finish(relation, steps)
    }

    // ---- seed --------------------------------------------------------------------------------------------------

    fn seed(&mut self) -> Result<Built, PlanError> {
        let format = self.target.seed_format;
        if self.cfg.file_format_set && self.cfg.file_format != format {
            self.warnings.push(format!(
                "seeds are written as the profile's seed_format `{format}`; file_format `{}` is ignored, as in dbt-glue",
                self.cfg.file_format
            ));
        }
        self.check_format(format)?;
        let relation = self.relation(format)?;
        if let Existing::Table(t) = self.existing
            && t.known_format().is_some_and(|f| f != format)
            && !self.full_refresh()
        {
            return Err(self.format_mismatch("seed_format", t, format.as_str()));
        }
        let mut steps = self.hooks(HookPhase::Pre);
        if matches!(self.existing, Existing::View) {
            steps.push(Step::Drop {
                relation: relation.clone(),
                kind: DropKind::View,
                purge: false,
            });
        }
        steps.push(Step::LoadSeed {
            relation: relation.clone(),
            path: self.model.seed_path.clone(),
            format,
            mode: self.target.seed_mode,
            location: if format == FileFormat::S3Tables {
                None
            } else {
                Some(self.location()?)
            },
            own_location: self.own_location(&self.location()?),
            column_types: self.cfg.column_types.clone(),
            delimiter: self.cfg.delimiter,
            casting: self.target.enable_spark_seed_casting,
            exists: matches!(self.existing, Existing::Table(_)),
            replace: self.full_refresh(),
        });
        self.finish(relation, steps)
    }
}
