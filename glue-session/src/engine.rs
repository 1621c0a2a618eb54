//! The remote [`Engine`]: plans run on a pool of Glue Interactive Sessions, each model's steps sent as one request
//! (one RunStatement, unless a late-bound step needs the columns of a relation built earlier in the same plan).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use glue_materialize::engine::{PlanOutcome, RelationInfo};
use glue_materialize::step::Step;
use glue_materialize::{
    Capabilities, Engine, EngineError, FileFormat, Plan, RenderContext, RenderError, Rendered, SessionChoice, StepKind,
    render_step,
};
use glue_sql::types::ColumnDef;
use glue_sql::{Ident, RelationName};
use tokio::sync::{OnceCell, Semaphore};

use glue_lakeformation::LakeFormation;

use crate::catalog::Catalog;
use crate::client::Clients;
use crate::create::session_id;
use crate::error::SessionError;
use crate::livy::{LivySession, Origin, Stats};
use crate::profile::GlueProfile;
use crate::request::{Answer, Op, Request, decode_batches};
use crate::seed::SeedLoad;

const ENGINE: &str = "Glue Interactive Sessions";

/// What a run did on Glue, for the run summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    /// Sessions opened (created or reused).
    pub sessions: Vec<(String, Origin)>,
    /// RunStatement calls.
    pub run_statements: u64,
    /// GetStatement calls.
    pub get_statements: u64,
    /// GetSession calls.
    pub get_sessions: u64,
    /// Median delay between a statement completing and glue-rs noticing, in ms.
    pub median_notice_delay_ms: Option<u64>,
    /// DPU-seconds of the sessions, as Glue reports them.
    pub dpu_seconds: f64,
    /// Spark Connect ExecutePlan calls.
    pub spark_connect_executes: u64,
    /// Spark Connect AnalyzePlan calls.
    pub spark_connect_analyzes: u64,
    /// GetSessionEndpoint calls (the first and each token refresh).
    pub session_endpoint_calls: u64,
}

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
pub struct GlueEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GlueEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlueEngine").finish_non_exhaustive()
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

pub(crate) fn err(e: SessionError) -> EngineError {
    match e {
        SessionError::Statement {
            error_class, message, ..
        } => EngineError::Sql { error_class, message },
        other => EngineError::Other {
            context: "Glue".into(),
            source: Box::new(other),
        },
    }
}

impl GlueEngine {
    /// An engine for the profile with up to `threads` sessions. Nothing is called until [`GlueEngine::prepare`] or
    /// the first plan.
    pub fn new(profile: GlueProfile, threads: usize, now: String) -> Self {
        let threads = threads.max(1);
        GlueEngine {
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

    /// Sends the pending operations of a plan as one request; a failure names the step its operation came from.
    async fn flush(
        &self,
        session: &LivySession,
        batch: &mut Batch,
        plan: &Plan,
        outcome: &mut PlanOutcome,
    ) -> Result<Vec<serde_json::Value>, PlanFailure> {
        if batch.ops.is_empty() {
            outcome.executed.append(&mut batch.steps);
            return Ok(Vec::new());
        }
        let ops = std::mem::take(&mut batch.ops);
        let owners = std::mem::take(&mut batch.owners);
        let reads = std::mem::take(&mut batch.reads);
        let writers = owners.iter().zip(&reads).filter(|(_, read)| !**read);
        batch.touched.extend(writers.filter_map(|(o, _)| *o));
        let a = match session.run_request(&Request { ops }).await {
            Ok(a) => a,
            Err(e @ SessionError::SessionLost { .. }) => {
                return Err(PlanFailure::Lost(e, not_replayable(plan, &batch.touched)));
            }
            Err(e) => return Err(step_error(plan, None, e).into()),
        };
        match a.into_results() {
            Ok(results) => {
                outcome.executed.append(&mut batch.steps);
                Ok(results)
            }
            Err((failed_op, e)) => {
                let step = failed_op
                    .and_then(|i| owners.get(i).copied().flatten())
                    .and_then(|i| plan.steps.get(i));
                if let Some(s) = step {
                    self.discard_lost_staging(plan, s, &e).await;
                }
                Err(step_error(plan, step, e).into())
            }
        }
    }

    /// A rebuild's CTAS that lost the race for the staging table to another run (Spark checks the name, writes
    /// the data, then creates the entry, and the other run created it in between) leaves its data in this run's
    /// own version directory: nobody will publish it, so it goes now rather than waiting for the next rebuild.
    async fn discard_lost_staging(&self, plan: &Plan, step: &Step, e: &SessionError) {
        let Step::CreateTableAs { table, .. } = step else {
            return;
        };
        let Some(location) = table.location.as_deref() else {
            return;
        };
        if lost_staging_race(plan, step, e).is_none()
            || !table.own_location
            || !crate::catalog::is_version_dir(location)
        {
            return;
        }
        if let Err(e) = self.catalog().await.delete_location(location).await {
            tracing::warn!("could not remove {location}, the data of a rebuild that was not published: {e}");
        }
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

/// `CREATE DATABASE IF NOT EXISTS … [LOCATION <location>/<schema>]` for the schema a plan writes to, the first time
/// a run meets that schema (`ready` holds the schemas seen; `again` renders it anyway, for a plan re-run on a new
/// session). None for a temporary relation or a schema seen before.
pub(crate) fn create_schema_sql(
    plan: &Plan,
    ready: &Mutex<HashSet<String>>,
    location: Option<&str>,
    again: bool,
) -> Option<String> {
    let rel = plan.relation.as_ref()?;
    // Iceberg relations carry their Spark catalog's name; the database is the same Glue database.
    if rel.is_temporary() {
        return None;
    }
    let schema = rel.schema_str().to_string();
    let first = ready
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(schema.to_lowercase());
    if !first && !again {
        return None;
    }
    let ident = Ident::new(schema.clone()).ok()?;
    let mut db = glue_sql::ddl::CreateDatabase::new(ident);
    if let Some(loc) = location {
        db = db.location(schema_location(loc, &schema));
    }
    Some(db.to_sql())
}

/// A schema's database location under the profile's `location`: `<location>/<schema>`.
pub(crate) fn schema_location(location: &str, schema: &str) -> String {
    format!("{}/{schema}", location.trim_end_matches('/'))
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

/// What a late-bound step needs before it can be rendered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Need {
    Relation(String),
    Query(String),
}

pub(crate) fn rel_key(r: &RelationName) -> String {
    r.to_string().to_lowercase()
}

/// The (target, source) columns a step needs, as keys.
pub(crate) fn needs(step: &Step) -> (Option<Need>, Option<Need>) {
    let rel = |r: &RelationName| Some(Need::Relation(rel_key(r)));
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

fn need_op(n: &Need) -> Op {
    match n {
        Need::Relation(r) => Op::Columns { relation: r.clone() },
        Need::Query(q) => Op::QueryColumns { sql: q.clone() },
    }
}

/// Why a plan stopped: its session ended (run it again on a new one, unless a step that cannot run twice may have
/// run: its index), or it failed.
enum PlanFailure {
    Lost(SessionError, Option<usize>),
    Failed(EngineError),
}

/// The first step of `plan` among `touched` (steps sent or done) that cannot run twice.
fn not_replayable(plan: &Plan, touched: &[usize]) -> Option<usize> {
    touched
        .iter()
        .copied()
        .filter(|i| plan.steps.get(*i).is_some_and(|s| !s.replayable()))
        .min()
}

/// The failure of a plan whose session ended after a step that cannot run twice may have run.
fn partially_applied(plan: &Plan, step: usize, e: SessionError) -> EngineError {
    let what = plan.steps.get(step).map(|s| s.to_string()).unwrap_or_default();
    let table = plan
        .relation
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_else(|| plan.model.clone());
    EngineError::Other {
        context: format!(
            "model `{}` may be partially applied: its Glue session ended after step `{what}` ran or may have run; \
             it is not run again, since running it twice could apply it twice. Check {table} (rows of this run, \
             the last table version) before running the model again",
            plan.model
        ),
        source: Box::new(e),
    }
}

impl From<EngineError> for PlanFailure {
    fn from(e: EngineError) -> Self {
        PlanFailure::Failed(e)
    }
}

/// Operations waiting to be sent, with the plan step each came from.
#[derive(Default)]
struct Batch {
    ops: Vec<Op>,
    owners: Vec<Option<usize>>,
    /// Whether each operation only reads (the columns a late-bound step needs).
    reads: Vec<bool>,
    steps: Vec<String>,
    /// Steps sent so far (in requests answered or lost) or run natively: what a lost session may have applied.
    touched: Vec<usize>,
}

impl Batch {
    fn push(&mut self, op: Op, step: Option<usize>) {
        self.ops.push(op);
        self.owners.push(step);
        self.reads.push(false);
    }

    /// An operation that only reads, for `step`.
    fn push_read(&mut self, op: Op, step: usize) {
        self.ops.push(op);
        self.owners.push(Some(step));
        self.reads.push(true);
    }
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
fn lost_staging_race<'p>(plan: &'p Plan, step: &Step, e: &SessionError) -> Option<&'p RelationName> {
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

/// The answers to the `count` operations sent from position `first` of a request: a runner that answered fewer is
/// a protocol error.
fn answers_from(
    results: &[serde_json::Value],
    first: usize,
    count: usize,
) -> Result<&[serde_json::Value], SessionError> {
    results.get(first..first + count).ok_or_else(|| {
        SessionError::Protocol(format!(
            "the runner answered {} operations of a request, {} expected",
            results.len(),
            first + count
        ))
    })
}

fn columns_of(v: &serde_json::Value) -> Result<Vec<ColumnDef>, SessionError> {
    let pairs: Vec<(String, String)> =
        serde_json::from_value(v.clone()).map_err(|e| SessionError::Protocol(format!("a column list: {e}")))?;
    pairs
        .into_iter()
        .map(|(n, t)| ColumnDef::new(n, t).map_err(|e| SessionError::Protocol(format!("a column type: {e}"))))
        .collect()
}

/// Steps this engine runs: all of them.
fn supported_steps() -> BTreeSet<StepKind> {
    StepKind::ALL.iter().copied().collect()
}

#[async_trait]
impl Engine for GlueEngine {
    fn capabilities(&self) -> Capabilities {
        let mut formats: BTreeSet<FileFormat> = [
            FileFormat::Parquet,
            FileFormat::Csv,
            FileFormat::Json,
            FileFormat::Orc,
            FileFormat::Avro,
            FileFormat::Text,
        ]
        .into_iter()
        .collect();
        for f in &self.inner.profile.datalake_formats {
            match f {
                crate::profile::DatalakeFormat::Delta => formats.insert(FileFormat::Delta),
                crate::profile::DatalakeFormat::Iceberg => formats.insert(FileFormat::Iceberg),
                crate::profile::DatalakeFormat::Hudi => formats.insert(FileFormat::Hudi),
            };
        }
        Capabilities {
            engine: ENGINE,
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
        let granted = match crate::lf::new_schema(&self.inner.profile, &self.inner.schemas_granted, plan) {
            Some((schema, role)) => {
                let location = self.inner.profile.location.as_deref();
                let lf = self.lake_formation().await;
                crate::lf::database_grants(&self.catalog().await, lf, location, &schema, role).await
            }
            None => None,
        };
        if let Some(choice) = &plan.session {
            let mut o = self.execute_dedicated(plan, choice).await?;
            o.warnings.extend(granted);
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
                    o.warnings.extend(granted);
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

impl GlueEngine {
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

    async fn execute_on(&self, session: &LivySession, plan: &Plan, again: bool) -> Result<PlanOutcome, PlanFailure> {
        let mut outcome = PlanOutcome::default();
        let mut known: HashMap<Need, Vec<ColumnDef>> = HashMap::new();
        let mut batch = Batch::default();
        for op in self.schema_ops(plan, again) {
            batch.push(op, None);
        }
        // Tables the model reads may have been replaced by another session (a thread of this run, another run):
        // this session's cached definitions and file listings of them are forgotten first.
        if !plan.reads.is_empty() {
            batch.push(
                Op::Refresh {
                    relations: plan.reads.iter().map(|r| r.to_string()).collect(),
                },
                None,
            );
        }
        let render_err = |step: &Step, e: RenderError| EngineError::Other {
            context: format!("step {step}"),
            source: Box::new(e),
        };
        for (index, step) in plan.steps.iter().enumerate() {
            let native_err = |e: SessionError| step_error(plan, Some(step), e);
            // Columns this step needs and nobody fetched yet: run what is pending, fetching them in the same request.
            let (t, s) = needs(step);
            let missing: BTreeSet<Need> = [t.clone(), s.clone()]
                .into_iter()
                .flatten()
                .filter(|n| !known.contains_key(n))
                .collect();
            if !missing.is_empty() {
                let first = batch.ops.len();
                for n in &missing {
                    batch.push_read(need_op(n), index);
                }
                let results = self.flush(session, &mut batch, plan, &mut outcome).await?;
                for (n, v) in missing
                    .iter()
                    .zip(answers_from(&results, first, missing.len()).map_err(native_err)?)
                {
                    known.insert(n.clone(), columns_of(v).map_err(native_err)?);
                }
            }
            let ctx = RenderContext {
                now: self.inner.now.clone(),
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
                } => {
                    self.flush(session, &mut batch, plan, &mut outcome).await?;
                    let catalog = self.catalog().await;
                    batch.touched.push(index);
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
                    };
                    catalog.switch(&switch).await.map_err(native_err)?;
                    // The session caches table metadata: make it read the new entry.
                    batch.push(
                        Op::Sql {
                            sql: glue_sql::ddl::refresh_table(target),
                        },
                        Some(index),
                    );
                }
                Step::RunPython { view, code, context } => {
                    let context: serde_json::Value = serde_json::from_str(context)
                        .map_err(|e| native_err(SessionError::Protocol(format!("the Python model's context: {e}"))))?;
                    batch.push(
                        Op::PythonModel {
                            code: code.clone(),
                            view: view.as_str().to_string(),
                            context,
                            name: format!("{}.py", plan.model),
                        },
                        Some(index),
                    );
                }
                Step::LakeFormation { .. } => {
                    // After the statements before it: the table must exist.
                    self.flush(session, &mut batch, plan, &mut outcome).await?;
                    let diff = crate::lf::run_step(self.lake_formation().await, plan, step).await?;
                    outcome.executed.push(diff);
                    continue;
                }
                Step::HudiWrite {
                    relation,
                    location,
                    query,
                    options,
                    operation,
                    substitute_variables,
                } => {
                    let mode = match operation {
                        glue_materialize::step::HudiOperation::BulkInsert => "overwrite",
                        glue_materialize::step::HudiOperation::Upsert
                        | glue_materialize::step::HudiOperation::InsertOverwriteTable => "append",
                    };
                    batch.push(
                        Op::HudiWrite {
                            query: query.as_str().to_string(),
                            path: location.clone(),
                            options: options.clone(),
                            mode: mode.into(),
                            substitute_variables: substitute_variables.clone(),
                            table: relation.to_string(),
                        },
                        Some(index),
                    );
                }
                Step::DeltaManifest {
                    manifest_table,
                    location,
                    ..
                } => {
                    // The manifest (Delta's SQL), then the Athena table's statements; the table lists the Delta
                    // location among its AdditionalLocations, as dbt-glue does.
                    batch.push(
                        Op::Sql {
                            sql: glue_sql::ddl::generate_symlink_manifest(location),
                        },
                        Some(index),
                    );
                    for r in render_step(step, &ctx).map_err(|e| render_err(step, e))? {
                        if let Some(op) = Op::rendered(r) {
                            batch.push(op, Some(index));
                        }
                    }
                    self.flush(session, &mut batch, plan, &mut outcome).await?;
                    self.catalog()
                        .await
                        .add_additional_location(manifest_table, location)
                        .await
                        .map_err(native_err)?;
                }
                Step::DeleteLocation { location } => {
                    self.flush(session, &mut batch, plan, &mut outcome).await?;
                    self.catalog()
                        .await
                        .delete_location(location)
                        .await
                        .map_err(native_err)?;
                }
                Step::LoadSeed { .. } => {
                    let seed = SeedLoad::prepare(
                        step,
                        native_err,
                        |e| render_err(step, e),
                        |message| EngineError::Sql {
                            error_class: None,
                            message,
                        },
                    )?;
                    if !seed.statements.is_empty() {
                        batch.push(
                            Op::arrow_view(seed.view.as_str(), &seed.batches, &seed.schema).map_err(native_err)?,
                            Some(index),
                        );
                        for op in seed.statements.into_iter().filter_map(Op::rendered) {
                            batch.push(op, Some(index));
                        }
                        outcome.rows_affected = Some(seed.rows);
                    }
                }
                _ => {
                    for r in render_step(step, &ctx).map_err(|e| render_err(step, e))? {
                        match r {
                            Rendered::Native { action, .. } => {
                                return Err(EngineError::Unsupported {
                                    engine: ENGINE,
                                    construct: format!("{action} (model `{}`)", plan.model),
                                }
                                .into());
                            }
                            other => {
                                if let Some(op) = Op::rendered(other) {
                                    batch.push(op, Some(index));
                                }
                            }
                        }
                    }
                    // A schema change makes the target's columns stale.
                    if matches!(step, Step::SyncSchema { .. })
                        && let Some(t) = &t
                    {
                        known.remove(t);
                    }
                }
            }
            batch.steps.push(step.to_string());
        }
        self.flush(session, &mut batch, plan, &mut outcome).await?;
        Ok(outcome)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runner_answering_fewer_results_than_operations_is_an_error_not_a_panic() {
        let results = vec![serde_json::json!(null)];
        assert_eq!(answers_from(&results, 0, 1).unwrap().len(), 1);
        for (first, count) in [(1, 1), (3, 2), (0, 2)] {
            let e = answers_from(&results, first, count).unwrap_err().to_string();
            assert!(e.contains("answered 1 operations"), "{e}");
        }
    }
}
