//! glue-session replacing tables on the Glue simulator: a run dropped mid-swap still completes the catalog switch, the
//! previous version stays readable until the next replace, a Hive-partitioned rebuild never leaves the table without
//! partitions, a switch removes the staging tables of runs that staged before it, two runs rebuilding or overwriting
//! one table at once (`GLUE_RS_RACE_ROUNDS` rounds, 3 by default, 20
//! with `cargo xtask it --long`), and a model reading the new version of a table another session replaced
//! (`GLUE_RS_STALE_ROUNDS` rounds).
//!
//! Run by `cargo xtask it` (feature `it`) against the test world's simulator, which passes `GLUE_SIM_ENDPOINT` and the
//! AWS environment (`AWS_ENDPOINT_URL`, credentials, region); a missing endpoint fails: nothing skips. The simulator is
//! shared: session ids, schemas and buckets are unique per test, calls are counted in the request log by session id,
//! and the global faults and timings a test sets are cleared when it ends, also when it fails (`Restore`). Run with
//! `--test-threads 1`.

mod common;

use std::time::{Duration, Instant};

use glue_materialize::{Engine, Existing, Model, ModelConfig, Target, plan};
use glue_session::{LivyEngine, existing_of};
use glue_sql::RelationName;
use glue_testkit::sim::{Restore, admin, log};
use serde_json::json;

use common::{NOW, TABLE, World, invocation, mark, profile, rows, strings, unique, world};

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
    let left = w.staging_left("swapped").await;
    assert!(
        left.is_empty(),
        "the staging entry is left: the switch stopped half-way: {left:?}"
    );
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
        let left = w.staging_left("raced").await;
        assert!(left.is_empty(), "round {round}: staging left: {left:?}");
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

/// The plan's steps before its switch, and the rest.
fn split(p: &glue_materialize::Plan) -> (glue_materialize::Plan, glue_materialize::Plan) {
    let at = p
        .steps
        .iter()
        .position(|s| matches!(s, glue_materialize::Step::SwapTable { .. }))
        .expect("a rebuild switches its staging table in");
    let (mut before, mut after) = (p.clone(), p.clone());
    before.steps.truncate(at);
    after.steps.drain(..at);
    (before, after)
}

#[tokio::test]
async fn a_switch_removes_the_staging_tables_of_runs_that_can_no_longer_publish() {
    // Each run stages under a name of its own, so A's rebuild neither drops nor takes the staging tables of the runs
    // that staged before it: a run that stopped after staging (a crash) and a slow run B that has not switched yet.
    // A publishes its own rows; its switch then removes both runs' staging tables and version directories (they read
    // an older version of the entry: they can no longer publish).
    let w = world("staged").await;
    w.build("staged", "select 0 as id, 'start' as name", TABLE).await;
    let table = format!("{}.staged", w.schema);
    let crashed = plan_now(&w, "staged", "select 3 as id, 'crashed' as name", TABLE).await;
    let b = plan_now(&w, "staged", "select 2 as id, 'b' as name", TABLE).await;
    let a = plan_now(&w, "staged", "select 1 as id, 'a' as name", TABLE).await;
    w.engine
        .execute(&split(&crashed).0)
        .await
        .expect("the crashed run stages");
    w.engine.execute(&split(&b).0).await.expect("b stages");
    assert_eq!(w.staging_left("staged").await.len(), 2, "two runs staged");
    w.engine.execute(&a).await.expect("a publishes");
    assert_eq!(rows(&w.engine, &table).await, "1:a");
    assert_eq!(
        w.staging_left("staged").await,
        Vec::<String>::new(),
        "no staging table is left"
    );
    // Stored: the current version and the previous one, nothing of the crashed run or of B.
    let listed = objects(&w.engine, &w.bucket, &format!("warehouse/{}/staged", w.schema)).await;
    let mut dirs: Vec<String> = listed
        .iter()
        .filter_map(|k| k.rsplit_once('/').map(|(d, _)| d.to_string()))
        .collect();
    dirs.sort();
    dirs.dedup();
    assert_eq!(dirs.len(), 2, "the current and the previous version only: {dirs:?}");
    w.engine.finish().await;
}

#[tokio::test]
async fn a_custom_location_rebuild_never_deletes_the_current_data_a_leftover_staging_entry_names() {
    // A standard rebuild killed between its UpdateTable and its DeleteTable leaves its staging entry naming the
    // version directory the table now reads. The model then moves to a `custom_location`: that rebuild removes the
    // other runs' staging entries before it builds, and fails. The table still reads its rows: only staging copies
    // made beside the custom location (`<custom>__v…`) are this path's to delete, the rest lose the entry only.
    let w = world("leftover").await;
    let table = format!("{}.moved", w.schema);
    w.build("moved", "select 0 as id, 'start' as name", TABLE).await;
    w.build("moved", "select 2 as id, 'b' as name", TABLE).await;
    let relation = RelationName::new(&w.schema, "moved").unwrap();
    let current = w
        .engine
        .catalog()
        .await
        .get(&relation)
        .await
        .expect("GetTable")
        .expect("the table");
    let sd = current.storage_descriptor().expect("a storage descriptor").clone();
    assert!(
        sd.location().is_some_and(|l| l.contains("moved__v")),
        "the second build reads a version directory: {:?}",
        sd.location()
    );
    // The entry a switch killed before its DeleteTable leaves: the staging table of run `killedrun`, at the data
    // the table reads.
    let leftover = glue_materialize::staging::staging_name("moved", "killedrun");
    w.engine
        .clients()
        .await
        .glue
        .create_table()
        .database_name(&w.schema)
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name(&leftover)
                .table_type("EXTERNAL_TABLE")
                .storage_descriptor(sd)
                .set_partition_keys(current.partition_keys.clone())
                .set_parameters(current.parameters.clone())
                .build()
                .expect("a table input"),
        )
        .send()
        .await
        .expect("CreateTable of the leftover");
    let custom = format!(
        r#"{{"materialized": "table", "custom_location": "s3://{}/custom/moved"}}"#,
        w.bucket
    );
    let config = ModelConfig::from_json(&serde_json::from_str(&custom).unwrap()).unwrap();
    let model = Model::new("moved", &w.schema, "select id, name from no_such_table", config);
    let target = Target::new(&w.schema, Some(format!("s3://{}/warehouse", w.bucket)));
    let mut existing = existing_of(&current);
    if let Existing::Table(t) = &mut existing {
        t.siblings = vec![leftover.clone()];
    }
    let p = plan(&model, &existing, &target, &invocation()).expect("a plan");
    assert!(
        p.steps
            .iter()
            .any(|s| matches!(s, glue_materialize::Step::DropOtherStaging { .. })),
        "the rebuild removes the leftover first: {p:?}"
    );
    let failed = w.engine.execute(&p).await;
    assert!(failed.is_err(), "the model's query fails");
    assert_eq!(
        w.staging_left("moved").await,
        Vec::<String>::new(),
        "the leftover entry is gone"
    );
    assert_eq!(rows(&w.engine, &table).await, "2:b", "the table still reads its rows");
    w.engine.finish().await;
}
