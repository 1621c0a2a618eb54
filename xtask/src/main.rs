//! `cargo xtask`: glue-rs's task runner.
//!
//! The test world (see `world.rs` and the README's backend × feature matrix):
//! - `cargo xtask up [--only sim,spark,sail]`: starts the Glue simulator, a pyspark 4.0 Spark Connect server and Sail,
//!   health-checks them and prints their endpoints (also in `~/.cache/glue-rs/world/world.json`).
//! - `cargo xtask down`: stops them by process group.
//! - `cargo xtask it`: the integration suites against the world (started and stopped here unless one is running):
//!   the simulator's pytest suite, then the Rust smoke tests (`cargo test -p xtask --features it`).
//! - `cargo xtask ci`: what `.ci/run` runs: the checks of `checks.rs` (cargo test, the Spark oracle, the dbt suites,
//!   the installs), then `it`.
//! - `cargo xtask diff LEFT RIGHT [--project-dir P]`: one dbt project built on two targets, every table compared.
//! - `cargo xtask venv [NAME...]`: the pinned Python tool sets (see `venv.rs`).
//! - `cargo xtask arch`: lines, largest file and import circles per crate (see `arch.rs`); fails on a circle.
//!
//! Benchmarks:
//! - `cargo xtask bench compile [--models N] [--run-models M]`: `glue compile` of a generated N-model project beside
//!   `dbt parse` / `dbt compile`, and `glue run` of M models beside `dbt run` on dbt-duckdb (xtask/bench/dbt_compare.py),
//!   in one script; ratios, wall time, user CPU and peak RSS.
//! - `cargo xtask bench local [--rows R]`: the embedded engine beside DuckDB on the same SQL
//!   (xtask/bench/local_vs_duckdb.py).
//! - `cargo xtask bench lock`: glue-iceberg-lock's cycle latency and contended throughput on the world's DynamoDB.
//!
//! Python tools run in pinned venvs under `~/.cache/glue-rs/` (created here when missing, see `venv.rs`); glue is built
//! in release for benchmarks.

mod arch;
mod checks;
mod venv;
mod world;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Start the test world and print its endpoints.
    Up {
        /// Only these services (the simulator always runs).
        #[arg(long, value_delimiter = ',')]
        only: Option<Vec<world::ServiceKind>>,
        /// Extra arguments for the simulator (testing the failure path).
        #[arg(long, hide = true, allow_hyphen_values = true)]
        sim_arg: Vec<String>,
    },
    /// Stop the test world.
    Down,
    /// The integration suites against the test world.
    It {
        /// Against real AWS instead: the bundled project built twice on Glue Interactive Sessions of your account
        /// (needs `DBT_ROLE_ARN`, `DBT_S3_LOCATION` and `AWS_REGION`, credentials from the SDK chain) and diffed
        /// with the embedded engine.
        #[arg(long)]
        aws: bool,
        /// Only the Spark Connect suites (the three Spark Connect diffs and the Spark Connect tests).
        #[arg(long)]
        connect_only: bool,
        /// The slow tier too: the crash matrix at every kill point (`GLUE_RS_KILL_MATRIX=full` for
        /// glue-cli's kill_matrix test) instead of its sample of 10, and 20 rounds (instead of 3 and 5) of the
        /// concurrent-rebuild and stale-read tests (`GLUE_RS_RACE_ROUNDS`, `GLUE_RS_STALE_ROUNDS`).
        #[arg(long)]
        long: bool,
    },
    /// What CI runs: cargo test, the Spark oracle, the dbt suites and the installs, then the integration suites.
    Ci,
    /// Create or update the pinned Python tool sets (all when none is named) and print their `bin` directories.
    Venv {
        /// Tool sets: spark35, spark4, dbt111, dbtspark, dbtglue, maturin.
        names: Vec<String>,
    },
    /// Run one dbt project on two targets with `glue build` and compare every resulting table (multisets of rows with
    /// normalized types); prints the differing rows.
    Diff {
        /// The dbt project.
        #[arg(long, default_value = "examples/glue_shop")]
        project_dir: PathBuf,
        /// The profiles directory (default: the project's).
        #[arg(long)]
        profiles_dir: Option<PathBuf>,
        /// Compare the tables as they are, without building first.
        #[arg(long)]
        no_build: bool,
        /// `--vars` for every `glue` call (YAML).
        #[arg(long)]
        vars: Option<String>,
        /// Nodes left out of the build and the comparison (names, repeatable).
        #[arg(long)]
        exclude: Vec<String>,
        /// The two targets of the project's profile.
        left: String,
        right: String,
    },
    /// The workspace's shape: lines, files and largest file per crate, import circles between a crate's files;
    /// fails on a circle or an unexplained file of 1,000 lines or more.
    Arch {
        /// Another checkout to measure (an older commit, for a before/after table); this workspace by default.
        dir: Option<PathBuf>,
    },
    /// Benchmarks against peers, run in the same script.
    Bench {
        #[command(subcommand)]
        which: Bench,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// glue compile / run against dbt parse / compile / run (dbt-core 1.11 + dbt-duckdb).
    Compile {
        /// Models of the compile project.
        #[arg(long, default_value_t = 5000)]
        models: usize,
        /// Models of the run project.
        #[arg(long, default_value_t = 1000)]
        run_models: usize,
    },
    /// glue-iceberg-lock against the test world's DynamoDB (cargo bench -p glue-iceberg-lock).
    Lock,
    /// glue-rs beside dbt-glue 1.10.19 on the Glue simulator with latency injected into every Glue call: wall time and
    /// Glue API calls per node, side by side.
    Remote {
        /// Latency added to every Glue call, in ms.
        #[arg(long, default_value_t = 30)]
        latency_ms: u64,
    },
    /// The embedded engine against DuckDB.
    Local {
        /// Rows per table.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cache() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/glue-rs")
}

/// The workspace's one target directory, as cargo resolves it (`CARGO_TARGET_DIR`, `build.target-dir` in a cargo
/// config, else `./target`): the README's commands, the scripts under `xtask/` and every cargo call here build into it.
fn target_dir() -> PathBuf {
    metadata()["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// `cargo metadata --no-deps` of the workspace, read once per process (`Null` when cargo could not answer).
fn metadata() -> &'static serde_json::Value {
    static METADATA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    METADATA.get_or_init(|| {
        cargo(&["metadata", "--format-version", "1", "--no-deps", "--offline"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .unwrap_or(serde_json::Value::Null)
    })
}

/// Set by `cargo xtask ci` once it has built the workspace's tests (`checks.rs`): from then on every dependency exists
/// with the workspace's one feature set (the workspace-hack crate), and a cargo call that compiles a crate from outside
/// the workspace fails the run ([`run_cargo`]).
static WORKSPACE_BUILT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A cargo command in the workspace root.
fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args).current_dir(root());
    cmd
}

/// The workspace's package names (`cargo metadata --no-deps`).
fn workspace_members() -> Result<Vec<&'static str>, String> {
    let packages = metadata()["packages"]
        .as_array()
        .ok_or("`cargo metadata --no-deps` did not list the workspace's packages")?;
    Ok(packages.iter().filter_map(|p| p["name"].as_str()).collect())
}

/// Runs a cargo command, its stderr passed through line by line. After the workspace test build
/// ([`WORKSPACE_BUILT`]), a crate from outside the workspace among its `Compiling` lines is an error: it means a cargo
/// call of CI resolved other features than the test build did, and paid for a second build of that crate.
fn run_cargo(cmd: &mut Command) -> Result<(), String> {
    use std::io::BufRead;
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut compiled = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if let Some(rest) = line.trim_start().strip_prefix("Compiling ")
                && let Some(name) = rest.split(' ').next()
            {
                compiled.push(name.to_string());
            }
        }
    }
    let status = child.wait().map_err(|e| format!("{shown}: {e}"))?;
    if !status.success() {
        return Err(format!("{shown} failed with {status}"));
    }
    if WORKSPACE_BUILT.load(std::sync::atomic::Ordering::SeqCst) {
        let members = workspace_members()?;
        let foreign: Vec<&String> = compiled.iter().filter(|c| !members.contains(&c.as_str())).collect();
        if !foreign.is_empty() {
            return Err(format!(
                "{shown} compiled crates from outside the workspace after the workspace test build (features differ \
                 between cargo calls; run `cargo hakari generate`): {foreign:?}"
            ));
        }
    }
    Ok(())
}

/// Prints the wall time of the stage before and the title of the next one (`None`: the last stage ended).
fn stage(title: Option<&str>) {
    static CURRENT: std::sync::Mutex<Option<(String, std::time::Instant)>> = std::sync::Mutex::new(None);
    let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((name, start)) = current.take() {
        eprintln!("-- {name}: {} s", start.elapsed().as_secs());
    }
    if let Some(title) = title {
        eprintln!("== {title}");
        *current = Some((title.to_string(), std::time::Instant::now()));
    }
}

/// Runs a command; a failure names it.
fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

fn release_glue() -> Result<PathBuf, String> {
    run(&mut cargo(&["build", "--release", "--locked", "-p", "glue-cli"]))?;
    Ok(target_dir().join("release/glue"))
}

/// Stops a world this process started when Ctrl-C or SIGTERM arrives.
///
/// While the world is starting, the handler only raises a flag: the starting thread sees it within a poll interval,
/// stops every service it has spawned (none can be spawned behind its back) and fails; a second signal exits at once.
fn stop_on_signal(dir: PathBuf) {
    let _ = ctrlc::set_handler(move || {
        use std::sync::atomic::Ordering;
        if world::STARTING.load(Ordering::SeqCst) && !world::INTERRUPTED.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(world) = world::World::load(&dir) {
            eprintln!("xtask: interrupted, stopping the test world");
            world.down();
        }
        std::process::exit(130);
    });
}

fn up(only: Option<Vec<world::ServiceKind>>, sim_args: &[String]) -> Result<world::World, String> {
    let dir = world::world_dir();
    stop_on_signal(dir.clone());
    let kinds = only.unwrap_or_else(world::ServiceKind::all);
    let world = world::World::up(&dir, &kinds, sim_args)?;
    for (name, value) in &world.endpoints {
        println!("{name}: {value}");
    }
    Ok(world)
}

/// Runs `task` against the running test world, or starts one with `kinds` and stops it afterwards, checking that no
/// process of it survives.
fn with_world(
    kinds: Vec<world::ServiceKind>,
    task: impl FnOnce(&world::World) -> Result<(), String>,
) -> Result<(), String> {
    let running = world::World::load(&world::world_dir()).filter(|w| w.survivors().len() == w.services.len());
    let (world, owned) = match running {
        Some(w) => (w, false),
        None => (up(Some(kinds), &[])?, true),
    };
    let result = task(&world);
    if owned {
        world.down();
        let survivors: Vec<u32> = world
            .services
            .iter()
            .flat_map(|s| world::group_members(s.pgid))
            .collect();
        if !survivors.is_empty() {
            return Err(format!("processes of the test world survived `down`: {survivors:?}"));
        }
        eprintln!("xtask: the test world is down, no process left");
    }
    result
}

/// The integration suites, on the whole world.
fn integration() -> Result<(), String> {
    stage(Some("the test world starts (simulator, Spark Connect server, Sail)"));
    with_world(world::ServiceKind::all(), suites)
}

/// `cargo xtask it --aws`: the bundled project (Delta included) on Glue Interactive Sessions of the caller's account,
/// built twice, then diffed with the embedded engine. Two G.1X workers for a few minutes per build (about 0.1 DPU-hour
/// in all), plus the S3 objects under `DBT_S3_LOCATION/glue_rs_it_<pid>*`, which are left for inspection.
fn aws_suite() -> Result<(), String> {
    let need = |k: &str| std::env::var(k).map_err(|_| format!("`cargo xtask it --aws` needs {k} (see the README)"));
    let role = need("DBT_ROLE_ARN")?;
    let location = need("DBT_S3_LOCATION")?;
    let region = need("AWS_REGION").or_else(|_| need("AWS_DEFAULT_REGION"))?;
    let dir = std::env::temp_dir().join(format!("glue-rs-aws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let schema = format!("glue_rs_it_{}", std::process::id());
    let warehouse = dir.join("local").display().to_string();
    let delta = "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
                 --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog";
    std::fs::write(
        dir.join("profiles.yml"),
        format!(
            "glue_shop:\n  target: glue\n  outputs:\n    local:\n      type: glue\n      engine: local\n      \
             warehouse: {warehouse:?}\n      schema: {schema}\n      threads: 4\n    glue:\n      type: glue\n      \
             role_arn: {role:?}\n      region: {region:?}\n      workers: 2\n      worker_type: G.1X\n      \
             schema: {schema}\n      location: {location:?}\n      datalake_formats: delta\n      conf: {delta:?}\n      \
             threads: 4\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let project = root().join("examples/glue_shop");
    run_cargo(&mut cargo(&["build", "--locked", "-p", "glue-cli"]))?;
    run(Command::new(target_dir().join("debug/glue"))
        .args(["build", "--target", "glue", "--project-dir"])
        .arg(&project)
        .arg("--profiles-dir")
        .arg(&dir))?;
    let o = DiffOptions {
        profiles: Some(dir),
        ..DiffOptions::default()
    };
    diff(&project, &o, "local", "glue")
}

/// Options of `cargo xtask diff`.
#[derive(Default)]
struct DiffOptions {
    profiles: Option<PathBuf>,
    no_build: bool,
    vars: Option<String>,
    exclude: Vec<String>,
    env: Vec<(String, String)>,
}

/// `cargo xtask diff`: xtask/world/diff.py with a debug glue.
fn diff(project: &Path, o: &DiffOptions, left: &str, right: &str) -> Result<(), String> {
    run_cargo(&mut cargo(&["build", "--locked", "-p", "glue-cli"]))?;
    let python = venv::ensure("spark35")?.join("python");
    let mut cmd = Command::new(python);
    cmd.arg(root().join("xtask/world/diff.py"))
        .arg(target_dir().join("debug/glue"))
        .arg(project)
        .args([left, right]);
    if let Some(dir) = &o.profiles {
        cmd.arg("--profiles-dir").arg(dir);
    }
    if o.no_build {
        cmd.arg("--no-build");
    }
    if let Some(v) = &o.vars {
        cmd.args(["--vars", v]);
    }
    for e in &o.exclude {
        cmd.args(["--exclude", e]);
    }
    cmd.envs(o.env.iter().map(|(k, v)| (k, v)));
    run(&mut cmd)
}

/// The diff machinery end to end: the bundled project on two embedded-engine targets must give equal tables.
fn diff_self_check() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("glue-rs-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut profile = String::from("glue_shop:\n  target: left\n  outputs:\n");
    for side in ["left", "right"] {
        let warehouse = dir.join(side).display().to_string();
        profile += &format!(
            "    {side}:\n      type: glue\n      engine: local\n      warehouse: {warehouse:?}\n      schema: glue_shop\n      threads: 4\n"
        );
    }
    std::fs::write(dir.join("profiles.yml"), profile).map_err(|e| e.to_string())?;
    let o = DiffOptions {
        profiles: Some(dir.clone()),
        ..DiffOptions::default()
    };
    let result = diff(&root().join("examples/glue_shop"), &o, "left", "right");
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// What the example project runs on a Livy session of the classic-Spark backend (no Delta there): `orders` as Parquet
/// appends, without the (Delta/Iceberg) snapshot.
const LIVY_VARS: &str = "{lakehouse_format: parquet, orders_strategy: append}";

/// The bundled project on a Glue target of the simulator (Livy sessions in real Spark 3.5) and on the embedded
/// engine: built twice on Glue (the second build takes the incremental and table-rebuild paths), every table equal.
fn glue_diff_check(world: &world::World) -> Result<(), String> {
    let remote = "type: glue\nrole_arn: arn:aws:iam::123456789012:role/GlueInteractiveSessionRole\nregion: us-east-1\n\
                  workers: 2\nworker_type: G.1X\nlocation: s3://{bucket}/warehouse\nthreads: 4";
    lake_formation_tags(world)?;
    let vars = format!("{{{}, lake_formation: true}}", LIVY_VARS.trim_matches(['{', '}']));
    let schema = remote_diff_check(world, "glue", remote, &vars, &["orders_snapshot"])?;
    // `customers` carries lf_tags_config and lf_grants: the build reconciled them in the simulator's Lake Formation.
    let python = venv::ensure("spark35")?.join("python");
    run(Command::new(&python).args(["-c", LF_CHECK, &world.endpoints["aws"], &schema]))?;
    // The example's Iceberg variant on the same Livy sessions (their Spark 3.5 has Iceberg): `orders` an Iceberg merge,
    // the snapshot an Iceberg snapshot, every table compared, nothing excluded.
    eprintln!("-- the Iceberg variant (merge and snapshot included) on Glue sessions of the simulator");
    let iceberg = format!("{remote}\ndatalake_formats: iceberg");
    remote_diff_check(world, "glue_iceberg", &iceberg, "{lakehouse_format: iceberg}", &[]).map(|_| ())
}

/// The LF-tags the example project's `customers` asks for, created in the simulator (again, harmlessly) before a
/// build with `lake_formation: true`.
fn lake_formation_tags(world: &world::World) -> Result<(), String> {
    let python = venv::ensure("spark35")?.join("python");
    run(Command::new(&python).args([
        "-c",
        "import sys, boto3\n\
         lf = boto3.client('lakeformation', endpoint_url=sys.argv[1], region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         for key, values in (('domain', ['sales', 'finance']), ('sensitivity', ['pii', 'public'])):\n\
         \x20   try: lf.create_lf_tag(TagKey=key, TagValues=values)\n\
         \x20   except lf.exceptions.InvalidInputException: pass  # already there\n",
        &world.endpoints["aws"],
    ]))
}

/// Checks the example's Lake Formation state after a build: tags on `customers` and its `name` column, the
/// data-cell filter and its grant.
const LF_CHECK: &str = "import sys, boto3
lf = boto3.client('lakeformation', endpoint_url=sys.argv[1], region_name='us-east-1',
                  aws_access_key_id='testing', aws_secret_access_key='testing')
db, table = sys.argv[2], 'customers'
tags = lf.get_resource_lf_tags(Resource={'Table': {'DatabaseName': db, 'Name': table}}, ShowAssignedLFTags=True)
on_table = {t['TagKey']: t['TagValues'] for t in tags.get('LFTagsOnTable', [])}
on_columns = {c['Name']: {t['TagKey']: t['TagValues'] for t in c['LFTags']} for c in tags.get('LFTagsOnColumns', [])}
assert on_table == {'domain': ['sales']}, on_table
assert on_columns == {'name': {'sensitivity': ['pii']}}, on_columns
filters = lf.list_data_cells_filter(Table={'DatabaseName': db, 'Name': table})['DataCellsFilters']
assert [(f['Name'], f['RowFilter'], f['ColumnWildcard']) for f in filters] == [
    ('high_value_customers', {'FilterExpression': 'revenue > 100'}, {'ExcludedColumnNames': ['name']})], filters
resource = {'DataCellsFilter': {'TableCatalogId': '123456789012', 'DatabaseName': db, 'TableName': table,
                                'Name': 'high_value_customers'}}
held = lf.list_permissions(Resource=resource)['PrincipalResourcePermissions']
assert [(p['Principal']['DataLakePrincipalIdentifier'], p['Permissions']) for p in held] == [
    ('arn:aws:iam::123456789012:role/analyst', ['SELECT'])], held
print(f'lake formation of {db}.{table}: tags, filter and grant as configured')
";

/// Spark Connect, three ways, each against the embedded engine:
/// - (a) Glue 5.1 SPARK_CONNECT sessions of the simulator (GetSessionEndpoint, the token proxy, real Spark 4);
/// - (b) the real Spark 4 Connect server as a plain `sc://` server (its own catalog, parquet paths);
/// - (c) Sail on the simulator's Glue Data Catalog (`catalog: glue`): the Delta and the Iceberg merge paths and
///   snapshots. Sail has no INSERT OVERWRITE … PARTITION, so `daily_revenue` (and the test reading it) stay on (a)/(b).
fn connect_diff_check(world: &world::World) -> Result<(), String> {
    let glue_sc = "type: glue\nsession_type: spark_connect\nglue_version: '5.1'\n\
                   role_arn: arn:aws:iam::123456789012:role/GlueInteractiveSessionRole\nregion: us-east-1\n\
                   workers: 2\nworker_type: G.1X\nlocation: s3://{bucket}/warehouse\nthreads: 4";
    eprintln!("-- (a) Glue Spark Connect sessions of the simulator (with the example's Lake Formation config)");
    lake_formation_tags(world)?;
    let vars = format!("{{{}, lake_formation: true}}", LIVY_VARS.trim_matches(['{', '}']));
    let schema = remote_diff_check(world, "glue_sc", glue_sc, &vars, &["orders_snapshot"])?;
    let python = venv::ensure("spark35")?.join("python");
    run(Command::new(&python).args(["-c", LF_CHECK, &world.endpoints["aws"], &schema]))?;
    eprintln!("-- (b) a plain sc:// server: real Spark 4");
    let spark = format!(
        "type: glue\nmethod: spark_connect\nhost: {}\nlocation: s3://{{bucket}}/warehouse\nthreads: 4",
        world.endpoints["spark_connect"]
    );
    remote_diff_check(world, "spark", &spark, LIVY_VARS, &["orders_snapshot"])?;
    let sail = format!(
        "type: glue\nmethod: spark_connect\nhost: {}\ncatalog: glue\nregion: us-east-1\n\
         datalake_formats: delta,iceberg\nlocation: s3://{{bucket}}/warehouse\nthreads: 4",
        world.endpoints["sail"]
    );
    let sail_excluded = ["daily_revenue", "assert_revenue_matches_orders"];
    eprintln!("-- (c) Sail on the simulator's Glue catalog: Delta");
    remote_diff_check(world, "sail", &sail, "{lakehouse_format: delta}", &sail_excluded)?;
    eprintln!("-- (c) Sail on the simulator's Glue catalog: Iceberg (merge and snapshot included)");
    remote_diff_check(world, "sail", &sail, "{lakehouse_format: iceberg}", &sail_excluded).map(|_| ())
}

/// The bundled project on a remote target (`remote`: its profile lines, `{bucket}` standing for a fresh bucket of the
/// simulator) and on the embedded engine, with `vars`, without `exclude`: built on the remote target, then built on
/// both by `cargo xtask diff` (the remote's second build takes the incremental and table-rebuild paths) and every
/// table compared.
fn remote_diff_check(
    world: &world::World,
    name: &str,
    remote: &str,
    vars: &str,
    exclude: &[&str],
) -> Result<String, String> {
    let env = world.env();
    let aws = &world.endpoints["aws"];
    let run_id = format!(
        "{}_{}",
        std::process::id(),
        UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(format!("glue-rs-{name}-diff-{run_id}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let schema = format!("glue_shop_{name}_{run_id}");
    let bucket = format!("glue-rs-diff-{}", run_id.replace('_', "-"));
    let python = venv::ensure("spark35")?.join("python");
    run(Command::new(&python).args([
        "-c",
        "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing').create_bucket(Bucket=sys.argv[2])",
        aws,
        &bucket,
    ]))?;
    let warehouse = dir.join("local").display().to_string();
    let remote_lines: String = remote
        .replace("{bucket}", &bucket)
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    std::fs::write(
        dir.join("profiles.yml"),
        format!(
            "glue_shop:\n  target: {name}\n  outputs:\n    local:\n      type: glue\n      engine: local\n      \
             warehouse: {warehouse:?}\n      schema: {schema}\n      threads: 4\n    {name}:\n{remote_lines}      \
             schema: {schema}\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let project = root().join("examples/glue_shop");
    let result = (|| {
        run_cargo(&mut cargo(&["build", "--locked", "-p", "glue-cli"]))?;
        let mut first = Command::new(target_dir().join("debug/glue"));
        first.args(["build", "--target", name, "--vars", vars]);
        if !exclude.is_empty() {
            first.arg("--exclude").args(exclude);
        }
        run(first
            .arg("--project-dir")
            .arg(&project)
            .arg("--profiles-dir")
            .arg(&dir)
            .env("AWS_ENDPOINT_URL", aws)
            .envs(env.iter().map(|(k, v)| (k, v))))?;
        let o = DiffOptions {
            profiles: Some(dir.clone()),
            no_build: false,
            vars: Some(vars.into()),
            exclude: exclude.iter().map(|e| e.to_string()).collect(),
            env: env
                .iter()
                .cloned()
                .chain([("AWS_ENDPOINT_URL".to_string(), aws.clone())])
                .collect(),
        };
        diff(&project, &o, "local", name)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|()| schema)
}

/// Makes the names of one process's diff runs unique.
static UNIQUE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The Spark Connect suites alone (`cargo xtask it --connect-only`).
fn connect_suites(world: &world::World) -> Result<(), String> {
    connect_diff_check(world)
}

fn suites(world: &world::World) -> Result<(), String> {
    let mut env = world.env();
    // Every AWS client of the suites talks to the simulator, also those built from the SDK's environment alone.
    env.push(("AWS_ENDPOINT_URL".into(), world.endpoints["aws"].clone()));
    let sim = venv::ensure("spark35")?;
    stage(Some("the simulator's own tests (pytest, boto3)"));
    run(Command::new(sim.join("pytest"))
        .args(["-q", "-p", "no:cacheprovider", "tests", "../world/test_diff.py"])
        .current_dir(root().join("xtask/sim"))
        .envs(env.iter().map(|(k, v)| (k, v))))?;
    stage(Some(
        "cargo xtask diff: the bundled project on two embedded-engine targets",
    ));
    diff_self_check()?;
    stage(Some(
        "the bundled project on Glue sessions of the simulator vs the embedded engine",
    ));
    glue_diff_check(world)?;
    stage(Some("the bundled project over Spark Connect vs the embedded engine"));
    connect_diff_check(world)?;
    stage(Some(
        "the bundled project on Glue sessions of the simulator vs dbt-spark (session method, real Spark 3.5)",
    ));
    let dbt_spark = venv::ensure("dbtspark")?;
    run(Command::new(sim.join("python"))
        .arg(root().join("xtask/world/spark_diff.py"))
        .arg(target_dir().join("debug/glue"))
        .arg(&dbt_spark)
        .arg(&world.endpoints["aws"])
        .envs(env.iter().map(|(k, v)| (k, v))))?;
    stage(Some("the reference adapter (dbt-glue 1.10.19) on the simulator"));
    let dbt_glue = venv::ensure("dbtglue")?;
    run(Command::new(dbt_glue.join("python"))
        .arg(root().join("xtask/world/reference_adapter.py"))
        .arg(&dbt_glue)
        .arg(&world.endpoints["aws"]))?;
    stage(Some(
        "the bundled project's Iceberg variant by the reference adapter and by glue-rs on the simulator, every table compared",
    ));
    run(Command::new(dbt_glue.join("python"))
        .arg(root().join("xtask/world/reference_iceberg_diff.py"))
        .arg(target_dir().join("debug/glue"))
        .arg(&dbt_glue)
        .arg(&world.endpoints["aws"])
        .arg(sim.join("python")))?;
    stage(Some(
        "glue-iceberg-lock against the world's DynamoDB (with an Iceberg-protocol harness in Python)",
    ));
    // One test at a time: the contention tests measure the lock, not a simulator they share with each other.
    run_cargo(
        cargo(&[
            "test",
            "--locked",
            "-p",
            "glue-iceberg-lock",
            "--features",
            "it",
            "--",
            "--test-threads",
            "1",
        ])
        .env("GLUE_RS_PYTHON", sim.join("python"))
        .envs(env.iter().map(|(k, v)| (k, v))),
    )?;
    stage(Some(
        "glue-lakeformation, glue-session and the glue binary on the simulator (Lake Formation, Glue sessions)",
    ));
    // glue-session's and glue-cli's simulator suites are one file per topic, `tests/sim_*.rs`: cargo takes the glob
    // (`--test 'sim_*'`), so a new suite there runs without being named here. glue-cli's kill_matrix: the crash
    // matrix of issue 19 (a sample of 10 kill points chosen by the commit hash; all of them with
    // `cargo xtask it --long`), its matrix printed; concurrent_runs: 3 rounds, 20 with --long.
    for (package, test, extra) in [
        ("glue-lakeformation", "sim", None),
        ("glue-session", "sim_*", None),
        ("glue-cli", "sim_*", None),
        ("glue-cli", "kill_matrix", Some("--nocapture")),
        // Two `glue run` processes on the embedded engine (`cargo test` runs it too, with 3 rounds; 20 with --long).
        ("glue-cli", "concurrent_runs", Some("--nocapture")),
    ] {
        let mut args = vec![
            "test",
            "--locked",
            "-p",
            package,
            "--features",
            "it",
            "--test",
            test,
            "--",
            "--test-threads",
            "1",
        ];
        args.extend(extra);
        run_cargo(cargo(&args).envs(env.iter().map(|(k, v)| (k, v))))?;
    }
    stage(Some(
        "Rust smoke tests (aws-sdk-glue, aws-sdk-s3, apache-spark-connect) and the world's own lifecycle",
    ));
    run_cargo(cargo(&["test", "--locked", "-p", "xtask", "--features", "it"]).envs(env.iter().map(|(k, v)| (k, v))))?;
    stage(None);
    Ok(())
}

/// Forgets the variables `cargo run` set for xtask itself (CARGO_PKG_NAME, CARGO_MANIFEST_DIR, ...): build scripts
/// that watch them (ring's) would otherwise see a change between a cargo started here and one started from a shell,
/// and rebuild half the dependency tree each time.
fn forget_cargo_run_env() {
    let inherited: Vec<_> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            let k = k.to_string_lossy();
            [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .iter()
            .any(|p| k.starts_with(p))
        })
        .collect();
    for key in inherited {
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::remove_var(key) };
    }
}

fn main() -> ExitCode {
    forget_cargo_run_env();
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Up { only, sim_arg } => up(only, &sim_arg).map(|_| ()),
        Task::Arch { dir } => {
            let dir = dir.unwrap_or_else(root);
            arch::measure(&dir).and_then(|shapes| {
                print!("{}", arch::table(&shapes));
                let problems = arch::problems(&dir, &shapes);
                for p in &problems {
                    eprintln!("xtask arch: {p}");
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{} architecture problem(s)", problems.len()))
                }
            })
        }
        Task::Down => {
            match world::World::load(&world::world_dir()) {
                Some(world) => {
                    world.down();
                    eprintln!("xtask: the test world is down");
                }
                None => eprintln!("xtask: no test world is running"),
            }
            Ok(())
        }
        Task::It {
            aws: false,
            connect_only: false,
            long,
        } => {
            if long {
                // SAFETY: no other thread exists yet; the suites' cargo commands inherit it.
                unsafe {
                    std::env::set_var("GLUE_RS_KILL_MATRIX", "full");
                    std::env::set_var("GLUE_RS_RACE_ROUNDS", "20");
                    std::env::set_var("GLUE_RS_STALE_ROUNDS", "20");
                }
            }
            integration()
        }
        Task::It {
            aws: false,
            connect_only: true,
            ..
        } => with_world(world::ServiceKind::all(), connect_suites),
        Task::It { aws: true, .. } => aws_suite(),
        Task::Bench { which: Bench::Lock } => with_world(vec![world::ServiceKind::Sim], |world| {
            run(cargo(&["bench", "--locked", "-p", "glue-iceberg-lock"]).envs(world.env()))
        }),
        Task::Bench {
            which: Bench::Remote { latency_ms },
        } => (|| {
            let glue = release_glue()?;
            let dbt_glue = venv::ensure("dbtglue")?;
            let python = venv::ensure("spark35")?.join("python");
            with_world(vec![world::ServiceKind::Sim, world::ServiceKind::Spark], |world| {
                run(Command::new(&python)
                    .arg(root().join("xtask/bench/remote.py"))
                    .arg(&glue)
                    .arg(&dbt_glue)
                    .arg(&world.endpoints["aws"])
                    .args(["--latency-ms", &latency_ms.to_string()])
                    .envs(world.env()))
            })
        })(),
        Task::Venv { names } => {
            let names: Vec<String> = if names.is_empty() {
                venv::TOOL_SETS.iter().map(|(n, _)| n.to_string()).collect()
            } else {
                names
            };
            names.iter().try_for_each(|name| {
                let bin = venv::ensure(name)?;
                println!("{name}: {}", bin.display());
                Ok(())
            })
        }
        Task::Diff {
            project_dir,
            profiles_dir,
            no_build,
            vars,
            exclude,
            left,
            right,
        } => diff(
            &project_dir,
            &DiffOptions {
                profiles: profiles_dir,
                no_build,
                vars,
                exclude,
                env: Vec::new(),
            },
            &left,
            &right,
        ),
        Task::Ci => {
            // SAFETY: no other thread exists yet; every command of the checks and the suites inherits them.
            unsafe {
                // A golden file that differs fails the run; it is never rewritten here.
                std::env::set_var("INSTA_UPDATE", "no");
                std::env::set_var("SPARK_LOCAL_IP", "127.0.0.1");
            }
            checks::run_all().and_then(|()| integration())
        }
        Task::Bench {
            which: Bench::Compile { models, run_models },
        } => (|| {
            let bin = venv::ensure("dbt111")?;
            let glue = release_glue()?;
            run(Command::new(bin.join("python"))
                .arg(root().join("xtask/bench/dbt_compare.py"))
                .arg(glue)
                .arg(&bin)
                .arg(models.to_string())
                .arg(run_models.to_string()))
        })(),
        Task::Bench {
            which: Bench::Local { rows },
        } => (|| {
            // The dbt venv pins duckdb (through dbt-duckdb) too.
            let bin = venv::ensure("dbt111")?;
            run(Command::new(bin.join("python"))
                .arg(root().join("xtask/bench/local_vs_duckdb.py"))
                .arg(rows.to_string())
                .env("CARGO_TARGET_DIR", target_dir()))
        })(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
