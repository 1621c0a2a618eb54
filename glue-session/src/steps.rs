//! One interpreter of a plan's steps for both remote engines. What they share lives here: the columns late-bound
//! steps need, the Glue Data Catalog's table switch and location deletes, Lake Formation, seeds, and rendering the
//! rest to statements. What differs is how a statement, a column lookup or a seed's rows travel over the protocol
//! (batched into Livy requests, or sent one by one over Spark Connect): a [`Protocol`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use glue_lakeformation::LakeFormation;
use glue_materialize::engine::PlanOutcome;
use glue_materialize::step::Step;
use glue_materialize::{EngineError, FileFormat, Plan, RenderContext, RenderError, Rendered, render_step};
use glue_sql::RelationName;
use glue_sql::types::ColumnDef;

use crate::catalog::Catalog;
use crate::error::SessionError;
use crate::lake_formats::{FormatRoute, how_to_enable};
use crate::profile::{DatalakeFormat, ProfileOrigin};
use crate::seed::SeedLoad;

/// What a late-bound step needs before it can be rendered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Need {
    Relation(String),
    Query(String),
}

/// The (target, source) columns a step needs, as keys.
fn needs(step: &Step) -> (Option<Need>, Option<Need>) {
    let rel = |r: &RelationName| Some(Need::Relation(r.to_string().to_lowercase()));
    let timestamped =
        |q: &glue_materialize::step::Query| q.add_iceberg_timestamp.then(|| Need::Query(q.sql.as_str().to_string()));
    match step {
        Step::SyncSchema { target, source, .. } => (rel(target), rel(source)),
        Step::InsertInto { target, .. }
        | Step::InsertOverwrite { target, .. }
        | Step::Merge { target, .. }
        | Step::SnapshotMerge { target, .. } => (rel(target), None),
        Step::DeltaManifest {
            table, create: true, ..
        } => (rel(table), None),
        Step::SnapshotStaging { query, .. } => (None, Some(Need::Query(query.as_str().to_string()))),
        Step::CreateTableAs { query, .. }
        | Step::CreateView { query, .. }
        | Step::CreateTempRelation { query, .. }
        | Step::CheckQuery { query, .. } => (None, timestamped(query)),
        _ => (None, None),
    }
}

/// The file formats a remote engine writes: Spark's own, and the lakehouse formats its session loads (Hudi only
/// with `hudi`: its writes are PySpark DataFrame writes).
pub(crate) fn file_formats(lakehouse: &[(FileFormat, FormatRoute)], hudi: bool) -> BTreeSet<FileFormat> {
    let spark = [
        FileFormat::Parquet,
        FileFormat::Csv,
        FileFormat::Json,
        FileFormat::Orc,
        FileFormat::Avro,
        FileFormat::Text,
    ];
    let lakehouse = lakehouse
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| hudi || *f != FileFormat::Hudi);
    spark.into_iter().chain(lakehouse).collect()
}

/// Why a remote engine does not write each lakehouse format it lacks: how to load it (see
/// [`crate::lake_formats`]; `glue`: on a Glue session, which also takes the reference's other ways), or, for Hudi
/// without `hudi`, that the engine cannot write it at all.
pub(crate) fn format_help(
    formats: &BTreeSet<FileFormat>,
    listed: &[DatalakeFormat],
    origin: Option<&ProfileOrigin>,
    hudi: bool,
    glue: bool,
) -> BTreeMap<FileFormat, String> {
    [FileFormat::Delta, FileFormat::Iceberg, FileFormat::Hudi]
        .into_iter()
        .filter(|f| !formats.contains(f))
        .map(|f| {
            let help = if f == FileFormat::Hudi && !hudi {
                "Hudi writes are PySpark DataFrame writes, which Spark Connect does not run: use a Livy session \
                 (`session_type: livy`) for Hudi models"
                    .to_string()
            } else {
                how_to_enable(f, listed, origin, glue)
            };
            (f, help)
        })
        .collect()
}

/// `(name, Spark type)` pairs as column definitions.
pub(crate) fn column_defs(cols: Vec<(String, String)>) -> Result<Vec<ColumnDef>, SessionError> {
    cols.into_iter()
        .map(|(n, t)| ColumnDef::new(n, t).map_err(|e| SessionError::Protocol(format!("a column type: {e}"))))
        .collect()
}

/// Why a plan stopped: its session ended (run it again on a new one, unless a step that cannot run twice may have
/// run: its index), or it failed.
pub(crate) enum PlanFailure {
    Lost(SessionError, Option<usize>),
    Failed(EngineError),
}

impl From<EngineError> for PlanFailure {
    fn from(e: EngineError) -> Self {
        PlanFailure::Failed(e)
    }
}

/// How one plan's steps travel over a protocol. Each call names the step (`index` in the plan) it comes from.
#[async_trait]
pub(crate) trait Protocol: Send + Sync {
    /// The engine's name, for the steps it cannot run.
    fn engine(&self) -> &'static str;

    /// The failure to render `step`.
    fn render_error(&self, step: &Step, e: RenderError) -> EngineError;

    /// The Glue Data Catalog of the target (None for a Spark Connect server on its own catalog).
    fn catalog(&self) -> Option<&Catalog>;

    /// Lake Formation of the target's catalog (None for a Spark Connect server on its own catalog).
    fn lake_formation(&self) -> Option<&LakeFormation>;

    /// The columns of the relations and queries step `index` needs (with what is pending, in one exchange).
    async fn columns(
        &mut self,
        index: usize,
        needs: &[Need],
        outcome: &mut PlanOutcome,
    ) -> Result<Vec<(Need, Vec<ColumnDef>)>, PlanFailure>;

    /// Runs whatever is pending, before a step that works outside the session (the catalog API, Lake Formation).
    async fn flush(&mut self, outcome: &mut PlanOutcome) -> Result<(), PlanFailure>;

    /// One statement of step `index` (`Rendered::Native` is not sent).
    async fn statement(&mut self, index: usize, r: Rendered, outcome: &mut PlanOutcome) -> Result<(), PlanFailure>;

    /// Makes the session read a table's entry and files again (`REFRESH TABLE`).
    async fn refresh(&mut self, index: usize, table: &RelationName) -> Result<(), PlanFailure>;

    /// A seed's rows as its temporary view, before the statements that read it.
    async fn seed_rows(&mut self, index: usize, seed: &SeedLoad) -> Result<(), PlanFailure>;

    /// A step only this protocol runs (Python models, Hudi writes); false for the others.
    async fn own_step(&mut self, _index: usize, _step: &Step) -> Result<bool, PlanFailure> {
        Ok(false)
    }

    /// Step `index` was run outside the session (a catalog switch): a lost session may have applied it.
    fn touched(&mut self, _index: usize) {}

    /// Step `step` is sent: it counts as executed once it has run.
    fn done(&mut self, step: String, outcome: &mut PlanOutcome) {
        outcome.executed.push(step);
    }
}

/// Runs a plan's steps in order over a protocol; everything pending is run at the end.
pub(crate) async fn run_steps<P: Protocol>(
    p: &mut P,
    plan: &Plan,
    now: &str,
    outcome: &mut PlanOutcome,
) -> Result<(), PlanFailure> {
    let mut known: HashMap<Need, Vec<ColumnDef>> = HashMap::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let native_err = |e: SessionError| step_error(plan, Some(step), e);
        // Columns this step needs and nobody fetched yet.
        let (t, s) = needs(step);
        let mut missing: Vec<Need> = Vec::new();
        for n in [&t, &s].into_iter().flatten() {
            if !known.contains_key(n) && !missing.contains(n) {
                missing.push(n.clone());
            }
        }
        if !missing.is_empty() {
            known.extend(p.columns(index, &missing, outcome).await?);
        }
        if p.own_step(index, step).await? {
            p.done(step.to_string(), outcome);
            continue;
        }
        let ctx = RenderContext {
            now: now.to_string(),
            target_columns: t.as_ref().and_then(|n| known.get(n).cloned()),
            source_columns: s.as_ref().and_then(|n| known.get(n).cloned()),
        };
        match step {
            Step::SwapTable {
                target,
                staging,
                old_location,
                delete_old_location,
                expected_version,
                other_staging,
            } => {
                p.flush(outcome).await?;
                match p.catalog().cloned() {
                    Some(catalog) => {
                        p.touched(index);
                        let switch = crate::catalog::Switch {
                            target,
                            staging,
                            staged_at: plan
                                .written_locations()
                                .into_iter()
                                .find(|(r, _)| *r == staging)
                                .map(|(_, l)| l),
                            expected_version: expected_version.as_deref(),
                            old_location: old_location.as_deref(),
                            old_is_ours: *delete_old_location,
                            other_staging,
                        };
                        catalog.switch(&switch).await.map_err(native_err)?;
                        // The session caches table metadata: make it read the new entry.
                        p.refresh(index, target).await?;
                    }
                    None => {
                        // No catalog API on a plain server: drop the old entry (an external table: its files stay),
                        // then rename the staging table, whose data is complete, into place.
                        for sql in [
                            glue_sql::ddl::Drop::table(target.clone()).to_sql(),
                            glue_sql::ddl::rename_table(staging, target),
                        ] {
                            p.statement(index, Rendered::Sql(sql), outcome).await?;
                        }
                        for r in other_staging {
                            let sql = glue_sql::ddl::Drop::table(r.clone()).to_sql();
                            p.statement(index, Rendered::Sql(sql), outcome).await?;
                        }
                        if let Some(old) = old_location.as_deref().filter(|_| *delete_old_location) {
                            outcome.warnings.push(format!(
                                "the replaced table's files at {old} stay: without `catalog: glue` glue-rs has no \
                                 storage access on a Spark Connect server"
                            ));
                        }
                    }
                }
            }
            Step::RefreshTable { relation } => p.refresh(index, relation).await?,
            Step::LakeFormation { database, table, .. } => {
                // After the statements before it: the table must exist.
                p.flush(outcome).await?;
                match p.lake_formation() {
                    Some(lf) => {
                        let diff = crate::lf::run_step(lf, plan, step).await?;
                        outcome.executed.push(diff);
                        continue;
                    }
                    None => outcome.warnings.push(format!(
                        "Lake Formation tags and data-cell filters of {database}.{table} were not reconciled: they \
                         belong to the Glue Data Catalog, and this Spark Connect server is not on it (`catalog: glue`)"
                    )),
                }
            }
            Step::DeltaManifest {
                manifest_table,
                location,
                ..
            } => {
                // The manifest (Delta's SQL), then the Athena table's statements; the table lists the Delta location
                // among its AdditionalLocations, as dbt-glue does.
                let manifest = glue_sql::ddl::generate_symlink_manifest(location);
                p.statement(index, Rendered::Sql(manifest), outcome).await?;
                for r in render_step(step, &ctx).map_err(|e| p.render_error(step, e))? {
                    p.statement(index, r, outcome).await?;
                }
                p.flush(outcome).await?;
                if let Some(catalog) = p.catalog() {
                    catalog
                        .add_additional_location(manifest_table, location)
                        .await
                        .map_err(native_err)?;
                }
            }
            Step::DropOtherStaging { others, copies_of, .. } => {
                p.flush(outcome).await?;
                match p.catalog() {
                    Some(catalog) => catalog.drop_staging(others, copies_of).await.map_err(native_err)?,
                    // No storage access on a plain server: the entries go, their files stay.
                    None => {
                        for r in others {
                            let sql = glue_sql::ddl::Drop::table(r.clone()).to_sql();
                            p.statement(index, Rendered::Sql(sql), outcome).await?;
                        }
                    }
                }
            }
            Step::DeleteLocation { location } => {
                p.flush(outcome).await?;
                match p.catalog() {
                    Some(catalog) => {
                        catalog.delete_location(location).await.map_err(native_err)?;
                    }
                    None => outcome.warnings.push(format!(
                        "the staging files at {location} stay: without `catalog: glue` glue-rs has no storage \
                         access on a Spark Connect server"
                    )),
                }
            }
            Step::LoadSeed { .. } => {
                let seed = SeedLoad::prepare(
                    step,
                    native_err,
                    |e| p.render_error(step, e),
                    |message| EngineError::Sql {
                        error_class: None,
                        message,
                    },
                )?;
                if !seed.statements.is_empty() {
                    p.seed_rows(index, &seed).await?;
                    for r in seed.statements {
                        p.statement(index, r, outcome).await?;
                    }
                    outcome.rows_affected = Some(seed.rows);
                }
            }
            _ => {
                for r in render_step(step, &ctx).map_err(|e| p.render_error(step, e))? {
                    if let Rendered::Native { action, .. } = &r {
                        return Err(EngineError::Unsupported {
                            engine: p.engine(),
                            construct: format!("{action} (model `{}`)", plan.model),
                        }
                        .into());
                    }
                    p.statement(index, r, outcome).await?;
                }
                // A schema change makes the target's columns stale.
                if matches!(step, Step::SyncSchema { .. })
                    && let Some(t) = &t
                {
                    known.remove(t);
                }
            }
        }
        p.done(step.to_string(), outcome);
    }
    p.flush(outcome).await
}

/// A failure while running a plan, naming the step (Spark's message already carries its error class).
pub(crate) fn step_error(plan: &Plan, step: Option<&Step>, e: SessionError) -> EngineError {
    let at = step
        .map(|s| format!("step {s}"))
        .unwrap_or_else(|| "creating the schema".into());
    if let Some(staging) = step.and_then(|s| lost_staging_race(plan, s, &e)) {
        // The staging table was created between this plan's DROP and its CTAS: another run is rebuilding the table.
        let target = plan.relation.as_ref().map(|r| r.to_string()).unwrap_or_default();
        return EngineError::Other {
            context: format!("model `{}`, {at}", plan.model),
            source: Box::new(SessionError::Conflict(format!(
                "another run is rebuilding {target} at the same time (it created the staging table {staging} \
                 after this run dropped it): this run published nothing"
            ))),
        };
    }
    match e {
        SessionError::Statement {
            error_class, message, ..
        } => {
            let message = match &error_class {
                Some(c) if message.starts_with(&format!("[{c}]")) => {
                    message.trim_start_matches(&format!("[{c}]")).trim_start().to_string()
                }
                _ => message,
            };
            EngineError::Sql {
                error_class,
                message: format!("{message}\n  (in {at})"),
            }
        }
        other => EngineError::Other {
            context: format!("model `{}`, {at}", plan.model),
            source: Box::new(other),
        },
    }
}

/// The staging table of a rebuild's CTAS that failed because the table exists: another run rebuilding the same
/// table created it after this plan dropped it.
pub(crate) fn lost_staging_race<'p>(plan: &'p Plan, step: &Step, e: &SessionError) -> Option<&'p RelationName> {
    match e {
        SessionError::Statement {
            error_class: Some(c), ..
        } if c == "TABLE_OR_VIEW_ALREADY_EXISTS" => staging_of(plan, step),
        _ => None,
    }
}

/// The staging table a step creates, when the plan switches it in (a rebuild's CTAS).
fn staging_of<'p>(plan: &'p Plan, step: &Step) -> Option<&'p RelationName> {
    let Step::CreateTableAs { table, .. } = step else {
        return None;
    };
    plan.steps.iter().find_map(|s| match s {
        Step::SwapTable { staging, .. } if *staging == table.relation => Some(staging),
        _ => None,
    })
}
