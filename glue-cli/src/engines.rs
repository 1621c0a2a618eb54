//! The engine of a target: the embedded warehouse, or a remote engine (Glue Livy sessions, Spark Connect on Glue or
//! any `sc://` server) whose sessions start with the run and stop at its end, Ctrl-C and SIGTERM included.

use std::sync::Arc;
use std::time::Duration;

use glue_materialize::Engine;
use glue_project::profile::{EngineChoice, Profile};

use crate::error::{CliError, Result};
use crate::report::Reporter;

/// The keys of a target's output the remote engines' parsers read (for the unknown-key warnings).
pub const ENGINE_PROFILE_KEYS: &[&[&str]] = &[
    glue_session::GLUE_PROFILE_KEYS,
    glue_session::SPARK_CONNECT_PROFILE_KEYS,
];

/// The engine of a remote target: Glue Livy sessions, or Spark Connect (a Glue SPARK_CONNECT session or any
/// `sc://` server). Both start their session at once and stop what the run created at the end.
#[derive(Clone)]
pub(crate) enum Remote {
    Livy(glue_session::LivyEngine),
    Connect(glue_session::ConnectEngine),
}

impl Remote {
    /// The engine of a Glue target: Spark Connect for `session_type: spark_connect`, else Livy sessions (up to
    /// `threads`). Nothing is called yet.
    pub(crate) fn for_glue(glue: glue_session::GlueProfile, threads: usize, now: String) -> Remote {
        if glue.session_type == glue_session::SessionType::SparkConnect {
            Remote::Connect(glue_session::ConnectEngine::new(
                glue_session::ConnectTarget::Glue(glue),
                now,
            ))
        } else {
            Remote::Livy(glue_session::LivyEngine::new(glue, threads, now))
        }
    }

    /// Starts opening the first session in the background.
    pub(crate) fn prepare(&self) {
        match self {
            Remote::Livy(g) => g.prepare(),
            Remote::Connect(c) => c.prepare(),
        }
    }

    pub(crate) fn engine(&self) -> Arc<dyn Engine> {
        match self {
            Remote::Livy(g) => Arc::new(g.clone()),
            Remote::Connect(c) => Arc::new(c.clone()),
        }
    }

    pub(crate) async fn interrupt(&self) {
        match self {
            Remote::Livy(g) => g.interrupt().await,
            Remote::Connect(c) => c.interrupt().await,
        }
    }

    pub(crate) async fn finish(&self) -> glue_session::RunReport {
        match self {
            Remote::Livy(g) => g.finish().await,
            Remote::Connect(c) => c.finish().await,
        }
    }

    /// The AWS clients of a Glue target.
    pub(crate) async fn clients(&self) -> Option<glue_session::Clients> {
        match self {
            Remote::Livy(g) => Some(g.clients().await.clone()),
            Remote::Connect(c) => c.clients().await.cloned(),
        }
    }
}

/// Whether a command runs SQL (and so starts a Glue session at once, in the background while the project is parsed).
/// `compile`, `plan`, `ls` and the rest never create one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sessions {
    Start,
    Never,
}

/// The remote engine of a Glue or Spark Connect target, its first session requested in the background.
pub(crate) fn start_remote(profile: &Profile) -> Result<Option<Remote>> {
    // In milliseconds: Iceberg snapshot expiry keeps what is newer than this, and the previous run's last snapshot
    // may be in the run's first second.
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f").to_string();
    let remote = match &profile.engine {
        EngineChoice::Local { .. } => return Ok(None),
        EngineChoice::GlueSession => Remote::for_glue(crate::engines::glue_profile(profile)?, profile.threads, now),
        EngineChoice::SparkConnect { .. } => {
            let p = crate::engines::spark_connect_profile(profile)?;
            Remote::Connect(glue_session::ConnectEngine::new(
                glue_session::ConnectTarget::Server(p),
                now,
            ))
        }
    };
    remote.prepare();
    Ok(Some(remote))
}

/// Stops what a run started remotely and reports the run's traffic (and DPU-seconds on Glue) as a run line (on stderr
/// when the command's output is machine-readable, see [`crate::args::Command::stdout`]).
pub(crate) async fn finish_remote(remote: Option<Remote>, reporter: &Reporter) {
    let Some(g) = remote else { return };
    let r = g.finish().await;
    let created = r
        .sessions
        .iter()
        .filter(|(_, o)| *o == glue_session::Origin::Created)
        .count();
    let line = match g {
        Remote::Livy(_) => format!(
            "Glue: {} session(s) ({created} created, {} reused), {} RunStatement, {} GetStatement, {} GetSession{}; {:.1} DPU-seconds",
            r.sessions.len(),
            r.sessions.len() - created,
            r.run_statements,
            r.get_statements,
            r.get_sessions,
            r.median_notice_delay_ms
                .map(|d| format!(", median {d} ms from statement end to notice"))
                .unwrap_or_default(),
            r.dpu_seconds
        ),
        Remote::Connect(_) if r.sessions.is_empty() => format!(
            "Spark Connect: {} ExecutePlan, {} AnalyzePlan",
            r.spark_connect_executes, r.spark_connect_analyzes
        ),
        Remote::Connect(_) => format!(
            "Glue Spark Connect: {} session(s) ({created} created, {} reused), {} ExecutePlan, {} AnalyzePlan, {} GetSessionEndpoint, {} GetSession; {:.1} DPU-seconds",
            r.sessions.len(),
            r.sessions.len() - created,
            r.spark_connect_executes,
            r.spark_connect_analyzes,
            r.session_endpoint_calls,
            r.get_sessions,
            r.dpu_seconds
        ),
    };
    reporter.line("GlueSessions", &line);
}

/// The signals that stop a run: Ctrl-C (SIGINT) and, on Unix, SIGTERM (what schedulers such as Airflow, ECS or
/// Kubernetes send), registered for as long as this lives (a signal that comes between two waits is not lost).
pub(crate) struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// The exit code of a run stopped by Ctrl-C (128 + SIGINT).
    const INTERRUPTED: i32 = 130;
    /// The exit code of a run stopped by SIGTERM (128 + SIGTERM).
    const TERMINATED: i32 = 143;

    /// Starts listening. A signal that cannot be listened to (which the OS does not refuse in practice) keeps its
    /// default action, and the run says so.
    pub(crate) fn new(reporter: &Reporter) -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    reporter.warn(&format!(
                        "cannot handle {name} ({e}): it ends the run without stopping its sessions"
                    ));
                    None
                }
            };
            Signals {
                int: listen(SignalKind::interrupt(), "Ctrl-C"),
                term: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = reporter;
            Signals {}
        }
    }

    /// Waits for the next signal; its exit code: [`Signals::INTERRUPTED`] or [`Signals::TERMINATED`].
    pub(crate) async fn next(&mut self) -> i32 {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        if s.recv().await.is_none() {
                            std::future::pending::<()>().await
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.int) => Signals::INTERRUPTED,
                _ = recv(&mut self.term) => Signals::TERMINATED,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Signals::INTERRUPTED,
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// How long a second signal waits for the stop it fires before the process exits.
pub(crate) const BEST_EFFORT_STOP: Duration = Duration::from_secs(2);
/// How long an exit at once waits for a catalog switch under way (a switch is a few catalog calls).
pub(crate) const SWITCH_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a command that may use Glue sessions. Ctrl-C or SIGTERM cancels the running statements (and refuses new
/// ones), then the sessions this run created are stopped as at the end of every run (unless `glue_session_reuse`; a
/// session it reused only has its statements cancelled) and the run exits 130 (Ctrl-C) or 143 (SIGTERM). A signal
/// while the sessions are being stopped after another signal exits at once with its own code, after sending the stop
/// again (for at most [`BEST_EFFORT_STOP`], not waiting for the sessions to reach STOPPED). A catalog switch under way runs on a task of its own and is not
/// stopped by the first signal. On the embedded engine (no sessions) a signal ends the run where it is: its commits
/// are atomic, so every table is whole in its old or new version.
pub(crate) async fn with_sessions(
    remote: Option<Remote>,
    reporter: &Arc<Reporter>,
    work: impl std::future::Future<Output = Result<i32>>,
) -> Result<i32> {
    let mut signals = Signals::new(reporter);
    let Some(g) = remote.clone() else {
        return tokio::select! {
            r = work => r,
            code = signals.next() => {
                reporter.finish_progress();
                reporter.warn("Interrupted: the run stops here (every table written is whole)");
                Ok(code)
            }
        };
    };
    let (result, mut interrupted) = tokio::select! {
        r = work => (r, false),
        code = signals.next() => {
            reporter.finish_progress();
            reporter.warn(
                "Interrupted: cancelling the running statements and stopping this run's sessions (interrupt again to exit at once)",
            );
            (Ok(code), true)
        }
    };
    let cancel_first = interrupted;
    let cancelled = std::sync::atomic::AtomicBool::new(!cancel_first);
    let stop = async {
        if cancel_first {
            g.interrupt().await;
            cancelled.store(true, std::sync::atomic::Ordering::Release);
        }
        finish_remote(remote, reporter).await
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return result,
            code = signals.next() => {
                if !interrupted {
                    // The run's work is done and its sessions are being stopped: that goes on.
                    interrupted = true;
                    reporter.warn("Interrupted: stopping this run's sessions (interrupt again to exit at once)");
                    continue;
                }
                reporter.warn("Interrupted again: exiting now; this run's sessions are being stopped without waiting for them");
                let again = async {
                    if !cancelled.load(std::sync::atomic::Ordering::Acquire) {
                        g.interrupt().await;
                    }
                    g.finish().await
                };
                let _ = tokio::time::timeout(BEST_EFFORT_STOP, again).await;
                // A table's catalog switch under way runs to its end first (a few catalog calls): never half-way.
                if !glue_session::switches_done(SWITCH_GRACE).await {
                    reporter.warn("a table's catalog switch was still under way when the run exited");
                }
                std::process::exit(code);
            }
        }
    }
}

/// The engine of the profile's target; `Err` when that engine is not in this build.
pub fn open_engine(profile: &Profile) -> Result<Arc<dyn Engine>> {
    match &profile.engine {
        EngineChoice::Local { warehouse } => {
            let e = glue_local::LocalEngine::open(warehouse, &profile.target.schema).map_err(|e| CliError::Engine {
                context: format!("opening the local warehouse {}", warehouse.display()),
                message: e.to_string(),
            })?;
            Ok(Arc::new(e))
        }
        // Its engine comes with the loaded project (`load_with(.., Sessions::Start)`), which also stops its sessions;
        // one made here would leave the session it requests running.
        EngineChoice::GlueSession | EngineChoice::SparkConnect { .. } => Err(CliError::Engine {
            context: format!("target `{}`", profile.target_name),
            message: format!("this command does not run on a {} target", profile.engine.name()),
        }),
    }
}

/// The embedded engine when the target uses it; remote targets get none (these commands never start a session).
pub(crate) fn local_engine(profile: &Profile) -> Result<Option<Arc<dyn Engine>>> {
    match &profile.engine {
        EngineChoice::Local { .. } => crate::engines::open_engine(profile).map(Some),
        _ => Ok(None),
    }
}

/// The Iceberg commit protection of a Glue or Spark Connect target (None on the embedded engine), decided from the
/// Glue options as glue-session reads them (a malformed option is an error naming the file, target and field).
/// glue-rs never selects the DynamoDB lock itself: only the user's `lock-impl` does.
pub fn commit_protection(profile: &Profile) -> Result<Option<glue_iceberg_lock::CommitProtection>> {
    if profile.engine != EngineChoice::GlueSession {
        return Ok(None);
    }
    let glue = glue_profile(profile)?;
    Ok(Some(glue_iceberg_lock::CommitProtection::from_spark_conf(
        glue.conf.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        glue.iceberg_catalog.as_deref().unwrap_or(""),
        Some(&glue.iceberg_glue_commit_lock_table),
    )))
}

/// Where a target's output was read from, for the engines' messages.
fn origin(profile: &Profile) -> glue_session::ProfileOrigin {
    glue_session::ProfileOrigin {
        file: profile.path.clone(),
        target: profile.target_name.clone(),
    }
}

/// The Glue options of a target, typed; a malformed value names the profiles file, the target and the field.
pub fn glue_profile(profile: &Profile) -> Result<glue_session::GlueProfile> {
    glue_session::GlueProfile::from_output(&profile.output)
        .map(|(mut glue, _)| {
            glue.origin = Some(origin(profile));
            glue
        })
        .map_err(|e| glue_project::profile::field_err(&profile.path, &profile.target_name, &e.field, e.message).into())
}

/// The options of a `method: spark_connect` target; a malformed value names the profiles file, the target and the
/// field.
pub fn spark_connect_profile(profile: &Profile) -> Result<glue_session::SparkConnectProfile> {
    glue_session::SparkConnectProfile::from_output(&profile.output)
        .map(|mut p| {
            p.origin = Some(origin(profile));
            p
        })
        .map_err(|e| glue_project::profile::field_err(&profile.path, &profile.target_name, &e.field, e.message).into())
}

/// What the planner knows of a Glue target, from the options as glue-session reads them: the lakehouse formats the
/// session loads by any of the reference's ways (not only `datalake_formats`, so that the planner does not warn about
/// a format a connector or `conf` loads) and the Data Catalog of `catalog_id` or `conf`'s
/// `spark.hadoop.hive.metastore.glue.catalogid`. A malformed option is left for the engine to report.
pub(crate) fn align_target(profile: &mut Profile) {
    let glue = match &profile.engine {
        EngineChoice::GlueSession => glue_profile(profile).ok(),
        EngineChoice::SparkConnect { .. } => spark_connect_profile(profile).ok().and_then(|p| p.glue_catalog),
        EngineChoice::Local { .. } => None,
    };
    let Some(glue) = glue else { return };
    if profile.engine == EngineChoice::GlueSession {
        profile
            .target
            .datalake_formats
            .extend(glue_session::lakehouse_formats(&glue).into_iter().map(|(f, _)| f));
    }
    profile.target.catalog_id = glue.catalog_id;
}
