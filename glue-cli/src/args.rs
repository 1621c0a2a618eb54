//! The command line: `glue`'s commands and their arguments (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::report::{LogFormat, Stdout};

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

/// `--threads`: a whole number from 1 to [`glue_project::profile::MAX_THREADS`].
pub(crate) fn threads_arg(s: &str) -> std::result::Result<usize, String> {
    let max = glue_project::profile::MAX_THREADS;
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

pub(crate) fn flags_value(run: Option<&RunArgs>) -> Value {
    json!({
        "FULL_REFRESH": run.map(|r| r.full_refresh).unwrap_or(false),
        "STORE_FAILURES": run.map(|r| r.store_failures).unwrap_or(false),
        "WHICH": Value::Null,
        "EMPTY": run.map(|r| r.empty).unwrap_or(false),
    })
}
