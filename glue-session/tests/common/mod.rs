//! Helpers of glue-session's simulator suites (`tests/sim_*.rs`): unique names, the simulator's request log read by
//! session id, a Glue profile and the sessions it opens, a test's [`World`] (bucket, schema, Livy engine) and a Spark
//! Connect target on the simulator. Each suite includes it with `mod common;` and uses what it needs.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use aws_sdk_glue::types::SessionStatus;
use glue_materialize::{Engine, Existing, Model, ModelConfig, PlanFlags, Target, plan};
use glue_session::{
    Clients, ConnectEngine, ConnectTarget, GlueProfile, LivyEngine, LivySession, Stats, existing_of, session_status,
};
use glue_sql::RelationName;
use glue_testkit::sim::{self, log};
use serde_json::{Value, json};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole";
pub const NOW: &str = "2026-01-01 00:00:00";

/// `prefix-<12 hex>`: unique across the processes sharing the simulator (`-` is valid in session ids and buckets).
pub fn unique(prefix: &str) -> String {
    sim::unique(prefix, "-")
}

/// The log's last sequence number now: what a later `log(mark)` returns came after this call.
pub fn mark() -> u64 {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let seen = SEEN.load(Ordering::Relaxed);
    let last = log(seen).iter().filter_map(|e| e["seq"].as_u64()).max().unwrap_or(seen);
    SEEN.store(last, Ordering::Relaxed);
    last
}

/// `operation` calls about session `id` in `entries`.
pub fn calls(entries: &[Value], operation: &str, id: &str) -> usize {
    entries
        .iter()
        .filter(|e| e["operation"] == operation && e["session_id"] == id)
        .count()
}

/// Sessions created in `entries` whose id starts with `prefix` (a `glue_session_id`), in order.
pub fn created(entries: &[Value], prefix: &str) -> Vec<String> {
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
pub fn profile(bucket: &str, extra: Value) -> GlueProfile {
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

pub async fn status(clients: &Clients, id: &str) -> Option<SessionStatus> {
    session_status(clients, id).await.expect("GetSession").map(|(s, _)| s)
}

/// Opens session `id` by the reuse rules (`fresh`: the id cannot exist yet).
pub async fn open(clients: &Clients, p: &GlueProfile, id: &str, fresh: bool) -> LivySession {
    let opened = LivySession::open(clients, p, id, fresh, &Arc::new(Stats::default())).await;
    opened.unwrap_or_else(|e| panic!("open {id}: {e}"))
}

pub async fn wait_status(clients: &Clients, id: &str, wanted: SessionStatus) {
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
pub struct World {
    pub bucket: String,
    pub prefix: String,
    pub schema: String,
    pub engine: LivyEngine,
}

pub async fn world(name: &str) -> World {
    world_with(name, json!({})).await
}

/// A world whose profile also has `extra`.
pub async fn world_with(name: &str, extra: Value) -> World {
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

pub const TABLE: &str = r#"{"materialized": "table"}"#;

/// The flags of a run of its own: each build is another invocation (`__v<invocation id>` version directories).
pub fn invocation() -> PlanFlags {
    PlanFlags {
        invocation_id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        ..PlanFlags::default()
    }
}

impl World {
    /// The staging tables of model `name` in the schema (every run stages under a name of its own,
    /// `<name>__dbt_swap_<run>`).
    pub async fn staging_left(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}__dbt_swap");
        let listed = self.engine.catalog().await.list(&self.schema).await.expect("GetTables");
        listed
            .into_iter()
            .map(|r| r.name.identifier.as_str().to_string())
            .filter(|n| n.starts_with(&prefix))
            .collect()
    }

    /// Plans model `name` against what the catalog holds and runs the plan, as `glue-rs run` does.
    pub async fn build(&self, name: &str, sql: &str, config: &str) {
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
    pub async fn try_build(&self, name: &str, sql: &str, config: &str) -> Result<(), String> {
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
    pub fn sessions(&self, mark: u64) -> Vec<String> {
        created(&log(mark), &self.prefix)
    }
}

/// The first column (strings) of a query's rows.
pub async fn strings(engine: &LivyEngine, sql: &str) -> Vec<String> {
    let batches = engine.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = batches.iter().map(|b| b.column(0).as_string::<i32>());
    columns
        .flat_map(|c| c.iter().map(|v| v.unwrap_or("NULL").to_string()))
        .collect()
}

/// A relation's rows as one sorted line `id:name,…`.
pub async fn rows(engine: &LivyEngine, relation: &str) -> String {
    let sql = format!(
        "select array_join(sort_array(collect_list(concat_ws(':', cast(id as string), name))), ',') from {relation}"
    );
    strings(engine, &sql).await.concat()
}

// ---- Spark Connect sessions (Glue 5.1 SPARK_CONNECT: GetSessionEndpoint, the simulator's token proxy, real Spark 4)

/// A Glue Spark Connect target on a fresh bucket.
pub async fn connect_world(name: &str) -> (ConnectEngine, String, String, String) {
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
pub async fn connect_build(engine: &ConnectEngine, bucket: &str, schema: &str, name: &str, sql: &str, config: &str) {
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

pub async fn count(engine: &ConnectEngine, sql: &str) -> i64 {
    let batches = engine.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}
