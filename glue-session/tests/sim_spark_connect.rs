//! glue-session's Glue Spark Connect sessions (Glue 5.1 `SPARK_CONNECT`: GetSessionEndpoint, the simulator's token
//! proxy, a real Spark 4) on the Glue simulator: a token refreshed under the same Spark session, a model outliving its
//! token at no Glue call, and an interrupt stopping the running query. Their data-safety tests are in
//! `sim_write_safety.rs`.
//!
//! Run by `cargo xtask it` (feature `it`) against the test world's simulator, which passes `GLUE_SIM_ENDPOINT` and the
//! AWS environment (`AWS_ENDPOINT_URL`, credentials, region); a missing endpoint fails: nothing skips. The simulator is
//! shared: session ids, schemas and buckets are unique per test, calls are counted in the request log by session id,
//! and the global faults and timings a test sets are cleared when it ends, also when it fails (`Restore`). Run with
//! `--test-threads 1`.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use aws_sdk_glue::types::SessionStatus;
use glue_materialize::Engine;
use glue_session::{Clients, ConnectSession, Origin};
use glue_testkit::sim::{Restore, admin, log};
use serde_json::json;

use common::{connect_build, connect_world, count, created, mark, open, profile, status, unique};

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
