//! Incremental semantics on real files: append adds rows; insert_overwrite replaces only the partitions present in
//! the new rows (the whole table without partition_by); merge updates matched keys and inserts new ones (single and
//! composite keys, incremental predicates honoured). Parquet and Delta.

mod common;

use common::*;
use serde_json::json;

const V1: &str =
    "select * from (values (1, 'a', '2024-01-01'), (2, 'b', '2024-01-01'), (3, 'c', '2024-01-02')) as t(id, name, dt)";
const V2: &str = "select * from (values (3, 'C', '2024-01-02'), (4, 'd', '2024-01-03')) as t(id, name, dt)";

#[tokio::test]
async fn append_adds_rows() {
    for format in ["parquet", "delta", "csv", "json"] {
        let w = World::new();
        let cfg = json!({"materialized": "incremental", "incremental_strategy": "append", "file_format": format});
        w.run("events", cfg.clone(), V1).await;
        w.run("events", cfg, V2).await;
        assert_eq!(
            w.rows("select id, name from analytics.events").await,
            ["1|a", "2|b", "3|C", "3|c", "4|d"],
            "{format}"
        );
    }
}

#[tokio::test]
async fn insert_overwrite_replaces_only_touched_partitions() {
    for format in ["parquet", "delta"] {
        let w = World::new();
        let cfg = json!({"materialized": "incremental", "file_format": format, "partition_by": ["dt"]});
        w.run("daily", cfg.clone(), V1).await;
        w.run("daily", cfg, V2).await;
        // 2024-01-01 untouched, 2024-01-02 replaced, 2024-01-03 added.
        assert_eq!(
            w.rows("select id, name, dt from analytics.daily").await,
            ["1|a|2024-01-01", "2|b|2024-01-01", "3|C|2024-01-02", "4|d|2024-01-03"],
            "{format}"
        );
    }
}

#[tokio::test]
async fn insert_overwrite_without_partitions_replaces_the_table() {
    for format in ["parquet", "delta"] {
        let w = World::new();
        let cfg = json!({"materialized": "incremental", "file_format": format});
        w.run("snap", cfg.clone(), V1).await;
        w.run("snap", cfg, V2).await;
        assert_eq!(
            w.rows("select id, name from analytics.snap").await,
            ["3|C", "4|d"],
            "{format}"
        );
    }
}

#[tokio::test]
async fn merge_updates_and_inserts() {
    let w = World::new();
    let cfg = json!({"materialized": "incremental", "file_format": "delta", "incremental_strategy": "merge", "unique_key": "id"});
    w.run("customers", cfg.clone(), V1).await;
    w.run("customers", cfg, V2).await;
    assert_eq!(
        w.rows("select id, name, dt from analytics.customers").await,
        ["1|a|2024-01-01", "2|b|2024-01-01", "3|C|2024-01-02", "4|d|2024-01-03"]
    );
}

#[tokio::test]
async fn merge_with_composite_key_and_predicate() {
    let w = World::new();
    let cfg = json!({"materialized": "incremental", "file_format": "delta", "incremental_strategy": "merge",
        "unique_key": ["id", "dt"],
        "incremental_predicates": ["DBT_INTERNAL_DEST.dt >= '2024-01-02'"]});
    w.run("orders", cfg.clone(), V1).await;
    // (1, 2024-01-01) is outside the predicate: it cannot match, so it is inserted again rather than updated.
    let v2 = "select * from (values (1, 'A', '2024-01-01'), (3, 'C', '2024-01-02'), (3, 'x', '2024-01-05')) as t(id, name, dt)";
    w.run("orders", cfg, v2).await;
    assert_eq!(
        w.rows("select id, name, dt from analytics.orders").await,
        [
            "1|A|2024-01-01",
            "1|a|2024-01-01",
            "2|b|2024-01-01",
            "3|C|2024-01-02",
            "3|x|2024-01-05"
        ]
    );
}

#[tokio::test]
async fn table_rebuild_and_views() {
    let w = World::new();
    w.run("t", json!({"materialized": "table"}), V1).await;
    w.run(
        "v",
        json!({"materialized": "view"}),
        "select id from analytics.t where id > 1",
    )
    .await;
    assert_eq!(w.rows("select * from analytics.v").await, ["2", "3"]);
    w.run("t", json!({"materialized": "table"}), V2).await;
    assert_eq!(w.rows("select * from analytics.v").await, ["3", "4"]);
    // The table becomes a view, then a table again.
    w.run("t", json!({"materialized": "view"}), "select 7 as id").await;
    assert_eq!(w.rows("select id from analytics.t").await, ["7"]);
    w.run("t", json!({"materialized": "table", "file_format": "delta"}), V2)
        .await;
    assert_eq!(w.rows("select id from analytics.t").await, ["3", "4"]);
}

#[tokio::test]
async fn on_schema_change_append_new_columns() {
    for format in ["parquet", "delta", "iceberg"] {
        let w = World::new();
        let cfg = json!({"materialized": "incremental", "incremental_strategy": "append", "file_format": format,
            "on_schema_change": "append_new_columns"});
        w.run("wide", cfg.clone(), "select 1 as id").await;
        w.run("wide", cfg.clone(), "select 2 as id, 'x' as extra").await;
        assert_eq!(
            w.rows("select id, extra from analytics.wide").await,
            ["1|NULL", "2|x"],
            "{format}"
        );
        let fail = json!({"materialized": "incremental", "incremental_strategy": "append", "file_format": format,
            "on_schema_change": "fail"});
        let p = w
            .plan("wide", fail, "select 3 as id, 'y' as extra, 1.5 as more", false)
            .await;
        let e = glue_materialize::Engine::execute(&w.engine, &p)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("on_schema_change is `fail`"), "{e}");
        assert_eq!(
            w.rows("select count(*) from analytics.wide").await,
            ["2"],
            "a failed run keeps the table"
        );
    }
}

#[tokio::test]
async fn unsupported_formats_fail_before_writing() {
    let w = World::new();
    for (format, extra) in [("hudi", json!({"unique_key": "id"})), ("s3tables", json!({}))] {
        let mut cfg = json!({"materialized": "incremental", "file_format": format});
        cfg.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let p = w.plan("x", cfg, V1, false).await;
        let e = glue_materialize::Engine::execute(&w.engine, &p)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("unsupported on the embedded engine"), "{e}");
    }
    assert!(w.engine.catalog().read().unwrap().tables.is_empty());
}

#[tokio::test]
async fn sync_all_columns_drops_adds_and_widens_on_iceberg() {
    let w = World::new();
    let cfg = json!({"materialized": "incremental", "incremental_strategy": "append", "file_format": "iceberg",
        "on_schema_change": "sync_all_columns"});
    w.run("s", cfg.clone(), "select cast(1 as int) as id, 'a' as gone, 1.5 as x")
        .await;
    // `gone` disappears, `added` appears, `id` widens from int to bigint: one new version with the rows.
    w.run(
        "s",
        cfg.clone(),
        "select cast(2 as bigint) as id, 1.5 as x, 'n' as added",
    )
    .await;
    assert_eq!(
        w.rows("select id, x, added from analytics.s").await,
        ["1|1.5|NULL", "2|1.5|n"]
    );
    let columns = glue_materialize::Engine::query_schema(&w.engine, "select * from analytics.s")
        .await
        .unwrap();
    let described: Vec<String> = columns
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect();
    assert_eq!(described, ["id Int64", "x Decimal128(2, 1)", "added Utf8"]);
    // A type Iceberg cannot widen in place (bigint to string) is refused before anything is written.
    let p = w
        .plan("s", cfg, "select 'three' as id, 1.5 as x, 'n' as added", false)
        .await;
    let e = glue_materialize::Engine::execute(&w.engine, &p)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot change the type of column `id`"), "{e}");
    assert_eq!(w.rows("select count(*) from analytics.s").await, ["2"]);
}

#[tokio::test]
async fn sync_all_columns_cannot_drop_a_delta_column_and_changes_nothing() {
    let w = World::new();
    let cfg = json!({"materialized": "incremental", "incremental_strategy": "append", "file_format": "delta",
        "on_schema_change": "sync_all_columns"});
    w.run("d", cfg.clone(), "select 1 as id, 'a' as gone").await;
    // A new column and a dropped one: the drop is refused, and the new column is not added either.
    let p = w.plan("d", cfg, "select 2 as id, 'n' as added", false).await;
    let e = glue_materialize::Engine::execute(&w.engine, &p)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot drop columns (gone)"), "{e}");
    let columns = glue_materialize::Engine::query_schema(&w.engine, "select * from analytics.d")
        .await
        .unwrap();
    let names: Vec<&str> = columns.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "gone"]);
    assert_eq!(w.rows("select id from analytics.d").await, ["1"]);
}

#[tokio::test]
async fn a_failed_write_leaves_the_columns_as_they_were() {
    // The new column and the rows commit together: a MERGE that fails (two source rows for one key) adds nothing.
    for format in ["iceberg", "delta"] {
        let w = World::new();
        let cfg = json!({"materialized": "incremental", "incremental_strategy": "merge", "unique_key": "id",
            "file_format": format, "on_schema_change": "append_new_columns"});
        w.run("m", cfg.clone(), "select 1 as id, 'a' as v").await;
        let dup = "select * from (values (1, 'b', 'x'), (1, 'c', 'y')) as t(id, v, extra)";
        let p = w.plan("m", cfg, dup, false).await;
        assert!(
            glue_materialize::Engine::execute(&w.engine, &p).await.is_err(),
            "{format}"
        );
        let columns = glue_materialize::Engine::query_schema(&w.engine, "select * from analytics.m")
            .await
            .unwrap();
        let names: Vec<&str> = columns.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "v"], "{format}");
        let state = w.engine.catalog().read().unwrap();
        assert_eq!(state.table("analytics", "m").unwrap().columns.len(), 2, "{format}");
        drop(state);
        assert_eq!(w.rows("select id, v from analytics.m").await, ["1|a"], "{format}");
        // The same change with good rows: the column and the merged rows land together.
        let good = "select * from (values (1, 'b', 'x'), (2, 'c', 'y')) as t(id, v, extra)";
        let cfg = json!({"materialized": "incremental", "incremental_strategy": "merge", "unique_key": "id",
            "file_format": format, "on_schema_change": "append_new_columns"});
        w.run("m", cfg, good).await;
        assert_eq!(
            w.rows("select id, v, extra from analytics.m").await,
            ["1|b|x", "2|c|y"],
            "{format}"
        );
    }
}
