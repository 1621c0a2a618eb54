//! Snapshots (SCD2 on Delta) and seeds (CSV typed with column_types) on real files.

mod common;

use common::*;
use serde_json::json;

fn snapshot_cfg(extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"materialized": "snapshot", "file_format": "delta", "unique_key": "id",
        "strategy": "timestamp", "updated_at": "updated_at"});
    c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    c
}

const DAY1: &str = "select * from (values (1, 'a', timestamp '2024-01-01 00:00:00'), (2, 'b', timestamp '2024-01-01 00:00:00')) as t(id, name, updated_at)";
const DAY2: &str = "select * from (values (1, 'A', timestamp '2024-01-02 00:00:00'), (3, 'c', timestamp '2024-01-02 00:00:00')) as t(id, name, updated_at)";

#[tokio::test]
async fn timestamp_snapshot_keeps_history() {
    let w = World::new();
    w.run("snap", snapshot_cfg(json!({})), DAY1).await;
    assert_eq!(
        w.rows("select id, name, dbt_valid_to is null from analytics.snap")
            .await,
        ["1|a|true", "2|b|true"]
    );
    w.run("snap", snapshot_cfg(json!({})), DAY2).await;
    // (Timestamps cast to strings as Spark writes them.) id 1 changed: the old version is closed, a new one is current; id 2 is untouched (hard deletes ignored);
    // id 3 is new.
    assert_eq!(
        w.rows("select id, name, cast(dbt_valid_from as string), cast(dbt_valid_to as string) from analytics.snap")
            .await,
        [
            "1|A|2024-01-02 00:00:00|NULL",
            "1|a|2024-01-01 00:00:00|2024-01-02 00:00:00",
            "2|b|2024-01-01 00:00:00|NULL",
            "3|c|2024-01-02 00:00:00|NULL",
        ]
    );
    // Running again with the same data changes nothing.
    w.run("snap", snapshot_cfg(json!({})), DAY2).await;
    assert_eq!(w.rows("select count(*) from analytics.snap").await, ["4"]);
}

#[tokio::test]
async fn check_snapshot_with_invalidated_hard_deletes() {
    let w = World::new();
    let cfg = snapshot_cfg(json!({"strategy": "check", "check_cols": ["name"], "hard_deletes": "invalidate"}));
    w.run("snap", cfg.clone(), DAY1).await;
    w.run("snap", cfg, DAY2).await;
    // id 2 disappeared from the source: its row is closed.
    assert_eq!(
        w.rows("select id, name, dbt_valid_to is null from analytics.snap")
            .await,
        ["1|A|true", "1|a|false", "2|b|false", "3|c|true"]
    );
}

#[tokio::test]
async fn seeds_typed_and_reloaded() {
    let w = World::new();
    let csv = w.dir.path().join("people.csv");
    std::fs::write(&csv, "id,name,joined\n1,Ann,2024-01-01\n2,\"Bo, Jr\",2024-02-01\n").unwrap();
    let cfg = json!({"materialized": "seed", "column_types": {"id": "int", "joined": "date"}});
    seed(&w, &csv, cfg.clone()).await;
    let cols = glue_materialize::Engine::describe(&w.engine, &glue_sql::RelationName::new(SCHEMA, "people").unwrap())
        .await
        .unwrap();
    let types: Vec<String> = cols
        .iter()
        .map(|c| format!("{} {}", c.name.as_str(), c.data_type))
        .collect();
    assert_eq!(types, ["id int", "name string", "joined date"]);
    // Overwrite mode: a second load replaces the rows.
    std::fs::write(&csv, "id,name,joined\n3,Cy,2024-03-01\n").unwrap();
    seed(&w, &csv, cfg).await;
    assert_eq!(
        w.rows("select id, name, joined from analytics.people").await,
        ["3|Cy|2024-03-01"]
    );
}

async fn seed(w: &World, csv: &std::path::Path, cfg: serde_json::Value) {
    let c = glue_materialize::ModelConfig::from_json(&cfg).unwrap();
    let mut m = glue_materialize::Model::new("people", SCHEMA, "", c);
    m.seed_path = Some(csv.display().to_string());
    let p = glue_materialize::plan(&m, &w.existing("people").await, &w.target, &Default::default()).unwrap();
    glue_materialize::Engine::execute(&w.engine, &p).await.unwrap();
}
