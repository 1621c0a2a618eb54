//! glue-session against the Glue simulator through the real SDK: the session reuse rules, a request over Glue's Code
//! limit, a session timing out mid-statement, throttling, what a model costs in calls, and Ctrl-C. Run by
//! `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and the AWS environment (`AWS_ENDPOINT_URL`,
//! credentials, region). A missing endpoint fails: nothing skips.
//!
//! The simulator is shared: session ids, schemas and buckets are unique per test, calls are counted in the request
//! log by session id, and the global faults and timings a test sets are cleared when it ends, also when it fails
//! ([`Restore`]). Run with `--test-threads 1`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use aws_sdk_glue::types::SessionStatus;
use glue_materialize::{Engine, Existing, Model, ModelConfig, PlanFlags, Target, plan};
use glue_session::request::{Op, Request, decode_batches, statements};
use glue_session::{
    Clients, ConnectEngine, ConnectSession, ConnectTarget, CreateSessionSpec, GlueProfile, LivyEngine, LivySession,
    Origin, Stats, existing_of, session_id, session_status,
};
use glue_sql::RelationName;
use glue_testkit::sim::{self, CONFIG_DEFAULTS, Restore, admin, log};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole";
const NOW: &str = "2026-01-01 00:00:00";

/// `prefix-<12 hex>`: unique across the processes sharing the simulator (`-` is valid in session ids and buckets).
fn unique(prefix: &str) -> String {
    sim::unique(prefix, "-")
}

/// The log's last sequence number now: what a later `log(mark)` returns came after this call.
fn mark() -> u64 {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let seen = SEEN.load(Ordering::Relaxed);
    let last = log(seen).iter().filter_map(|e| e["seq"].as_u64()).max().unwrap_or(seen);
    SEEN.store(last, Ordering::Relaxed);
    last
}

/// `operation` calls about session `id` in `entries`.
fn calls(entries: &[Value], operation: &str, id: &str) -> usize {
    entries
        .iter()
        .filter(|e| e["operation"] == operation && e["session_id"] == id)
        .count()
}

/// Sessions created in `entries` whose id starts with `prefix` (a `glue_session_id`), in order.
fn created(entries: &[Value], prefix: &str) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["operation"] == "CreateSession" && e["status"] == 200)
        .filter_map(|e| {
            e["session_id"]
                .as_str()
                .filter(|id| id.starts_with(prefix))
                .map(str::to_string)
        })
        .collect()
}

/// A profile output as in profiles.yml, plus `extra`. Fails first when the simulator's environment is missing.
fn profile(bucket: &str, extra: Value) -> GlueProfile {
    sim::endpoint_for_sdk();
    let mut output = json!({
        "type": "glue", "role_arn": ROLE, "region": "us-east-1", "workers": 2, "worker_type": "G.1X",
        "schema": "unused", "location": format!("s3://{bucket}/warehouse"),
    });
    output
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (profile, warnings) = GlueProfile::from_output(output.as_object().unwrap()).expect("a valid profile");
    assert!(warnings.is_empty(), "{warnings:?}");
    profile
}

async fn status(clients: &Clients, id: &str) -> Option<SessionStatus> {
    session_status(clients, id).await.expect("GetSession").map(|(s, _)| s)
}

/// Opens session `id` by the reuse rules (`fresh`: the id cannot exist yet).
async fn open(clients: &Clients, p: &GlueProfile, id: &str, fresh: bool) -> LivySession {
    let opened = LivySession::open(clients, p, id, fresh, &Arc::new(Stats::default())).await;
    opened.unwrap_or_else(|e| panic!("open {id}: {e}"))
}

async fn wait_status(clients: &Clients, id: &str, wanted: SessionStatus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = status(clients, id).await;
        if now.as_ref() == Some(&wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "session {id} is {now:?}, waited for {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A test's world: a bucket, a unique `glue_session_id` (the prefix of the engine's session ids), a schema, and an
/// engine of one thread on them.
struct World {
    bucket: String,
    prefix: String,
    schema: String,
    engine: LivyEngine,
}

async fn world(name: &str) -> World {
    world_with(name, json!({})).await
}

/// A world whose profile also has `extra`.
async fn world_with(name: &str, extra: Value) -> World {
    let bucket = unique("sim-lake");
    let prefix = unique(&format!("sim-{name}"));
    let mut output = json!({"glue_session_id": prefix});
    output
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let engine = LivyEngine::new(profile(&bucket, output), 1, NOW.into());
    // The clients of a stand-in endpoint address buckets by path.
    let created = engine.clients().await.s3.create_bucket().bucket(&bucket).send().await;
    created.expect("CreateBucket");
    World {
        schema: unique(&format!("sim_{name}")).replace('-', "_"),
        engine,
        bucket,
        prefix,
    }
}

const TABLE: &str = r#"{"materialized": "table"}"#;

/// The flags of a run of its own: each build is another invocation (`__v<invocation id>` version directories).
fn invocation() -> PlanFlags {
    PlanFlags {
        invocation_id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        ..PlanFlags::default()
    }
}

impl World {
    /// Plans model `name` against what the catalog holds and runs the plan, as `glue-rs run` does.
    async fn build(&self, name: &str, sql: &str, config: &str) {
        let config = ModelConfig::from_json(&serde_json::from_str(config).unwrap()).expect("a model config");
        let model = Model::new(name, &self.schema, sql, config);
        let target = Target::new(&self.schema, Some(format!("s3://{}/warehouse", self.bucket)));
        let relation = RelationName::new(&self.schema, name).unwrap();
        let found = self.engine.catalog().await.get(&relation).await.expect("GetTable");
        let existing = found.as_ref().map_or(Existing::Absent, existing_of);
        let p = plan(&model, &existing, &target, &invocation()).expect("a plan");
        let done = self.engine.execute(&p).await;
        done.unwrap_or_else(|e| panic!("model {name}: {e}"));
    }

    /// Plans and runs model `name` as [`World::build`] does, and returns what the run answered.
    async fn try_build(&self, name: &str, sql: &str, config: &str) -> Result<(), String> {
        let config = ModelConfig::from_json(&serde_json::from_str(config).unwrap()).expect("a model config");
        let model = Model::new(name, &self.schema, sql, config);
        let target = Target::new(&self.schema, Some(format!("s3://{}/warehouse", self.bucket)));
        let relation = RelationName::new(&self.schema, name).unwrap();
        let found = self.engine.catalog().await.get(&relation).await.expect("GetTable");
        let existing = found.as_ref().map_or(Existing::Absent, existing_of);
        let p = plan(&model, &existing, &target, &invocation()).expect("a plan");
        self.engine.execute(&p).await.map(|_| ()).map_err(|e| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        })
    }

    /// The engine's sessions created since `mark`.
    fn sessions(&self, mark: u64) -> Vec<String> {
        created(&log(mark), &self.prefix)
    }
}

/// The first column (strings) of a query's rows.
async fn strings(engine: &LivyEngine, sql: &str) -> Vec<String> {
    let batches = engine.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = batches.iter().map(|b| b.column(0).as_string::<i32>());
    columns
        .flat_map(|c| c.iter().map(|v| v.unwrap_or("NULL").to_string()))
        .collect()
}

/// A relation's rows as one sorted line `id:name,…`.
async fn rows(engine: &LivyEngine, relation: &str) -> String {
    let sql = format!(
        "select array_join(sort_array(collect_list(concat_ws(':', cast(id as string), name))), ',') from {relation}"
    );
    strings(engine, &sql).await.concat()
}

#[tokio::test]
async fn sessions_are_reused_waited_for_and_recreated_by_the_reference_rules() {
    let id = unique("sim-reuse");
    let p = profile("unused", json!({"glue_session_reuse": true, "glue_session_id": id}));
    assert_eq!(session_id(&p, None), id);
    let clients = Clients::load(&p).await;
    assert_eq!(open(&clients, &p, &id, false).await.origin(), Origin::Created);
    let before = mark();
    let again = open(&clients, &p, &id, false).await;
    assert_eq!((again.origin(), again.id()), (Origin::Reused, id.as_str()));
    assert_eq!(
        calls(&log(before), "CreateSession", &id),
        0,
        "a READY session is reused, not created"
    );
    let answer = again.run_code("print(6 * 7)").await;
    assert_eq!(answer.expect("a statement on the reused session").trim(), "42");

    clients.glue.stop_session().id(&id).send().await.expect("StopSession");
    wait_status(&clients, &id, SessionStatus::Stopped).await;
    let before = mark();
    let recreated = open(&clients, &p, &id, false).await;
    assert_eq!(recreated.origin(), Origin::Created);
    let after = log(before);
    let order: Vec<&str> = after
        .iter()
        .filter(|e| e["session_id"] == id.as_str() && e["operation"].as_str().is_some_and(|o| o.ends_with("eSession")))
        .filter_map(|e| e["operation"].as_str())
        .collect();
    assert_eq!(
        order,
        ["DeleteSession", "CreateSession"],
        "a STOPPED session is deleted, then created again"
    );
    assert_eq!(status(&clients, &id).await, Some(SessionStatus::Ready));
    recreated.stop().await.expect("StopSession");

    // A session another process is still provisioning is waited for and reused.
    let _restore = Restore::CONFIG;
    admin("POST", "config", r#"{"provisioning_delay_s": 2.0}"#);
    let starting = unique("sim-starting");
    CreateSessionSpec::new(&p, starting.clone())
        .request(&clients.glue)
        .send()
        .await
        .expect("CreateSession");
    let started = Instant::now();
    let before = mark();
    let waited = open(&clients, &p, &starting, false).await;
    let waited_for = started.elapsed();
    admin("POST", "config", CONFIG_DEFAULTS);
    assert_eq!(waited.origin(), Origin::Reused);
    assert!(
        waited_for >= Duration::from_millis(1_000),
        "returned after {waited_for:?}, before the session was READY"
    );
    assert_eq!(calls(&log(before), "CreateSession", &starting), 0);
    assert_eq!(status(&clients, &starting).await, Some(SessionStatus::Ready));
    waited.stop().await.expect("StopSession");
}

#[tokio::test]
async fn a_request_over_the_code_limit_is_sent_in_pieces_and_answered() {
    let p = profile("unused", json!({}));
    let clients = Clients::load(&p).await;
    let id = unique("sim-big");
    let session = open(&clients, &p, &id, true).await;
    // A small request first defines the runner, so what the big one costs is its own statements.
    let small = Request {
        ops: vec![Op::Query {
            sql: "select 1 as x".into(),
        }],
    };
    assert!(session.run_request(&small).await.expect("a small request").ok);

    let list: Vec<String> = (0..15_000).map(|i| (i * 3).to_string()).collect();
    let sql = format!(
        "select count(*) as n, max(id) as top from range(0, 30000) where id in ({})",
        list.join(", ")
    );
    let length = sql.len();
    assert!(length > 70_000, "{length}");
    let big = Request {
        ops: vec![Op::Query { sql }],
    };
    let expected = statements(&big, &format!("r{}", "0".repeat(32))).unwrap().len();
    let before = mark();
    let answer = session.run_request(&big).await.expect("the big request");
    assert!(answer.ok, "{:?}", answer.error);
    let (_, batches) = decode_batches(&answer.results[0]).expect("rows");
    let number = |c: usize| batches[0].column(c).as_primitive::<Int64Type>().value(0);
    assert_eq!((number(0), number(1)), (10_000, 29_997));
    let runs = calls(&log(before), "RunStatement", &id);
    println!("a {length}-character query went in {runs} RunStatement calls");
    assert!(
        runs > 1 && runs == expected,
        "{runs} RunStatement calls, expected {expected}"
    );
    session.stop().await.expect("StopSession");
}

#[tokio::test]
async fn a_session_timing_out_mid_statement_is_replaced_and_the_model_retried() {
    let w = world("timeout").await;
    let start = mark();
    w.build("warm", "select 1 as id", TABLE).await;
    let first = w.sessions(start);
    assert_eq!(first.len(), 1, "{first:?}");

    let _restore = Restore::FAULTS;
    let fault = json!({"session_timeout": {"session_id": first[0], "during_statement": true}});
    admin("POST", "faults", &fault.to_string());
    let before = mark();
    let sql = "select id, concat('n', cast(id as string)) as name from range(0, 3)";
    w.build("numbers", sql, TABLE).await;
    assert_eq!(
        rows(&w.engine, &format!("{}.numbers", w.schema)).await,
        "0:n0,1:n1,2:n2"
    );
    let after = log(before);
    let second = created(&after, &w.prefix);
    assert_eq!(second.len(), 1, "one new session: {second:?}");
    assert_ne!(second[0], first[0]);
    let errors = after
        .iter()
        .filter(|e| e["session_id"] == first[0].as_str() && e["state"] == "ERROR")
        .count();
    assert!(errors >= 1, "the statement on the first session ended in ERROR");
    let report = w.engine.finish().await;
    // The ended session is not stopped again: only its replacement is the run's to stop.
    assert_eq!(report.sessions.len(), 1, "{report:?}");
    assert_eq!(report.sessions[0].0, second[0], "{report:?}");
    let clients = w.engine.clients().await;
    assert_eq!(status(clients, &first[0]).await, Some(SessionStatus::Timeout));
}

#[tokio::test]
async fn plans_complete_with_the_same_rows_under_throttling() {
    let w = world("throttle").await;
    let _restore = Restore::FAULTS;
    admin("POST", "faults", r#"{"throttle": {"*": 0.2}, "seed": 7}"#);
    let before = mark();
    let started = Instant::now();
    let src = "select id, concat('n', cast(id as string)) as name from range(0, 5)";
    w.build("src", src, TABLE).await;
    let view = format!("select id, name from {}.src where id % 2 = 0", w.schema);
    w.build("evens", &view, r#"{"materialized": "view"}"#).await;
    let appended = format!("select id, name from {}.src where id < 3", w.schema);
    let append = r#"{"materialized": "incremental", "incremental_strategy": "append"}"#;
    w.build("appended", &appended, append).await;
    w.build("appended", &appended, append).await;
    let mut got = Vec::new();
    for relation in ["src", "evens", "appended"] {
        got.push(rows(&w.engine, &format!("{}.{relation}", w.schema)).await);
    }
    let elapsed = started.elapsed();
    let after = log(before);
    admin("DELETE", "faults", "");
    let ours: Vec<&Value> = after
        .iter()
        .filter(|e| e["session_id"].as_str().is_some_and(|id| id.starts_with(&w.prefix)))
        .collect();
    let throttled = ours.iter().filter(|e| e["error"] == "ThrottlingException").count();
    println!(
        "under 20% throttling: {} session calls, {throttled} throttled, {elapsed:?}",
        ours.len()
    );
    assert!(throttled > 0, "no call of the session was throttled");
    assert_eq!(
        got,
        [
            "0:n0,1:n1,2:n2,3:n3,4:n4",
            "0:n0,2:n2,4:n4",
            "0:n0,0:n0,1:n1,1:n1,2:n2,2:n2"
        ],
        "the rows the plans build without faults"
    );
    w.engine.finish().await;
}

#[tokio::test]
async fn a_table_model_on_a_warm_session_costs_one_statement() {
    let w = world("calls").await;
    let start = mark();
    w.engine.prepare();
    w.build("warm", "select 1 as id", TABLE).await;
    let id = w.sessions(start).pop().expect("the engine's session");

    let before = mark();
    let started = Instant::now();
    w.build("counted", "select id from range(0, 10)", TABLE).await;
    let elapsed = started.elapsed();
    let after = log(before);
    let (runs, gets, sessions) = (
        calls(&after, "RunStatement", &id),
        calls(&after, "GetStatement", &id),
        calls(&after, "GetSession", &id),
    );
    println!(
        "a table model on a warm session: {runs} RunStatement, {gets} GetStatement, {sessions} GetSession, {elapsed:?}"
    );
    assert_eq!((runs, sessions), (1, 0), "RunStatement, GetSession");
    assert!(gets <= 10, "{gets} GetStatement calls");
    let report = w.engine.finish().await;
    println!("{report:?}");
    assert!(report.median_notice_delay_ms.is_some(), "{report:?}");
    assert_eq!(report.sessions, [(id, Origin::Created)]);
}

#[tokio::test]
async fn interrupt_cancels_the_running_statement_and_finish_stops_the_session() {
    let w = world("interrupt").await;
    let engine = &w.engine;
    let start = mark();
    assert_eq!(strings(engine, "select 'warm'").await, ["warm"]);
    let id = w.sessions(start).pop().expect("the engine's session");

    let running = engine.clone();
    let slow = "select cast(java_method('java.lang.Thread', 'sleep', 20000L) as string)";
    let task = tokio::spawn(async move { running.query(slow).await });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(!task.is_finished(), "the slow statement ended before the interrupt");
    let before = mark();
    let interrupted = Instant::now();
    engine.interrupt().await;
    let result = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the query did not return within 5 s of the interrupt")
        .expect("the query task");
    println!("the query returned {:?} after the interrupt", interrupted.elapsed());
    let e = result.expect_err("an interrupted query fails");
    assert!(e.to_string().contains("cancel"), "{e}");
    assert_eq!(calls(&log(before), "CancelStatement", &id), 1);
    assert!(
        engine.query("select 1").await.is_err(),
        "an interrupted engine refuses new statements"
    );

    let report = engine.finish().await;
    assert_eq!(report.sessions, [(id.clone(), Origin::Created)]);
    let now = status(engine.clients().await, &id).await;
    assert!(
        matches!(now, Some(SessionStatus::Stopping | SessionStatus::Stopped)),
        "the session is {now:?} after finish()"
    );
}

// ---- Spark Connect sessions (Glue 5.1 SPARK_CONNECT: GetSessionEndpoint, the simulator's token proxy, real Spark 4)

/// A Glue Spark Connect target on a fresh bucket.
async fn connect_world(name: &str) -> (ConnectEngine, String, String, String) {
    let bucket = unique("sc-lake");
    let prefix = unique(&format!("sc-{name}"));
    let p = profile(
        &bucket,
        json!({"glue_session_id": prefix, "session_type": "spark_connect", "glue_version": "5.1"}),
    );
    let engine = ConnectEngine::new(ConnectTarget::Glue(p), NOW.into());
    let clients = engine.clients().await.expect("a Glue target has clients").clone();
    clients
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    let schema = unique(&format!("sc_{name}")).replace('-', "_");
    (engine, bucket, prefix, schema)
}

/// Plans model `name` against the catalog and runs it on the Spark Connect engine.
async fn connect_build(engine: &ConnectEngine, bucket: &str, schema: &str, name: &str, sql: &str, config: &str) {
    let config = ModelConfig::from_json(&serde_json::from_str(config).unwrap()).expect("a model config");
    let model = Model::new(name, schema, sql, config);
    let target = Target::new(schema, Some(format!("s3://{bucket}/warehouse")));
    let existing = engine
        .list_relations(schema)
        .await
        .expect("listing")
        .into_iter()
        .find(|r| r.name.identifier.as_str() == name)
        .map_or(Existing::Absent, |r| r.existing);
    let p = plan(&model, &existing, &target, &PlanFlags::default()).expect("a plan");
    let done = engine.execute(&p).await;
    done.unwrap_or_else(|e| panic!("model {name}: {e}"));
}

async fn count(engine: &ConnectEngine, sql: &str) -> i64 {
    let batches = engine.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn over_spark_connect_a_custom_location_inside_another_tables_location_is_refused() {
    // The location check of the Livy engine, on a Glue 5.1 Spark Connect session: refused before any statement,
    // the other table's files untouched.
    let (engine, bucket, _prefix, schema) = connect_world("overlap").await;
    let src = "select id, concat('n', cast(id as string)) as name from range(0, 3)";
    connect_build(&engine, &bucket, &schema, "base", src, TABLE).await;
    let base = format!("s3://{bucket}/warehouse/{schema}/base");
    let config = json!({"materialized": "table", "custom_location": format!("{base}/sub")}).to_string();
    let model = Model::new(
        "intruder",
        &schema,
        "select 9 as id, 'x' as name",
        ModelConfig::from_json(&serde_json::from_str(&config).unwrap()).unwrap(),
    );
    let target = Target::new(&schema, Some(format!("s3://{bucket}/warehouse")));
    let p = plan(&model, &Existing::Absent, &target, &PlanFlags::default()).expect("a plan");
    let err = engine.execute(&p).await.expect_err("refused");
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    assert!(text.contains("the location of the table"), "{text}");
    assert!(text.contains("nothing was run"), "{text}");
    assert_eq!(count(&engine, &format!("select count(*) from {schema}.base")).await, 3);
    let listed = engine
        .clients()
        .await
        .unwrap()
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("ListObjects");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(!keys.iter().any(|k| k.contains("/base/sub")), "{keys:?}");
    engine.finish().await;
}

#[tokio::test]
async fn a_spark_connect_token_is_refreshed_under_the_same_spark_session() {
    // Tokens of 2 s: the temporary view made with the first token is read with the second.
    let _restore = Restore::CONFIG;
    admin("POST", "config", r#"{"token_ttl_s": 2.0}"#);
    let bucket = unique("unused");
    let p = profile(&bucket, json!({"session_type": "spark_connect", "glue_version": "5.1"}));
    let clients = Clients::load(&p).await;
    let id = unique("sc-refresh");
    let glue = open(&clients, &p, &id, true).await;
    let spark = ConnectSession::open_glue(&clients, glue.id())
        .await
        .expect("a Spark Connect session");
    let schema: arrow_schema::SchemaRef = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
        "id",
        arrow_schema::DataType::Int64,
        false,
    )]));
    let batch = arrow_array::RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3]))],
    )
    .unwrap();
    spark
        .create_view("kept", &schema, &[batch])
        .await
        .expect("a temp view from Arrow");
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let rows = spark
        .sql("select sum(id) from kept")
        .await
        .expect("the view, after the token expired");
    assert_eq!(rows[0].column(0).as_primitive::<Int64Type>().value(0), 6);
    assert_eq!(
        spark.stats().endpoint_calls.load(Ordering::Relaxed),
        2,
        "one GetSessionEndpoint to open, one to refresh"
    );
    glue.stop().await.expect("StopSession");
}

#[tokio::test]
async fn a_model_outlives_its_spark_connect_token_and_models_cost_no_glue_calls() {
    // Tokens of 2 s: the slow model's INSERT reads its temporary view for 2.5 s, the token expires meanwhile, and the
    // steps after it run on a refreshed token in the same Spark session.
    let _restore = Restore::CONFIG;
    admin("POST", "config", r#"{"token_ttl_s": 2.0}"#);
    let (engine, bucket, prefix, schema) = connect_world("model").await;
    let start = mark();
    engine.prepare();
    let table = r#"{"materialized": "table"}"#;
    connect_build(&engine, &bucket, &schema, "warm", "select 1 as id", table).await;
    let id = created(&log(start), &prefix).pop().expect("the engine's Glue session");

    // Warm: models cost no Glue call beyond the catalog listing (GetTables) and token refreshes (GetSessionEndpoint).
    let before = mark();
    connect_build(
        &engine,
        &bucket,
        &schema,
        "counted",
        "select id from range(0, 10)",
        table,
    )
    .await;
    let append = r#"{"materialized": "incremental", "incremental_strategy": "append"}"#;
    let slow =
        "select id from range(0, 3) where reflect('java.lang.Thread', 'sleep', cast(2500 as bigint)) is not null";
    for _ in 0..3 {
        connect_build(&engine, &bucket, &schema, "slow", slow, append).await;
    }
    let glue_calls: Vec<String> = log(before)
        .iter()
        .filter(|e| e["service"] == "glue")
        .filter_map(|e| e["operation"].as_str().map(str::to_string))
        .filter(|op| op != "GetTables" && op != "GetSessionEndpoint")
        .collect();
    println!("Glue calls of five warm models on a Spark Connect session: {glue_calls:?}");
    assert!(glue_calls.is_empty(), "{glue_calls:?}");
    assert_eq!(count(&engine, &format!("select count(*) from {schema}.slow")).await, 9);

    let report = engine.finish().await;
    println!("{report:?}");
    assert!(
        report.session_endpoint_calls >= 3,
        "tokens refreshed while models ran: {report:?}"
    );
    assert_eq!(report.sessions, [(id.clone(), Origin::Created)]);
    let now = status(engine.clients().await.unwrap(), &id).await;
    assert!(
        matches!(now, Some(SessionStatus::Stopping | SessionStatus::Stopped)),
        "{now:?}"
    );
}

#[tokio::test]
async fn interrupt_stops_a_running_spark_connect_query_and_finish_stops_the_session() {
    let (engine, _bucket, prefix, _schema) = connect_world("interrupt").await;
    let start = mark();
    assert_eq!(count(&engine, "select count(*) from range(0, 4)").await, 4);
    let id = created(&log(start), &prefix).pop().expect("the engine's Glue session");
    // An empty result keeps its columns and their types (model contracts read them so).
    let schema = engine
        .query_schema("select cast(1 as bigint) as id, 'a' as name, current_date() as day")
        .await
        .expect("the columns of a query");
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type().clone()))
        .collect();
    assert_eq!(
        fields,
        [
            ("id", arrow_schema::DataType::Int64),
            ("name", arrow_schema::DataType::Utf8),
            ("day", arrow_schema::DataType::Date32)
        ]
    );
    let running = engine.clone();
    let slow = "select count(*) from range(0, 1) where reflect('java.lang.Thread', 'sleep', cast(20000 as bigint)) is not null";
    let task = tokio::spawn(async move { running.query(slow).await });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(!task.is_finished(), "the slow query ended before the interrupt");
    let interrupted = Instant::now();
    engine.interrupt().await;
    let result = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the query did not return within 10 s of the interrupt")
        .expect("the query task");
    println!("the query returned {:?} after the interrupt", interrupted.elapsed());
    let e = result.expect_err("an interrupted query fails");
    assert!(e.to_string().contains("cancel"), "{e}");
    assert!(
        engine.query("select 1").await.is_err(),
        "an interrupted engine refuses new queries"
    );
    engine.finish().await;
    let now = status(engine.clients().await.unwrap(), &id).await;
    assert!(
        matches!(now, Some(SessionStatus::Stopping | SessionStatus::Stopped)),
        "{now:?}"
    );
}

/// Hudi has no jars in the test world, so the write itself cannot succeed here: what is checked is everything up to
/// it on a real Spark session — the placeholders substituted from Python expressions (a wrong substitution is a SQL
/// error), no write and no failure without rows, and with rows a write attempted in the Hudi format.
#[tokio::test]
async fn a_hudi_write_substitutes_variables_and_writes_only_rows_in_the_hudi_format() {
    let p = profile("unused", json!({}));
    let clients = Clients::load(&p).await;
    let id = unique("sim-hudi");
    let session = open(&clients, &p, &id, true).await;
    let write = |query: &str| Request {
        ops: vec![Op::HudiWrite {
            query: query.into(),
            path: "s3://nowhere/hudi_t".into(),
            options: [("hoodie.table.name".to_string(), "hudi_t".to_string())]
                .into_iter()
                .collect(),
            mode: "overwrite".into(),
            substitute_variables: vec!["1 + 1".into(), "'b' * 2".into()],
            table: "`default`.`hudi_t`".into(),
        }],
    };
    let none = session
        .run_request(&write(
            "select 1 as id, 'k' as dbt_unique_key where 2 = <SUBSTITUTE_VARIABLE_0> and 'bb' <> '<SUBSTITUTE_VARIABLE_1>'",
        ))
        .await
        .expect("the request");
    assert!(none.ok, "no rows: nothing written, nothing refreshed: {:?}", none.error);
    let some = session
        .run_request(&write(
            "select 1 as id, 'k' as dbt_unique_key where 2 = <SUBSTITUTE_VARIABLE_0> and 'bb' = '<SUBSTITUTE_VARIABLE_1>'",
        ))
        .await
        .expect("the request");
    let error = some.error.expect("no Hudi in the test world");
    assert!(
        error.message.contains("org.apache.hudi"),
        "the rows went to the Hudi data source: {}",
        error.message
    );
    session.stop().await.expect("StopSession");
}

#[tokio::test]
async fn the_athena_manifest_table_gets_the_delta_location_once() {
    let p = profile("unused", json!({}));
    let clients = Clients::load(&p).await;
    let db = unique("sim_manifest").replace('-', "_");
    let bucket = unique("manifest");
    clients
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    let delta = format!("s3://{bucket}/orders");
    clients
        .glue
        .create_database()
        .database_input(aws_sdk_glue::types::DatabaseInput::builder().name(&db).build().unwrap())
        .send()
        .await
        .expect("CreateDatabase");
    clients
        .glue
        .create_table()
        .database_name(&db)
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name("athena_orders")
                .table_type("EXTERNAL_TABLE")
                .storage_descriptor(
                    aws_sdk_glue::types::StorageDescriptor::builder()
                        .columns(
                            aws_sdk_glue::types::Column::builder()
                                .name("id")
                                .r#type("int")
                                .build()
                                .unwrap(),
                        )
                        .location(format!("{delta}/_symlink_format_manifest/"))
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateTable");
    let catalog = glue_session::Catalog::new(clients.clone(), None);
    let table = RelationName::new(db.clone(), "athena_orders").unwrap();
    assert!(catalog.add_additional_location(&table, &delta).await.unwrap());
    assert!(
        !catalog.add_additional_location(&table, &delta).await.unwrap(),
        "already there"
    );
    let t = catalog.get(&table).await.unwrap().unwrap();
    let sd = t.storage_descriptor().unwrap();
    assert_eq!(sd.additional_locations(), std::slice::from_ref(&delta));
    assert_eq!(
        sd.location().map(|l| l.trim_end_matches('/')),
        Some(format!("{delta}/_symlink_format_manifest").as_str()),
        "the entry is otherwise unchanged"
    );
}

#[tokio::test]
async fn api_calls_run_as_the_session_role_when_the_profile_asks() {
    let own_key = std::env::var("AWS_ACCESS_KEY_ID").expect("the world's credentials");
    for as_role in [true, false] {
        let p = profile("unused", json!({"use_interactive_session_role_for_api_calls": as_role}));
        let before = mark();
        let clients = Clients::load(&p).await;
        let listed = glue_session::Catalog::new(clients, None)
            .list(&unique("no_such_schema").replace('-', "_"))
            .await
            .expect("GetTables");
        assert!(listed.is_empty());
        let entries = log(before);
        let assumed = entries
            .iter()
            .find(|e| e["service"] == "sts" && e["operation"] == "AssumeRole");
        let get = entries
            .iter()
            .find(|e| e["operation"] == "GetTables")
            .expect("GetTables in the log");
        if as_role {
            let assumed = assumed.expect("STS AssumeRole of role_arn");
            assert_eq!(
                assumed["access_key"],
                json!(own_key),
                "assumed with the caller's credentials"
            );
            assert!(
                get["access_key"].as_str().is_some_and(|k| k != own_key),
                "GetTables signed with the role's temporary credentials: {get}"
            );
        } else {
            assert!(assumed.is_none(), "no AssumeRole without the option");
            assert_eq!(get["access_key"], json!(own_key));
        }
    }
}

/// An insert_overwrite model whose pre-hook leaves the session in static partition overwrite (as a user's `SET`, a
/// pooled session's history, or a session glue-rs did not create would): its first build writes partitions 0 and
/// 1, its second only rows of partition 1.
const OVERWRITE_STATIC: &str = r#"{"materialized": "incremental", "incremental_strategy": "insert_overwrite",
    "partition_by": ["p"], "pre-hook": "SET spark.sql.sources.partitionOverwriteMode=static"}"#;
const OVERWRITE_FIRST: &str = "select id, concat('n', cast(id as string)) as name, id % 2 as p from range(0, 4)";
const OVERWRITE_SECOND: &str = "select 11 as id, 'new' as name, 1 as p";

#[tokio::test]
async fn insert_overwrite_replaces_only_the_new_partitions_on_a_reused_session_set_to_static() {
    let w = world_with("overwrite", json!({"glue_session_reuse": true})).await;
    w.build("parts", OVERWRITE_FIRST, OVERWRITE_STATIC).await;
    w.build("parts", OVERWRITE_SECOND, OVERWRITE_STATIC).await;
    assert_eq!(
        rows(&w.engine, &format!("{}.parts", w.schema)).await,
        "0:n0,11:new,2:n2",
        "partition 0 is kept, partition 1 replaced"
    );
    // The session's own setting (the hook's) is back once the statement is done.
    let mode = strings(&w.engine, "select '${spark.sql.sources.partitionOverwriteMode}'").await;
    assert_eq!(mode, ["static"]);
    w.engine.finish().await;
}

#[tokio::test]
async fn insert_overwrite_over_spark_connect_replaces_only_the_new_partitions_when_the_session_is_static() {
    let (engine, bucket, _prefix, schema) = connect_world("overwrite").await;
    connect_build(&engine, &bucket, &schema, "parts", OVERWRITE_FIRST, OVERWRITE_STATIC).await;
    connect_build(&engine, &bucket, &schema, "parts", OVERWRITE_SECOND, OVERWRITE_STATIC).await;
    let kept = count(&engine, &format!("select count(*) from {schema}.parts where p = 0")).await;
    let replaced = count(&engine, &format!("select count(*) from {schema}.parts where p = 1")).await;
    assert_eq!(
        (kept, replaced),
        (2, 1),
        "partition 0 kept (2 rows), partition 1 replaced (1 row)"
    );
    engine.finish().await;
}

#[tokio::test]
async fn a_session_lost_after_an_append_committed_applies_the_append_once() {
    let w = world("lost-append").await;
    let append = r#"{"materialized": "incremental", "incremental_strategy": "append"}"#;
    let src = "select id, concat('n', cast(id as string)) as name from range(0, 3)";
    let start = mark();
    w.build("appended", src, append).await;
    let id = w.sessions(start).pop().expect("the engine's session");
    // The second build sends two statements: the incremental rows' view with the target's columns, then the
    // INSERT. The session ends under the second one after its INSERT has committed.
    let so_far = calls(&log(start), "RunStatement", &id);
    let _restore = Restore::FAULTS;
    let fault = json!({"session_timeout": {"session_id": id, "during_statement": true, "after_work": true,
        "after_statements": so_far + 1}});
    admin("POST", "faults", &fault.to_string());
    let answer = w.try_build("appended", src, append).await;
    admin("DELETE", "faults", "");
    let got = rows(&w.engine, &format!("{}.appended", w.schema)).await;
    assert_eq!(
        got, "0:n0,0:n0,1:n1,1:n1,2:n2,2:n2",
        "the append applied once, not twice ({answer:?})"
    );
    let e = answer.expect_err("the model fails: its append may have been applied");
    assert!(e.contains("may be partially applied"), "{e}");
    assert!(e.contains("InsertInto"), "{e}");
    w.engine.finish().await;
}

#[tokio::test]
async fn a_query_that_writes_is_not_sent_again_when_its_session_is_lost() {
    // `run_query("insert into …")` in a macro goes through `Engine::query`: a session that ends after the INSERT
    // committed must not get it a second time on a new session (a read would be retried).
    let w = world("lost-query").await;
    let src = "select id, concat('n', cast(id as string)) as name from range(0, 2)";
    let start = mark();
    w.build("written", src, TABLE).await;
    let id = w.sessions(start).pop().expect("the engine's session");
    let so_far = calls(&log(start), "RunStatement", &id);
    let _restore = Restore::FAULTS;
    let fault = json!({"session_timeout": {"session_id": id, "during_statement": true, "after_work": true,
        "after_statements": so_far}});
    admin("POST", "faults", &fault.to_string());
    let insert = format!("insert into {}.written select 7 as id, 'n7' as name", w.schema);
    let answer = glue_materialize::Engine::query(&w.engine, &insert).await;
    admin("DELETE", "faults", "");
    let got = rows(&w.engine, &format!("{}.written", w.schema)).await;
    assert_eq!(got, "0:n0,1:n1,7:n7", "the INSERT applied once ({answer:?})");
    let e = answer
        .expect_err("the query fails: it may have been applied")
        .to_string();
    assert!(e.contains("not sent again"), "{e}");
    w.engine.finish().await;
}

#[tokio::test]
async fn a_custom_location_inside_another_tables_location_is_refused_before_any_statement() {
    let w = world("overlap").await;
    let start = mark();
    let src = "select id, concat('n', cast(id as string)) as name from range(0, 3)";
    w.build("base", src, TABLE).await;
    let id = w.sessions(start).pop().expect("the engine's session");
    let base = format!("s3://{}/warehouse/{}/base", w.bucket, w.schema);
    let before = mark();
    for (name, location) in [("intruder", format!("{base}/sub")), ("twin", base.clone())] {
        let config = json!({"materialized": "table", "custom_location": location}).to_string();
        let e = w
            .try_build(name, "select 9 as id, 'x' as name", &config)
            .await
            .expect_err("refused");
        assert!(e.contains("the location of the table"), "{e}");
        assert!(e.contains("nothing was run"), "{e}");
    }
    assert_eq!(calls(&log(before), "RunStatement", &id), 0, "no statement ran");
    assert_eq!(rows(&w.engine, &format!("{}.base", w.schema)).await, "0:n0,1:n1,2:n2");
    let listed = w
        .engine
        .clients()
        .await
        .s3
        .list_objects_v2()
        .bucket(&w.bucket)
        .send()
        .await
        .expect("ListObjects");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(!keys.iter().any(|k| k.contains("/base/sub")), "{keys:?}");
    w.engine.finish().await;
}

#[tokio::test]
async fn a_run_dropped_mid_swap_still_completes_the_catalog_switch() {
    // Ctrl-C and SIGTERM drop the run's work where it is. A catalog switch under way runs to its end: the table
    // reads the new version and no staging entry is left, never a half-done switch.
    let w = world("midswap").await;
    let old = "select id, concat('n', cast(id as string)) as name from range(0, 3)";
    w.build("swapped", old, TABLE).await;
    let new = "select id, concat('m', cast(id as string)) as name from range(0, 2)";
    let config = ModelConfig::from_json(&serde_json::from_str(TABLE).unwrap()).unwrap();
    let model = Model::new("swapped", &w.schema, new, config);
    let target = Target::new(&w.schema, Some(format!("s3://{}/warehouse", w.bucket)));
    let relation = RelationName::new(&w.schema, "swapped").unwrap();
    let found = w.engine.catalog().await.get(&relation).await.expect("GetTable");
    let existing = found.as_ref().map_or(Existing::Absent, existing_of);
    let p = plan(&model, &existing, &target, &invocation()).expect("a plan");
    let _restore = Restore::FAULTS;
    admin("POST", "faults", r#"{"latency_ms": {"glue:UpdateTable": 1500}}"#);
    let before = mark();
    let engine = w.engine.clone();
    let run = tokio::spawn(async move { engine.execute(&p).await });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log(before).iter().any(|e| e["operation"] == "UpdateTable") {
        assert!(Instant::now() < deadline, "the switch never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.abort();
    tokio::time::sleep(Duration::from_secs(4)).await;
    admin("DELETE", "faults", "");
    let staging = RelationName::new(&w.schema, "swapped__dbt_swap").unwrap();
    let left = w.engine.catalog().await.get(&staging).await.expect("GetTable");
    assert!(left.is_none(), "the staging entry is left: the switch stopped half-way");
    assert_eq!(rows(&w.engine, &format!("{}.swapped", w.schema)).await, "0:m0,1:m1");
    w.engine.finish().await;
}

/// The keys of the objects under `prefix` of a bucket.
async fn objects(engine: &LivyEngine, bucket: &str, prefix: &str) -> Vec<String> {
    let s3 = &engine.clients().await.s3;
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        keys.extend(
            page.expect("ListObjectsV2")
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    keys
}

#[tokio::test]
async fn a_replaced_table_keeps_its_previous_version_readable_until_the_next_replace() {
    // Sessions and other readers (Athena, jobs) that listed the old files while the table was switched go on
    // reading them: the previous version is deleted at the next replace, not right after the switch.
    let w = world("previous").await;
    let location = |v: &str| format!("warehouse/{}/kept{v}", w.schema);
    let table = format!("{}.kept", w.schema);
    let locate = |w: &World| {
        let relation = RelationName::new(&w.schema, "kept").unwrap();
        let engine = w.engine.clone();
        async move {
            let t = engine
                .catalog()
                .await
                .get(&relation)
                .await
                .expect("GetTable")
                .expect("the table");
            let l = t
                .storage_descriptor()
                .and_then(|sd| sd.location())
                .expect("a location")
                .to_string();
            l.split_once("/warehouse/")
                .map(|(_, rest)| format!("warehouse/{rest}"))
                .unwrap()
        }
    };
    w.build("kept", "select 1 as id, 'a' as name", TABLE).await;
    let first = locate(&w).await;
    assert_eq!(first, location(""));
    w.build("kept", "select 2 as id, 'b' as name", TABLE).await;
    let second = locate(&w).await;
    assert_ne!(second, first);
    assert!(
        !objects(&w.engine, &w.bucket, &format!("{first}/")).await.is_empty(),
        "the first version is kept"
    );
    w.build("kept", "select 3 as id, 'c' as name", TABLE).await;
    let third = locate(&w).await;
    assert_eq!(rows(&w.engine, &table).await, "3:c");
    assert!(
        objects(&w.engine, &w.bucket, &format!("{first}/")).await.is_empty(),
        "the first version is deleted"
    );
    assert!(
        !objects(&w.engine, &w.bucket, &format!("{second}/")).await.is_empty(),
        "the second version is kept"
    );
    assert!(!objects(&w.engine, &w.bucket, &format!("{third}/")).await.is_empty());
    w.engine.finish().await;
}

#[tokio::test]
async fn a_hive_partitioned_rebuild_never_leaves_the_table_without_partitions() {
    // Creating partition entries fails for good (throttled on every try): the values the new data shares with the
    // old are switched in place, and the table never has no partition to read.
    let w = world("partitions").await;
    let config = r#"{"materialized": "table", "partition_by": ["p"]}"#;
    let first = "select id, concat('n', cast(id as string)) as name, id % 2 as p from range(0, 4)";
    w.build("parted", first, config).await;
    let _restore = Restore::FAULTS;
    admin("POST", "faults", r#"{"throttle": {"glue:BatchCreatePartition": 1.0}}"#);
    let second = "select id, concat('m', cast(id as string)) as name, id % 2 as p from range(0, 4)";
    let answer = w.try_build("parted", second, config).await;
    admin("DELETE", "faults", "");
    let relation = RelationName::new(&w.schema, "parted").unwrap();
    let clients = w.engine.clients().await;
    let parts = clients
        .glue
        .get_partitions()
        .database_name(relation.schema_str())
        .table_name("parted")
        .send()
        .await
        .expect("GetPartitions");
    let mut pages = parts.partitions().len();
    let mut token = parts.next_token().map(str::to_string);
    while let Some(t) = token {
        let next = clients
            .glue
            .get_partitions()
            .database_name(relation.schema_str())
            .table_name("parted")
            .next_token(t)
            .send()
            .await
            .expect("GetPartitions");
        pages += next.partitions().len();
        token = next.next_token().map(str::to_string);
    }
    assert_eq!(pages, 2, "both partition values are entries of the table ({answer:?})");
    answer.expect("the partitions the new data shares with the old are switched in place");
    assert_eq!(
        rows(&w.engine, &format!("{}.parted", w.schema)).await,
        "0:m0,1:m1,2:m2,3:m3"
    );
    w.engine.finish().await;
}

/// Plans model `name` of world `w` as a run of its own would (its own invocation id), against the catalog now.
async fn plan_now(w: &World, name: &str, sql: &str, config: &str) -> glue_materialize::Plan {
    let config = ModelConfig::from_json(&serde_json::from_str(config).unwrap()).expect("a model config");
    let model = Model::new(name, &w.schema, sql, config);
    let target = Target::new(&w.schema, Some(format!("s3://{}/warehouse", w.bucket)));
    let relation = RelationName::new(&w.schema, name).unwrap();
    let found = w.engine.catalog().await.get(&relation).await.expect("GetTable");
    let existing = found.as_ref().map_or(Existing::Absent, existing_of);
    plan(&model, &existing, &target, &invocation()).expect("a plan")
}

#[tokio::test]
async fn two_runs_rebuilding_one_table_at_once_publish_one_result_whole() {
    // Two runs read the table at the same version and rebuild it at once: one publishes its result whole, the
    // other fails clearly and publishes nothing; no staging entry and no data directory but the current and the
    // previous version is left. `GLUE_RS_RACE_ROUNDS` rounds (3 in CI; `cargo xtask it --long` runs 20).
    let rounds: usize = std::env::var("GLUE_RS_RACE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let w = world("race").await;
    let other = LivyEngine::new(
        profile(&w.bucket, json!({"glue_session_id": unique("sim-race-b")})),
        1,
        NOW.into(),
    );
    w.build("raced", "select 0 as id, 'start' as name", TABLE).await;
    let table = format!("{}.raced", w.schema);
    let relation = RelationName::new(&w.schema, "raced").unwrap();
    let (mut a_won, mut b_won) = (0, 0);
    for round in 0..rounds {
        let a_sql = format!("select id, 'a{round}' as name from range(0, 3)");
        let b_sql = format!("select id, 'b{round}' as name from range(0, 5)");
        let pa = plan_now(&w, "raced", &a_sql, TABLE).await;
        let pb = plan_now(&w, "raced", &b_sql, TABLE).await;
        let (ra, rb) = tokio::join!(w.engine.execute(&pa), other.execute(&pb));
        let got = rows(&w.engine, &table).await;
        let a_rows = format!("0:a{round},1:a{round},2:a{round}");
        let b_rows = format!("0:b{round},1:b{round},2:b{round},3:b{round},4:b{round}");
        let lost = match (&ra, &rb) {
            (Ok(_), Err(e)) => {
                a_won += 1;
                assert_eq!(got, a_rows, "round {round}: a published");
                e.to_string()
            }
            (Err(e), Ok(_)) => {
                b_won += 1;
                assert_eq!(got, b_rows, "round {round}: b published");
                e.to_string()
            }
            (a, b) => panic!("round {round}: one run must win and one fail clearly, got {a:?} and {b:?} ({got})"),
        };
        let mut text = lost.clone();
        let mut source = match (&ra, &rb) {
            (Err(e), _) | (_, Err(e)) => std::error::Error::source(e),
            _ => None,
        };
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(text.contains("another run"), "round {round}: {text}");
        let staging = RelationName::new(&w.schema, "raced__dbt_swap").unwrap();
        assert!(
            w.engine
                .catalog()
                .await
                .get(&staging)
                .await
                .expect("GetTable")
                .is_none(),
            "round {round}: staging left"
        );
        let entry = w
            .engine
            .catalog()
            .await
            .get(&relation)
            .await
            .expect("GetTable")
            .expect("the table");
        let current = entry
            .storage_descriptor()
            .and_then(|sd| sd.location())
            .unwrap()
            .to_string();
        let previous = entry
            .parameters()
            .and_then(|p| p.get("glue_rs.previous_location"))
            .cloned();
        let key = |l: &str| {
            l.split_once("/warehouse/")
                .map(|(_, r)| format!("warehouse/{r}"))
                .unwrap()
        };
        let listed = objects(&w.engine, &w.bucket, &format!("warehouse/{}/raced", w.schema)).await;
        let mut dirs: Vec<String> = listed
            .iter()
            .filter_map(|k| k.rsplit_once('/').map(|(d, _)| d.to_string()))
            .filter(|d| d.split('/').count() == 3)
            .collect();
        dirs.sort();
        dirs.dedup();
        let mut expected: Vec<String> = [Some(current.clone()), previous.clone()]
            .into_iter()
            .flatten()
            .map(|l| key(&l))
            .collect();
        expected.sort();
        assert_eq!(
            dirs, expected,
            "round {round}: only the current and the previous version are stored"
        );
    }
    println!("{rounds} rounds: a won {a_won}, b won {b_won}");
    w.engine.finish().await;
    other.finish().await;
}

#[tokio::test]
async fn two_runs_overwriting_partitions_of_one_table_at_once_lose_nothing() {
    // Two runs overwrite partitions of one Hive-partitioned table at once, on sessions of their own (Spark's commit
    // protocol, a staging directory per job): distinct partitions both land; one partition twice ends as one run's
    // rows whole; the partitions neither touched are kept. `GLUE_RS_RACE_ROUNDS` rounds (3 in CI).
    let rounds: usize = std::env::var("GLUE_RS_RACE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    const OVERWRITE: &str = r#"{"materialized": "incremental", "incremental_strategy": "insert_overwrite",
        "partition_by": ["p"]}"#;
    let w = world("race-overwrite").await;
    let other = LivyEngine::new(
        profile(&w.bucket, json!({"glue_session_id": unique("sim-race-ow")})),
        1,
        NOW.into(),
    );
    let rows_of = |tag: &str, p: i64, n: i64| {
        format!(
            "select id, '{tag}' as name, {p} as p from range({}, {})",
            p * 10,
            p * 10 + n
        )
    };
    w.build(
        "ow",
        &format!(
            "{} union all {} union all {}",
            rows_of("s", 0, 2),
            rows_of("s", 1, 2),
            rows_of("s", 2, 2)
        ),
        OVERWRITE,
    )
    .await;
    let table = format!("{}.ow", w.schema);
    let by_partition = |got: &str| -> std::collections::BTreeMap<String, String> {
        // `id:name` cells: partition = id / 10.
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for cell in got.split(',').filter(|c| !c.is_empty()) {
            let (id, name) = cell.split_once(':').unwrap();
            m.entry((id.parse::<i64>().unwrap() / 10).to_string())
                .or_default()
                .push(format!("{id}:{name}"));
        }
        m.into_iter().map(|(k, v)| (k, v.join(","))).collect()
    };
    for round in 0..rounds {
        // Distinct partitions: 0 by a, 1 by b, both land; 2 is kept.
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let kept = by_partition(&rows(&w.engine, &table).await)["2"].clone();
        let pa = plan_now(&w, "ow", &rows_of(&a, 0, 3), OVERWRITE).await;
        let pb = plan_now(&w, "ow", &rows_of(&b, 1, 1), OVERWRITE).await;
        let (ra, rb) = tokio::join!(w.engine.execute(&pa), other.execute(&pb));
        ra.expect("run a");
        rb.expect("run b");
        let parts = by_partition(&rows(&w.engine, &table).await);
        let expect_a: Vec<String> = (0..3).map(|i| format!("{i}:{a}")).collect();
        assert_eq!(parts["0"], expect_a.join(","), "round {round}: partition 0 is a's");
        assert_eq!(parts["1"], format!("10:{b}"), "round {round}: partition 1 is b's");
        assert_eq!(parts["2"], kept, "round {round}: partition 2 kept");
        // One partition by both: one run's rows whole (3 rows of a, or 1 row of b), never a mix or none.
        let pa = plan_now(&w, "ow", &rows_of(&a, 2, 3), OVERWRITE).await;
        let pb = plan_now(&w, "ow", &rows_of(&b, 2, 1), OVERWRITE).await;
        let (ra, rb) = tokio::join!(w.engine.execute(&pa), other.execute(&pb));
        assert!(ra.is_ok() || rb.is_ok(), "round {round}: both failed: {ra:?} {rb:?}");
        let parts = by_partition(&rows(&w.engine, &table).await);
        let whole_a = (20..23).map(|i| format!("{i}:{a}")).collect::<Vec<_>>().join(",");
        let whole_b = format!("20:{b}");
        assert!(
            parts["2"] == whole_a || parts["2"] == whole_b,
            "round {round}: partition 2 holds one run's rows whole: {}",
            parts["2"]
        );
        assert_eq!(parts["1"], format!("10:{b}"), "round {round}: partition 1 untouched");
    }
    w.engine.finish().await;
    other.finish().await;
}

#[tokio::test]
async fn a_model_reads_the_new_version_of_a_table_another_session_replaced() {
    // As on Glue, a session keeps the definition and file listing of a table it read until it refreshes it; the
    // simulator stops invalidating every session's cache on catalog writes for this test.
    let _restore = Restore::CONFIG;
    admin("POST", "config", r#"{"invalidate_caches_on_write": false}"#);
    let rounds: i64 = std::env::var("GLUE_RS_STALE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let w = world("stale").await;
    let reader = LivyEngine::new(
        profile(&w.bucket, json!({"glue_session_id": unique("sim-stale-b")})),
        1,
        NOW.into(),
    );
    w.build("upstream", "select 0 as id, 'v0' as name", TABLE).await;
    let upstream = RelationName::new(&w.schema, "upstream").unwrap();
    for round in 1..=rounds {
        // The reader's session reads the upstream table (and caches it) ...
        let before = strings(&reader, &format!("select name from {upstream}")).await;
        assert_eq!(before, [format!("v{}", round - 1)], "round {round}");
        // ... another session replaces it ...
        w.build("upstream", &format!("select {round} as id, 'v{round}' as name"), TABLE)
            .await;
        // ... and the downstream model, on the reader's session, reads the new version.
        let mut p = plan_now(&w, "downstream", &format!("select id, name from {upstream}"), TABLE).await;
        p.reads = vec![upstream.clone()];
        reader
            .execute(&p)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(
            rows(&reader, &format!("{}.downstream", w.schema)).await,
            format!("{round}:v{round}"),
            "round {round}: the downstream model read the upstream table's new version"
        );
    }
    w.engine.finish().await;
    reader.finish().await;
}
