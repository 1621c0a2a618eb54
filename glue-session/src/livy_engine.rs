//! The remote [`Engine`] over Livy: plans run on a pool of Glue Interactive Sessions (one per thread, or one of a
//! model's own), each model's steps sent as one request (see `livy_steps`); a session that ends under a plan is
//! replaced and the plan run again when nothing in it can have applied twice.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use glue_lakeformation::LakeFormation;
use glue_materialize::engine::{PlanOutcome, RelationInfo};
use glue_materialize::step::Step;
use glue_materialize::{Capabilities, Engine, EngineError, Plan, SessionChoice, StepKind};
use glue_sql::RelationName;
use glue_sql::types::ColumnDef;
use tokio::sync::{OnceCell, Semaphore};

use crate::catalog::Catalog;
use crate::client::Clients;
use crate::create::session_id;
use crate::database::create_schema_sql;
use crate::error::{SessionError, engine_error as err};
use crate::livy::{LivySession, Origin, Stats};
use crate::livy_steps::{ENGINE, columns_of, partially_applied};
use crate::profile::GlueProfile;
use crate::report::RunReport;
use crate::request::{Answer, Op, Request, decode_batches};
use crate::steps::{PlanFailure, file_formats, format_help};

/// A session being opened on a task of its own.
type Opening = tokio::task::JoinHandle<Result<Arc<LivySession>, SessionError>>;

struct Inner {
    profile: GlueProfile,
    clients: OnceCell<Clients>,
    stats: Arc<Stats>,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Arc<LivySession>>>,
    opened: Mutex<Vec<Arc<LivySession>>>,
    next_index: AtomicUsize,
    first: tokio::sync::Mutex<Option<Opening>>,
    /// Sessions being opened (on tasks of their own, so an interrupted run still learns of them and stops them).
    opening: AtomicUsize,
    /// Reused session ids whose session ended mid-run: the replacement takes the same id.
    reopen: Mutex<Vec<String>>,
    schemas_ready: Mutex<HashSet<String>>,
    /// Schemas whose creation (and Lake Formation grants) this run has seen to.
    schemas_granted: Mutex<HashSet<String>>,
    lake_formation: OnceCell<LakeFormation>,
    /// Sessions of their own for models and groups (`Plan::session`), by key.
    dedicated: Mutex<HashMap<String, Arc<Dedicated>>>,
    interrupted: AtomicBool,
    now: String,
    /// The tables of each schema listed this run (lower-case schema), read once: the relation cache's listing
    /// and the location check share it.
    listings: crate::locations::Listings,
    /// The lakehouse formats the session loads, and those loaded on trust (warned about once per run).
    lakehouse: Vec<(glue_materialize::FileFormat, crate::lake_formats::FormatRoute)>,
    unverified: crate::lake_formats::Unverified,
}

/// A session of its own for a model or a group of models: its profile (the target's with the node's overrides), its
/// id, and the session once opened; plans with its key run on it one at a time.
struct Dedicated {
    profile: GlueProfile,
    id: String,
    session: tokio::sync::Mutex<Option<Arc<LivySession>>>,
}

/// Plans on AWS Glue Interactive Sessions (Livy statements). Cheap to clone.
#[derive(Clone)]
pub struct LivyEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LivyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivyEngine").finish_non_exhaustive()
    }
}

/// A session lent to one task; back to the pool when dropped.
struct Lease {
    session: Arc<LivySession>,
    inner: Arc<Inner>,
    _permit: tokio::sync::OwnedSemaphorePermit,
    discard: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.discard {
            self.inner
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.session.clone());
        } else {
            // An ended session: nothing to stop at the end; a reused id is taken again by its replacement.
            self.inner
                .opened
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|s| !Arc::ptr_eq(s, &self.session));
            if reuses_names(&self.inner.profile) {
                self.inner
                    .reopen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(self.session.id().to_string());
            }
        }
    }
}

impl LivyEngine {
    /// An engine for the profile with up to `threads` sessions. Nothing is called until [`LivyEngine::prepare`] or
    /// the first plan.
    pub fn new(profile: GlueProfile, threads: usize, now: String) -> Self {
        let threads = threads.max(1);
        let lakehouse = crate::lake_formats::lakehouse_formats(&profile);
        let unverified = crate::lake_formats::Unverified::new(lakehouse.clone());
        LivyEngine {
            inner: Arc::new(Inner {
                profile,
                clients: OnceCell::new(),
                stats: Arc::new(Stats::default()),
                slots: Arc::new(Semaphore::new(threads.min(Semaphore::MAX_PERMITS))),
                idle: Mutex::new(Vec::new()),
                opened: Mutex::new(Vec::new()),
                next_index: AtomicUsize::new(0),
                first: tokio::sync::Mutex::new(None),
                opening: AtomicUsize::new(0),
                reopen: Mutex::new(Vec::new()),
                schemas_ready: Mutex::new(HashSet::new()),
                schemas_granted: Mutex::new(HashSet::new()),
                lake_formation: OnceCell::new(),
                dedicated: Mutex::new(HashMap::new()),
                interrupted: AtomicBool::new(false),
                now,
                listings: Default::default(),
                lakehouse,
                unverified,
            }),
        }
    }

    /// Starts opening the first session in the background (call it at process start, while the project is
    /// parsed). Needs a Tokio runtime.
    pub fn prepare(&self) {
        let handle = spawn_open(&self.inner);
        if let Ok(mut first) = self.inner.first.try_lock() {
            *first = Some(handle);
        }
    }

    /// The AWS clients (loaded once from the SDK's credential chain).
    pub async fn clients(&self) -> &Clients {
        clients(&self.inner).await
    }

    /// The catalog of the target.
    pub async fn catalog(&self) -> Catalog {
        Catalog::new(self.clients().await.clone(), self.inner.profile.catalog_id.clone())
    }

    /// Lake Formation of the target's catalog (`catalog_id`, else the caller's account).
    pub async fn lake_formation(&self) -> &LakeFormation {
        let clients = self.clients().await;
        self.inner
            .lake_formation
            .get_or_init(|| async { LakeFormation::new(&clients.config, self.inner.profile.catalog_id.clone()) })
            .await
    }

    async fn lease(&self) -> Result<Lease, SessionError> {
        if self.inner.interrupted.load(Ordering::Acquire) {
            return Err(SessionError::Cancelled);
        }
        let permit = self
            .inner
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SessionError::Cancelled)?;
        let idle = self.inner.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let session = match idle {
            Some(s) => s,
            None => {
                let pending = self.inner.first.lock().await.take();
                let handle = pending.unwrap_or_else(|| spawn_open(&self.inner));
                handle
                    .await
                    .map_err(|e| SessionError::Protocol(format!("the session task failed: {e}")))??
            }
        };
        if self.inner.interrupted.load(Ordering::Acquire) {
            // Interrupted while the session started: keep it for `finish` to stop.
            self.inner.idle.lock().unwrap_or_else(|e| e.into_inner()).push(session);
            return Err(SessionError::Cancelled);
        }
        Ok(Lease {
            session,
            inner: self.inner.clone(),
            _permit: permit,
            discard: false,
        })
    }

    /// Runs a request on a pooled session; when the session ended under it (timeout, stopped), opens a new one and
    /// retries once (the requests sent this way only read: queries, schemas, columns).
    /// Runs a request on a pooled session; a session that ends under it is replaced and the request sent once more
    /// only when it is `replayable` (it only reads): a write may already have been applied.
    async fn run(&self, req: &Request, replayable: bool) -> Result<Answer, SessionError> {
        let mut retried = false;
        loop {
            let mut lease = self.lease().await?;
            match lease.session.run_request(req).await {
                Err(SessionError::SessionLost { id, status }) if !retried && replayable => {
                    tracing::warn!(session = %id, %status, "the Glue session ended mid-run; retrying on a new session");
                    lease.discard = true;
                    retried = true;
                }
                Err(e @ SessionError::SessionLost { .. }) => {
                    lease.discard = true;
                    return Err(e);
                }
                other => return other,
            }
        }
    }

    /// Runs one operation on a pooled session and returns its result.
    async fn run_one(&self, op: Op) -> Result<serde_json::Value, EngineError> {
        // `run_query` in a macro may write (`insert into …`): only what reads is sent again on a new session.
        let replayable = match &op {
            Op::Query { sql } | Op::Schema { sql } => glue_sql::reads_only(sql),
            Op::Columns { .. } => true,
            _ => false,
        };
        let answer = self
            .run(&Request { ops: vec![op] }, replayable)
            .await
            .map_err(|e| match e {
                SessionError::SessionLost { .. } if !replayable => err(SessionError::Protocol(format!(
                    "{e}; the statement was not sent again on a new session: it may write, and it may have been \
                 applied already: check its effect before running it again"
                ))),
                other => err(other),
            })?;
        let results = answer.into_results().map_err(|(_, e)| err(e))?;
        results
            .into_iter()
            .next()
            .ok_or_else(|| err(SessionError::Protocol("the runner returned no result".into())))
    }

    /// Ctrl-C: cancels running statements and refuses new ones.
    pub async fn interrupt(&self) {
        self.inner.interrupted.store(true, Ordering::Release);
        let opened: Vec<_> = self.inner.opened.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for s in opened {
            s.cancel().await;
        }
    }

    /// Ends the run: stops the sessions this run created (all of them unless `glue_session_reuse`; reused sessions
    /// are left running) and reports the traffic and DPU-seconds.
    pub async fn finish(&self) -> RunReport {
        if let Some(h) = self.inner.first.lock().await.take() {
            // A session still starting in the background: wait for it, so it can be stopped too.
            if let Ok(Ok(s)) = h.await {
                self.inner.idle.lock().unwrap_or_else(|e| e.into_inner()).push(s);
            }
        }
        // Sessions still being opened (a run interrupted while they started): wait for them, to stop them too.
        let deadline = std::time::Instant::now() + self.inner.profile.provisioning_timeout + Duration::from_secs(5);
        while self.inner.opening.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let opened: Vec<_> = self.inner.opened.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut report = RunReport::default();
        for s in &opened {
            report.sessions.push((s.id().to_string(), s.origin()));
            let stop = s.origin() == Origin::Created && !self.inner.profile.glue_session_reuse;
            let dpu = if stop {
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
            report.dpu_seconds += dpu.unwrap_or(0.0);
        }
        let st = &self.inner.stats;
        report.run_statements = st.run_statements.load(Ordering::Relaxed);
        report.get_statements = st.get_statements.load(Ordering::Relaxed);
        report.get_sessions = st.get_sessions.load(Ordering::Relaxed);
        report.median_notice_delay_ms = st.median_notice_delay_ms();
        report
    }

    /// The database a plan writes to, created once per run (`CREATE DATABASE IF NOT EXISTS … LOCATION`, in the
    /// plan's own statement).
    fn schema_ops(&self, plan: &Plan, again: bool) -> Vec<Op> {
        create_schema_sql(
            plan,
            &self.inner.schemas_ready,
            self.inner.profile.location.as_deref(),
            again,
        )
        .map(|sql| vec![Op::Sql { sql }])
        .unwrap_or_default()
    }
}

/// Whether the pool's sessions carry fixed, reusable ids (`glue_session_reuse`), so that a replacement takes the id of
/// the session it replaces.
fn reuses_names(p: &GlueProfile) -> bool {
    p.glue_session_reuse && !p.enable_session_per_model
}

async fn clients(inner: &Inner) -> &Clients {
    inner.clients.get_or_init(|| Clients::load(&inner.profile)).await
}

/// Opens a session on a task of its own, counted in `opening` until it is recorded in `opened` (or failed).
fn spawn_open(inner: &Arc<Inner>) -> Opening {
    struct Counted(Arc<Inner>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.opening.fetch_sub(1, Ordering::AcqRel);
        }
    }
    inner.opening.fetch_add(1, Ordering::AcqRel);
    let guard = Counted(inner.clone());
    tokio::spawn(async move {
        let result = open_session(&guard.0).await;
        drop(guard);
        result
    })
}

async fn open_session(inner: &Arc<Inner>) -> Result<Arc<LivySession>, SessionError> {
    let p = &inner.profile;
    let reused_name = reuses_names(p);
    let again = if reused_name {
        inner.reopen.lock().unwrap_or_else(|e| e.into_inner()).pop()
    } else {
        None
    };
    let id = match again {
        Some(id) => id,
        None => {
            let index = inner.next_index.fetch_add(1, Ordering::AcqRel);
            if index == 0 || !reused_name {
                session_id(p, None)
            } else {
                session_id(p, Some(&format!("thread{}", index + 1)))
            }
        }
    };
    let c = clients(inner).await;
    let s = Arc::new(LivySession::open(c, p, &id, !reused_name, &inner.stats).await?);
    inner.opened.lock().unwrap_or_else(|e| e.into_inner()).push(s.clone());
    Ok(s)
}

/// Steps this engine runs: all of them.
fn supported_steps() -> BTreeSet<StepKind> {
    StepKind::ALL.iter().copied().collect()
}

#[async_trait]
impl Engine for LivyEngine {
    fn capabilities(&self) -> Capabilities {
        let formats = file_formats(&self.inner.lakehouse, true);
        let p = &self.inner.profile;
        Capabilities {
            engine: ENGINE,
            format_help: format_help(&formats, &p.datalake_formats, p.origin.as_ref(), true, true),
            formats,
            steps: supported_steps(),
        }
    }

    /// Runs a plan on one session (its requests share the session's temporary views); when the session ends under
    /// it (timeout, stopped), the whole plan runs again once on a new session, unless a step that cannot run twice
    /// ([`Step::replayable`]: an append, a hook, a catalog switch done) may have run: then the model fails as
    /// "may be partially applied", naming the step.
    async fn execute(&self, plan: &Plan) -> Result<PlanOutcome, EngineError> {
        self.capabilities().check(plan)?;
        self.inner.listings.check(&self.catalog().await, plan).await?;
        self.collect_staged_copy(plan).await;
        let unverified = self.inner.unverified.warnings(plan);
        let granted = match crate::lf::new_schema(&self.inner.profile, &self.inner.schemas_granted, plan) {
            Some((schema, role)) => {
                let location = self.inner.profile.location.as_deref();
                let lf = self.lake_formation().await;
                crate::lf::database_grants(&self.catalog().await, lf, location, &schema, role).await
            }
            None => None,
        };
        let mut notes = unverified;
        notes.extend(granted);
        if let Some(choice) = &plan.session {
            let mut o = self.execute_dedicated(plan, choice).await?;
            o.warnings.extend(notes);
            self.inner.listings.record(plan).await;
            return Ok(o);
        }
        let mut again = false;
        loop {
            let session_err = |e: SessionError| EngineError::Other {
                context: format!("model `{}`: the Glue session", plan.model),
                source: Box::new(e),
            };
            let mut lease = self.lease().await.map_err(session_err)?;
            match self.execute_on(&lease.session, plan, again).await {
                Ok(mut o) => {
                    o.warnings.extend(notes);
                    self.inner.listings.record(plan).await;
                    return Ok(o);
                }
                Err(PlanFailure::Failed(e)) => return Err(e),
                Err(PlanFailure::Lost(e, Some(step))) => {
                    lease.discard = true;
                    return Err(partially_applied(plan, step, e));
                }
                Err(PlanFailure::Lost(e, None)) => {
                    lease.discard = true;
                    if again {
                        return Err(session_err(e));
                    }
                    tracing::warn!(model = %plan.model, "{e}; running the model again on a new session");
                    again = true;
                }
            }
        }
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, EngineError> {
        self.query_rows(sql).await
    }

    async fn query_schema(&self, sql: &str) -> Result<arrow_schema::SchemaRef, EngineError> {
        self.query_columns(sql).await
    }

    async fn list_relations(&self, schema: &str) -> Result<Vec<RelationInfo>, EngineError> {
        let listed = self.catalog().await.list(schema).await.map_err(err)?;
        self.inner.listings.insert(schema, listed.clone()).await;
        Ok(listed)
    }

    async fn describe(&self, relation: &RelationName) -> Result<Vec<ColumnDef>, EngineError> {
        self.describe_relation(relation).await
    }
}

impl LivyEngine {
    /// A `custom_location` rebuild (its plan deletes its own staged copy at the end): the staged copy an earlier
    /// rebuild named on the table ([`glue_materialize::STAGED_AT`]) and did not delete (it stopped first) goes now.
    /// A failure here only leaves files behind: it is logged.
    async fn collect_staged_copy(&self, plan: &Plan) {
        let ours = plan.steps.iter().find_map(|s| match s {
            Step::DeleteLocation { location } => Some(location.as_str()),
            _ => None,
        });
        let (Some(ours), Some(relation)) = (ours, plan.relation.as_ref()) else {
            return;
        };
        let catalog = self.catalog().await;
        let earlier = match catalog.get(&relation.without_catalog()).await {
            Ok(Some(t)) => t.parameters().and_then(|p| p.get(glue_materialize::STAGED_AT)).cloned(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(model = %plan.model, "reading {relation} for an earlier staged copy: {e}");
                None
            }
        };
        // Only a sibling version directory of this model's own staged copies (`<custom_location>__v…`).
        let family = |l: &str| l.rfind("__v").map(|i| l[..i].to_string());
        if let Some(earlier) = earlier.filter(|e| e != ours && family(e).is_some() && family(e) == family(ours))
            && let Err(e) = catalog.delete_location(&earlier).await
        {
            tracing::warn!(model = %plan.model, "deleting the staged copy {earlier} an earlier run left: {e}");
        }
    }

    /// The session of a model or group (created on first use with the target's profile and the node's overrides).
    fn dedicated(&self, plan: &Plan, choice: &SessionChoice) -> Result<Arc<Dedicated>, EngineError> {
        let mut map = self.inner.dedicated.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = map.get(&choice.key) {
            return Ok(d.clone());
        }
        let (profile, warnings) =
            self.inner
                .profile
                .with_overrides(&choice.overrides)
                .map_err(|e| EngineError::Other {
                    context: format!("model `{}`: `meta.{}` (its own Glue session)", plan.model, e.field),
                    source: Box::new(e),
                })?;
        for w in warnings {
            tracing::warn!(model = %plan.model, "{w}");
        }
        let d = Arc::new(Dedicated {
            id: session_id(&profile, Some(&choice.key)),
            profile,
            session: tokio::sync::Mutex::new(None),
        });
        map.insert(choice.key.clone(), d.clone());
        Ok(d)
    }

    /// Runs a plan on the session of its model or group, opened by the reference's rules for a fixed id (READY is
    /// reused …); plans of one group wait for each other. A session that ends under the plan is opened again and the
    /// plan run once more.
    async fn execute_dedicated(&self, plan: &Plan, choice: &SessionChoice) -> Result<PlanOutcome, EngineError> {
        let d = self.dedicated(plan, choice)?;
        let mut slot = d.session.lock().await;
        let session_err = |e: SessionError| EngineError::Other {
            context: format!("model `{}`: its Glue session {}", plan.model, d.id),
            source: Box::new(e),
        };
        let mut again = false;
        loop {
            if self.inner.interrupted.load(Ordering::Acquire) {
                return Err(session_err(SessionError::Cancelled));
            }
            let session = match slot.as_ref() {
                Some(s) => s.clone(),
                None => {
                    let clients = self.clients().await;
                    let s = Arc::new(
                        LivySession::open(clients, &d.profile, &d.id, false, &self.inner.stats)
                            .await
                            .map_err(session_err)?,
                    );
                    self.inner
                        .opened
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(s.clone());
                    *slot = Some(s.clone());
                    s
                }
            };
            match self.execute_on(&session, plan, again).await {
                Ok(o) => return Ok(o),
                Err(PlanFailure::Failed(e)) => return Err(e),
                Err(PlanFailure::Lost(e, lost_after)) => {
                    *slot = None;
                    self.inner
                        .opened
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|s| !Arc::ptr_eq(s, &session));
                    if let Some(step) = lost_after {
                        return Err(partially_applied(plan, step, e));
                    }
                    if again {
                        return Err(session_err(e));
                    }
                    tracing::warn!(model = %plan.model, "{e}; running the model again on a new session");
                    again = true;
                }
            }
        }
    }

    /// Runs a plan on one session: the schema's database and the refresh of what it reads first, then its steps.
    async fn execute_on(&self, session: &LivySession, plan: &Plan, again: bool) -> Result<PlanOutcome, PlanFailure> {
        let mut first = self.schema_ops(plan, again);
        // Tables the model reads may have been replaced by another session (a thread of this run, another run):
        // this session's cached definitions and file listings of them are forgotten first.
        if !plan.reads.is_empty() {
            first.push(Op::Refresh {
                relations: plan.reads.iter().map(|r| r.to_string()).collect(),
            });
        }
        let catalog = self.catalog().await;
        let lf = self.lake_formation().await;
        crate::livy_steps::run_plan(session, catalog, lf, plan, first, &self.inner.now).await
    }

    async fn query_rows(&self, sql: &str) -> Result<Vec<RecordBatch>, EngineError> {
        let v = self.run_one(Op::Query { sql: sql.to_string() }).await?;
        let (schema, mut batches) = decode_batches(&v).map_err(err)?;
        if batches.is_empty() {
            batches.push(RecordBatch::new_empty(schema));
        }
        Ok(batches)
    }

    async fn query_columns(&self, sql: &str) -> Result<arrow_schema::SchemaRef, EngineError> {
        let v = self.run_one(Op::Schema { sql: sql.to_string() }).await?;
        Ok(decode_batches(&v).map_err(err)?.0)
    }

    async fn describe_relation(&self, relation: &RelationName) -> Result<Vec<ColumnDef>, EngineError> {
        if !relation.is_temporary()
            && relation.catalog.is_none()
            && let Some(glue_materialize::Existing::Table(t)) = self
                .catalog()
                .await
                .get(relation)
                .await
                .map_err(err)?
                .as_ref()
                .map(crate::catalog::existing_of)
        {
            return Ok(t.columns);
        }
        let v = self
            .run_one(Op::Columns {
                relation: relation.to_string(),
            })
            .await?;
        columns_of(&v).map_err(err)
    }
}
