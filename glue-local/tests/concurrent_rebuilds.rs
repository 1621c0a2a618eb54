//! Two runs of one model, interleaved step by step on the embedded engine: each run stages its result under
//! a name of its own, so the first to switch publishes its own result whole and the other fails clearly; a staging
//! table a crashed run left goes with its files at the next switch.

mod common;

use common::*;
use glue_materialize::{Engine, Plan, Step};
use serde_json::json;

fn table() -> serde_json::Value {
    json!({"materialized": "table"})
}

/// The plan's steps before its switch, and the rest.
fn split(p: &Plan) -> (Plan, Plan) {
    let at = p
        .steps
        .iter()
        .position(|s| matches!(s, Step::SwapTable { .. }))
        .expect("a rebuild switches its staging table in");
    let mut before = p.clone();
    before.steps.truncate(at);
    let mut after = p.clone();
    after.steps.drain(..at);
    (before, after)
}

/// Entries of the schema other than the model's table.
async fn others(w: &World, name: &str) -> Vec<String> {
    let mut names: Vec<String> = w
        .engine
        .list_relations(SCHEMA)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name.identifier.as_str().to_string())
        .filter(|n| n != name)
        .collect();
    names.sort();
    names
}

/// The directories under the schema's folder of the warehouse.
fn dirs(w: &World) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(w.engine.root().join(SCHEMA))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test]
async fn a_run_that_starts_while_another_is_staged_does_not_take_its_staging_table() {
    let w = World::new();
    w.run("t", table(), "select 0 as id, 'start' as who").await;
    let a = w.plan("t", table(), "select 1 as id, 'a' as who", false).await;
    let b = w.plan("t", table(), "select 2 as id, 'b' as who", false).await;
    let (a_build, a_switch) = split(&a);
    let (b_build, b_switch) = split(&b);

    // A stages its result; B starts after it and stages its own.
    w.engine.execute(&a_build).await.expect("a stages");
    w.engine.execute(&b_build).await.expect("b stages");
    // A switches first: its own result is published, not B's.
    w.engine
        .execute(&a_switch)
        .await
        .expect("a switches first and publishes");
    assert_eq!(w.rows("select id, who from analytics.t").await, ["1|a"]);
    // B read the table before A replaced it: it publishes nothing and says why.
    let e = w.engine.execute(&b_switch).await.expect_err("b switches second");
    assert!(e.to_string().contains("another run"), "{e}");
    assert_eq!(w.rows("select id, who from analytics.t").await, ["1|a"]);
    assert_eq!(others(&w, "t").await, Vec::<String>::new(), "no staging table is left");
}

#[tokio::test]
async fn a_staging_table_left_by_a_crashed_run_goes_with_its_files_at_the_next_switch() {
    let w = World::new();
    w.run("t", table(), "select 0 as id").await;
    let before = dirs(&w);
    // A run stops after staging its result (a crash before its switch).
    let crashed = w.plan("t", table(), "select 1 as id", false).await;
    w.engine.execute(&split(&crashed).0).await.expect("stages");
    assert_eq!(others(&w, "t").await.len(), 1, "the crashed run's staging table");
    let staged = dirs(&w);

    // The next rebuild publishes and removes the crashed run's staging table and its data.
    w.run("t", table(), "select 2 as id").await;
    assert_eq!(w.rows("select id from analytics.t").await, ["2"]);
    assert_eq!(others(&w, "t").await, Vec::<String>::new(), "no staging table is left");
    let left = dirs(&w);
    let crashed_dirs: Vec<&String> = staged.iter().filter(|d| !before.contains(d)).collect();
    assert!(
        !crashed_dirs.is_empty(),
        "the crashed run staged its data in a version directory: {staged:?}"
    );
    for d in crashed_dirs {
        assert!(!left.contains(d), "the crashed run's data {d} is left: {left:?}");
    }
}

/// The plan's steps up to and including its temporary relation, and the rest.
fn split_after_temp(p: &Plan) -> (Plan, Plan) {
    let at = p
        .steps
        .iter()
        .position(|s| matches!(s, Step::CreateTempRelation { .. }))
        .expect("an incremental run stages its rows in a temporary relation")
        + 1;
    let mut before = p.clone();
    before.steps.truncate(at);
    let mut after = p.clone();
    after.steps.drain(..at);
    (before, after)
}

#[tokio::test]
async fn two_appends_sharing_one_engine_each_add_their_own_rows() {
    // Two runs of one append model on one engine (as two runs on one reused Glue session): each stages its rows in
    // a temporary relation of its own, so each adds its own rows once.
    let w = World::new();
    let cfg = json!({"materialized": "incremental", "incremental_strategy": "append"});
    w.run("events", cfg.clone(), "select 0 as id, 'start' as who").await;
    let a = w.plan("events", cfg.clone(), "select 1 as id, 'a' as who", false).await;
    let b = w.plan("events", cfg.clone(), "select 2 as id, 'b' as who", false).await;
    let ((a_stage, a_rest), (b_stage, b_rest)) = (split_after_temp(&a), split_after_temp(&b));
    w.engine.execute(&a_stage).await.expect("a stages");
    w.engine.execute(&b_stage).await.expect("b stages");
    w.engine.execute(&a_rest).await.expect("a appends");
    w.engine.execute(&b_rest).await.expect("b appends");
    assert_eq!(
        w.rows("select id, who from analytics.events").await,
        ["0|start", "1|a", "2|b"],
        "each run's rows once"
    );
}
