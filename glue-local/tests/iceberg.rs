//! Iceberg on the embedded engine: create, append, read; rebuilds and partition overwrites as new table versions;
//! snapshot expiry; MERGE refused as unsupported before anything is written.

mod common;

use common::*;
use serde_json::json;

const V1: &str = "select * from (values (1, 'a', date '2024-01-01'), (2, 'b', date '2024-01-01'), (3, 'c', date '2024-01-02')) as t(id, name, dt)";
const V2: &str = "select * from (values (3, 'C', date '2024-01-02'), (4, 'd', date '2024-01-03')) as t(id, name, dt)";

#[tokio::test]
async fn iceberg_create_append_read_and_expire() {
    let w = World::new();
    let cfg = json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "append"});
    w.run("events", cfg.clone(), V1).await;
    w.run("events", cfg, V2).await;
    assert_eq!(
        w.rows("select id, name from analytics.events").await,
        ["1|a", "2|b", "3|C", "3|c", "4|d"]
    );
    // The Iceberg catalog prefix resolves to the same warehouse.
    assert_eq!(
        w.rows("select count(*) from glue_catalog.analytics.events").await,
        ["5"]
    );
    // The metadata is real Iceberg metadata: the append is a snapshot, older ones were expired by the plan.
    let state = w.engine.catalog().read().unwrap();
    let e = state.table("analytics", "events").unwrap();
    let meta = std::fs::read_to_string(e.iceberg_metadata.as_deref().unwrap()).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["format-version"], 2);
    assert_eq!(
        meta["snapshots"].as_array().unwrap().len(),
        1,
        "expire_snapshots keeps the newest only"
    );
}

#[tokio::test]
async fn iceberg_rebuilds_and_partition_overwrite() {
    let w = World::new();
    let cfg = json!({"materialized": "incremental", "file_format": "iceberg", "partition_by": ["dt"],
        "iceberg_expire_snapshots": "False"});
    w.run("daily", cfg.clone(), V1).await;
    w.run("daily", cfg, V2).await;
    assert_eq!(
        w.rows("select id, name, dt from analytics.daily").await,
        ["1|a|2024-01-01", "2|b|2024-01-01", "3|C|2024-01-02", "4|d|2024-01-03"]
    );
    w.run("t", json!({"materialized": "table", "file_format": "iceberg"}), V1)
        .await;
    w.run("t", json!({"materialized": "table", "file_format": "iceberg"}), V2)
        .await;
    assert_eq!(w.rows("select id from analytics.t").await, ["3", "4"]);
}

#[tokio::test]
async fn iceberg_merge_is_refused_before_writing() {
    let w = World::new();
    let cfg = json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
        "unique_key": "id", "use_iceberg_temp_views": true});
    w.run("m", cfg.clone(), V1).await;
    let p = w.plan("m", cfg, V2, false).await;
    let e = glue_materialize::Engine::execute(&w.engine, &p)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("unsupported on the embedded engine"), "{e}");
    assert_eq!(w.rows("select id, name from analytics.m").await, ["1|a", "2|b", "3|c"]);
}
