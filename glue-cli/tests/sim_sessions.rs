//! The `glue` binary's Glue Interactive Sessions on the test world's simulator (Livy statements run in a real PySpark
//! 3.5): a session per thread, stopped at the end; a session reused across runs and recreated once stopped; a
//! session whose readiness wait times out ended when the run created it, left alone when it did not; models on
//! sessions of their own by `meta` and group.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use glue_testkit::sim::{self, Restore, last_seq};
use serde_json::Value;

use common::sim::{Project, ROLE_PREFIX, count, count_on, created_sessions, glue_client, log_since, status, unique};
use common::text;

#[tokio::test(flavor = "multi_thread")]
async fn four_threads_use_four_sessions_and_stop_them_all() {
    // Four independent models, each holding its session for a second: all four run at once.
    let models: Vec<(String, String)> = (1..=4)
        .map(|i| {
            (
                format!("m{i}"),
                format!(
                    "{{{{ config(materialized='table') }}}}\nselect {i} as id, java_method('java.lang.Thread', 'sleep', 1500L) as pause"
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = models.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let p = Project::new(&refs, "", 4);
    let since = last_seq();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = log_since(since);
    let sessions = created_sessions(&log, ROLE_PREFIX);
    assert_eq!(
        sessions.len(),
        4,
        "--threads 4 opens 4 sessions: {sessions:?}\n{}",
        text(&out)
    );
    assert!(
        text(&out).contains("4 session(s) (4 created, 0 reused)"),
        "{}",
        text(&out)
    );
    // One RunStatement per model plus the runner's definition per session; statements of a table model: one.
    assert_eq!(count(&log, "RunStatement"), 4 + 4, "{log:?}");
    let glue = glue_client().await;
    for id in &sessions {
        let s = status(&glue, id).await;
        assert!(matches!(s.as_str(), "STOPPING" | "STOPPED"), "session {id} left {s}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_session_is_found_again_and_recreated_once_stopped() {
    let id = unique("it-reuse-");
    let p = Project::new(
        &[("one", "{{ config(materialized='table') }}\nselect 1 as id")],
        &format!("      glue_session_reuse: true\n      glue_session_id: {id}\n"),
        1,
    );
    let since = last_seq();
    let first = p.run(&["run"]);
    assert!(first.status.success(), "{}", text(&first));
    let log = log_since(since);
    assert_eq!(created_sessions(&log, &id), BTreeSet::from([id.clone()]));
    let glue = glue_client().await;
    assert_eq!(status(&glue, &id).await, "READY", "a reused session is left running");

    let since = last_seq();
    let second = p.run(&["run"]);
    assert!(second.status.success(), "{}", text(&second));
    let log = log_since(since);
    assert_eq!(count(&log, "CreateSession"), 0, "the READY session is reused: {log:?}");
    assert!(text(&second).contains("(0 created, 1 reused)"), "{}", text(&second));
    // The runner is defined again by a new process; the table rebuild is one statement (build the staging copy),
    // the catalog switch (UpdateTable), then one statement refreshing the session's view of the table.
    assert_eq!(count(&log, "RunStatement"), 3, "{log:?}");
    assert_eq!(count(&log, "UpdateTable"), 1, "{log:?}");

    glue.stop_session().id(&id).send().await.expect("StopSession");
    let t0 = Instant::now();
    while status(&glue, &id).await != "STOPPED" {
        assert!(t0.elapsed() < Duration::from_secs(30), "the session did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let since = last_seq();
    let third = p.run(&["run"]);
    assert!(third.status.success(), "{}", text(&third));
    let log = log_since(since);
    assert_eq!(count(&log, "DeleteSession"), 1, "{log:?}");
    assert_eq!(
        created_sessions(&log, &id).len(),
        1,
        "a STOPPED session is recreated: {log:?}"
    );
    glue.stop_session().id(&id).send().await.expect("StopSession");
}

/// StopSession and DeleteSession calls that succeeded on session `id`.
fn ended(entries: &[Value], id: &str) -> usize {
    entries
        .iter()
        .filter(|e| e["session_id"] == id && e["status"] == 200)
        .filter(|e| e["operation"] == "StopSession" || e["operation"] == "DeleteSession")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_created_session_whose_readiness_wait_times_out_is_stopped_and_a_reused_one_is_not() {
    // The simulator provisions for 6 s, the profile waits 1 s: the readiness wait times out. A session the run
    // created is ended (deleted: Glue refuses StopSession while PROVISIONING) before the error, so it does not start
    // later and run, billed, until its idle timeout; one another process created is left alone.
    let prefix = unique("it-slowstart-");
    let p = Project::new(
        &[("one", "{{ config(materialized='table') }}\nselect 1 as id")],
        &format!("      glue_session_id: {prefix}\n      session_provisioning_timeout_in_seconds: 1\n"),
        1,
    );
    let other = unique("it-slowother-");
    let q = Project::new(
        &[("one", "{{ config(materialized='table') }}\nselect 1 as id")],
        &format!(
            "      glue_session_reuse: true\n      glue_session_id: {other}\n      session_provisioning_timeout_in_seconds: 1\n"
        ),
        1,
    );
    let glue = glue_client().await;
    let since = last_seq();
    let (first, second, since_other) = {
        let _restore = Restore::CONFIG;
        sim::set_config(r#"{"provisioning_delay_s": 6.0}"#);
        let first = p.run(&["run"]);
        glue.create_session()
            .id(&other)
            .role("arn:aws:iam::123456789012:role/GlueInteractiveSessionRole")
            .command(
                aws_sdk_glue::types::SessionCommand::builder()
                    .name("glueetl")
                    .python_version("3")
                    .build(),
            )
            .send()
            .await
            .expect("CreateSession");
        let since_other = last_seq();
        let second = q.run(&["run"]);
        (first, second, since_other)
    };
    assert!(!first.status.success(), "{}", text(&first));
    assert!(!second.status.success(), "{}", text(&second));
    let entries = sim::log(since);
    let log = log_since(since);
    let created = created_sessions(&log, &prefix);
    assert!(!created.is_empty(), "{log:?}");
    for id in &created {
        assert_eq!(
            ended(&entries, id),
            1,
            "the session {id} the run created is ended: {log:?}"
        );
        let got = glue.get_session().id(id).send().await;
        let now = got.ok().and_then(|o| o.session).and_then(|s| s.status);
        assert!(
            now.as_ref()
                .is_none_or(|s| matches!(s.as_str(), "STOPPING" | "STOPPED")),
            "session {id} left {now:?}"
        );
    }
    let (entries, log) = (sim::log(since_other), log_since(since_other));
    assert_eq!(count_on(&log, "CreateSession", &other), 0, "{log:?}");
    assert_eq!(
        ended(&entries, &other),
        0,
        "a session the run did not create is left alone: {log:?}"
    );
    let _ = glue.delete_session().id(&other).send().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn models_get_sessions_of_their_own_by_meta_and_group() {
    let base = unique("it-permodel-");
    let p = Project::new(
        &[
            (
                "a",
                "{{ config(materialized='table', meta={'group_session_id': 'nightly'}) }}\nselect 1 as id",
            ),
            (
                "b",
                "{{ config(materialized='table', meta={'group_session_id': 'nightly'}) }}\nselect id + 1 as id from {{ ref('a') }}",
            ),
            (
                "big",
                "{{ config(materialized='table', meta={'worker_type': 'G.2X', 'workers': 4, 'owner': 'bi'}) }}\nselect 2 as id",
            ),
            ("plain", "{{ config(materialized='table') }}\nselect 3 as id"),
        ],
        &format!("      glue_session_id: {base}\n"),
        2,
    );
    let since = last_seq();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = log_since(since);
    let sessions = created_sessions(&log, &base);
    let group = format!("{base}__nightly");
    let own = format!("{base}__model_p_big");
    assert!(sessions.contains(&group), "the group's session: {sessions:?}");
    assert!(sessions.contains(&own), "big's own session: {sessions:?}");
    let shared: Vec<_> = sessions.iter().filter(|s| **s != group && **s != own).collect();
    assert_eq!(shared.len(), 1, "`plain` ran on the shared session: {sessions:?}");
    let glue = glue_client().await;
    let big = glue.get_session().id(&own).send().await.unwrap().session.unwrap();
    assert_eq!(big.worker_type.map(|w| w.as_str().to_string()).as_deref(), Some("G.2X"));
    assert_eq!(big.number_of_workers, Some(4));
    let group_session = glue.get_session().id(&group).send().await.unwrap().session.unwrap();
    assert_eq!(
        group_session.worker_type.map(|w| w.as_str().to_string()).as_deref(),
        Some("G.1X")
    );
    for id in &sessions {
        let s = status(&glue, id).await;
        assert!(matches!(s.as_str(), "STOPPING" | "STOPPED"), "session {id} left {s}");
    }
    // `a` and `b` ran on the group's session, one after the other.
    let on_group = log
        .iter()
        .filter(|(op, id)| op == "RunStatement" && id.as_deref() == Some(group.as_str()))
        .count();
    assert!(on_group >= 2, "both models of the group ran on its session: {log:?}");
}
