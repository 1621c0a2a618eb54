//! Snapshots (SCD2 on Delta and on Iceberg) and seeds (CSV typed with column_types) on real files.

mod common;

use common::*;
use serde_json::json;

fn snapshot_cfg(extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({"materialized": "snapshot", "unique_key": "id",
        "strategy": "timestamp", "updated_at": "updated_at"});
    c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    c
}

const DAY1: &str = "select * from (values (1, 'a', timestamp '2024-01-01 00:00:00'), (2, 'b', timestamp '2024-01-01 00:00:00')) as t(id, name, updated_at)";
const DAY2: &str = "select * from (values (1, 'A', timestamp '2024-01-02 00:00:00'), (3, 'c', timestamp '2024-01-02 00:00:00')) as t(id, name, updated_at)";

/// The snapshot formats: Delta (MERGE in one Delta commit) and Iceberg (MERGE as a new table version).
const FORMATS: [&str; 2] = ["delta", "iceberg"];

fn in_format(format: &str, cfg: serde_json::Value) -> serde_json::Value {
    let mut c = cfg;
    c["file_format"] = json!(format);
    c
}

#[tokio::test]
async fn timestamp_snapshot_keeps_history() {
    for format in FORMATS {
        let w = World::new();
        let cfg = in_format(format, snapshot_cfg(json!({})));
        w.run("snap", cfg.clone(), DAY1).await;
        assert_eq!(
            w.rows("select id, name, dbt_valid_to is null from analytics.snap")
                .await,
            ["1|a|true", "2|b|true"],
            "{format}"
        );
        w.run("snap", cfg.clone(), DAY2).await;
        // (Timestamps cast to strings as Spark writes them.) id 1 changed: the old version is closed, a new one is
        // current; id 2 is untouched (hard deletes ignored); id 3 is new.
        assert_eq!(
            w.rows("select id, name, cast(dbt_valid_from as string), cast(dbt_valid_to as string) from analytics.snap")
                .await,
            [
                "1|A|2024-01-02 00:00:00|NULL",
                "1|a|2024-01-01 00:00:00|2024-01-02 00:00:00",
                "2|b|2024-01-01 00:00:00|NULL",
                "3|c|2024-01-02 00:00:00|NULL",
            ],
            "{format}"
        );
        // Running again with the same data changes nothing.
        w.run("snap", cfg, DAY2).await;
        assert_eq!(w.rows("select count(*) from analytics.snap").await, ["4"], "{format}");
    }
}

#[tokio::test]
async fn check_snapshot_with_invalidated_hard_deletes() {
    for format in FORMATS {
        let w = World::new();
        let cfg = in_format(
            format,
            snapshot_cfg(json!({"strategy": "check", "check_cols": ["name"], "hard_deletes": "invalidate"})),
        );
        w.run("snap", cfg.clone(), DAY1).await;
        w.run("snap", cfg, DAY2).await;
        // id 2 disappeared from the source: its row is closed.
        assert_eq!(
            w.rows("select id, name, dbt_valid_to is null from analytics.snap")
                .await,
            ["1|A|true", "1|a|false", "2|b|false", "3|c|true"],
            "{format}"
        );
    }
}

#[tokio::test]
async fn check_snapshot_with_hard_deletes_as_new_records() {
    for format in FORMATS {
        let w = World::new();
        let cfg = in_format(
            format,
            snapshot_cfg(json!({"strategy": "check", "check_cols": "all", "hard_deletes": "new_record"})),
        );
        w.run("snap", cfg.clone(), DAY1).await;
        w.run("snap", cfg, DAY2).await;
        // id 2 disappeared from the source: its row is closed and a deletion record is current.
        assert_eq!(
            w.rows("select id, name, dbt_valid_to is null, dbt_is_deleted from analytics.snap")
                .await,
            [
                "1|A|true|False",
                "1|a|false|False",
                "2|b|false|False",
                "2|b|true|True",
                "3|c|true|False"
            ],
            "{format}"
        );
    }
}

#[tokio::test]
async fn iceberg_snapshot_with_a_physical_staging_table_and_a_current_marker() {
    // dbt-glue stages an Iceberg snapshot in a table unless use_iceberg_temp_views; dbt_valid_to_current marks the
    // current rows with a date instead of NULL.
    let w = World::new();
    let cfg = in_format(
        "iceberg",
        snapshot_cfg(json!({"use_iceberg_temp_views": false,
            "dbt_valid_to_current": "to_timestamp('9999-12-31 00:00:00')"})),
    );
    w.run("snap", cfg.clone(), DAY1).await;
    w.run("snap", cfg, DAY2).await;
    assert_eq!(
        w.rows("select id, name, cast(dbt_valid_to as string) from analytics.snap")
            .await,
        [
            "1|A|9999-12-31 00:00:00",
            "1|a|2024-01-02 00:00:00",
            "2|b|9999-12-31 00:00:00",
            "3|c|9999-12-31 00:00:00"
        ]
    );
    let state = w.engine.catalog().read().unwrap();
    let names: Vec<&String> = state.tables.keys().collect();
    assert_eq!(names, ["analytics.snap"], "the staging table is dropped");
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

/// `enable_spark_seed_casting`, as dbt-glue casts (and as the Glue engines do): the `column_types` columns are cast
/// from the CSV's text.
#[tokio::test]
async fn seed_casting_casts_column_types_from_the_text() {
    let mut w = World::new();
    w.target.enable_spark_seed_casting = true;
    let csv = w.dir.path().join("people.csv");
    std::fs::write(&csv, "id,code,at\n1,007,2021-01-02T03:04:05\n").unwrap();
    seed(
        &w,
        &csv,
        json!({"materialized": "seed", "column_types": {"code": "string", "at": "string"}}),
    )
    .await;
    assert_eq!(
        w.rows("select id, code, at from analytics.people").await,
        ["1|007|2021-01-02T03:04:05"]
    );
}

async fn seed(w: &World, csv: &std::path::Path, cfg: serde_json::Value) {
    let c = glue_materialize::ModelConfig::from_json(&cfg).unwrap();
    let mut m = glue_materialize::Model::new("people", SCHEMA, "", c);
    m.seed_path = Some(csv.display().to_string());
    let p = glue_materialize::plan(&m, &w.existing("people").await, &w.target, &Default::default()).unwrap();
    glue_materialize::Engine::execute(&w.engine, &p).await.unwrap();
}
