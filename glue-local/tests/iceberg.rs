//! Iceberg on the embedded engine: create, append, read; rebuilds and partition overwrites as new table versions;
//! snapshot expiry; MERGE as a new table version; partition transforms.

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

fn merge_cfg(extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
        "unique_key": "id"});
    c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    c
}

const V3: &str = "select * from (values (3, 'C', date '2024-02-02'), (4, 'd', date '2024-01-03')) as t(id, name, dt)";

#[tokio::test]
async fn iceberg_merge_updates_matched_rows_and_inserts_the_others() {
    // With temporary views (`use_iceberg_temp_views`) and with dbt-glue's physical temp table.
    for temp_views in [true, false] {
        let w = World::new();
        let cfg = merge_cfg(json!({"use_iceberg_temp_views": temp_views}));
        w.run("m", cfg.clone(), V1).await;
        w.run("m", cfg.clone(), V2).await;
        assert_eq!(
            w.rows("select id, name, dt from analytics.m").await,
            ["1|a|2024-01-01", "2|b|2024-01-01", "3|C|2024-01-02", "4|d|2024-01-03"],
            "temp views: {temp_views}"
        );
        // Idempotent: the same rows again change nothing.
        w.run("m", cfg, V2).await;
        assert_eq!(w.rows("select count(*) from analytics.m").await, ["4"]);
        let state = w.engine.catalog().read().unwrap();
        let names: Vec<&String> = state.tables.keys().collect();
        assert_eq!(
            names,
            ["analytics.m"],
            "no temporary table is left (temp views: {temp_views})"
        );
    }
}

#[tokio::test]
async fn iceberg_merge_update_and_exclude_columns_and_incremental_predicates() {
    let w = World::new();
    let cfg = merge_cfg(json!({"merge_update_columns": ["name"]}));
    w.run("u", cfg.clone(), V1).await;
    w.run("u", cfg, V3).await;
    // Only `name` is updated on the matched row; `dt` keeps the table's value.
    assert_eq!(
        w.rows("select id, name, dt from analytics.u").await,
        ["1|a|2024-01-01", "2|b|2024-01-01", "3|C|2024-01-02", "4|d|2024-01-03"]
    );
    let cfg = merge_cfg(json!({"merge_exclude_columns": ["name"]}));
    w.run("x", cfg.clone(), V1).await;
    w.run("x", cfg, V3).await;
    assert_eq!(
        w.rows("select id, name, dt from analytics.x").await,
        ["1|a|2024-01-01", "2|b|2024-01-01", "3|c|2024-02-02", "4|d|2024-01-03"]
    );
    // An incremental predicate narrows the ON condition: the target row 3 fails it, so the source's row 3 matches
    // nothing and is inserted, as Spark's MERGE does.
    let cfg = merge_cfg(json!({"incremental_predicates": ["DBT_INTERNAL_DEST.id > 3"]}));
    w.run("p", cfg.clone(), V1).await;
    w.run("p", cfg, V2).await;
    assert_eq!(
        w.rows("select id, name from analytics.p").await,
        ["1|a", "2|b", "3|C", "3|c", "4|d"]
    );
}

#[tokio::test]
async fn iceberg_merge_of_two_source_rows_into_one_target_row_fails_and_keeps_the_table() {
    let w = World::new();
    let cfg = merge_cfg(json!({}));
    w.run("d", cfg.clone(), V1).await;
    let dup = "select * from (values (1, 'x', date '2024-01-01'), (1, 'y', date '2024-01-01')) as t(id, name, dt)";
    let p = w.plan("d", cfg, dup, false).await;
    let e = glue_materialize::Engine::execute(&w.engine, &p)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("MERGE_CARDINALITY_VIOLATION"), "{e}");
    assert_eq!(w.rows("select id, name from analytics.d").await, ["1|a", "2|b", "3|c"]);
}

#[tokio::test]
async fn iceberg_partition_transforms_on_create_overwrite_append_and_merge() {
    let w = World::new();
    let rows = |day: &str, ids: &[i64]| {
        let values: Vec<String> = ids
            .iter()
            .map(|i| format!("({i}, 'n{i}', timestamp '{day} 10:00:00', 'abcdef{i}')"))
            .collect();
        format!("select * from (values {}) as t(id, name, ts, code)", values.join(", "))
    };
    let v1 = format!(
        "{} union all {}",
        rows("2024-01-01", &[1, 2, 3]),
        rows("2024-01-02", &[4, 5])
    );
    let cfg = json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "insert_overwrite",
        "partition_by": ["days(ts)", "bucket(4, id)", "truncate(3, code)"]});
    w.run("parts", cfg.clone(), &v1).await;
    // Spark's Iceberg partition spec: field names and transforms as Spark writes them.
    let meta = metadata(&w, "parts");
    let fields: Vec<(String, String)> = meta["partition-specs"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().into(),
                f["transform"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("ts_day".to_string(), "day".to_string()),
            ("id_bucket".into(), "bucket[4]".into()),
            ("code_trunc".into(), "truncate[3]".into())
        ]
    );
    // The data files sit in Hive-style partition directories of the transformed values.
    let data = std::fs::read_dir(std::path::Path::new(meta["location"].as_str().unwrap()).join("data"))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().to_string())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        data.into_iter().collect::<Vec<_>>(),
        ["ts_day=2024-01-01", "ts_day=2024-01-02"]
    );
    // insert_overwrite replaces the partitions the new rows fall in: (2024-01-02, bucket of 4); 5 goes only if it
    // shares 4's bucket.
    let v2 = rows("2024-01-02", &[4]);
    w.run("parts", cfg.clone(), &v2).await;
    let got = w.rows("select id from analytics.parts").await;
    assert!(
        got.starts_with(&["1".to_string(), "2".into(), "3".into(), "4".into()]),
        "{got:?}"
    );
    // Append and merge write into the same spec.
    let append = json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "append",
        "partition_by": ["days(ts)", "bucket(4, id)", "truncate(3, code)"]});
    w.run("parts", append, &rows("2024-01-03", &[6])).await;
    let merge = json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
        "unique_key": "id", "partition_by": ["days(ts)", "bucket(4, id)", "truncate(3, code)"]});
    w.run("parts", merge, &rows("2024-01-04", &[1, 7])).await;
    let got = w
        .rows("select id, cast(ts as string) from analytics.parts where id in (1, 6, 7)")
        .await;
    assert_eq!(
        got,
        [
            "1|2024-01-04 10:00:00",
            "6|2024-01-03 10:00:00",
            "7|2024-01-04 10:00:00"
        ]
    );
    let meta = metadata(&w, "parts");
    assert_eq!(meta["partition-specs"][0]["fields"].as_array().unwrap().len(), 3);
}

#[test]
fn partition_transforms_on_other_formats_are_refused_clearly() {
    // Refused where the config is read, naming the field, before any plan (Spark's Hive tables partition by columns).
    let cfg = json!({"materialized": "table", "file_format": "parquet", "partition_by": ["days(ts)"]});
    let e = glue_materialize::ModelConfig::from_json(&cfg).unwrap_err().to_string();
    assert!(e.contains("partition_by") && e.contains("Iceberg"), "{e}");
}

/// The current Iceberg metadata of a table of the warehouse.
fn metadata(w: &World, table: &str) -> serde_json::Value {
    let state = w.engine.catalog().read().unwrap();
    let e = state.table("analytics", table).unwrap();
    serde_json::from_str(&std::fs::read_to_string(e.iceberg_metadata.as_deref().unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn iceberg_merge_edge_cases_empty_sides_null_keys_and_quoted_names() {
    let w = World::new();
    let cfg = merge_cfg(json!({"unique_key": "the id"}));
    let empty = "select * from (values (1, 'x')) as t(`the id`, `Name`) where false";
    // Into an empty table, from an empty source, then rows with a NULL key (never matched: inserted, as in Spark).
    w.run("e", cfg.clone(), empty).await;
    w.run("e", cfg.clone(), empty).await;
    assert_eq!(w.rows("select count(*) from analytics.e").await, ["0"]);
    let rows = "select * from (values (1, 'a'), (cast(null as int), 'n')) as t(`the id`, `Name`)";
    w.run("e", cfg.clone(), rows).await;
    w.run("e", cfg.clone(), rows).await;
    assert_eq!(
        w.rows("select `the id`, `Name` from analytics.e").await,
        ["1|a", "NULL|n", "NULL|n"]
    );
}
