//! The `glue` binary on Glue Spark Connect sessions of the test world's simulator (Glue 5.1, a real Spark 4): Ctrl-C
//! interrupts the running query and stops the session; four threads share one session and run at once.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use glue_testkit::sim::last_seq;
use serde_json::Value;

use common::sim::{Project, ROLE_PREFIX, count, created_sessions, glue_client, log_since, status};
use common::text;

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_interrupts_the_spark_connect_query_and_stops_the_session() {
    let p = Project::new(
        &[(
            "slow",
            "{{ config(materialized='table') }}\nselect 1 as id from range(0, 1) \
             where reflect('java.lang.Thread', 'sleep', cast(60000 as bigint)) is not null",
        )],
        "      session_type: spark_connect\n      glue_version: '5.1'\n",
        1,
    );
    let since = last_seq();
    let child = p
        .command(&["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Connected once GetSessionEndpoint answered; then the model's query starts within a moment.
    let t0 = Instant::now();
    while count(&log_since(since), "GetSessionEndpoint") == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "never connected: {:?}",
            log_since(since)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let log = log_since(since);
    assert_eq!(
        count(&log, "RunStatement"),
        0,
        "no Livy statement on a Spark Connect session: {log:?}"
    );
    let glue = glue_client().await;
    let sessions = created_sessions(&log, ROLE_PREFIX);
    assert_eq!(sessions.len(), 1, "{log:?}");
    for id in &sessions {
        let s = status(&glue, id).await;
        assert!(matches!(s.as_str(), "STOPPING" | "STOPPED"), "session {id} left {s}");
    }
    // The interrupted query wrote nothing: the table was never created.
    let profile = std::fs::read_to_string(p.path().join("profiles.yml")).unwrap();
    let schema = profile
        .lines()
        .find_map(|l| l.trim().strip_prefix("schema: "))
        .unwrap()
        .to_string();
    let got = glue.get_table().database_name(&schema).name("slow").send().await;
    assert!(got.is_err(), "the interrupted model's table exists");
}

#[tokio::test(flavor = "multi_thread")]
async fn four_threads_share_one_spark_connect_session_and_run_at_once() {
    // Four models, each sleeping 3 s in its query and recording when its query started (the server's clock): with
    // --threads 4 on one Spark Connect session they overlap (run one after another they would start 3 s apart).
    let models: Vec<(String, String)> = (1..=4)
        .map(|i| {
            (
                format!("m{i}"),
                format!(
                    "{{{{ config(materialized='table') }}}}\nselect {i} as id, current_timestamp() as started \
                     from range(0, 1) where reflect('java.lang.Thread', 'sleep', cast(3000 as bigint)) is not null"
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = models.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let p = Project::new(
        &refs,
        "      session_type: spark_connect\n      glue_version: '5.1'\n",
        4,
    );
    let since = last_seq();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = log_since(since);
    let sessions = created_sessions(&log, ROLE_PREFIX);
    assert_eq!(
        sessions.len(),
        1,
        "one Spark Connect session for 4 threads: {sessions:?}"
    );
    assert!(
        text(&out).contains("1 session(s) (1 created, 0 reused)"),
        "{}",
        text(&out)
    );
    let union = (1..=4)
        .map(|i| format!("select started from {{{{ ref('m{i}') }}}}"))
        .collect::<Vec<_>>()
        .join(" union all ");
    let spread = p.run(&[
        "show",
        "--inline",
        &format!("select cast(max(started) as double) - cast(min(started) as double) as spread from ({union})"),
        "--output",
        "json",
    ]);
    assert!(spread.status.success(), "{}", text(&spread));
    let stdout = String::from_utf8_lossy(&spread.stdout).to_string();
    let json: Value = serde_json::from_str(&stdout[stdout.find('{').unwrap_or(0)..])
        .unwrap_or_else(|e| panic!("{e}: {}", text(&spread)));
    let seconds = json["show"][0]["spread"].as_f64().unwrap_or_else(|| panic!("{json}"));
    assert!(
        seconds < 3.0,
        "the four queries started {seconds} s apart: they did not overlap"
    );
}
