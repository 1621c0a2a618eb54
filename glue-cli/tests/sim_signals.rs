//! Signals to the `glue` binary on the test world's Glue simulator: Ctrl-C and SIGTERM cancel the running statement,
//! stop the run's sessions and exit 130 / 143; a second signal exits at once after a best-effort stop; SIGTERM on the
//! embedded engine leaves the warehouse usable.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use glue_testkit::sim::{endpoint, last_seq};

use common::sim::{Project, ROLE_PREFIX, count, count_on, created_sessions, glue_client, log_since, status, unique};
use common::text;

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
