//! The remote [`Engine`] over Spark Connect: a Glue 5.1+ `SPARK_CONNECT` session, or any `sc://` server (open-source
//! Spark, EMR, Sail). Plan steps run in order as SQL plans on ONE Spark session shared by the run's threads (gRPC
//! multiplexes them); seeds travel as Arrow IPC; no statement polling, no Python.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::{Array, RecordBatch, StringArray};
use async_trait::async_trait;
use glue_materialize::engine::{PlanOutcome, RelationInfo};
use glue_materialize::query_comment::{QueryComment, commented};
use glue_materialize::step::Step;
use glue_materialize::{
    Capabilities, Engine, EngineError, Existing, ExistingTable, FileFormat, Plan, RenderError, Rendered,
    StatementSetting, StepKind, TableFormat,
};
use glue_sql::types::ColumnDef;
use glue_sql::{Ident, RelationName};
use tokio::sync::OnceCell;

use glue_lakeformation::LakeFormation;

use crate::catalog::Catalog;
use crate::client::Clients;
use crate::connect::ConnectSession;
use crate::connect_profile::SparkConnectProfile;
use crate::create::session_id;
use crate::database::create_schema_sql;
use crate::error::{SessionError, engine_error as err};
use crate::livy::{LivySession, Origin, Stats};
use crate::profile::GlueProfile;
use crate::report::RunReport;
use crate::seed::SeedLoad;
use crate::steps::{Need, PlanFailure, Protocol, column_defs, file_formats, format_help, run_steps, step_error};

const GLUE_ENGINE: &str = "Glue Spark Connect sessions";
const SERVER_ENGINE: &str = "a Spark Connect server";

/// Where the Spark Connect session comes from.
#[derive(Debug, Clone)]
pub enum ConnectTarget {
    /// A Glue Interactive Session of type `SPARK_CONNECT` (profile `session_type: spark_connect`, Glue 5.1+).
    Glue(GlueProfile),
    /// Any Spark Connect server (`method: spark_connect`); relations are listed through Spark's catalog, no AWS.
    Server(SparkConnectProfile),
}

/// The Glue session behind a Spark Connect session.
struct GlueSide {
    session: LivySession,
}

struct Opened {
    spark: Arc<ConnectSession>,
    glue: Option<GlueSide>,
}

struct Inner {
    target: ConnectTarget,
    clients: OnceCell<Clients>,
    stats: Arc<Stats>,
    opened: OnceCell<Arc<Opened>>,
    /// The Glue session being created, so that an interrupted run still stops it.
    opening: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    schemas_ready: Mutex<HashSet<String>>,
    /// Schemas whose creation (and Lake Formation grants) this run has seen to.
    schemas_granted: Mutex<HashSet<String>>,
    lake_formation: OnceCell<LakeFormation>,
    /// Session keys of plans (`meta`) already warned about: Spark Connect runs every plan on one session.
    sessions_ignored: Mutex<HashSet<String>>,
    /// This run's listings of the Glue catalog's schemas, for the location check (a server on the Glue catalog).
    listings: crate::locations::Listings,
    interrupted: AtomicBool,
    now: String,
    /// The lakehouse formats the session loads, and those loaded on trust (warned about once per run).
    lakehouse: Vec<(glue_materialize::FileFormat, crate::lake_formats::FormatRoute)>,
    unverified: crate::lake_formats::Unverified,
}

/// Plans over Spark Connect. Cheap to clone.
#[derive(Clone)]
pub struct ConnectEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ConnectEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectEngine").finish_non_exhaustive()
    }
}

impl ConnectEngine {
    /// An engine for the target. Nothing is called until [`ConnectEngine::prepare`] or the first plan.
    pub fn new(target: ConnectTarget, now: String) -> Self {
        let lakehouse = match &target {
            ConnectTarget::Glue(p) => crate::lake_formats::lakehouse_formats(p),
            // A server writes what its profile says it writes.
            ConnectTarget::Server(p) => crate::lake_formats::listed(&p.datalake_formats),
        };
        let unverified = crate::lake_formats::Unverified::new(lakehouse.clone());
        ConnectEngine {
            inner: Arc::new(Inner {
                target,
                clients: OnceCell::new(),
                stats: Arc::new(Stats::default()),
                opened: OnceCell::new(),
                opening: tokio::sync::Mutex::new(None),
                schemas_ready: Mutex::new(HashSet::new()),
                schemas_granted: Mutex::new(HashSet::new()),
                lake_formation: OnceCell::new(),
                sessions_ignored: Mutex::new(HashSet::new()),
                listings: Default::default(),
                interrupted: AtomicBool::new(false),
                now,
                lakehouse,
                unverified,
            }),
        }
    }

    fn engine_name(&self) -> &'static str {
        match self.inner.target {
            ConnectTarget::Glue(_) => GLUE_ENGINE,
            ConnectTarget::Server(_) => SERVER_ENGINE,
        }
    }

    /// Starts opening the session in the background (call it at process start, while the project is parsed).
    pub fn prepare(&self) {
        let inner = self.inner.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = open(&inner).await {
                tracing::debug!("opening the Spark Connect session in the background: {e}");
            }
        });
        if let Ok(mut o) = self.inner.opening.try_lock() {
            *o = Some(handle);
        }
    }

    /// The AWS clients of a Glue target or of a server on the Glue Data Catalog (None for a server on its own
    /// catalog).
    pub async fn clients(&self) -> Option<&Clients> {
        let glue = self.glue_profile()?;
        Some(self.inner.clients.get_or_init(|| Clients::load(glue)).await)
    }

    /// The Glue options in use: the Glue target's, or those of a server's Glue Data Catalog.
    fn glue_profile(&self) -> Option<&GlueProfile> {
        match &self.inner.target {
            ConnectTarget::Glue(p) => Some(p),
            ConnectTarget::Server(p) => p.glue_catalog.as_ref(),
        }
    }

    async fn session(&self) -> Result<Arc<ConnectSession>, EngineError> {
        if self.inner.interrupted.load(Ordering::Acquire) {
            return Err(err(SessionError::Cancelled));
        }
        open(&self.inner)
            .await
            .map(|o| o.spark.clone())
            .map_err(|e| EngineError::Other {
                context: format!("opening {}", self.engine_name()),
                source: Box::new(e),
            })
    }

    /// Ctrl-C: interrupts the running operations and refuses new ones.
    pub async fn interrupt(&self) {
        self.inner.interrupted.store(true, Ordering::Release);
        if let Some(o) = self.inner.opened.get() {
            o.spark.interrupt().await;
        }
    }

    /// Ends the run: releases the Spark session, stops the Glue session this run created (unless
    /// `glue_session_reuse`), and reports the traffic.
    pub async fn finish(&self) -> RunReport {
        if let Some(h) = self.inner.opening.lock().await.take() {
            let _ = h.await;
        }
        let mut report = RunReport::default();
        if let Some(o) = self.inner.opened.get() {
            let st = o.spark.stats();
            report.spark_connect_executes = st.executes.load(Ordering::Relaxed);
            report.spark_connect_analyzes = st.analyzes.load(Ordering::Relaxed);
            report.session_endpoint_calls = st.endpoint_calls.load(Ordering::Relaxed);
            o.spark.release().await;
            if let (Some(g), ConnectTarget::Glue(p)) = (&o.glue, &self.inner.target) {
                let s = &g.session;
                report.sessions.push((s.id().to_string(), s.origin()));
                let dpu = if s.origin() == Origin::Created && !p.glue_session_reuse {
                    match s.stop().await {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!(session = s.id(), "could not stop the session: {e}");
                            None
                        }
                    }
                } else {
                    s.dpu_seconds().await
                };
                report.dpu_seconds = dpu.unwrap_or(0.0);
            }
        }
        report.get_sessions = self.inner.stats.get_sessions.load(Ordering::Relaxed);
        report
    }

    /// `CREATE DATABASE IF NOT EXISTS … LOCATION` before the first plan of each schema.
    fn schema_sql(&self, plan: &Plan) -> Option<String> {
        let location = match &self.inner.target {
            ConnectTarget::Glue(p) => p.location.as_deref(),
            ConnectTarget::Server(p) => p.location.as_deref(),
        };
        create_schema_sql(plan, &self.inner.schemas_ready, location, false)
    }

    async fn catalog(&self) -> Option<Catalog> {
        let catalog_id = self.glue_profile()?.catalog_id.clone();
        let clients = self.clients().await?.clone();
        Some(Catalog::new(clients, catalog_id))
    }

    /// Lake Formation of the Glue Data Catalog (None for a server on its own catalog).
    pub async fn lake_formation(&self) -> Option<&LakeFormation> {
        let catalog_id = self.glue_profile()?.catalog_id.clone();
        let clients = self.clients().await?;
        Some(
            self.inner
                .lake_formation
                .get_or_init(|| async { LakeFormation::new(&clients.config, catalog_id) })
                .await,
        )
    }
}

impl ConnectEngine {
    /// `CREATE OR REPLACE` on a catalog that cannot replace: a view or a run's scratch table is dropped and created
    /// (nothing in them to keep); a table that does not exist yet is created. Replacing an existing table is refused rather than done as a drop and
    /// a create, which would lose the table if the create failed.
    async fn create_without_replace(
        &self,
        spark: &ConnectSession,
        step: &Step,
        sql: &str,
        comment: Option<&QueryComment>,
        refused: SessionError,
    ) -> Result<(), SessionError> {
        // `sql` comes without the comment: its text is edited (a comment may hold the words replaced).
        let send = |text: String| async move { spark.sql(&commented(comment, &text)).await.map(|_| ()) };
        match step {
            Step::CreateView { relation, .. } => {
                send(glue_sql::ddl::Drop::view(relation.clone()).to_sql()).await?;
                send(sql.replacen("CREATE OR REPLACE VIEW", "CREATE VIEW", 1)).await
            }
            // Scratch tables of one run (incremental and snapshot staging): nothing in them to keep.
            Step::CreateTempRelation { relation, .. } | Step::SnapshotStaging { staging: relation, .. } => {
                send(glue_sql::ddl::Drop::table(relation.clone()).to_sql()).await?;
                send(sql.replacen("CREATE OR REPLACE TABLE", "CREATE TABLE", 1)).await
            }
            Step::CreateTableAs { table, .. } => {
                match spark.columns(&format!("SELECT * FROM {}", table.relation)).await {
                    Err(e) if not_found(&e) => send(sql.replacen("CREATE OR REPLACE TABLE", "CREATE TABLE", 1)).await,
                    _ => Err(refused),
                }
            }
            _ => Err(refused),
        }
    }
}

/// Opens the session once (concurrent callers wait for the same one).
async fn open(inner: &Arc<Inner>) -> Result<&Arc<Opened>, SessionError> {
    inner
        .opened
        .get_or_try_init(|| async {
            let opened = match &inner.target {
                ConnectTarget::Server(p) => {
                    let spark = ConnectSession::open_url(&p.url, p.token.as_deref()).await?;
                    tracing::info!(session = spark.session_id(), "Spark Connect session opened");
                    Opened {
                        spark: Arc::new(spark),
                        glue: None,
                    }
                }
                ConnectTarget::Glue(p) => {
                    let clients = inner.clients.get_or_init(|| Clients::load(p)).await;
                    let id = session_id(p, None);
                    let glue = LivySession::open(clients, p, &id, !p.glue_session_reuse, &inner.stats).await?;
                    let spark = match ConnectSession::open_glue(clients, glue.id()).await {
                        Ok(s) => s,
                        Err(e) => {
                            if glue.origin() == Origin::Created && !p.glue_session_reuse {
                                let _ = glue.stop().await;
                            }
                            return Err(e);
                        }
                    };
                    Opened {
                        spark: Arc::new(spark),
                        glue: Some(GlueSide { session: glue }),
                    }
                }
            };
            // The user's `conf`. glue-rs's own statements set what they need for themselves (`Rendered::Scoped`).
            let user_conf: &[(String, String)] = match &inner.target {
                ConnectTarget::Glue(p) => &p.conf,
                ConnectTarget::Server(p) => &p.conf,
            };
            for (k, v) in user_conf {
                if let Err(e) = opened.spark.set_conf(k, v).await {
                    tracing::warn!("the server did not take the setting {k} of the profile's `conf`: {e}");
                }
            }
            Ok(Arc::new(opened))
        })
        .await
}

/// Runs a statement with settings of its own: each set just before it (a setting the server refuses fails the
/// statement before it runs) and put back to the session's own value, or unset, just after it.
async fn run_scoped(spark: &ConnectSession, sql: &str, settings: &[StatementSetting]) -> Result<(), SessionError> {
    let mut saved = Vec::with_capacity(settings.len());
    let mut set = Ok(());
    for s in settings {
        match spark.explicit_conf(s.key()).await {
            Ok(old) => saved.push((s.key(), old)),
            Err(e) => {
                set = Err(e);
                break;
            }
        }
        if let Err(e) = spark.set_conf(s.key(), s.value()).await {
            set = Err(e);
            break;
        }
    }
    let result = match set {
        Ok(()) => spark.sql(sql).await.map(|_| ()),
        Err(e) => Err(e),
    };
    for (key, old) in saved.into_iter().rev() {
        let restored = match &old {
            Some(v) => spark.set_conf(key, v).await,
            None => spark.unset_conf(key).await,
        };
        if let Err(e) = restored {
            tracing::warn!("could not put the session's setting {key} back after a statement: {e}");
        }
    }
    result
}

#[async_trait]
impl Engine for ConnectEngine {
    fn capabilities(&self) -> Capabilities {
        let (listed, origin, glue) = match &self.inner.target {
            ConnectTarget::Glue(p) => (&p.datalake_formats, p.origin.as_ref(), true),
            ConnectTarget::Server(p) => (&p.datalake_formats, p.origin.as_ref(), false),
        };
        // Hudi writes are PySpark DataFrame writes: not on Spark Connect here.
        let formats = file_formats(&self.inner.lakehouse, false);
        let steps = StepKind::ALL
            .iter()
            .copied()
            .filter(|k| !matches!(k, StepKind::HudiWrite | StepKind::DeltaManifest | StepKind::RunPython))
            .collect();
        Capabilities {
            engine: self.engine_name(),
            format_help: format_help(&formats, listed, origin, false, glue),
            formats,
            steps,
        }
    }

    async fn execute(&self, plan: &Plan) -> Result<PlanOutcome, EngineError> {
        self.capabilities().check(plan)?;
        // On the Glue catalog, a location shared with another table is refused before anything runs.
        let catalog = self.catalog().await;
        if let Some(catalog) = &catalog {
            self.inner.listings.check(catalog, plan).await?;
        }
        let spark = self.session().await?;
        let mut outcome = PlanOutcome::default();
        outcome.warnings.extend(self.inner.unverified.warnings(plan));
        if let Some(choice) = &plan.session
            && self
                .inner
                .sessions_ignored
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(choice.key.clone())
        {
            outcome.warnings.push(format!(
                "`meta` asks for a session of its own (`{}`): over Spark Connect every model runs on the run's one \
                 session, with the target's settings",
                choice.key
            ));
        }
        if let ConnectTarget::Glue(profile) = &self.inner.target
            && let Some((schema, role)) = crate::lf::new_schema(profile, &self.inner.schemas_granted, plan)
            && let (Some(catalog), Some(lf)) = (self.catalog().await, self.lake_formation().await)
        {
            let location = profile.location.as_deref();
            let granted = crate::lf::database_grants(&catalog, lf, location, &schema, role).await;
            outcome.warnings.extend(granted);
        }
        if let Some(sql) = self.schema_sql(plan) {
            spark
                .sql(&commented(plan.query_comment.as_ref(), &sql))
                .await
                .map_err(|e| step_error(plan, None, e))?;
        }
        let mut run = ConnectRun {
            engine: self,
            spark: &spark,
            plan,
            catalog: catalog.clone(),
            lake_formation: self.lake_formation().await,
        };
        match run_steps(&mut run, plan, &self.inner.now, &mut outcome).await {
            Ok(()) => {}
            Err(PlanFailure::Failed(e)) => return Err(e),
            // Nothing is batched over Spark Connect: a lost session is a step's failure.
            Err(PlanFailure::Lost(e, _)) => return Err(err(e)),
        }
        if catalog.is_some() {
            self.inner.listings.record(plan).await;
        }
        Ok(outcome)
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, EngineError> {
        let spark = self.session().await?;
        let batches = spark.sql(sql).await.map_err(err)?;
        if batches.is_empty() {
            // A server that sent neither rows nor their schema (a command): no columns.
            return Ok(vec![RecordBatch::new_empty(Arc::new(arrow_schema::Schema::empty()))]);
        }
        Ok(batches)
    }

    async fn list_relations(&self, schema: &str) -> Result<Vec<RelationInfo>, EngineError> {
        if let Some(catalog) = self.catalog().await {
            let listed = catalog.list(schema).await.map_err(err)?;
            self.inner.listings.insert(schema, listed.clone()).await;
            return Ok(listed);
        }
        let spark = self.session().await?;
        let ident = Ident::new(schema.to_string()).map_err(|e| EngineError::Other {
            context: format!("schema `{schema}`"),
            source: Box::new(e),
        })?;
        // SHOW TABLES of a missing schema is an error whose class differs between servers: look the schema up first.
        let schemas = spark.sql("SHOW DATABASES").await.map_err(err)?;
        if !first_column(&schemas).iter().any(|s| s.eq_ignore_ascii_case(schema)) {
            return Ok(Vec::new());
        }
        let tables = match spark.sql(&glue_sql::ddl::show_tables(&ident)).await {
            Ok(b) => b,
            Err(e) if not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        let mut out = Vec::new();
        for (name, temporary) in table_names(&tables) {
            if temporary {
                continue;
            }
            let Ok(rel) = RelationName::new(schema, &name) else {
                continue;
            };
            let described = match spark.sql(&glue_sql::ddl::describe_table_extended(&rel)).await {
                Ok(d) => d,
                // Dropped (or being replaced by another model) since SHOW TABLES.
                Err(e) if not_found(&e) => continue,
                Err(e) => return Err(err(e)),
            };
            out.push(RelationInfo {
                name: rel,
                existing: existing_from_describe(&described),
            });
        }
        Ok(out)
    }

    async fn describe(&self, relation: &RelationName) -> Result<Vec<ColumnDef>, EngineError> {
        let spark = self.session().await?;
        let cols = spark.columns(&format!("SELECT * FROM {relation}")).await.map_err(err)?;
        column_defs(cols).map_err(err)
    }
}

/// One plan over the Spark Connect session: each statement sent as it comes.
struct ConnectRun<'a> {
    engine: &'a ConnectEngine,
    spark: &'a ConnectSession,
    plan: &'a Plan,
    catalog: Option<Catalog>,
    lake_formation: Option<&'a LakeFormation>,
}

impl ConnectRun<'_> {
    fn native_err(&self, index: usize) -> impl Fn(SessionError) -> EngineError + '_ {
        move |e| step_error(self.plan, self.plan.steps.get(index), e)
    }
}

#[async_trait]
impl Protocol for ConnectRun<'_> {
    fn engine(&self) -> &'static str {
        self.engine.engine_name()
    }

    fn render_error(&self, step: &Step, e: RenderError) -> EngineError {
        EngineError::Other {
            context: format!("model `{}`, step {step}", self.plan.model),
            source: Box::new(e),
        }
    }

    fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_ref()
    }

    fn lake_formation(&self) -> Option<&LakeFormation> {
        self.lake_formation
    }

    async fn columns(
        &mut self,
        index: usize,
        needs: &[Need],
        _outcome: &mut PlanOutcome,
    ) -> Result<Vec<(Need, Vec<ColumnDef>)>, PlanFailure> {
        let mut out = Vec::with_capacity(needs.len());
        for n in needs {
            let sql = match n {
                Need::Relation(r) => format!("SELECT * FROM {r}"),
                Need::Query(q) => q.clone(),
            };
            let cols = self.spark.columns(&sql).await.map_err(self.native_err(index))?;
            out.push((n.clone(), column_defs(cols).map_err(self.native_err(index))?));
        }
        Ok(out)
    }

    async fn flush(&mut self, _outcome: &mut PlanOutcome) -> Result<(), PlanFailure> {
        Ok(())
    }

    async fn statement(&mut self, index: usize, r: Rendered, outcome: &mut PlanOutcome) -> Result<(), PlanFailure> {
        let Some(step) = self.plan.steps.get(index) else {
            return Ok(());
        };
        let native_err = self.native_err(index);
        // Every statement of the node carries its query comment.
        let comment = self.plan.query_comment.as_ref();
        match r {
            Rendered::Sql(sql) => match self.spark.sql(&commented(comment, &sql)).await {
                Ok(_) => {}
                // Housekeeping a server without Iceberg's procedures (Sail) cannot run: the table is right, its old
                // snapshots stay.
                Err(SessionError::Statement { message, .. })
                    if matches!(step, Step::ExpireSnapshots { .. }) && message.contains("CALL") =>
                {
                    outcome.warnings.push(format!(
                        "{} has no Iceberg procedures: old snapshots were not expired (set \
                         iceberg_expire_snapshots: false to skip this step)",
                        self.engine.engine_name()
                    ));
                }
                Err(e) if replace_unsupported(&e) => {
                    self.engine
                        .create_without_replace(self.spark, step, &sql, comment, e)
                        .await
                        .map_err(native_err)?;
                }
                Err(e) => return Err(native_err(e).into()),
            },
            Rendered::Scoped { sql, settings } => run_scoped(self.spark, &commented(comment, &sql), &settings)
                .await
                .map_err(native_err)?,
            Rendered::Native { .. } => {}
        }
        Ok(())
    }

    async fn refresh(&mut self, index: usize, table: &RelationName) -> Result<(), PlanFailure> {
        let comment = self.plan.query_comment.as_ref();
        Ok(refresh(self.spark, table, comment)
            .await
            .map_err(self.native_err(index))?)
    }

    async fn seed_rows(&mut self, index: usize, seed: &SeedLoad) -> Result<(), PlanFailure> {
        self.spark
            .create_view(seed.view.as_str(), &seed.schema, &seed.batches)
            .await
            .map_err(self.native_err(index))?;
        Ok(())
    }
}

/// A schema or relation that does not exist (Spark's error classes; servers without classes say "not found").
fn not_found(e: &SessionError) -> bool {
    match e {
        SessionError::Statement {
            error_class, message, ..
        } => {
            error_class
                .as_deref()
                .is_some_and(|c| c.starts_with("SCHEMA_NOT_FOUND") || c.starts_with("TABLE_OR_VIEW_NOT_FOUND"))
                || message.to_lowercase().contains("not found")
        }
        _ => false,
    }
}

fn strings(batch: &RecordBatch, name: &str) -> Option<Vec<Option<String>>> {
    let i = batch.schema().index_of(name).ok()?;
    let c = arrow_cast::cast(batch.column(i), &arrow_schema::DataType::Utf8).ok()?;
    let a = c.as_any().downcast_ref::<StringArray>()?;
    Some(
        (0..a.len())
            .map(|r| a.is_valid(r).then(|| a.value(r).to_string()))
            .collect(),
    )
}

/// The first column's values (SHOW DATABASES: `namespace` on Spark, `name` on Sail).
fn first_column(batches: &[RecordBatch]) -> Vec<String> {
    batches
        .iter()
        .filter(|b| b.num_columns() > 0)
        .filter_map(|b| {
            let c = arrow_cast::cast(b.column(0), &arrow_schema::DataType::Utf8).ok()?;
            let a = c.as_any().downcast_ref::<StringArray>()?.clone();
            Some(
                (0..a.len())
                    .filter(|i| a.is_valid(*i))
                    .map(|i| a.value(i).to_string())
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect()
}

/// `REFRESH TABLE` (Spark caches a table's files and metadata); a server without that cache (Sail) does not know the
/// statement, which is then nothing to do.
async fn refresh(
    spark: &ConnectSession,
    table: &RelationName,
    comment: Option<&QueryComment>,
) -> Result<(), SessionError> {
    match spark
        .sql(&commented(comment, &glue_sql::ddl::refresh_table(table)))
        .await
    {
        Err(SessionError::Statement { message, .. }) if message.contains("RefreshTable") => {
            tracing::debug!("the server has no REFRESH TABLE: {message}");
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

/// A `CREATE OR REPLACE` the catalog refused (Sail on the Glue catalog: "AWS Glue catalog does not support REPLACE").
fn replace_unsupported(e: &SessionError) -> bool {
    matches!(e, SessionError::Statement { message, .. } if message.contains("does not support REPLACE"))
}

/// `(name, is temporary)` of SHOW TABLES rows.
fn table_names(batches: &[RecordBatch]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for b in batches {
        let names = strings(b, "tableName").unwrap_or_default();
        let temp = strings(b, "isTemporary").unwrap_or_default();
        for (i, n) in names.into_iter().enumerate() {
            let Some(n) = n else { continue };
            let t = temp.get(i).cloned().flatten().is_some_and(|t| t == "true");
            out.push((n, t));
        }
    }
    out
}

/// What `DESCRIBE TABLE EXTENDED` says of a relation: its columns, partition columns, type, provider and location.
fn existing_from_describe(batches: &[RecordBatch]) -> Existing {
    let mut rows = Vec::new();
    for b in batches {
        let names = strings(b, "col_name").unwrap_or_default();
        let types = strings(b, "data_type").unwrap_or_default();
        for (n, t) in names.into_iter().zip(types) {
            rows.push((n.unwrap_or_default(), t.unwrap_or_default()));
        }
    }
    #[derive(PartialEq)]
    enum Section {
        Columns,
        Partitions,
        Details,
        Other,
    }
    let mut section = Section::Columns;
    let mut columns = Vec::new();
    let mut partition_columns = Vec::new();
    let mut details: HashMap<String, String> = HashMap::new();
    for (name, ty) in rows {
        let name = name.trim().to_string();
        if name.starts_with('#') {
            let header = name.trim_start_matches('#').trim().to_lowercase();
            section = match header.as_str() {
                "partition information" | "partitioning" => Section::Partitions,
                "detailed table information" | "detailed view information" => Section::Details,
                "col_name" => continue,
                _ => Section::Other,
            };
            continue;
        }
        if name.is_empty() {
            if section == Section::Columns {
                section = Section::Other;
            }
            continue;
        }
        match section {
            Section::Columns => {
                if let Ok(c) = ColumnDef::new(name, ty.trim().to_string()) {
                    columns.push(c);
                }
            }
            Section::Partitions => {
                // Spark lists partition columns as (name, type); Iceberg as (`Part 0`, transform).
                if name.starts_with("Part ") {
                    partition_columns.push(ty.trim().to_string());
                } else {
                    partition_columns.push(name);
                }
            }
            Section::Details => {
                details.insert(name.to_lowercase(), ty.trim().to_string());
            }
            Section::Other => {}
        }
    }
    let kind = details.get("type").map(|t| t.to_uppercase()).unwrap_or_default();
    if kind == "VIEW" || details.contains_key("view text") {
        return Existing::View;
    }
    let provider = details.get("provider").map(|p| p.to_lowercase()).unwrap_or_default();
    let serde = details
        .get("serde library")
        .map(|p| p.to_lowercase())
        .unwrap_or_default();
    let format = match provider.as_str() {
        "hive" | "" if serde.contains("parquet") => TableFormat::Known(FileFormat::Parquet),
        "hive" | "" if serde.contains("orc") => TableFormat::Known(FileFormat::Orc),
        "" => TableFormat::Other("unknown".into()),
        p => FileFormat::parse(p).map_or_else(|| TableFormat::Other(p.to_string()), TableFormat::Known),
    };
    Existing::Table(ExistingTable {
        format,
        location: details.get("location").cloned().filter(|l| !l.is_empty()),
        columns,
        partition_columns,
        version: None,
        siblings: Vec::new(),
        temp_siblings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(rows: &[(&str, &str)]) -> Vec<RecordBatch> {
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("col_name", arrow_schema::DataType::Utf8, true),
            arrow_schema::Field::new("data_type", arrow_schema::DataType::Utf8, true),
        ]));
        vec![
            RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                    Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
                ],
            )
            .unwrap(),
        ]
    }

    #[test]
    fn describe_extended_gives_format_location_and_partitions() {
        let out = existing_from_describe(&describe(&[
            ("id", "bigint"),
            ("dt", "string"),
            ("# Partition Information", ""),
            ("# col_name", "data_type"),
            ("dt", "string"),
            ("", ""),
            ("# Detailed Table Information", ""),
            ("Type", "EXTERNAL"),
            ("Provider", "parquet"),
            ("Location", "s3://b/w/s/t"),
        ]));
        let Existing::Table(t) = out else { panic!("{out:?}") };
        assert_eq!(t.format, TableFormat::Known(FileFormat::Parquet));
        assert_eq!(t.location.as_deref(), Some("s3://b/w/s/t"));
        assert_eq!(t.partition_columns, vec!["dt".to_string()]);
        assert_eq!(
            t.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["id", "dt"]
        );

        let delta = existing_from_describe(&describe(&[
            ("id", "int"),
            ("", ""),
            ("# Detailed Table Information", ""),
            ("Provider", "delta"),
        ]));
        assert!(matches!(
            delta,
            Existing::Table(ExistingTable {
                format: TableFormat::Known(FileFormat::Delta),
                ..
            })
        ));
        let view = existing_from_describe(&describe(&[
            ("id", "int"),
            ("", ""),
            ("# Detailed Table Information", ""),
            ("Type", "VIEW"),
        ]));
        assert_eq!(view, Existing::View);
    }

    #[test]
    fn plain_servers_refuse_python_and_hudi_before_anything_runs() {
        let profile = SparkConnectProfile::from_output(
            serde_json::json!({"host": "sc://127.0.0.1:9", "datalake_formats": "delta,hudi"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let e = ConnectEngine::new(ConnectTarget::Server(profile), String::new());
        let caps = e.capabilities();
        assert!(caps.formats.contains(&FileFormat::Delta));
        assert!(!caps.formats.contains(&FileFormat::Hudi));
        assert!(!caps.formats.contains(&FileFormat::Iceberg));
        assert!(!caps.steps.contains(&StepKind::RunPython));
        assert!(caps.steps.contains(&StepKind::Merge));
    }
}
