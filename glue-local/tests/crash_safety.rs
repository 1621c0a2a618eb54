//! Crash safety: a writer process is killed with SIGKILL at each failpoint of a table replace (Parquet: build the
//! new version, then switch the catalog entry) and of a merge (Delta), while a reader in this process keeps reading.
//! The reader must always see the old table or the new one, whole; afterwards the catalog is readable and the same
//! write succeeds when run again.
//!
//! The writer is this test binary re-run with `CRASH_ROLE` set, so it runs `writer_role` only.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

const OLD: &str = "select value as id, 'old' as v from range(1, 201)";
const NEW: &str = "select value as id, 'new' as v from range(1, 301)";

fn table_cfg(format: &str) -> serde_json::Value {
    json!({"materialized": "table", "file_format": format})
}

fn merge_cfg() -> serde_json::Value {
    json!({"materialized": "incremental", "file_format": "delta", "incremental_strategy": "merge", "unique_key": "id"})
}

/// The writer: runs one model against the warehouse named by `CRASH_DIR`. Not a test of its own: the crash tests
/// start it in a child process (`--ignored --exact writer_role`).
#[tokio::test]
#[ignore = "the crash tests' writer process, started by them"]
async fn writer_role() {
    let role = std::env::var("CRASH_ROLE").expect("CRASH_ROLE: run by the crash tests only");
    let dir = std::env::var("CRASH_DIR").unwrap();
    let w = World::at(std::path::Path::new(&dir));
    match role.as_str() {
        "replace-parquet" => w.run("t", table_cfg("parquet"), NEW).await,
        "replace-delta" => w.run("t", table_cfg("delta"), NEW).await,
        "merge-delta" => w.run("t", merge_cfg(), NEW).await,
        other => panic!("unknown role {other}"),
    }
}

fn spawn_writer(dir: &std::path::Path, role: &str, failpoint: Option<&str>) -> std::process::Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--ignored", "--exact", "writer_role", "--nocapture", "--test-threads=1"])
        .env("CRASH_ROLE", role)
        .env("CRASH_DIR", dir)
        .env_remove(glue_local::failpoint::ENV)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(f) = failpoint {
        c.env(glue_local::failpoint::ENV, f);
    }
    c.spawn().unwrap()
}

async fn state(w: &World) -> String {
    let rows = w.rows("select count(*), min(v), max(v) from analytics.t").await;
    rows.join(";")
}

async fn scenario(role: &str, setup_cfg: serde_json::Value, failpoints: &[&str], new_state: &str) {
    for fp in failpoints {
        let w = World::new();
        w.run("t", setup_cfg.clone(), OLD).await;
        let old_state = "200|old|old";
        assert_eq!(state(&w).await, old_state);
        let mut child = spawn_writer(w.dir.path(), role, Some(fp));
        // Read while the writer runs and until it is dead.
        let mut reads = 0;
        loop {
            let s = state(&World::at(w.dir.path())).await;
            assert!(s == old_state || s == new_state, "{role} at {fp}: reader saw {s}");
            reads += 1;
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "{role}: the writer was meant to die at {fp} ({status})"
        );
        // After the crash: the catalog reads, the table is old or new whole.
        glue_local::catalog::Catalog::new(w.dir.path()).read().unwrap();
        let after = state(&World::at(w.dir.path())).await;
        assert!(
            after == old_state || after == new_state,
            "{role} at {fp}: after the crash {after}"
        );
        // The same write succeeds when run again.
        let status = spawn_writer(w.dir.path(), role, None).wait().unwrap();
        assert!(status.success(), "{role}: the rerun after a crash at {fp} failed");
        assert_eq!(
            state(&World::at(w.dir.path())).await,
            new_state,
            "{role} at {fp}: {reads} reads"
        );
    }
}

#[tokio::test]
async fn table_replace_survives_a_crash_at_every_failpoint() {
    // Staging build: catalog write; then the swap: catalog write.
    scenario(
        "replace-parquet",
        table_cfg("parquet"),
        &[
            "catalog.before_switch@1",
            "catalog.before_rename@1",
            "catalog.after_switch@1",
            "swap.before_switch@1",
            "catalog.before_rename@2",
            "swap.after_switch@1",
        ],
        "300|new|new",
    )
    .await;
    scenario(
        "replace-delta",
        table_cfg("delta"),
        &[
            "delta.before_commit@1",
            "catalog.before_switch@1",
            "catalog.before_rename@1",
        ],
        "300|new|new",
    )
    .await;
}

#[tokio::test]
async fn merge_survives_a_crash_at_every_failpoint() {
    scenario("merge-delta", merge_cfg(), &["delta.before_commit@1"], "300|new|new").await;
}
