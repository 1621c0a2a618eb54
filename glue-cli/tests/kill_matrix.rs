//! The crash matrix of issue 19: the `glue` process is SIGKILLed at every request boundary of a model's run on the
//! test world's simulator (Glue Interactive Sessions, Livy statements in a real PySpark 3.5), and the table must
//! survive it. Run by `cargo xtask it` (a sample) and `cargo xtask it --long` (every kill point); feature `it`.
//!
//! The kill points of a scenario are the requests of an uninterrupted run of its new version (the reference), each
//! named by its operation and occurrence (`glue:UpdateTable#1`, `glue:GetStatement#3`): polls vary in number from run
//! to run, steps do not. How a kill point is made: the simulator's `hold` fault lets n-1 calls of that operation by
//! this run's `glue` process through (its requests are told apart from everyone else's by a unique access key id) and
//! holds the n-th unprocessed; once `/_sim/holds` shows it held, the test SIGKILLs the process and clears the fault (a
//! request whose client is gone is never processed), then waits until the reused session has no statement running or
//! waiting (`/_sim/statements`): from then on nothing changes the catalog or the storage.
//!
//! Scenarios: a table rebuild with swap (plain and Hive-partitioned), a `custom_location` rebuild, insert_overwrite
//! (partitioned), append, merge (Iceberg, the simulator's `glue_catalog`) and seed. For each kill point the old version
//! is built in a schema (and bucket) of its own, then the new version's run is killed. After the kill the table must
//! read as the old or the new version whole (the same rows as one of them, read through a Spark session of the test's
//! own; a partitioned table has partitions). Then the same command is run again on the same reused session while that
//! session is still busy (a statement of the test's own runs for 2 s when the rerun starts, as a killed run's last
//! statement may outlive it); it must converge to the new version (rows lost / duplicated: 0 / 0), leave no other table
//! than the model's in the schema (staging `__dbt_swap` / `__dbt_tmp` tables), and no file under the case's bucket
//! outside what the catalog references: the table's location, its partitions' locations, and the previous version
//! kept on purpose (`glue_rs.previous_location`). An uninterrupted run is held to the same.
//!
//! Append is the one strategy a rerun applies again: when the killed run had already committed (the table reads as
//! the new version), the rerun is a second append and the expected table is the new version plus the batch once more.
//!
//! Tiers: `GLUE_RS_KILL_MATRIX=full` runs every kill point of every scenario; otherwise a sample of
//! `GLUE_RS_KILL_SAMPLE` (10) kill points in all, chosen from `GLUE_RS_KILL_SEED` or the commit hash (`git rev-parse
//! HEAD`), so a commit always runs the same sample. `GLUE_RS_KILL_SCENARIOS=a,b` limits the scenarios. The matrix
//! (scenario × kill point → request held, state after the kill, rows lost / duplicated after the rerun, leftovers) is
//! printed; every failing kill point is listed before the test fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use glue_testkit::sim::{
    Restore, admin as sim, endpoint, last_seq, log as log_since, storage_root, try_admin as try_sim,
};
mod common;

use common::text;

fn unique(prefix: &str) -> String {
    glue_testkit::sim::unique(prefix, "")
}

/// A multiset of rows: each row one JSON object with sorted keys, the whole sorted.
type Rows = Vec<String>;

/// Rows in `a` missing from `b` (multiset difference, counted).
fn missing(a: &Rows, b: &Rows) -> usize {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for r in b {
        *counts.entry(r).or_default() += 1;
    }
    let mut out = 0;
    for r in a {
        let c = counts.entry(r).or_default();
        if *c > 0 {
            *c -= 1;
        } else {
            out += 1;
        }
    }
    out
}

// ---- the scenarios ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Table,
    Partitioned,
    CustomLocation,
    InsertOverwrite,
    Append,
    Merge,
    Seed,
}

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    kind: Kind,
}

const SCENARIOS: [Scenario; 7] = [
    Scenario {
        name: "table",
        kind: Kind::Table,
    },
    Scenario {
        name: "table_partitioned",
        kind: Kind::Partitioned,
    },
    Scenario {
        name: "custom_location",
        kind: Kind::CustomLocation,
    },
    Scenario {
        name: "insert_overwrite",
        kind: Kind::InsertOverwrite,
    },
    Scenario {
        name: "append",
        kind: Kind::Append,
    },
    Scenario {
        name: "merge",
        kind: Kind::Merge,
    },
    Scenario {
        name: "seed",
        kind: Kind::Seed,
    },
];

/// The model (or seed) every scenario builds.
const TABLE: &str = "t";

impl Scenario {
    fn partitioned(&self) -> bool {
        matches!(self.kind, Kind::Partitioned | Kind::InsertOverwrite)
    }

    fn iceberg(&self) -> bool {
        self.kind == Kind::Merge
    }

    /// The command that builds version `v` (1: old, 2: new).
    fn args(&self, v: u32) -> Vec<String> {
        let command = if self.kind == Kind::Seed { "seed" } else { "run" };
        vec![command.into(), "--vars".into(), format!("{{v: {v}}}")]
    }

    /// The model's SQL (versions differ through `var('v')`).
    fn model(&self, bucket: &str) -> Option<String> {
        let body = "select id, concat('r', cast(id as string), '_v', '{{ var('v') }}') as name";
        let sql = match self.kind {
            Kind::Seed => return None,
            Kind::Table => {
                format!("{{{{ config(materialized='table') }}}}\n{body} from range(0, {{{{ 2 + var('v') }}}})")
            }
            Kind::Partitioned => format!(
                "{{{{ config(materialized='table', partition_by=['p']) }}}}\n\
                 {body}, cast(id % 2 + {{{{ var('v') }}}} - 1 as int) as p from range(0, {{{{ 3 + var('v') }}}})"
            ),
            Kind::CustomLocation => format!(
                "{{{{ config(materialized='table', custom_location='s3://{bucket}/custom/{TABLE}') }}}}\n\
                 {body} from range(0, {{{{ 2 + var('v') }}}})"
            ),
            Kind::InsertOverwrite => format!(
                "{{{{ config(materialized='incremental', incremental_strategy='insert_overwrite', partition_by=['p']) }}}}\n\
                 {body}, cast(id % 2 + {{{{ var('v') }}}} - 1 as int) as p from range(0, {{{{ 3 + var('v') }}}})"
            ),
            Kind::Append => "{{ config(materialized='incremental', incremental_strategy='append') }}\n\
                 select id + 10 * {{ var('v') }} as id, concat('r_v', '{{ var('v') }}') as name \
                 from range(0, 2 + {{ var('v') }})"
                .to_string(),
            Kind::Merge => format!(
                "{{{{ config(materialized='incremental', incremental_strategy='merge', file_format='iceberg', unique_key='id') }}}}\n\
                 {body} from range({{{{ var('v') }}}} - 1, {{{{ 2 + 2 * var('v') }}}})"
            ),
        };
        Some(sql)
    }

    fn seed_csv(v: u32) -> String {
        if v == 1 {
            "id,name\n1,a\n2,b\n3,c\n".into()
        } else {
            "id,name\n1,x\n2,y\n".into()
        }
    }

    /// The fully qualified name a reader session selects from.
    fn qualified(&self, schema: &str) -> String {
        if self.iceberg() {
            format!("glue_catalog.{schema}.{TABLE}")
        } else {
            format!("{schema}.{TABLE}")
        }
    }
}

/// One case: a project directory with a schema and bucket of its own.
struct Case {
    dir: tempfile::TempDir,
    schema: String,
    bucket: String,
}

impl Case {
    fn new(scenario: &Scenario, session_id: &str, world: &World) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let schema = unique("it_kill_");
        let bucket = unique("glue-rs-kill-");
        world.create_bucket(&bucket);
        let extra = if scenario.iceberg() {
            "      datalake_formats: iceberg\n      conf: \"spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog\"\n"
        } else {
            ""
        };
        let files = [
            ("dbt_project.yml", "name: p\nversion: '1.0'\nprofile: p\n".to_string()),
            (
                "profiles.yml",
                format!(
                    "p:\n  target: sim\n  outputs:\n    sim:\n      type: glue\n      role_arn: arn:aws:iam::123456789012:role/GlueInteractiveSessionRole\n      region: us-east-1\n      workers: 2\n      worker_type: G.1X\n      schema: {schema}\n      location: s3://{bucket}/warehouse\n      threads: 1\n      glue_session_reuse: true\n      glue_session_id: {session_id}\n{extra}"
                ),
            ),
        ];
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("models")).unwrap();
        std::fs::create_dir_all(dir.path().join("seeds")).unwrap();
        if let Some(sql) = scenario.model(&bucket) {
            std::fs::write(dir.path().join("models").join(format!("{TABLE}.sql")), sql).unwrap();
        }
        Case { dir, schema, bucket }
    }

    /// Prepares version `v`'s inputs (the seed file; models read `var('v')`).
    fn prepare(&self, scenario: &Scenario, v: u32) {
        if scenario.kind == Kind::Seed {
            std::fs::write(
                self.dir.path().join("seeds").join(format!("{TABLE}.csv")),
                Scenario::seed_csv(v),
            )
            .unwrap();
        }
    }

    fn command(&self, scenario: &Scenario, v: u32, key: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_glue"));
        c.args(scenario.args(v))
            .arg("--project-dir")
            .arg(self.dir.path())
            .arg("--profiles-dir")
            .arg(self.dir.path())
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn build(&self, scenario: &Scenario, v: u32, key: &str) -> Result<(), String> {
        self.prepare(scenario, v);
        let out = self.command(scenario, v, key).output().expect("glue runs");
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("`glue {}` failed: {}", scenario.args(v).join(" "), text(&out)))
        }
    }
}

// ---- the world: SDK clients and a reader session of the test's own ----

struct World {
    rt: tokio::runtime::Runtime,
    glue: aws_sdk_glue::Client,
    s3: aws_sdk_s3::Client,
    reader: String,
}

impl World {
    fn new() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (glue, s3) = rt.block_on(async {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(endpoint())
                .region(aws_config::Region::new("us-east-1"))
                .load()
                .await;
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(true)
                    .build(),
            );
            (aws_sdk_glue::Client::new(&config), s3)
        });
        let reader = unique("kill-reader-");
        let w = World { rt, glue, s3, reader };
        w.rt.block_on(async {
            w.glue
                .create_session()
                .id(&w.reader)
                .role("arn:aws:iam::123456789012:role/GlueInteractiveSessionRole")
                .command(
                    aws_sdk_glue::types::SessionCommand::builder()
                        .name("glueetl")
                        .python_version("3")
                        .build(),
                )
                .glue_version("5.0")
                .send()
                .await
                .expect("CreateSession (reader)");
        });
        let t0 = Instant::now();
        while w.session_status(&w.reader).as_deref() != Some("READY") {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "the reader session never became READY"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        w
    }

    fn session_status(&self, id: &str) -> Option<String> {
        self.rt.block_on(async {
            self.glue
                .get_session()
                .id(id)
                .send()
                .await
                .ok()
                .and_then(|s| s.session)
                .and_then(|s| s.status)
                .map(|s| s.as_str().to_string())
        })
    }

    fn create_bucket(&self, bucket: &str) {
        self.rt.block_on(async {
            self.s3
                .create_bucket()
                .bucket(bucket)
                .send()
                .await
                .expect("CreateBucket");
        });
    }

    /// Runs Python on the reader session: its printed output, or the statement's error.
    fn python(&self, code: &str) -> Result<String, String> {
        self.rt.block_on(async {
            let id = self
                .glue
                .run_statement()
                .session_id(&self.reader)
                .code(code)
                .send()
                .await
                .map_err(|e| format!("RunStatement: {e:?}"))?
                .id;
            let t0 = Instant::now();
            loop {
                let s = self
                    .glue
                    .get_statement()
                    .session_id(&self.reader)
                    .id(id)
                    .send()
                    .await
                    .map_err(|e| format!("GetStatement: {e:?}"))?
                    .statement
                    .unwrap();
                let state = s.state.as_ref().map(|s| s.as_str().to_string()).unwrap_or_default();
                if matches!(state.as_str(), "AVAILABLE" | "ERROR" | "CANCELLED") {
                    let out = s.output.unwrap();
                    if out.status.as_ref().map(|s| s.as_str()) == Some("ok") {
                        return Ok(out.data.and_then(|d| d.text_plain).unwrap_or_default());
                    }
                    return Err(format!(
                        "{}: {}",
                        out.error_name.unwrap_or_default(),
                        out.error_value.unwrap_or_default()
                    ));
                }
                if t0.elapsed() > Duration::from_secs(300) {
                    return Err(format!("statement {id} still {state}"));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }

    /// The table's rows as the catalog shows it now (a fresh view: the relation's cache is refreshed first).
    fn rows(&self, table: &str) -> Result<Rows, String> {
        let code = format!(
            "import json\nspark.sql('REFRESH TABLE {table}')\n\
             print(json.dumps(sorted(json.dumps(r.asDict(), sort_keys=True, default=str) \
             for r in spark.sql('select * from {table}').collect())))"
        );
        let out = self.python(&code)?;
        serde_json::from_str(out.trim()).map_err(|e| format!("{e}: {out}"))
    }

    fn get_table(&self, schema: &str) -> Option<aws_sdk_glue::types::Table> {
        self.rt.block_on(async {
            self.glue
                .get_table()
                .database_name(schema)
                .name(TABLE)
                .send()
                .await
                .ok()
                .and_then(|t| t.table)
        })
    }

    fn table_names(&self, schema: &str) -> Vec<String> {
        self.rt.block_on(async {
            let mut pages = self.glue.get_tables().database_name(schema).into_paginator().send();
            let mut names = Vec::new();
            while let Some(page) = pages.next().await {
                names.extend(
                    page.expect("GetTables")
                        .table_list()
                        .iter()
                        .map(|t| t.name().to_string()),
                );
            }
            names
        })
    }

    fn partition_locations(&self, schema: &str) -> Vec<String> {
        self.rt.block_on(async {
            let mut pages = self
                .glue
                .get_partitions()
                .database_name(schema)
                .table_name(TABLE)
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                for p in page.expect("GetPartitions").partitions() {
                    out.push(
                        p.storage_descriptor()
                            .and_then(|sd| sd.location())
                            .unwrap_or_default()
                            .to_string(),
                    );
                }
            }
            out
        })
    }

    /// Keeps the session busy for `seconds` with a statement of the test's own (not waited for): the rerun meets a
    /// reused session that is still running something, as it does when a killed run's statement outlives it.
    fn occupy(&self, session_id: &str, seconds: u32) {
        self.rt.block_on(async {
            self.glue
                .run_statement()
                .session_id(session_id)
                .code(format!("import time\ntime.sleep({seconds})"))
                .send()
                .await
                .expect("RunStatement (occupy)");
        });
    }

    /// Waits until the session has no statement running or waiting: nothing the killed run started changes the
    /// catalog or the storage any more.
    fn wait_idle(&self, session_id: &str) {
        let t0 = Instant::now();
        loop {
            match try_sim("GET", &format!("statements?session_id={session_id}"), "") {
                Ok((200, v)) if v["busy"] == false => return,
                Ok((404, _)) => return,
                Ok((200, _)) => {}
                other => panic!("/_sim/statements: {other:?}"),
            }
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "session {session_id} stayed busy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self
            .rt
            .block_on(async { self.glue.stop_session().id(&self.reader).send().await });
    }
}

// ---- checks ----

/// A few of `items` and how many there are (failure lines stay readable).
fn few(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(3).map(String::as_str).collect();
    if items.len() > shown.len() {
        format!("{} of them: {shown:?}, …", items.len())
    } else {
        format!("{shown:?}")
    }
}

/// `s3://bucket/key` → the file under the storage root.
fn local(location: &str) -> Option<PathBuf> {
    let rest = location
        .strip_prefix("s3://")
        .or_else(|| location.strip_prefix("s3a://"))?;
    Some(storage_root().join(rest.trim_end_matches('/')))
}

/// Files under the case's bucket that no catalog reference covers: the table's location, its partitions'
/// locations, and the previous version kept on purpose.
fn unreferenced(world: &World, case: &Case) -> Vec<String> {
    let mut referenced: Vec<PathBuf> = Vec::new();
    if let Some(t) = world.get_table(&case.schema) {
        if let Some(l) = t.storage_descriptor().and_then(|sd| sd.location()) {
            referenced.extend(local(l));
        }
        if let Some(prev) = t.parameters().and_then(|p| p.get("glue_rs.previous_location")) {
            referenced.extend(local(prev));
        }
        for l in world.partition_locations(&case.schema) {
            referenced.extend(local(&l));
        }
    }
    let root = storage_root().join(&case.bucket);
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&root).into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        if referenced.iter().any(|r| path.starts_with(r)) {
            continue;
        }
        out.push(path.strip_prefix(&root).unwrap_or(path).display().to_string());
    }
    out.sort();
    out
}

/// What the table read as after the kill.
#[derive(Clone, Debug, PartialEq)]
enum State {
    Old,
    New,
    Mixed(usize),
    Unreadable(String),
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Old => write!(f, "old"),
            State::New => write!(f, "new"),
            State::Mixed(n) => write!(f, "MIXED({n} rows)"),
            State::Unreadable(e) => write!(f, "UNREADABLE({})", e.chars().take(120).collect::<String>()),
        }
    }
}

/// One row of the matrix.
struct Outcome {
    scenario: &'static str,
    point: usize,
    held: String,
    /// A known limit met at this kill point (not a failure; printed).
    known: Option<String>,
    state: State,
    lost: usize,
    duplicated: usize,
    leftovers: Vec<String>,
    failures: Vec<String>,
    seconds: f64,
}

/// The reference of a scenario: the old and new versions' rows and the requests an uninterrupted new run makes.
struct Reference {
    old: Rows,
    new: Rows,
    requests: Vec<String>,
    /// Files and tables an uninterrupted run leaves (none expected).
    leftovers: Vec<String>,
    others: Vec<String>,
}

impl Reference {
    /// Kill point `k` (1-based) as a hold rule: the k-th request of the reference is the n-th of its operation, so
    /// the run is held at that operation's n-th call (polls vary in number from run to run; steps do not).
    fn point(&self, k: usize) -> (String, usize) {
        let op = &self.requests[k - 1];
        let nth = self.requests[..k].iter().filter(|r| *r == op).count();
        (op.clone(), nth)
    }
}

/// Builds the old version and then the new one without faults: what the kill points are measured against.
fn reference(world: &World, scenario: &Scenario, session_id: &str) -> Result<Reference, String> {
    let case = Case::new(scenario, session_id, world);
    let key = unique("AKIAKILLREF");
    case.build(scenario, 1, &key)?;
    let old = world.rows(&scenario.qualified(&case.schema))?;
    let since = last_seq();
    case.build(scenario, 2, &key)?;
    let requests: Vec<String> = log_since(since)
        .iter()
        .filter(|e| e["access_key"] == key.as_str())
        .map(|e| {
            format!(
                "{}:{}",
                e["service"].as_str().unwrap_or(""),
                e["operation"].as_str().unwrap_or("")
            )
        })
        .collect();
    let new = world.rows(&scenario.qualified(&case.schema))?;
    if old == new {
        return Err(format!("the old and the new version read the same: {old:?}"));
    }
    let leftovers = unreferenced(world, &case);
    let others: Vec<String> = world
        .table_names(&case.schema)
        .into_iter()
        .filter(|n| n != TABLE)
        .collect();
    Ok(Reference {
        old,
        new,
        requests,
        leftovers,
        others,
    })
}

/// Kills the new version's run at request `point` (1-based) and checks the table, the rerun and what is left.
fn kill_at(world: &World, scenario: &Scenario, session_id: &str, r: &Reference, point: usize) -> Outcome {
    let t0 = Instant::now();
    let mut o = Outcome {
        scenario: scenario.name,
        point,
        held: String::new(),
        known: None,
        state: State::Old,
        lost: 0,
        duplicated: 0,
        leftovers: Vec::new(),
        failures: Vec::new(),
        seconds: 0.0,
    };
    let case = Case::new(scenario, session_id, world);
    let key = unique("AKIAKILL");
    if let Err(e) = case.build(scenario, 1, &key) {
        o.failures.push(format!("building the old version: {e}"));
        return o;
    }
    case.prepare(scenario, 2);
    let (operation, nth) = r.point(point);
    o.held = format!("{operation}#{nth}");
    sim(
        "POST",
        "faults",
        &serde_json::json!({"hold": {"operation": operation, "after": nth - 1, "access_key": key}}).to_string(),
    );
    let mut child = case.command(scenario, 2, &key).spawn().expect("glue starts");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut finished = false;
    loop {
        let holds = sim("GET", "holds", "");
        if holds["held"]
            .as_array()
            .is_some_and(|h| h.iter().any(|e| e["access_key"] == key.as_str()))
        {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            finished = true;
            o.held.push_str(" (run ended first)");
            break;
        }
        if Instant::now() > deadline {
            o.failures
                .push("the run neither reached the kill point nor ended".into());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if !finished {
        child.kill().expect("SIGKILL");
    }
    let out = child.wait_with_output().expect("glue ends");
    // The rule goes with what it holds (a run that ended first left it unfired: the rerun must not meet it).
    sim("DELETE", "faults", "");
    if finished && !out.status.success() {
        o.failures.push(format!("the unkilled run failed: {}", text(&out)));
    }
    world.wait_idle(session_id);

    // The table after the kill: the old or the new version whole.
    let table = scenario.qualified(&case.schema);
    o.state = match world.rows(&table) {
        Ok(rows) if rows == r.old => State::Old,
        Ok(rows) if rows == r.new => State::New,
        Ok(rows) => State::Mixed(rows.len()),
        Err(e) => State::Unreadable(e),
    };
    // Known limit, not a pass: Glue has no call that switches a table's partition set at once. Between the partition
    // calls of a Hive-partitioned switch (new values created, shared ones updated, old ones deleted) a reader sees
    // partitions of both versions, never none; the rerun must still converge. Printed as KNOWN in the matrix.
    let between_partition_calls = scenario.partitioned()
        && [
            "glue:BatchCreatePartition#",
            "glue:BatchUpdatePartition#",
            "glue:BatchDeletePartition#",
        ]
        .iter()
        .any(|op| o.held.starts_with(op));
    if matches!(o.state, State::Mixed(_)) && between_partition_calls {
        o.known = Some("partitions of both versions between the partition calls of the switch".into());
    } else if !matches!(o.state, State::Old | State::New) {
        o.failures.push(format!("after the kill the table reads {}", o.state));
    }
    if scenario.partitioned() && world.partition_locations(&case.schema).is_empty() {
        o.failures.push("after the kill the table has no partitions".into());
    }

    // The rerun on the same reused session converges.
    let expected = if scenario.kind == Kind::Append && o.state == State::New {
        // A second append: the new version plus the batch again.
        let mut twice = r.new.clone();
        let batch: Vec<String> = {
            let mut b = r.new.clone();
            for row in &r.old {
                if let Some(i) = b.iter().position(|x| x == row) {
                    b.remove(i);
                }
            }
            b
        };
        twice.extend(batch);
        twice.sort();
        twice
    } else {
        r.new.clone()
    };
    world.occupy(session_id, 2);
    match case.build(scenario, 2, &key) {
        Err(e) => o.failures.push(format!("the rerun failed: {e}")),
        Ok(()) => match world.rows(&table) {
            Ok(rows) => {
                o.lost = missing(&expected, &rows);
                o.duplicated = missing(&rows, &expected);
                if o.lost + o.duplicated > 0 {
                    o.failures.push(format!(
                        "after the rerun: {} rows lost, {} duplicated or extra",
                        o.lost, o.duplicated
                    ));
                }
            }
            Err(e) => o.failures.push(format!("after the rerun the table is unreadable: {e}")),
        },
    }
    let others: Vec<String> = world
        .table_names(&case.schema)
        .into_iter()
        .filter(|n| n != TABLE)
        .collect();
    if !others.is_empty() {
        o.failures.push(format!("tables left after the rerun: {others:?}"));
    }
    o.leftovers = unreferenced(world, &case);
    if !o.leftovers.is_empty() {
        o.failures
            .push(format!("unreferenced files after the rerun: {}", few(&o.leftovers)));
    }
    if scenario.partitioned() && world.partition_locations(&case.schema).is_empty() {
        o.failures.push("after the rerun the table has no partitions".into());
    }
    o.seconds = t0.elapsed().as_secs_f64();
    o
}

// ---- the sample ----

/// The seed of the sample: `GLUE_RS_KILL_SEED`, else the commit hash.
fn seed() -> u64 {
    let text = std::env::var("GLUE_RS_KILL_SEED").ok().unwrap_or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("git rev-parse HEAD (or set GLUE_RS_KILL_SEED)");
        assert!(out.status.success(), "git rev-parse HEAD: set GLUE_RS_KILL_SEED");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    });
    u64::from_str_radix(text.get(..16).unwrap_or(&text), 16).unwrap_or_else(|_| {
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    })
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `count` distinct (scenario index, kill point) pairs of all, drawn from `seed`.
fn sample(sizes: &[usize], count: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut all: Vec<(usize, usize)> = sizes
        .iter()
        .enumerate()
        .flat_map(|(s, &n)| (1..=n).map(move |k| (s, k)))
        .collect();
    let mut state = seed;
    for i in (1..all.len()).rev() {
        let j = (splitmix(&mut state) % (i as u64 + 1)) as usize;
        all.swap(i, j);
    }
    all.truncate(count);
    all.sort();
    all
}

#[test]
fn a_killed_run_leaves_the_old_or_the_new_table_and_a_rerun_converges() {
    let _ = storage_root();
    let _restore = Restore::FAULTS;
    let full = std::env::var("GLUE_RS_KILL_MATRIX").as_deref() == Ok("full");
    let only: Option<Vec<String>> = std::env::var("GLUE_RS_KILL_SCENARIOS")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let scenarios: Vec<Scenario> = SCENARIOS
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|o| o.iter().any(|n| n == s.name)))
        .collect();
    assert!(!scenarios.is_empty(), "GLUE_RS_KILL_SCENARIOS names no scenario");
    let t0 = Instant::now();
    let world = World::new();
    let session_id = unique("kill-");

    let mut references = Vec::new();
    let mut failures = Vec::new();
    for s in &scenarios {
        match reference(&world, s, &session_id) {
            Ok(r) => {
                if !r.leftovers.is_empty() || !r.others.is_empty() {
                    let f = format!(
                        "{}: an uninterrupted run leaves tables {:?} and unreferenced files {}",
                        s.name,
                        r.others,
                        few(&r.leftovers)
                    );
                    eprintln!("kill matrix: {f}");
                    failures.push(f);
                }
                eprintln!(
                    "kill matrix: {} — {} requests in the new version's run: {}",
                    s.name,
                    r.requests.len(),
                    r.requests.join(" ")
                );
                references.push(Some(r));
            }
            Err(e) => {
                eprintln!("kill matrix: {}: the uninterrupted reference failed: {e}", s.name);
                failures.push(format!("{}: the uninterrupted reference failed: {e}", s.name));
                references.push(None);
            }
        }
    }
    let sizes: Vec<usize> = references
        .iter()
        .map(|r| r.as_ref().map_or(0, |r| r.requests.len()))
        .collect();
    let points = if full {
        sample(&sizes, usize::MAX, 0)
    } else {
        let count = std::env::var("GLUE_RS_KILL_SAMPLE")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(10);
        let seed = seed();
        eprintln!("kill matrix: a sample of {count} kill points, seed {seed:016x} (GLUE_RS_KILL_MATRIX=full: all)");
        sample(&sizes, count, seed)
    };

    let mut outcomes = Vec::new();
    for (i, k) in points {
        let r = references[i].as_ref().unwrap();
        let o = kill_at(&world, &scenarios[i], &session_id, r, k);
        eprintln!(
            "kill matrix: {:<18} k={:<3} held {:<32} after kill: {:<8} rerun lost/dup {}/{}  leftovers {}  ({:.1} s){}",
            o.scenario,
            o.point,
            o.held,
            o.state.to_string(),
            o.lost,
            o.duplicated,
            o.leftovers.len(),
            o.seconds,
            match (o.failures.is_empty(), &o.known) {
                (true, None) => String::new(),
                (true, Some(k)) => format!("  KNOWN: {k}"),
                (false, _) => format!("  FAIL: {}", o.failures.join("; ")),
            }
        );
        outcomes.push(o);
    }
    let _ = world
        .rt
        .block_on(async { world.glue.stop_session().id(&session_id).send().await });

    // The matrix.
    eprintln!(
        "\nkill matrix ({}; {:.0} s):",
        if full { "full" } else { "sample" },
        t0.elapsed().as_secs_f64()
    );
    eprintln!(
        "{:<18} {:>6} {:>5} {:>5} {:>6} {:>9} {:>10} {:>9}  failing kill points",
        "scenario", "points", "old", "new", "mixed", "lost", "duplicated", "leftovers"
    );
    for s in &scenarios {
        let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.scenario == s.name).collect();
        let failing: Vec<String> = mine
            .iter()
            .filter(|o| !o.failures.is_empty())
            .map(|o| format!("k={} ({})", o.point, o.held))
            .collect();
        eprintln!(
            "{:<18} {:>6} {:>5} {:>5} {:>6} {:>9} {:>10} {:>9}  {}",
            s.name,
            mine.len(),
            mine.iter().filter(|o| o.state == State::Old).count(),
            mine.iter().filter(|o| o.state == State::New).count(),
            mine.iter()
                .filter(|o| !matches!(o.state, State::Old | State::New))
                .count(),
            mine.iter().map(|o| o.lost).sum::<usize>(),
            mine.iter().map(|o| o.duplicated).sum::<usize>(),
            mine.iter().map(|o| o.leftovers.len()).sum::<usize>(),
            failing.join(", ")
        );
    }
    for o in &outcomes {
        for f in &o.failures {
            failures.push(format!("{} k={} (held {}): {f}", o.scenario, o.point, o.held));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
