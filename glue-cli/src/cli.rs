//! The `glue` command line (clap) and what each command does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use glue_materialize::Engine;
use serde_json::{Map, Value, json};

use crate::dag::Dag;
use crate::error::{CliError, Result};
use crate::jinja::{LogLevel, Mode, NodeCtx};
use crate::loader::{self, LoadOptions, Manifest};
use crate::node::ResourceType;
use crate::profile::{self, EngineChoice, Profile};
use crate::project::Project;
use crate::report::{LogFormat, Reporter, Stdout};
use crate::run::{Invocation, ManifestResolver, NodeResult, RunSettings, Status};
use crate::select::{self, Universe};

/// `glue`: run dbt projects written for dbt-glue on AWS Glue, Spark Connect or the embedded engine.
#[derive(Debug, Parser)]
// `--version` names the commit too (`glue 0.1.0 (1a2b3c4d5e6f 2026-12-06)`): build.rs sets `GLUE_VERSION`.
#[command(name = "glue", version = env!("GLUE_VERSION"), about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Only errors.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

/// Options shared by commands that load a project.
#[derive(Debug, Args, Clone, Default)]
pub struct ProjectArgs {
    /// The project directory (holding dbt_project.yml).
    #[arg(long, env = "DBT_PROJECT_DIR")]
    pub project_dir: Option<PathBuf>,
    /// Where profiles.yml is (default: $DBT_PROFILES_DIR, the project directory, ~/.dbt).
    #[arg(long)]
    pub profiles_dir: Option<PathBuf>,
    /// The profile target.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    /// Variables as YAML (`'{key: value}'`).
    #[arg(long)]
    pub vars: Option<String>,
}

/// Node selection options.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Nodes to include.
    #[arg(long, short = 's', num_args = 1.., alias = "models", short_alias = 'm')]
    pub select: Vec<String>,
    /// Nodes to exclude.
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// A selector of selectors.yml.
    #[arg(long)]
    pub selector: Option<String>,
    /// Directory of a previous manifest.json, for `state:` selection.
    #[arg(long)]
    pub state: Option<PathBuf>,
}

/// `--threads`: a whole number from 1 to [`crate::profile::MAX_THREADS`].
fn threads_arg(s: &str) -> std::result::Result<usize, String> {
    let max = crate::profile::MAX_THREADS;
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("`{s}`: expected a whole number from 1 to {max}"))
}

/// Options of commands that run nodes.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Rebuild incremental models and reload seeds from scratch.
    #[arg(long, short = 'f')]
    pub full_refresh: bool,
    /// Nodes run at once (1 to 1024).
    #[arg(long, value_parser = threads_arg)]
    pub threads: Option<usize>,
    /// Stop at the first failure.
    #[arg(long, short = 'x')]
    pub fail_fast: bool,
    /// Build models from empty inputs (schema only).
    #[arg(long)]
    pub empty: bool,
    /// Store test failures in tables.
    #[arg(long)]
    pub store_failures: bool,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build models.
    Run {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Seeds, models, snapshots and tests, in DAG order (tests before their models' children).
    Build {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Load seeds.
    Seed {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run snapshots.
    Snapshot {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run data tests and unit tests.
    Test {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Render models and tests to SQL in target/compiled (prints it for one node or --inline).
    Compile {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// Compile this SQL instead of project nodes.
        #[arg(long)]
        inline: Option<String>,
        /// How a compiled node is printed (one selected node, or --inline): dbt's text, or JSON (`{"node": …,
        /// "compiled": …}`, one object per line; only data on stdout).
        #[arg(long, short = 'o', value_enum, default_value_t = CompileOutput::Text)]
        output: CompileOutput,
    },
    /// Every step each selected model would run, as Spark SQL, without running anything.
    Plan {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// Plan as with --full-refresh.
        #[arg(long, short = 'f')]
        full_refresh: bool,
    },
    /// Run a model's query (or --inline SQL) and print rows.
    Show {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// SQL to run.
        #[arg(long)]
        inline: Option<String>,
        /// Rows to show.
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Output format (csv and json: only data on stdout).
        #[arg(long, short = 'o', value_enum, default_value_t = ShowOutput::Table)]
        output: ShowOutput,
    },
    /// List nodes.
    #[command(alias = "list")]
    Ls {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// Only these resource types.
        #[arg(long, num_args = 1..)]
        resource_type: Vec<String>,
        /// Output: selector, name, path or json (one node per line; only data on stdout).
        #[arg(long, short = 'o', value_enum, default_value_t = LsOutput::Selector)]
        output: LsOutput,
    },
    /// Load the project and write target/manifest.json.
    Parse {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Call a macro.
    RunOperation {
        /// The macro.
        name: String,
        /// Arguments as YAML.
        #[arg(long)]
        args: Option<String>,
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Re-run the nodes that failed or were skipped in the last run.
    Retry {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Source freshness.
    Source {
        /// `freshness`.
        #[arg(value_parser = ["freshness"])]
        what: String,
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Documentation artifacts.
    Docs {
        /// `generate`.
        #[arg(value_parser = ["generate"])]
        what: String,
        #[command(flatten)]
        project: ProjectArgs,
        /// Only the catalog; no manifest.json.
        #[arg(long)]
        no_compile: bool,
    },
    /// Check the project, the profile and the engine.
    Debug {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Print the IAM policy the target needs (Glue sessions and catalog, the role, the S3 location, and the Iceberg
    /// DynamoDB lock table when the Spark conf selects it).
    IamPolicy {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Delete clean-targets (target/ by default).
    Clean {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Install packages of packages.yml (local and git).
    Deps {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Create a new project that runs on the embedded engine.
    Init {
        /// Project name.
        name: String,
    },
}

/// `glue show --output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowOutput {
    /// dbt's text table, with the run's lines.
    Table,
    /// A header line, then one line per row (RFC 4180 quoting; NULL is an empty field, an empty string `""`).
    Csv,
    /// `{"show": [{column: value, …}, …]}`.
    Json,
}

/// `glue ls --output`: one line per node, whatever the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LsOutput {
    /// `package.path.name` as `--select` takes it.
    Selector,
    /// The node's name.
    Name,
    /// The node's file.
    Path,
    /// The node as a JSON object (name, resource_type, unique_id, config, depends_on, …).
    Json,
}

/// `glue compile --output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompileOutput {
    /// dbt's `Compiled node '<name>' is:` line, then the SQL.
    Text,
    /// `{"node": "<name>", "compiled": "<sql>"}` per printed node, one per line (`inline_query` for --inline).
    Json,
}

impl Command {
    /// What this command's stdout carries besides its data: nothing when the data is machine-readable (`show --output
    /// csv|json`, every `ls` format, `compile --output json`, the JSON of `iam-policy`), so that a script reading it
    /// gets only data; run lines, warnings, errors and the Glue traffic line then go to stderr.
    pub fn stdout(&self) -> Stdout {
        match self {
            Command::Show { output, .. } if *output != ShowOutput::Table => Stdout::DataOnly,
            Command::Ls { .. } | Command::IamPolicy { .. } => Stdout::DataOnly,
            Command::Compile {
                output: CompileOutput::Json,
                ..
            } => Stdout::DataOnly,
            _ => Stdout::Shared,
        }
    }
}

fn project_dir(p: &ProjectArgs) -> PathBuf {
    p.project_dir.clone().unwrap_or_else(|| PathBuf::from("."))
}

fn parse_vars(text: Option<&str>) -> Result<Map<String, Value>> {
    let Some(t) = text else { return Ok(Map::new()) };
    match crate::yaml::parse(Path::new("--vars"), t)? {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(CliError::Usage(format!("--vars must be a YAML mapping, got `{other}`"))),
    }
}

/// A small Jinja for profiles.yml values: `env_var`, `var`.
fn profile_renderer(vars: Map<String, Value>) -> impl Fn(&str) -> std::result::Result<String, String> {
    move |s: &str| {
        let mut env = minijinja::Environment::new();
        env.add_function("env_var", |name: String, default: Option<minijinja::Value>| {
            crate::jinja::context_env_var(&name, default)
        });
        let vars = vars.clone();
        env.add_function(
            "var",
            move |name: String, default: Option<minijinja::Value>| match vars.get(&name) {
                Some(v) => Ok(minijinja::Value::from_serialize(v)),
                None => default.ok_or_else(|| {
                    minijinja::Error::new(minijinja::ErrorKind::UndefinedError, format!("var `{name}` is not set"))
                }),
            },
        );
        env.render_str(s, ())
            .map_err(|e| crate::jinja::RenderError::from_minijinja(&e).message)
    }
}

/// Keys of an output never shown to Jinja or logs.
fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["token", "secret", "password", "session_token", "access_key"]
        .iter()
        .any(|s| k.contains(s))
}

fn target_value(p: &Profile) -> Value {
    let mut m = Map::new();
    for (k, v) in &p.output {
        if !is_secret_key(k) {
            m.insert(k.clone(), v.clone());
        }
    }
    m.insert("name".into(), json!(p.target_name));
    m.insert("target_name".into(), json!(p.target_name));
    m.insert("profile_name".into(), json!(p.name));
    m.insert("schema".into(), json!(p.target.schema));
    m.entry("database").or_insert(Value::Null);
    m.insert("type".into(), json!("glue"));
    m.insert("threads".into(), json!(p.threads));
    Value::Object(m)
}

/// A loaded project with its profile.
struct Loaded {
    manifest: Manifest,
    profile: Profile,
    reporter: Arc<Reporter>,
    /// The remote engine of a Glue or Spark Connect target, its session already requested (commands that run SQL).
    remote: Option<Remote>,
}

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
    fn prepare(&self) {
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

    async fn interrupt(&self) {
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
    async fn clients(&self) -> Option<glue_session::Clients> {
        match self {
            Remote::Livy(g) => Some(g.clients().await.clone()),
            Remote::Connect(c) => c.clients().await.cloned(),
        }
    }
}

/// Whether a command runs SQL (and so starts a Glue session at once, in the background while the project is parsed).
/// `compile`, `plan`, `ls` and the rest never create one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sessions {
    Start,
    Never,
}

/// The remote engine of a Glue or Spark Connect target, its first session requested in the background.
fn start_remote(profile: &Profile) -> Result<Option<Remote>> {
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let remote = match &profile.engine {
        EngineChoice::Local { .. } => return Ok(None),
        EngineChoice::GlueSession => Remote::for_glue(crate::commands::glue_profile(profile)?, profile.threads, now),
        EngineChoice::SparkConnect { .. } => {
            let p = crate::commands::spark_connect_profile(profile)?;
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
/// when the command's output is machine-readable, see [`Command::stdout`]).
async fn finish_remote(remote: Option<Remote>, reporter: &Reporter) {
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
struct Signals {
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
    fn new(reporter: &Reporter) -> Signals {
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
    async fn next(&mut self) -> i32 {
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
const BEST_EFFORT_STOP: Duration = Duration::from_secs(2);
/// How long an exit at once waits for a catalog switch under way (a switch is a few catalog calls).
const SWITCH_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a command that may use Glue sessions. Ctrl-C or SIGTERM cancels the running statements (and refuses new
/// ones), then the sessions this run created are stopped as at the end of every run (unless `glue_session_reuse`; a
/// session it reused only has its statements cancelled) and the run exits 130 (Ctrl-C) or 143 (SIGTERM). A signal
/// while the sessions are being stopped after another signal exits at once with its own code, after sending the stop
/// again (for at most [`BEST_EFFORT_STOP`], not waiting for the sessions to reach STOPPED). A catalog switch under way runs on a task of its own and is not
/// stopped by the first signal. On the embedded engine (no sessions) a signal ends the run where it is: its commits
/// are atomic, so every table is whole in its old or new version.
async fn with_sessions(
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

fn load(args: &ProjectArgs, reporter: &Arc<Reporter>, flags: Value) -> Result<Loaded> {
    load_with(args, reporter, flags, Sessions::Never)
}

fn load_with(args: &ProjectArgs, reporter: &Arc<Reporter>, flags: Value, sessions: Sessions) -> Result<Loaded> {
    let dir = project_dir(args);
    let proj = Project::load(&dir)?;
    let cli_vars = parse_vars(args.vars.as_deref())?;
    let profile_name = proj.profile.clone().unwrap_or_else(|| proj.name.clone());
    let dirs = profile::profiles_dirs(args.profiles_dir.as_deref(), &dir);
    let renderer = profile_renderer(cli_vars.clone());
    let profile = profile::load(&dirs, &profile_name, args.target.as_deref(), &dir, &renderer)?;
    for w in &profile.warnings {
        reporter.warn(w);
    }
    let remote = match sessions {
        Sessions::Start => start_remote(&profile)?,
        Sessions::Never => None,
    };
    let r2 = reporter.clone();
    let opts = LoadOptions {
        log: Arc::new(move |level, msg| match level {
            LogLevel::Info => r2.line("JinjaLogInfo", msg),
            LogLevel::Warn => r2.warn(msg),
            LogLevel::Debug => r2.debug(msg),
        }),
        cli_vars,
        target: target_value(&profile),
        invocation_id: uuid::Uuid::new_v4().to_string(),
        flags,
    };
    let manifest = match loader::load(&dir, &opts) {
        Ok(m) => m,
        Err(e) => {
            // A parse error stops the session requested for this run.
            if let Some(g) = remote {
                tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(g.finish()));
            }
            return Err(e);
        }
    };
    for w in &manifest.warnings {
        reporter.warn(w);
    }
    let resolver: Arc<dyn crate::jinja::Resolver> = Arc::new(ManifestResolver::new(&manifest, false));
    *manifest.shared.resolver.write().unwrap() = Some(resolver);
    // `graph` holds every node; it is only built when some template mentions it (most projects never do, and on
    // thousands of nodes it is the largest allocation of a run).
    let uses_graph = manifest.nodes.values().any(|n| {
        n.raw_code.contains("graph")
            || ["pre-hook", "post-hook"]
                .iter()
                .any(|h| n.config.get(*h).is_some_and(|v| v.to_string().contains("graph")))
    }) || manifest.macro_files.iter().any(|f| f.source.contains("graph"))
        || manifest
            .project
            .on_run_start
            .iter()
            .chain(&manifest.project.on_run_end)
            .any(|h| h.contains("graph"));
    if uses_graph {
        let graph = json!({
            "nodes": manifest.nodes.values().filter(|n| n.resource_type != ResourceType::Source).map(|n| (n.unique_id.clone(), loader::node_value(n))).collect::<Map<_, _>>(),
            "sources": manifest.nodes.values().filter(|n| n.resource_type == ResourceType::Source).map(|n| (n.unique_id.clone(), loader::node_value(n))).collect::<Map<_, _>>(),
        });
        *manifest.shared.graph.write().unwrap() = minijinja::Value::from_serialize(&graph);
    }
    Ok(Loaded {
        manifest,
        profile,
        reporter: reporter.clone(),
        remote,
    })
}

/// When the target's Spark conf selects Iceberg's DynamoDB lock manager, its lock table exists before the first model
/// runs (created with Iceberg's schema when missing; one DescribeTable when present), as dbt-glue does at run start.
async fn ensure_commit_lock_table(l: &Loaded) -> Result<()> {
    let Some(g) = &l.remote else { return Ok(()) };
    let Some(protection) = crate::commands::commit_protection(&l.profile)? else {
        return Ok(());
    };
    let Some(table) = protection.lock_table() else {
        return Ok(());
    };
    let Some(clients) = g.clients().await else {
        return Ok(());
    };
    let client = aws_sdk_dynamodb::Client::new(&clients.config);
    let state = glue_iceberg_lock::ensure_configured_lock_table(&client, &protection, Duration::from_secs(120))
        .await
        .map_err(|e| CliError::Engine {
            context: format!("the Iceberg commit lock table `{table}`"),
            message: crate::commands::plain_words(&e.to_string()),
        })?;
    l.reporter
        .debug(&format!("Iceberg commit lock table `{table}`: {state:?}"));
    Ok(())
}

/// The engine of a loaded project: its Glue session engine, or the profile's engine.
fn engine_of(l: &Loaded) -> Result<Arc<dyn Engine>> {
    match &l.remote {
        Some(g) => Ok(g.engine()),
        None => open_engine(&l.profile),
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

fn universe_select(m: &Manifest, dag: &Dag, sel: &SelectArgs, types: &[ResourceType]) -> Result<BTreeSet<String>> {
    let state = match &sel.state {
        Some(dir) => {
            let p = dir.join("manifest.json");
            let text = std::fs::read_to_string(&p).map_err(|e| CliError::io(&p, e))?;
            Some(
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| CliError::project(&p, None, format!("not a manifest: {e}")))?,
            )
        }
        None => None,
    };
    let u = Universe {
        nodes: &m.nodes,
        dag,
        state: state.as_ref(),
    };
    let selectors_file = m.project.root.join("selectors.yml");
    let selectors = if selectors_file.exists() {
        crate::yaml::read(&selectors_file)?
    } else {
        Value::Null
    };
    let mut chosen = if let Some(name) = &sel.selector {
        select::named(&u, name, &selectors)?
    } else if !sel.select.is_empty() {
        select::expression(&u, &sel.select)?
    } else if let Some(d) = select::default_selector(&selectors) {
        select::named(&u, &d, &selectors)?
    } else {
        m.nodes.keys().cloned().collect()
    };
    if !sel.exclude.is_empty() {
        for id in select::expression(&u, &sel.exclude)? {
            chosen.remove(&id);
        }
    }
    // Tests attached to selected nodes come along (dbt's eager indirect selection).
    if types.contains(&ResourceType::Test) && !sel.select.is_empty() {
        let excluded = if sel.exclude.is_empty() {
            BTreeSet::new()
        } else {
            select::expression(&u, &sel.exclude)?
        };
        let extra: Vec<String> = m
            .nodes
            .values()
            .filter(|n| matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest))
            .filter(|n| n.depends_on.iter().any(|d| chosen.contains(d)) && !excluded.contains(&n.unique_id))
            .map(|n| n.unique_id.clone())
            .collect();
        chosen.extend(extra);
    }
    Ok(chosen
        .into_iter()
        .filter(|id| m.nodes.get(id).is_some_and(|n| types.contains(&n.resource_type)))
        .collect())
}

/// Ephemeral models are never run or compiled on their own (they are inlined as CTEs).
fn without_ephemeral(m: &Manifest, ids: BTreeSet<String>) -> BTreeSet<String> {
    ids.into_iter()
        .filter(|id| !(m.nodes[id].resource_type == ResourceType::Model && m.nodes[id].materialized() == "ephemeral"))
        .collect()
}

/// Which command ran (for run_results args and retry).
fn which(c: &Command) -> &'static str {
    match c {
        Command::Run { .. } => "run",
        Command::Build { .. } => "build",
        Command::Seed { .. } => "seed",
        Command::Snapshot { .. } => "snapshot",
        Command::Test { .. } => "test",
        _ => "other",
    }
}

fn types_for(which: &str) -> Vec<ResourceType> {
    match which {
        "run" => vec![ResourceType::Model],
        "seed" => vec![ResourceType::Seed],
        "snapshot" => vec![ResourceType::Snapshot],
        "test" => vec![ResourceType::Test, ResourceType::UnitTest],
        _ => vec![
            ResourceType::Model,
            ResourceType::Seed,
            ResourceType::Snapshot,
            ResourceType::Test,
            ResourceType::UnitTest,
        ],
    }
}

fn run_hooks(inv: &Arc<Invocation>, hooks: &[String], phase: &str, results: Option<&[NodeResult]>) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let engine = inv.engine.clone().ok_or_else(|| CliError::Engine {
        context: phase.into(),
        message: "no engine".into(),
    })?;
    let m = &inv.manifest;
    let mut extra = Map::new();
    if let Some(rs) = results {
        extra.insert(
            "results".into(),
            Value::Array(rs.iter().map(|r| json!({"status": r.status.as_str(), "message": r.message, "node": {"unique_id": r.unique_id}, "execution_time": r.execution_time, "failures": r.failures})).collect()),
        );
        let schemas: BTreeSet<String> = m
            .nodes
            .values()
            .filter(|n| n.resource_type.builds_relation())
            .map(|n| n.schema.clone())
            .collect();
        extra.insert("schemas".into(), json!(schemas));
    }
    let handle = tokio::runtime::Handle::current();
    for (i, h) in hooks.iter().enumerate() {
        let ctx = NodeCtx::project(m.shared.clone(), Mode::Execute, m.project.name.clone()).with_extra(extra.clone());
        let jinja = m.jinja.clone();
        let h2 = h.clone();
        let name = format!("dbt_project.yml ({phase} {})", i + 1);
        let sql = tokio::task::block_in_place(|| jinja.render(&name, &h2, &ctx)).map_err(|e| CliError::Jinja {
            at: crate::error::Location {
                file: m.project.root.join("dbt_project.yml"),
                line: None,
            },
            what: format!("{phase} hook {}", i + 1),
            message: e.message,
        })?;
        if sql.trim().is_empty() {
            continue;
        }
        let e2 = engine.clone();
        handle
            .block_on(async move { e2.query(&sql).await })
            .map_err(|e| CliError::Engine {
                context: format!("{phase} hook {}", i + 1),
                message: e.to_string(),
            })?;
        inv.reporter.line(
            "HookFinished",
            &format!("{phase} hook {} of {}: OK", i + 1, hooks.len()),
        );
    }
    Ok(())
}

fn summary(reporter: &Reporter, m: &Manifest, results: &[NodeResult], elapsed: f64) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in results {
        let n = &m.nodes[&r.unique_id];
        let key = match n.resource_type {
            ResourceType::Model => format!("{} model", n.materialized()),
            ResourceType::Test => "data test".into(),
            ResourceType::UnitTest => "unit test".into(),
            other => other.as_str().to_string(),
        };
        *counts.entry(key).or_default() += 1;
    }
    let mut parts: Vec<String> = counts
        .into_iter()
        .map(|(k, v)| format!("{v} {k}{}", if v == 1 { "" } else { "s" }))
        .collect();
    parts.sort();
    reporter.line("", "");
    reporter.line(
        "FinishedRunningStats",
        &format!(
            "Finished running {} in {elapsed:.2}s.",
            if parts.is_empty() {
                "nothing".to_string()
            } else {
                parts.join(", ")
            }
        ),
    );
    let (mut pass, mut warn, mut error, mut skip) = (0, 0, 0, 0);
    for r in results {
        match r.status {
            Status::Success | Status::Pass => pass += 1,
            Status::Warn => warn += 1,
            Status::Error | Status::Fail => error += 1,
            Status::Skipped => skip += 1,
        }
    }
    reporter.line("", "");
    if error == 0 {
        reporter.line(
            "EndOfRunSummary",
            if warn == 0 {
                "Completed successfully"
            } else {
                "Completed with warnings"
            },
        );
    } else {
        reporter.error(&format!(
            "Completed with {error} error{}:",
            if error == 1 { "" } else { "s" }
        ));
        for r in results
            .iter()
            .filter(|r| matches!(r.status, Status::Error | Status::Fail))
        {
            let n = &m.nodes[&r.unique_id];
            reporter.error(&format!(
                "  {} {} ({}):\n    {}",
                if r.status == Status::Fail {
                    "Failure in"
                } else {
                    "Error in"
                },
                crate::run::describe(n),
                n.file.display(),
                r.message.replace('\n', "\n    ")
            ));
        }
    }
    reporter.line("", "");
    reporter.line(
        "StatsLine",
        &format!(
            "Done. PASS={pass} WARN={warn} ERROR={error} SKIP={skip} TOTAL={}",
            results.len()
        ),
    );
}

fn settings(run: &RunArgs, profile: &Profile) -> RunSettings {
    RunSettings {
        full_refresh: run.full_refresh,
        threads: run.threads.unwrap_or(profile.threads).max(1),
        empty: run.empty,
        fail_fast: run.fail_fast,
        store_failures: run.store_failures,
        sessions: matches!(profile.engine, EngineChoice::GlueSession).then(|| crate::run::SessionRules {
            per_model: crate::commands::glue_profile(profile)
                .map(|g| g.enable_session_per_model)
                .unwrap_or(false),
        }),
    }
}

fn invocation(l: Loaded, engine: Option<Arc<dyn Engine>>, settings: RunSettings) -> Arc<Invocation> {
    Invocation::new(l.manifest, l.profile.target.clone(), engine, settings, l.reporter)
}

fn write_manifest(inv: &Invocation) -> Result<()> {
    let compiled = inv.compiled.lock().unwrap().clone();
    crate::artifacts::write_manifest_file(&inv.manifest, &compiled, &inv.target_dir.join("manifest.json"))
}

async fn run_nodes(
    cmd_name: &str,
    l: Loaded,
    sel: &SelectArgs,
    run: &RunArgs,
    only: Option<BTreeSet<String>>,
) -> Result<i32> {
    let t0 = Instant::now();
    let mut dag = Dag::new(&l.manifest.nodes)?;
    let types = types_for(cmd_name);
    let selected = match only {
        Some(ids) => ids,
        None => without_ephemeral(&l.manifest, universe_select(&l.manifest, &dag, sel, &types)?),
    };
    let engine = engine_of(&l)?;
    ensure_commit_lock_table(&l).await?;
    let settings = settings(run, &l.profile);
    let reporter = l.reporter.clone();
    let counts = {
        let mut c: HashMap<&str, usize> = HashMap::new();
        for n in l.manifest.nodes.values() {
            *c.entry(n.resource_type.as_str()).or_default() += 1;
        }
        let mut v: Vec<String> = c
            .into_iter()
            .map(|(k, n)| format!("{n} {k}{}", if n == 1 { "" } else { "s" }))
            .collect();
        v.sort();
        v.join(", ")
    };
    reporter.line(
        "MainReportVersion",
        &format!("Running with glue {}", env!("CARGO_PKG_VERSION")),
    );
    reporter.line("FoundStats", &format!("Found {counts}"));
    let inv = invocation(l, Some(engine), settings);
    // build: a model's tests run before its children; unit tests before their model.
    if cmd_name == "build" {
        let tests: Vec<(String, Vec<String>)> = inv
            .manifest
            .nodes
            .values()
            .filter(|n| matches!(n.resource_type, ResourceType::Test))
            .map(|n| (n.unique_id.clone(), n.depends_on.clone()))
            .collect();
        for (t, parents) in tests {
            for p in parents {
                for c in dag.children(&p) {
                    if c != t
                        && inv
                            .manifest
                            .nodes
                            .get(&c)
                            .is_some_and(|n| !matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest))
                    {
                        dag.add_edge(&t, &c);
                    }
                }
            }
        }
        let units: Vec<(String, String)> = inv
            .manifest
            .nodes
            .values()
            .filter(|n| n.resource_type == ResourceType::UnitTest)
            .filter_map(|n| n.depends_on.first().map(|m| (n.unique_id.clone(), m.clone())))
            .collect();
        let mut dag2 = dag.clone();
        for (u, m) in units {
            // The unit test runs after the model's parents, before the model.
            for p in dag.parents(&m) {
                dag2.add_edge(&p, &u);
            }
            dag2.add_edge(&u, &m);
        }
        dag = dag2;
    }
    let order = if cmd_name == "build" {
        dag.order(&selected)?
    } else {
        // Unit tests do not wait for their model to be built.
        let mut d = dag.clone();
        let _ = &mut d;
        d.order(&selected)?
    };
    // Scheduling parents: selected parents, looking through sources to what builds them.
    let parents: HashMap<String, Vec<String>> = order
        .iter()
        .map(|id| {
            let mut ps = Vec::new();
            if !(cmd_name != "build" && inv.manifest.nodes[id].resource_type == ResourceType::UnitTest) {
                let mut stack = dag.parents(id);
                while let Some(p) = stack.pop() {
                    if selected.contains(&p) {
                        ps.push(p);
                    } else if inv.manifest.nodes.get(&p).is_some_and(|n| {
                        n.resource_type == ResourceType::Source
                            || (n.resource_type == ResourceType::Model && n.materialized() == "ephemeral")
                    }) {
                        stack.extend(dag.parents(&p));
                    }
                }
            }
            (id.clone(), ps)
        })
        .collect();
    inv.check_locations()?;
    let inv2 = inv.clone();
    tokio::task::spawn_blocking(move || {
        run_hooks(&inv2, &inv2.manifest.project.on_run_start.clone(), "on-run-start", None)
    })
    .await
    .map_err(|e| CliError::Engine {
        context: "on-run-start".into(),
        message: e.to_string(),
    })??;
    reporter.line("", "");
    let results = inv.run_all(order, parents).await;
    let inv2 = inv.clone();
    let results2 = results.clone();
    let end_hooks = tokio::task::spawn_blocking(move || {
        run_hooks(
            &inv2,
            &inv2.manifest.project.on_run_end.clone(),
            "on-run-end",
            Some(&results2),
        )
    })
    .await
    .map_err(|e| CliError::Engine {
        context: "on-run-end".into(),
        message: e.to_string(),
    })?;
    let elapsed = t0.elapsed().as_secs_f64();
    summary(&reporter, &inv.manifest, &results, elapsed);
    write_manifest(&inv)?;
    // The command line holds `--vars`: masked as log text is.
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let args = json!({"which": cmd_name, "select": sel.select, "exclude": sel.exclude, "full_refresh": run.full_refresh, "invocation_command": crate::redact::redact(&command)});
    let mut rr = crate::artifacts::run_results_json(&inv.manifest.shared.invocation_id, &results, elapsed, args);
    crate::redact::scrub_json(&mut rr);
    crate::run::write_file(
        &inv.target_dir.join("run_results.json"),
        &serde_json::to_string_pretty(&rr).unwrap_or_default(),
    )?;
    end_hooks?;
    Ok(if results.iter().all(|r| r.status.ok()) { 0 } else { 1 })
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    // Before anything is printed: the environment's secrets are masked in every output from here on.
    crate::redact::add_env_secrets();
    let reporter = Arc::new(Reporter::new(cli.log_format, cli.quiet).with_stdout(cli.command.stdout()));
    match dispatch(cli.command, &reporter).await {
        Ok(code) => code,
        Err(e) => {
            reporter.finish_progress();
            reporter.error(&format!("Error: {e}"));
            2
        }
    }
}

fn flags_value(run: Option<&RunArgs>) -> Value {
    json!({
        "FULL_REFRESH": run.map(|r| r.full_refresh).unwrap_or(false),
        "STORE_FAILURES": run.map(|r| r.store_failures).unwrap_or(false),
        "WHICH": Value::Null,
        "EMPTY": run.map(|r| r.empty).unwrap_or(false),
    })
}

async fn dispatch(cmd: Command, reporter: &Arc<Reporter>) -> Result<i32> {
    let name = which(&cmd);
    match cmd {
        Command::Run { project, select, run }
        | Command::Build { project, select, run }
        | Command::Seed { project, select, run }
        | Command::Snapshot { project, select, run }
        | Command::Test { project, select, run } => {
            let l = load_with(&project, reporter, flags_value(Some(&run)), Sessions::Start)?;
            let remote = l.remote.clone();
            with_sessions(remote, reporter, run_nodes(name, l, &select, &run, None)).await
        }
        Command::Retry { project, run } => {
            let l = load_with(&project, reporter, flags_value(Some(&run)), Sessions::Start)?;
            let remote = l.remote.clone();
            with_sessions(remote, reporter, retry_cmd(l, &run, reporter)).await
        }
        Command::Compile {
            project,
            select,
            inline,
            output,
        } => {
            let l = load(&project, reporter, flags_value(None))?;
            compile_cmd(l, &select, inline, output).await
        }
        Command::Plan {
            project,
            select,
            full_refresh,
        } => {
            let l = load(&project, reporter, flags_value(None))?;
            crate::commands::plan(l.manifest, l.profile, l.reporter, &select, full_refresh).await
        }
        Command::Show {
            project,
            select,
            inline,
            limit,
            output,
        } => {
            let l = load_with(&project, reporter, flags_value(None), Sessions::Start)?;
            let remote = l.remote.clone();
            with_sessions(remote, reporter, show_cmd(l, &select, inline, limit, output)).await
        }
        Command::Ls {
            project,
            select,
            resource_type,
            output,
        } => {
            let l = load(&project, reporter, flags_value(None))?;
            let dag = Dag::new(&l.manifest.nodes)?;
            let types: Vec<ResourceType> = if resource_type.is_empty() {
                vec![
                    ResourceType::Model,
                    ResourceType::Seed,
                    ResourceType::Snapshot,
                    ResourceType::Test,
                    ResourceType::Source,
                    ResourceType::UnitTest,
                ]
            } else {
                resource_type
                    .iter()
                    .map(|t| {
                        ResourceType::parse(t).ok_or_else(|| CliError::Usage(format!("unknown resource type `{t}`")))
                    })
                    .collect::<Result<_>>()?
            };
            let mut sel = select.clone();
            let ids = {
                let chosen = universe_select(&l.manifest, &dag, &sel, &types)?;
                sel.select.clear();
                chosen
            };
            for id in ids {
                let n = &l.manifest.nodes[&id];
                let line = match output {
                    LsOutput::Name => n.name.clone(),
                    LsOutput::Path => n.file.display().to_string(),
                    LsOutput::Json => json!({"name": n.name, "resource_type": n.resource_type.as_str(), "package_name": n.package, "original_file_path": n.file.display().to_string(), "unique_id": n.unique_id, "alias": n.alias, "config": n.config, "tags": n.tags(), "depends_on": {"nodes": n.depends_on}}).to_string(),
                    LsOutput::Selector => match &n.source {
                        Some(s) => format!("source:{}.{}.{}", n.package, s.source_name, n.name),
                        None if n.resource_type == ResourceType::UnitTest => format!("unit_test:{}", n.fqn.join(".")),
                        None => n.fqn.join("."),
                    },
                };
                reporter.raw(&line);
            }
            Ok(0)
        }
        Command::Parse { project } => {
            let l = load(&project, reporter, flags_value(None))?;
            Dag::new(&l.manifest.nodes)?;
            let inv = invocation(l, None, settings(&RunArgs::default(), &Profile::placeholder()));
            write_manifest(&inv)?;
            reporter.line(
                "Parse",
                &format!(
                    "Parsed {} nodes; wrote {}",
                    inv.manifest.nodes.len(),
                    inv.target_dir.join("manifest.json").display()
                ),
            );
            Ok(0)
        }
        Command::RunOperation { name, args, project } => {
            let l = load(&project, reporter, flags_value(None))?;
            crate::commands::run_operation(l.manifest, l.profile, l.reporter, &name, args.as_deref()).await
        }
        Command::Source { project, select, .. } => {
            let l = load(&project, reporter, flags_value(None))?;
            crate::commands::freshness(l.manifest, l.profile, l.reporter, &select).await
        }
        Command::Docs {
            project, no_compile, ..
        } => {
            let l = load(&project, reporter, flags_value(None))?;
            crate::commands::docs_generate(l.manifest, l.profile, l.reporter, no_compile).await
        }
        Command::Debug { project } => crate::commands::debug(&project, reporter).await,
        Command::IamPolicy { project } => crate::commands::iam_policy(&project, reporter),
        Command::Clean { project } => {
            let dir = project_dir(&project);
            let proj = Project::load(&dir)?;
            crate::commands::clean(&proj, reporter)
        }
        Command::Deps { project } => {
            let dir = project_dir(&project);
            let proj = Project::load(&dir)?;
            crate::commands::deps(&proj, reporter)
        }
        Command::Init { name } => crate::commands::init(&name, reporter),
    }
}

/// `glue retry`: the nodes that failed or were skipped in the last run's `run_results.json`, with its command.
async fn retry_cmd(l: Loaded, run: &RunArgs, reporter: &Reporter) -> Result<i32> {
    let path = l
        .manifest
        .project
        .root
        .join(&l.manifest.project.target_path)
        .join("run_results.json");
    let text = std::fs::read_to_string(&path).map_err(|e| CliError::io(&path, e))?;
    let prev: Value = serde_json::from_str(&text).map_err(|e| CliError::project(&path, None, e.to_string()))?;
    let which = prev
        .pointer("/args/which")
        .and_then(Value::as_str)
        .unwrap_or("build")
        .to_string();
    let ids: BTreeSet<String> = prev["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(
                r["status"].as_str(),
                Some("error" | "fail" | "skipped" | "runtime error")
            )
        })
        .filter_map(|r| r["unique_id"].as_str().map(str::to_string))
        .filter(|id| l.manifest.nodes.contains_key(id))
        .collect();
    if ids.is_empty() {
        reporter.line("Retry", "Nothing to retry: the last run had no failures.");
        return Ok(0);
    }
    run_nodes(&which, l, &SelectArgs::default(), run, Some(ids)).await
}

/// Prints one compiled node as `--output` says: dbt's text (a run line, then the SQL) or one JSON object.
fn print_compiled(reporter: &Reporter, output: CompileOutput, name: &str, sql: &str) {
    match output {
        CompileOutput::Text => {
            reporter.line("CompiledNode", &format!("Compiled node '{name}' is:"));
            reporter.raw(sql);
        }
        CompileOutput::Json => reporter.raw(&json!({"node": name, "compiled": sql}).to_string()),
    }
}

async fn compile_cmd(l: Loaded, sel: &SelectArgs, inline: Option<String>, output: CompileOutput) -> Result<i32> {
    let dag = Dag::new(&l.manifest.nodes)?;
    let threads = l.profile.threads;
    let engine = match &l.profile.engine {
        EngineChoice::Local { .. } => Some(open_engine(&l.profile)?),
        _ => None,
    };
    let selected = universe_select(
        &l.manifest,
        &dag,
        sel,
        &[ResourceType::Model, ResourceType::Snapshot, ResourceType::Test],
    )?;
    let single = sel.select.len() == 1 && selected.len() == 1;
    let order = dag.order(&selected)?;
    let inv = invocation(
        l,
        engine.clone(),
        settings(&RunArgs::default(), &Profile::placeholder()),
    );
    if let Some(sql) = inline {
        let inv2 = inv.clone();
        let out = tokio::task::spawn_blocking(move || crate::commands::compile_inline(&inv2, &sql))
            .await
            .map_err(|e| CliError::Engine {
                context: "compile".into(),
                message: e.to_string(),
            })??;
        print_compiled(&inv.reporter, output, "inline_query", &out);
        return Ok(0);
    }
    // The catalog is listed once per schema; nodes compile on `threads` blocking workers (compilation has no
    // ordering constraints: ephemeral models are inlined per node).
    let mut tables: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
    if let Some(e) = &engine {
        let schemas: BTreeSet<String> = order.iter().map(|id| inv.manifest.nodes[id].schema.clone()).collect();
        for schema in schemas {
            for r in e.list_relations(&schema).await.unwrap_or_default() {
                if matches!(r.existing, glue_materialize::Existing::Table(_)) {
                    tables.insert((schema.to_lowercase(), r.name.identifier.as_str().to_lowercase()));
                }
            }
        }
    }
    let tables = Arc::new(tables);
    let workers = threads.max(1).min(order.len().max(1));
    let chunk = order.len().div_ceil(workers).max(1);
    let mut set = tokio::task::JoinSet::new();
    for part in order.chunks(chunk) {
        let part = part.to_vec();
        let inv2 = inv.clone();
        let tables = tables.clone();
        set.spawn_blocking(move || {
            part.into_iter()
                .map(|id| {
                    let node = &inv2.manifest.nodes[&id];
                    let is_incr = node.materialized() == "incremental"
                        && tables.contains(&(node.schema.to_lowercase(), node.alias.to_lowercase()));
                    let r = if node.resource_type == ResourceType::Test {
                        inv2.test_sql(node)
                    } else {
                        inv2.compile(node, is_incr).map(|c| c.sql)
                    };
                    Ok((id, r))
                })
                .collect::<Result<Vec<_>>>()
        });
    }
    let mut outcomes = BTreeMap::new();
    while let Some(r) = set.join_next().await {
        let r = r.map_err(|e| CliError::Engine {
            context: "compile".into(),
            message: e.to_string(),
        })??;
        outcomes.extend(r);
    }
    let mut failed = false;
    // Files are written from one thread: parallel creation in the same directories only contends on the
    // file system's directory locks.
    for (id, r) in outcomes {
        match r {
            Ok(sql) => {
                let node = &inv.manifest.nodes[&id];
                crate::run::write_file(
                    &crate::run::target_path(&inv.target_dir.join("compiled"), node),
                    &crate::redact::scrub(&sql),
                )?;
                inv.compiled.lock().unwrap().insert(id.clone(), sql.clone());
                if single || output == CompileOutput::Json {
                    print_compiled(&inv.reporter, output, &node.name, &sql);
                }
            }
            Err(e) => {
                failed = true;
                inv.reporter.error(&e.to_string());
            }
        }
    }
    write_manifest(&inv)?;
    if !single {
        inv.reporter.line(
            "Compiled",
            &format!(
                "Compiled {} nodes into {}",
                order.len(),
                inv.target_dir.join("compiled").display()
            ),
        );
    }
    Ok(if failed { 1 } else { 0 })
}

async fn show_cmd(
    l: Loaded,
    sel: &SelectArgs,
    inline: Option<String>,
    limit: usize,
    output: ShowOutput,
) -> Result<i32> {
    let dag = Dag::new(&l.manifest.nodes)?;
    let engine = engine_of(&l)?;
    let selected = if inline.is_none() {
        universe_select(
            &l.manifest,
            &dag,
            sel,
            &[ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot],
        )?
    } else {
        BTreeSet::new()
    };
    let inv = invocation(
        l,
        Some(engine.clone()),
        settings(&RunArgs::default(), &Profile::placeholder()),
    );
    let sql = match inline {
        Some(sql) => {
            let inv2 = inv.clone();
            tokio::task::spawn_blocking(move || crate::commands::compile_inline(&inv2, &sql))
                .await
                .map_err(|e| CliError::Engine {
                    context: "show".into(),
                    message: e.to_string(),
                })??
        }
        None => {
            let id = match selected.len() {
                1 => selected.into_iter().next().unwrap(),
                0 => {
                    return Err(CliError::Usage(
                        "show: --select matched no model (or pass --inline)".into(),
                    ));
                }
                n => return Err(CliError::Usage(format!("show: --select matched {n} nodes; select one"))),
            };
            let node = inv.manifest.nodes[&id].clone();
            if node.resource_type == ResourceType::Seed {
                format!(
                    "select * from {}",
                    crate::jinja::Relation::new(node.schema.clone(), node.alias.clone())
                )
            } else {
                let inv2 = inv.clone();
                tokio::task::spawn_blocking(move || inv2.compile(&node, false))
                    .await
                    .map_err(|e| CliError::Engine {
                        context: "show".into(),
                        message: e.to_string(),
                    })??
                    .sql
            }
        }
    };
    let q = format!("select * from (\n{sql}\n) dbt_show limit {limit}");
    let batches = engine.query(&q).await.map_err(|e| CliError::Engine {
        context: "show".into(),
        message: e.to_string(),
    })?;
    inv.reporter.raw(&crate::commands::format_rows(&batches, output));
    Ok(0)
}

impl Profile {
    /// A profile for commands that do not use one (settings only).
    pub fn placeholder() -> Profile {
        Profile {
            path: PathBuf::new(),
            name: String::new(),
            target_name: String::new(),
            output: Map::new(),
            engine: EngineChoice::GlueSession,
            threads: 1,
            target: glue_materialize::Target::new("", None),
            warnings: Vec::new(),
        }
    }
}
