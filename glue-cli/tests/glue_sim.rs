//! The `glue` binary on Glue Interactive Sessions of the test world's simulator (Livy statements run in a real
//! PySpark 3.5): sessions per thread, reuse across runs, Ctrl-C, and no credential in trace logs. Run by
//! `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials. A missing endpoint fails.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use glue_testkit::sim::{self, Restore, endpoint, last_seq};
use serde_json::Value;

mod common;

use common::text;

fn unique(prefix: &str) -> String {
    sim::unique(prefix, "")
}

/// The request log after `since`: (operation, session id).
fn log_since(since: u64) -> Vec<(String, Option<String>)> {
    sim::log(since)
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or_default().to_string(),
                e["session_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn created_sessions(log: &[(String, Option<String>)], prefix: &str) -> BTreeSet<String> {
    log.iter()
        .filter(|(op, id)| op == "CreateSession" && id.as_deref().is_some_and(|i| i.starts_with(prefix)))
        .filter_map(|(_, id)| id.clone())
        .collect()
}

fn count(log: &[(String, Option<String>)], operation: &str) -> usize {
    log.iter().filter(|(op, _)| op == operation).count()
}

async fn glue_client() -> aws_sdk_glue::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .load()
        .await;
    aws_sdk_glue::Client::new(&config)
}

async fn status(glue: &aws_sdk_glue::Client, id: &str) -> String {
    let s = glue.get_session().id(id).send().await.expect("GetSession");
    s.session
        .and_then(|s| s.status)
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// A project of `models` (name, SQL) on a Glue target of the simulator, with extra profile lines.
struct Project {
    dir: tempfile::TempDir,
    schema: String,
}

impl Project {
    fn new(models: &[(&str, &str)], profile_extra: &str, threads: usize) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let schema = unique("it_cli_");
        let bucket = unique("glue-rs-it-");
        create_bucket(&bucket);
        std::fs::write(
            dir.path().join("dbt_project.yml"),
            "name: p\nversion: '1.0'\nprofile: p\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("models")).unwrap();
        for (name, sql) in models {
            std::fs::write(dir.path().join("models").join(format!("{name}.sql")), sql).unwrap();
        }
        std::fs::write(
            dir.path().join("profiles.yml"),
            format!(
                "p:\n  target: sim\n  outputs:\n    sim:\n      type: glue\n      role_arn: arn:aws:iam::123456789012:role/GlueInteractiveSessionRole\n      region: us-east-1\n      workers: 2\n      worker_type: G.1X\n      schema: {schema}\n      location: s3://{bucket}/warehouse\n      threads: {threads}\n{profile_extra}"
            ),
        )
        .unwrap();
        Project { dir, schema }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_glue"));
        c.args(args)
            .arg("--project-dir")
            .arg(self.path())
            .arg("--profiles-dir")
            .arg(self.path())
            .env("AWS_ENDPOINT_URL", endpoint());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("glue runs")
    }
}

/// Creates a bucket (on a thread of its own: callers may be inside a runtime).
fn create_bucket(bucket: &str) {
    let bucket = bucket.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(endpoint())
                .load()
                .await;
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(true)
                    .build(),
            );
            s3.create_bucket().bucket(&bucket).send().await.expect("CreateBucket");
        });
    })
    .join()
    .expect("CreateBucket");
}

const ROLE_PREFIX: &str = "dbt-glue__GlueInteractiveSessionRole__";

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

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_cancels_the_statement_and_stops_the_runs_sessions() {
    let p = Project::new(
        &[(
            "slow",
            "{{ config(materialized='table') }}\nselect 1 as id, java_method('java.lang.Thread', 'sleep', 60000L) as pause",
        )],
        "",
        1,
    );
    let since = last_seq();
    let child = p
        .command(&["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the model's statement runs (the runner's definition is the first RunStatement).
    let t0 = Instant::now();
    loop {
        let log = log_since(since);
        if count(&log, "RunStatement") >= 2 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the model never started: {log:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let t1 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        t1.elapsed() < Duration::from_secs(30),
        "the run took {:?} to stop",
        t1.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let log = log_since(since);
    assert_eq!(count(&log, "CancelStatement"), 1, "{log:?}");
    let glue = glue_client().await;
    let sessions = created_sessions(&log, ROLE_PREFIX);
    assert_eq!(sessions.len(), 1, "{log:?}");
    for id in &sessions {
        let s = status(&glue, id).await;
        assert!(matches!(s.as_str(), "STOPPING" | "STOPPED"), "session {id} left {s}");
    }
}

/// The model of the signal tests: one statement that sleeps for a minute on the session.
const SLOW_MODEL: (&str, &str) = (
    "slow",
    "{{ config(materialized='table') }}\nselect 1 as id, java_method('java.lang.Thread', 'sleep', 60000L) as pause",
);

/// Waits until the run's model statement runs on its session (the runner's definition is the first RunStatement):
/// the sessions whose id starts with `prefix` (the project's `glue_session_id`: the simulator is shared).
fn wait_for_the_model_statement(since: u64, prefix: &str) {
    let t0 = Instant::now();
    loop {
        let log = log_since(since);
        if count_on(&log, "RunStatement", prefix) >= 2 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the model never started: {log:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
}

/// `operation` calls on the sessions whose id starts with `prefix`.
fn count_on(log: &[(String, Option<String>)], operation: &str, prefix: &str) -> usize {
    log.iter()
        .filter(|(op, id)| op == operation && id.as_deref().is_some_and(|i| i.starts_with(prefix)))
        .count()
}

/// A project of the slow model whose sessions' ids start with a prefix of its own, and that prefix.
fn slow_project() -> (Project, String) {
    let prefix = unique("it-signal-");
    let p = Project::new(&[SLOW_MODEL], &format!("      glue_session_id: {prefix}\n"), 1);
    (p, prefix)
}

fn signal(child: &std::process::Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

/// Waits at most `limit` for the child to exit; kills it (and fails) past that.
fn wait_at_most(mut child: std::process::Child, limit: Duration, what: &str) -> Output {
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what}: still running after {limit:?}\n{}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Waits until every session in `ids` is STOPPING or STOPPED.
async fn assert_stopped(ids: &BTreeSet<String>) {
    let glue = glue_client().await;
    for id in ids {
        let t0 = Instant::now();
        loop {
            let s = status(&glue, id).await;
            if matches!(s.as_str(), "STOPPING" | "STOPPED") {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "session {id} left {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_cancels_the_statement_stops_the_runs_sessions_and_exits_143() {
    // SIGTERM is what schedulers (Airflow, ECS, Kubernetes) send: it is handled as Ctrl-C is.
    let (p, prefix) = slow_project();
    let since = last_seq();
    let child = p
        .command(&["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_the_model_statement(since, &prefix);
    signal(&child, "TERM");
    let out = wait_at_most(child, Duration::from_secs(30), "after SIGTERM");
    assert_eq!(out.status.code(), Some(143), "{}", text(&out));
    let log = log_since(since);
    assert_eq!(count_on(&log, "CancelStatement", &prefix), 1, "{log:?}");
    let sessions = created_sessions(&log, &prefix);
    assert_eq!(sessions.len(), 1, "{log:?}");
    let glue = glue_client().await;
    for id in &sessions {
        let s = status(&glue, id).await;
        assert!(matches!(s.as_str(), "STOPPING" | "STOPPED"), "session {id} left {s}");
    }
}

/// A TCP proxy to the simulator for one test: bytes pass through unchanged, except that a request whose first
/// packet contains `hold` waits until [`HoldingProxy::release`] (then goes on). Counts the requests it held.
struct HoldingProxy {
    url: String,
    held: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    released: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HoldingProxy {
    fn start(hold: &'static str) -> HoldingProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = endpoint()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let held = Arc::new(AtomicUsize::new(0));
        let released = Arc::new(AtomicBool::new(false));
        let (h, r) = (held.clone(), released.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = std::net::TcpStream::connect(&upstream) else {
                    return;
                };
                let (mut back_from, mut back_to) = (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut back_from, &mut back_to);
                    let _ = back_to.shutdown(std::net::Shutdown::Write);
                });
                let (h, r) = (h.clone(), r.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        let n = match client.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if buf[..n].windows(hold.len()).any(|w| w == hold.as_bytes()) {
                            h.fetch_add(1, Ordering::SeqCst);
                            while !r.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                        if server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        HoldingProxy { url, held, released }
    }

    fn held(&self) -> usize {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn release(&self) {
        self.released.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.release();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_exits_at_once_after_a_best_effort_stop() {
    // The run's StopSession calls are held (a proxy in front of the simulator), so stopping after the first signal
    // takes as long as the test wants: a second signal then exits at once, having sent StopSession again.
    let proxy = HoldingProxy::start("AWSGlue.StopSession");
    let (p, prefix) = slow_project();
    let since = last_seq();
    let child = p
        .command(&["run"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_the_model_statement(since, &prefix);
    signal(&child, "TERM");
    let t0 = Instant::now();
    while proxy.held() == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no StopSession after SIGTERM: {:?}",
            log_since(since)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut child = child;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run waits for its sessions to stop after the first signal"
    );
    signal(&child, "INT");
    let t1 = Instant::now();
    let out = wait_at_most(child, Duration::from_secs(10), "after the second signal");
    assert!(
        t1.elapsed() < Duration::from_secs(5),
        "the second signal took {:?} to exit",
        t1.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        proxy.held() >= 2,
        "no best-effort StopSession before exiting\n{}",
        text(&out)
    );
    proxy.release();
    let log = log_since(since);
    assert_eq!(count_on(&log, "CancelStatement", &prefix), 1, "{log:?}");
    let sessions = created_sessions(&log, &prefix);
    assert_eq!(sessions.len(), 1, "{log:?}");
    assert_stopped(&sessions).await;
}

#[test]
fn sigterm_on_the_embedded_engine_exits_143_and_leaves_the_warehouse_usable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dbt_project.yml"),
        "name: p\nversion: '1.0'\nprofile: p\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("profiles.yml"),
        "p:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      schema: s\n      threads: 1\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    let model = dir.path().join("models").join("slow.sql");
    // About 30 s of one core in a debug build: the signal comes while the table is being written.
    std::fs::write(
        &model,
        "{{ config(materialized='table') }}\nselect sum(value) as s from range(0, 1000000000)\n",
    )
    .unwrap();
    let glue = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_glue"));
        c.args(args)
            .arg("--project-dir")
            .arg(dir.path())
            .arg("--profiles-dir")
            .arg(dir.path());
        c
    };
    let child = glue(&["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3000));
    signal(&child, "TERM");
    let out = wait_at_most(child, Duration::from_secs(10), "after SIGTERM");
    assert_eq!(out.status.code(), Some(143), "{}", text(&out));
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
    std::fs::write(&model, "{{ config(materialized='table') }}\nselect 1 as s\n").unwrap();
    let again = glue(&["run"]).output().unwrap();
    assert!(again.status.success(), "{}", text(&again));
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

#[test]
fn no_credential_appears_in_trace_logs() {
    let p = Project::new(&[("one", "{{ config(materialized='table') }}\nselect 1 as id")], "", 1);
    let (key, secret, token) = (
        "AKIAGLUERSFAKEKEY123",
        "gluersFakeSecretKey/abc123",
        "GLUERSFAKESESSIONTOKENzz9",
    );
    let out = p
        .command(&["run"])
        .env("GLUE_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", token)
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("aws_smithy_runtime"), "the SDK's trace logs were captured");
    for s in [key, secret, token] {
        assert!(!all.contains(s), "`{s}` appears in the logs");
    }
}

#[test]
fn python_models_run_on_the_session_with_dbt_ref_and_is_incremental() {
    let p = Project::new(
        &[(
            "base",
            "{{ config(materialized='table') }}\nselect 1 as id, 'a' as name union all select 2, 'b'",
        )],
        "",
        2,
    );
    std::fs::write(
        p.path().join("models/py_double.py"),
        "def model(dbt, session):\n    dbt.config(materialized=\"table\")\n    df = dbt.ref(\"base\")\n    \
         return df.withColumn(\"twice\", df.id * 2)\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("models/py_inc.py"),
        "def model(dbt, session):\n    dbt.config(materialized='incremental', incremental_strategy='append')\n    \
         df = dbt.ref('base')\n    if dbt.is_incremental:\n        \
         df = df.filter(df.id > session.table(dbt.this).agg({'id': 'max'}).collect()[0][0] - 1)\n    return df\n",
    )
    .unwrap();
    for round in 1..=2 {
        let out = p.run(&["run"]);
        assert!(out.status.success(), "run {round}: {}", text(&out));
    }
    let rows = |sql: &str| -> Vec<Value> {
        let out = p.run(&["show", "--inline", sql, "--output", "json", "--limit", "100"]);
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let v: Value = serde_json::from_str(&stdout[stdout.find('{').unwrap()..]).unwrap();
        v["show"].as_array().unwrap().clone()
    };
    let doubled = rows("select id, twice from {{ ref('py_double') }} order by id");
    assert_eq!(
        doubled,
        vec![
            serde_json::json!({"id": 1, "twice": 2}),
            serde_json::json!({"id": 2, "twice": 4})
        ]
    );
    // First run: ids 1 and 2; the second appends only what is past the max minus one: id 2 again.
    let appended = rows("select id from {{ ref('py_inc') }} order by id");
    assert_eq!(
        appended,
        vec![
            serde_json::json!({"id": 1}),
            serde_json::json!({"id": 2}),
            serde_json::json!({"id": 2})
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_creates_the_configured_iceberg_lock_table_first() {
    let table = unique("it_locks_");
    let p = Project::new(
        &[("one", "{{ config(materialized='table') }}\nselect 1 as id")],
        &format!(
            "      conf: \"spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog --conf \
             spark.sql.catalog.glue_catalog.lock-impl=org.apache.iceberg.aws.dynamodb.DynamoDbLockManager --conf \
             spark.sql.catalog.glue_catalog.lock.table={table}\"\n      custom_iceberg_catalog_namespace: glue_catalog\n"
        ),
        1,
    );
    let out = p.run(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .load()
        .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let described = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the lock table exists");
    let keys: Vec<String> = described
        .table
        .and_then(|t| t.key_schema)
        .unwrap_or_default()
        .iter()
        .map(|k| k.attribute_name.clone())
        .collect();
    assert_eq!(keys, vec!["entityId".to_string()], "Iceberg's lock table schema");
}

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

async fn lake_formation_client() -> aws_sdk_lakeformation::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .load()
        .await;
    aws_sdk_lakeformation::Client::new(&config)
}

/// (key → value) tags assigned to the table itself and to its column `column`.
async fn table_tags(
    lf: &aws_sdk_lakeformation::Client,
    db: &str,
    table: &str,
    column: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
    use aws_sdk_lakeformation::types::{Resource, TableResource};
    let out = lf
        .get_resource_lf_tags()
        .resource(
            Resource::builder()
                .table(TableResource::builder().database_name(db).name(table).build().unwrap())
                .build(),
        )
        .show_assigned_lf_tags(true)
        .send()
        .await
        .expect("GetResourceLFTags");
    let pairs = |p: &[aws_sdk_lakeformation::types::LfTagPair]| -> BTreeSet<String> {
        p.iter()
            .map(|t| format!("{}={}", t.tag_key(), t.tag_values()[0]))
            .collect()
    };
    let on_column = out
        .lf_tags_on_columns()
        .iter()
        .find(|c| c.name() == Some(column))
        .map(|c| pairs(c.lf_tags()))
        .unwrap_or_default();
    (pairs(out.lf_tags_on_table()), on_column)
}

/// Principals holding something on `resource`.
async fn principals_on(
    lf: &aws_sdk_lakeformation::Client,
    resource: aws_sdk_lakeformation::types::Resource,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut pages = lf.list_permissions().resource(resource).into_paginator().send();
    while let Some(page) = pages.next().await {
        for p in page.expect("ListPermissions").principal_resource_permissions() {
            out.insert(
                p.principal()
                    .unwrap()
                    .data_lake_principal_identifier()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn lake_formation_config_is_applied_and_outside_grants_survive_a_rebuild() {
    use aws_sdk_lakeformation::types::{
        DataCellsFilterResource, DataLakePrincipal, DatabaseResource, LfTagPair, Permission, Resource, TableResource,
    };
    let lf = lake_formation_client().await;
    let (level, owner) = (unique("it_level_"), unique("it_owner_"));
    for (key, values) in [(&level, vec!["pii", "public"]), (&owner, vec!["bi"])] {
        lf.create_lf_tag()
            .tag_key(key)
            .set_tag_values(Some(values.into_iter().map(String::from).collect()))
            .send()
            .await
            .expect("CreateLFTag");
    }
    let analyst = "arn:aws:iam::123456789012:role/analyst";
    let model = "{{ config(materialized='table',
  lf_tags_config={'enabled': true, 'tags_table': {'LEVEL': 'public'}, 'tags_columns': {'LEVEL': {'pii': ['email']}}},
  lf_grants={'data_cell_filters': {'enabled': true, 'drop_existing': true,
    'filters': {'no_email': {'row_filter': 'id > 1', 'principals': ['ANALYST'], 'excluded_column_names': ['email']}}}}
) }}
select 1 as id, 'a@example.com' as email union all select 2, 'b@example.com'"
        .replace("LEVEL", &level)
        .replace("ANALYST", analyst);
    let p = Project::new(&[("customers", &model)], "", 1);
    let db = p.schema.clone();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "first run: {}", text(&out));

    // The run created the database: the session role got the reference's grants on it.
    let role = "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole";
    let on_db = Resource::builder()
        .database(DatabaseResource::builder().name(&db).build().unwrap())
        .build();
    assert!(
        principals_on(&lf, on_db).await.contains(role),
        "database grants for role_arn"
    );
    let (on_table, on_email) = table_tags(&lf, &db, "customers", "email").await;
    assert_eq!(on_table, BTreeSet::from([format!("{level}=public")]));
    assert_eq!(on_email, BTreeSet::from([format!("{level}=pii")]));
    let filter = Resource::builder()
        .data_cells_filter(
            DataCellsFilterResource::builder()
                .table_catalog_id("123456789012")
                .database_name(&db)
                .table_name("customers")
                .name("no_email")
                .build(),
        )
        .build();
    assert_eq!(
        principals_on(&lf, filter.clone()).await,
        BTreeSet::from([analyst.to_string()])
    );

    // Set outside glue-rs: a tag and a grant on the table.
    let table = Resource::builder()
        .table(
            TableResource::builder()
                .database_name(&db)
                .name("customers")
                .build()
                .unwrap(),
        )
        .build();
    lf.add_lf_tags_to_resource()
        .resource(table.clone())
        .lf_tags(LfTagPair::builder().tag_key(&owner).tag_values("bi").build().unwrap())
        .send()
        .await
        .expect("AddLFTagsToResource");
    let auditor = "arn:aws:iam::123456789012:role/auditor";
    lf.grant_permissions()
        .principal(
            DataLakePrincipal::builder()
                .data_lake_principal_identifier(auditor)
                .build(),
        )
        .resource(table.clone())
        .permissions(Permission::Select)
        .send()
        .await
        .expect("GrantPermissions");

    // A rebuild: the table entry is replaced in place (the simulator, like Lake Formation, drops a table's tags and
    // grants with the table), so all of it survives; the reconcile only reads.
    let since = last_seq();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "second run: {}", text(&out));
    let calls = log_since(since);
    assert!(
        calls.iter().any(|(op, _)| op == "UpdateTable"),
        "the rebuild swapped the entry: {calls:?}"
    );
    let lf_writes: Vec<_> = sim::log(since)
        .iter()
        .filter(|e| e["service"] == "lakeformation")
        .filter_map(|e| e["operation"].as_str())
        .filter(|op| !op.starts_with("Get") && !op.starts_with("List"))
        .map(str::to_string)
        .collect();
    assert!(
        lf_writes.is_empty(),
        "a second run changes nothing in Lake Formation: {lf_writes:?}"
    );
    let (on_table, on_email) = table_tags(&lf, &db, "customers", "email").await;
    assert_eq!(
        on_table,
        BTreeSet::from([format!("{level}=public"), format!("{owner}=bi")])
    );
    assert_eq!(on_email, BTreeSet::from([format!("{level}=pii")]));
    assert!(
        principals_on(&lf, table).await.contains(auditor),
        "the outside grant survived"
    );
    assert_eq!(principals_on(&lf, filter).await, BTreeSet::from([analyst.to_string()]));

    // `glue plan` reads the live state: nothing to change.
    let out = p.run(&["plan"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = text(&out);
    assert!(
        plan.contains(&format!(
            "-- lake formation {db}.customers (catalog 123456789012): no change"
        )),
        "{plan}"
    );
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

/// No Hudi jars exist in the test world: a Hudi model runs through the plan, the engine and the session's runner up to
/// the write, which Spark refuses for want of the `org.apache.hudi` data source (with the jars, as on Glue, it writes).
#[test]
fn a_hudi_model_reaches_the_hudi_writer_on_the_session() {
    let p = Project::new(
        &[(
            "h",
            "{{ config(materialized='incremental', file_format='hudi', unique_key='id', \
             substitute_variables=['1 + 1']) }}\nselect 2 as id where 2 = <SUBSTITUTE_VARIABLE_0>",
        )],
        "      datalake_formats: hudi\n",
        1,
    );
    let out = p.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("org.apache.hudi"),
        "the rows went to the Hudi data source: {}",
        text(&out)
    );
}

#[test]
fn a_missing_lf_tag_fails_the_model_naming_the_tag_the_value_and_the_model() {
    let key = unique("it_nosuchtag_");
    let model = "{{ config(materialized='table', lf_tags_config={'enabled': true, 'tags_table': {'KEY': 'gold'}}) }}\n\
                 select 1 as id"
        .replace("KEY", &key);
    let p = Project::new(&[("tagged", &model)], "", 1);
    let out = p.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("model `tagged`") && all.contains(&format!("LF-tag `{key}`")) && all.contains("does not exist"),
        "{all}"
    );
}

/// A model whose compilation prints human lines: a config warning (unknown key) and a Jinja `log(…, info=True)`
/// line; its rows hold a comma and double quotes, which CSV must quote.
const NOISY_MODEL: (&str, &str) = (
    "m",
    "{{ config(materialized='view', flavour='mint') }}\n{{ log('note from m', info=True) }}\n\
     select 1 as id, 'a,b' as name union all select 2, 'say \"hi\"'",
);

/// stdout and stderr of a run.
fn streams(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each of `lines` is on stderr and not on stdout.
fn assert_on_stderr_only(out: &Output, lines: &[&str]) {
    let (stdout, stderr) = streams(out);
    for line in lines {
        assert!(stderr.contains(line), "`{line}` is not on stderr:\n{}", text(out));
        assert!(!stdout.contains(line), "`{line}` is on stdout:\n{stdout}");
    }
}

/// `show --select m --output csv`, then `--output json`, of `NOISY_MODEL` on `p`: each run succeeds, stdout parses
/// as CSV / JSON and holds exactly the model's rows, and each of `human` is on stderr only.
fn assert_show_writes_only_rows(p: &Project, human: &[&str]) {
    let out = p.run(&["show", "--select", "m", "--output", "csv"]);
    assert!(out.status.success(), "{}", text(&out));
    let (header, mut records) = common::csv_of(&streams(&out).0);
    records.sort();
    assert_eq!(header, ["id", "name"], "{}", text(&out));
    assert_eq!(records, [["1", "a,b"], ["2", "say \"hi\""]], "{}", text(&out));
    assert_on_stderr_only(&out, human);

    let out = p.run(&["show", "--select", "m", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        common::show_rows_of(&streams(&out).0),
        [
            serde_json::json!({"id": 1, "name": "a,b"}),
            serde_json::json!({"id": 2, "name": "say \"hi\""}),
        ],
        "{}",
        text(&out)
    );
    assert_on_stderr_only(&out, human);
}

/// `show --output csv|json` and `ls --output json` on Glue sessions (Livy): stdout holds only the data, read back
/// with a CSV and a JSON parser; the Glue traffic line, the warning, the Jinja `log` line and errors are on stderr.
#[test]
fn machine_readable_output_on_glue_sessions_is_only_data() {
    let p = Project::new(&[NOISY_MODEL], "", 1);
    let human = [
        "Glue: 1 session(s) (1 created, 0 reused)",
        "unknown config key `flavour`",
        "note from m",
    ];

    assert_show_writes_only_rows(&p, &human);

    // A failing query: the error and the traffic line on stderr, nothing on stdout.
    let out = p.run(&[
        "show",
        "--inline",
        "select * from no_such_table_here",
        "--output",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(streams(&out).0, "", "stdout must stay empty: {}", text(&out));
    assert_on_stderr_only(&out, &["Error: ", "Glue: 1 session(s)"]);

    // `ls` starts no session: its nodes, one JSON object per line.
    let since = last_seq();
    let out = p.run(&["ls", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let (stdout, _) = streams(&out);
    let ids: Vec<String> = stdout
        .lines()
        .map(|l| {
            let node: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON node ({e}): `{l}`"));
            node["unique_id"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(ids, ["model.p.m"], "{stdout}");
    assert_on_stderr_only(&out, &["unknown config key `flavour`", "note from m"]);
    assert_eq!(count(&log_since(since), "CreateSession"), 0, "ls creates no session");

    // `compile --output json` (no session either): one `{"node", "compiled"}` object.
    let since = last_seq();
    let out = p.run(&["compile", "--select", "m", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let (stdout, _) = streams(&out);
    let node: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"));
    assert_eq!(node["node"], "m", "{stdout}");
    assert!(
        node["compiled"].as_str().is_some_and(|c| c.contains("'a,b'")),
        "{stdout}"
    );
    assert_on_stderr_only(&out, &["unknown config key `flavour`", "note from m"]);
    assert_eq!(
        count(&log_since(since), "CreateSession"),
        0,
        "compile creates no session"
    );
}

/// The same on a Glue Spark Connect session: its traffic line goes to stderr.
#[test]
fn machine_readable_output_on_a_glue_spark_connect_session_is_only_data() {
    let p = Project::new(
        &[NOISY_MODEL],
        "      session_type: spark_connect\n      glue_version: '5.1'\n",
        1,
    );
    let human = [
        "Glue Spark Connect: 1 session(s) (1 created, 0 reused)",
        "unknown config key `flavour`",
        "note from m",
    ];

    assert_show_writes_only_rows(&p, &human);
}

/// Two `glue run` processes rebuild one table of the simulator's catalog at once (issue 19, item 6): the table is
/// always one run's result whole; a run that fails says another run won. `GLUE_RS_RACE_ROUNDS` rounds (3 by
/// default; `cargo xtask it --long` runs 20).
#[test]
fn two_glue_processes_rebuilding_one_table_leave_one_result_whole() {
    let rounds = common::race_rounds();
    let model = "{{ config(materialized='table') }}\n\
                 select id, '{{ var(\"tag\", \"none\") }}' as tag \
                 from range(0, {{ 2 if var('tag', 'none').startswith('a') else 3 }})";
    let p = Project::new(&[("raced", model)], "", 1);
    let first = p.run(&["run", "--vars", "{tag: start}"]);
    assert!(first.status.success(), "{}", text(&first));
    let mut one_failed = 0;
    for round in 0..rounds {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let spawn = |tag: &str| {
            p.command(&["run", "--vars", &format!("{{tag: {tag}}}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("glue starts")
        };
        let (ca, cb) = (spawn(&a), spawn(&b));
        let (oa, ob) = (ca.wait_with_output().unwrap(), cb.wait_with_output().unwrap());
        let sql = format!("select tag, count(*) as n from {}.raced group by tag", p.schema);
        let shown = p.run(&["show", "--inline", &sql, "--output", "json", "-q"]);
        assert!(shown.status.success(), "{}", text(&shown));
        let v: Value = serde_json::from_str(String::from_utf8_lossy(&shown.stdout).trim()).expect("JSON rows");
        let got = v["show"].as_array().expect("rows");
        one_failed += common::check_race_round(round, [(&a, &oa), (&b, &ob)], got);
    }
    println!("{rounds} rounds on Glue sessions: {one_failed} runs lost to the other");
}

/// `glue plan` on a Glue target reads each relation from the Glue Data Catalog (no session is created) and prints
/// the steps the next run sends, node by node: a documented table with `persist_docs`, a view, an incremental
/// append (its column list is bound at run time: a placeholder in both) and an Iceberg merge, against an empty
/// schema and then against the tables the first run made.
#[test]
fn plan_reads_the_glue_catalog_without_a_session_and_equals_the_run() {
    let p = Project::new(
        &[
            (
                "base",
                "{{ config(materialized='table', persist_docs={'relation': true, 'columns': true}) }}\n\
                 select 1 as id, 'a' as name",
            ),
            (
                "base_view",
                "{{ config(materialized='view') }}\nselect id from {{ ref('base') }}",
            ),
            (
                "appended",
                "{{ config(materialized='incremental', incremental_strategy='append') }}\nselect * from {{ ref('base') }}",
            ),
            (
                "merged",
                "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id', \
                 file_format='iceberg') }}\nselect * from {{ ref('base') }}",
            ),
        ],
        "      datalake_formats: iceberg\n",
        2,
    );
    std::fs::write(
        p.path().join("models/base.yml"),
        "version: 2\nmodels:\n  - name: base\n    description: The base.\n    columns:\n      - name: id\n        description: The key.\n",
    )
    .unwrap();
    for round in ["empty schema", "second run"] {
        let _ = std::fs::remove_dir_all(p.path().join("target/run"));
        let since = last_seq();
        let plan = p.run(&["plan"]);
        assert!(plan.status.success(), "{round}: {}", text(&plan));
        let log = log_since(since);
        assert_eq!(
            count(&log, "CreateSession"),
            0,
            "{round}: glue plan created a session: {log:?}"
        );
        assert!(
            count(&log, "GetTables") + count(&log, "GetTable") > 0,
            "{round}: glue plan read the catalog: {log:?}"
        );
        let planned = common::planned(&String::from_utf8_lossy(&plan.stdout));
        let run = p.run(&["run"]);
        assert!(run.status.success(), "{round}: {}", text(&run));
        let executed = common::executed(p.path());
        assert_eq!(
            planned.keys().collect::<Vec<_>>(),
            executed.keys().collect::<Vec<_>>(),
            "{round}"
        );
        for (id, ran) in &executed {
            assert_eq!(
                common::without_invocation_id(&planned[id]),
                common::without_invocation_id(ran),
                "{round}: `glue plan` of {id} differs from what `glue run` sent"
            );
        }
        // The second plan found the tables the first run made: a merge, its column list bound at run time.
        let merged = &planned["model.p.merged"];
        let merges = merged.contains("-- Merge ") && merged.contains("rendered by the engine at run time");
        assert_eq!(merges, round == "second run", "{round}: {merged}");
    }
}
