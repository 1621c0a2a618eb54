//! glue-session's data safety on the Glue simulator, on Livy and Spark Connect sessions: insert_overwrite replaces only
//! the new partitions on a session set to static overwrite, a session lost after an append committed applies it once,
//! a query that writes is not sent again on a new session, and a custom location inside another table's location is
//! refused before any statement.
//!
//! Run by `cargo xtask it` (feature `it`) against the test world's simulator, which passes `GLUE_SIM_ENDPOINT` and the
//! AWS environment (`AWS_ENDPOINT_URL`, credentials, region); a missing endpoint fails: nothing skips. The simulator is
//! shared: session ids, schemas and buckets are unique per test, calls are counted in the request log by session id,
//! and the global faults and timings a test sets are cleared when it ends, also when it fails (`Restore`). Run with
//! `--test-threads 1`.

mod common;

use glue_materialize::{Engine, Existing, Model, ModelConfig, PlanFlags, Target, plan};
use glue_testkit::sim::{Restore, admin, log};
use serde_json::json;

use common::{TABLE, calls, connect_build, connect_world, count, mark, rows, strings, world, world_with};

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
