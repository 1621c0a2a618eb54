//! Crash safety: a writer process is killed with SIGKILL at each failpoint of a table replace (Parquet: build the
//! new version, then switch the catalog entry), of a merge (Delta; Iceberg, as a new table version) and of an append
//! that adds a column (Delta, Iceberg: the schema change and the rows commit together), while a reader in this
//! process keeps reading.
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
/// NEW with a column more.
const WIDER: &str = "select value as id, 'new' as v, 'x' as extra from range(1, 301)";

fn table_cfg(format: &str) -> serde_json::Value {
    json!({"materialized": "table", "file_format": format})
}

fn merge_cfg() -> serde_json::Value {
    json!({"materialized": "incremental", "file_format": "delta", "incremental_strategy": "merge", "unique_key": "id"})
}

fn iceberg_merge_cfg() -> serde_json::Value {
    json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
        "unique_key": "id"})
}

fn evolve_cfg(format: &str) -> serde_json::Value {
    json!({"materialized": "incremental", "file_format": format, "incremental_strategy": "append",
        "on_schema_change": "append_new_columns"})
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
        "merge-iceberg" => w.run("t", iceberg_merge_cfg(), NEW).await,
        "evolve-iceberg" => w.run("t", evolve_cfg("iceberg"), WIDER).await,
        "evolve-delta" => w.run("t", evolve_cfg("delta"), WIDER).await,
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

/// Rows, min and max of `v`, and the number of columns, from one read of the table (what a query sees: the columns
/// of its data, Delta's log or Iceberg's metadata, not a catalog cache).
async fn state(w: &World) -> String {
    let batches = glue_materialize::Engine::query(&w.engine, "select * from analytics.t")
        .await
        .unwrap();
    let columns = batches.first().map(|b| b.num_columns()).unwrap_or(0);
    let mut values: Vec<String> = Vec::new();
    for b in &batches {
        let i = b.schema().index_of("v").unwrap();
        let v = b.column(i);
        for row in 0..b.num_rows() {
            values.push(datafusion::arrow::util::display::array_value_to_string(v, row).unwrap());
        }
    }
    let (min, max) = (values.iter().min().cloned(), values.iter().max().cloned());
    format!(
        "{}|{}|{}|{columns}",
        values.len(),
        min.unwrap_or_default(),
        max.unwrap_or_default()
    )
}

/// The table built by every scenario, read by [`state`].
const OLD_STATE: &str = "200|old|old|2";

/// One writer `role` killed at failpoint `fp` on a table built with `setup_cfg` (the old state).
struct Crash {
    w: World,
    /// Reads while the writer ran and until it was dead, each the old or the new state whole.
    reads: usize,
    /// The state after the crash (old or new whole); `None` when the writer ran through (`fp` was not hit).
    after: Option<String>,
}

/// Builds the old state, starts the writer to die at `fp` and reads the table until it is dead. When it died: the
/// catalog reads, the table is old or new whole, and the same write run again succeeds.
async fn crash(role: &str, setup_cfg: &serde_json::Value, fp: &str, new_state: &str) -> Crash {
    let w = World::new();
    w.run("t", setup_cfg.clone(), OLD).await;
    let old_state = OLD_STATE;
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
    if child.wait().unwrap().success() {
        return Crash { w, reads, after: None };
    }
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
    Crash {
        w,
        reads,
        after: Some(after),
    }
}

/// [`scenario`] at every hit of each failpoint in `names`: `name@1`, `name@2`, … until the writer runs through
/// (the failpoint is not hit that often), which must then leave the new state.
async fn every_hit(role: &str, setup_cfg: serde_json::Value, names: &[&str], new_state: &str) -> usize {
    let mut kills = 0;
    for name in names {
        for n in 1.. {
            let fp = format!("{name}@{n}");
            let Crash { w, after, .. } = crash(role, &setup_cfg, &fp, new_state).await;
            let rerun = state(&World::at(w.dir.path())).await;
            let Some(after) = after else {
                assert_eq!(rerun, new_state, "{role}: {fp} never hit");
                break;
            };
            kills += 1;
            // A crash before the commit: the rerun converges to the new state. (After it, a rerun of an append
            // appends again, as dbt's would: only merges are compared then.)
            if after == OLD_STATE || role.starts_with("merge") {
                assert_eq!(rerun, new_state, "{role} at {fp}: the rerun");
            }
        }
    }
    kills
}

async fn scenario(role: &str, setup_cfg: serde_json::Value, failpoints: &[&str], new_state: &str) {
    for fp in failpoints {
        let Crash { w, reads, after } = crash(role, &setup_cfg, fp, new_state).await;
        assert!(after.is_some(), "{role}: the writer was meant to die at {fp}");
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
        "300|new|new|2",
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
        "300|new|new|2",
    )
    .await;
}

#[tokio::test]
async fn merge_survives_a_crash_at_every_failpoint() {
    scenario("merge-delta", merge_cfg(), &["delta.before_commit@1"], "300|new|new|2").await;
}

#[tokio::test]
async fn iceberg_merge_survives_a_crash_at_every_failpoint() {
    let kills = every_hit(
        "merge-iceberg",
        iceberg_merge_cfg(),
        &[
            "iceberg.before_switch",
            "catalog.before_rename",
            "swap.before_switch",
            "swap.after_switch",
        ],
        "300|new|new|2",
    )
    .await;
    println!("Iceberg merge: {kills} kill points, old or new whole at each");
    assert!(kills >= 4, "{kills} kill points");
}

#[tokio::test]
async fn a_schema_change_commits_with_its_rows_at_every_failpoint() {
    // 200 old rows, then 300 new ones with a column more: the old table (2 columns) or the new (3), never the new
    // column without the rows or the reverse.
    for format in ["iceberg", "delta"] {
        let names: &[&str] = if format == "iceberg" {
            &[
                "iceberg.before_switch",
                "catalog.before_rename",
                "swap.before_switch",
                "swap.after_switch",
            ]
        } else {
            &["delta.before_commit", "catalog.before_rename"]
        };
        let kills = every_hit(&format!("evolve-{format}"), evolve_cfg(format), names, "500|new|old|3").await;
        println!("{format} append adding a column: {kills} kill points, old or new whole at each");
        assert!(kills >= 2, "{format}: {kills} kill points");
    }
}
