//! glue-session's Livy sessions on the Glue simulator, through the real SDK: the reuse rules (reused, waited for,
//! recreated), a request over Glue's Code limit sent in pieces, a session timing out mid-statement, throttling, what
//! a model costs in calls on a warm session, and an interrupt (Ctrl-C) cancelling the running statement.
//!
//! Run by `cargo xtask it` (feature `it`) against the test world's simulator, which passes `GLUE_SIM_ENDPOINT` and the
//! AWS environment (`AWS_ENDPOINT_URL`, credentials, region); a missing endpoint fails: nothing skips. The simulator is
//! shared: session ids, schemas and buckets are unique per test, calls are counted in the request log by session id,
//! and the global faults and timings a test sets are cleared when it ends, also when it fails (`Restore`). Run with
//! `--test-threads 1`.

mod common;

use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use aws_sdk_glue::types::SessionStatus;
use glue_materialize::Engine;
use glue_session::request::{Op, Request, decode_batches, statements};
use glue_session::{Clients, CreateSessionSpec, Origin, session_id};
use glue_testkit::sim::{CONFIG_DEFAULTS, Restore, admin, log};
use serde_json::{Value, json};

use common::{TABLE, calls, created, mark, open, profile, rows, status, strings, unique, wait_status, world};

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
