//! Iceberg models of the `glue` binary on Glue sessions of the test world's simulator (real PySpark 3.5 with Iceberg
//! 1.10, `glue_catalog` over the simulator's catalog): each Iceberg option of the reference page runs at least once on
//! a Glue session and its effect is read back through Spark — a merge through the reference's temporary table and
//! through a temporary view (`use_iceberg_temp_views`), snapshot expiry on and off (`iceberg_expire_snapshots`),
//! `add_iceberg_timestamp`, partition transforms, `on_schema_change: append_new_columns`, and
//! `purge_dropped_iceberg_data`.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use common::sim::{Project, unique};
use common::{show_rows_of, text};
use serde_json::{Value, json};

/// The rows `sql` (Jinja allowed) reads on the project's Glue target.
fn rows(p: &Project, sql: &str) -> Vec<Value> {
    let out = p.run(&["show", "--inline", sql, "--limit", "1000", "--output", "json", "-q"]);
    assert!(out.status.success(), "show {sql}: {}", text(&out));
    show_rows_of(&String::from_utf8_lossy(&out.stdout))
}

fn write_model(p: &Project, name: &str, sql: &str) {
    std::fs::write(p.path().join("models").join(format!("{name}.sql")), sql).unwrap();
}

const MERGED: &str = "{{ config(materialized='incremental', file_format='iceberg', incremental_strategy='merge', \
                      unique_key='id') }}\n";
const HISTORY: &str = "{{ config(materialized='incremental', file_format='iceberg', incremental_strategy='merge', \
                       unique_key='id', iceberg_expire_snapshots='False') }}\n";
const VIEWED: &str = "{{ config(materialized='incremental', file_format='iceberg', incremental_strategy='merge', \
                      unique_key='id', use_iceberg_temp_views='True') }}\n";
const EVOLVING: &str = "{{ config(materialized='incremental', file_format='iceberg', incremental_strategy='append', \
                        on_schema_change='append_new_columns') }}\n";

#[test]
fn each_iceberg_option_runs_on_a_glue_session() {
    let custom = format!("s3://{}/custom/purged", unique("glue-rs-it-purge-"));
    let bucket = custom
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    common::sim::create_bucket(&bucket);
    let first = "select * from values (1, 'a'), (2, 'b') as t(id, name)";
    let purged = |format: &str| {
        format!(
            "{{{{ config(materialized='table', file_format='{format}', custom_location='{custom}', \
             purge_dropped_iceberg_data='True') }}}}\nselect 1 as id"
        )
    };
    let p = Project::new(
        &[
            ("merged", &format!("{MERGED}{first}")),
            ("history", &format!("{HISTORY}{first}")),
            ("viewed", &format!("{VIEWED}{first}")),
            (
                "stamped",
                "{{ config(materialized='table', file_format='iceberg', add_iceberg_timestamp=true) }}\n\
                 select 1 as id, 'x' as update_iceberg_ts",
            ),
            (
                "transformed",
                "{{ config(materialized='table', file_format='iceberg', partition_by=['bucket(4, id)', 'days(ts)']) }}\n\
                 select id, timestamp '2026-01-01 10:00:00' + make_interval(0, 0, 0, id) as ts from range(0, 6)",
            ),
            ("evolving", &format!("{EVOLVING}select 1 as id")),
            ("purged", &purged("iceberg")),
        ],
        "      datalake_formats: iceberg\n",
        2,
    );
    let out = p.run(&["run"]);
    assert!(out.status.success(), "first run: {}", text(&out));

    let second = "select * from values (2, 'B'), (3, 'c') as t(id, name)";
    write_model(&p, "merged", &format!("{MERGED}{second}"));
    write_model(&p, "history", &format!("{HISTORY}{second}"));
    write_model(&p, "viewed", &format!("{VIEWED}{second}"));
    write_model(&p, "evolving", &format!("{EVOLVING}select 2 as id, 'new' as extra"));
    write_model(&p, "purged", &purged("parquet"));
    let out = p.run(&["run"]);
    assert!(out.status.success(), "second run: {}", text(&out));

    let s = &p.schema;
    let merged = json!([{"id": 1, "name": "a"}, {"id": 2, "name": "B"}, {"id": 3, "name": "c"}]);
    for model in ["merged", "history", "viewed"] {
        let got = rows(
            &p,
            &format!("select id, name from {{{{ ref('{model}') }}}} order by id"),
        );
        assert_eq!(Value::Array(got), merged, "{model} merged");
    }
    // iceberg_expire_snapshots (default on): only the current snapshot is left; off: each write's snapshot is kept.
    let snapshots = |model: &str| {
        rows(
            &p,
            &format!("select count(*) as n from glue_catalog.{s}.{model}.snapshots"),
        )[0]["n"]
            .clone()
    };
    assert_eq!(snapshots("merged"), json!(1), "expired after the merge");
    assert!(
        snapshots("history").as_i64().unwrap() >= 2,
        "history kept: {}",
        snapshots("history")
    );
    // The reference's temporary table for a merge, a temporary view with use_iceberg_temp_views.
    let run_sql =
        |model: &str| std::fs::read_to_string(p.path().join(format!("target/run/p/models/{model}.sql"))).unwrap();
    assert!(
        run_sql("merged").contains("CREATE OR REPLACE TABLE `glue_catalog`"),
        "{}",
        run_sql("merged")
    );
    assert!(run_sql("viewed").contains("TEMPORARY VIEW"), "{}", run_sql("viewed"));
    // add_iceberg_timestamp: one update_iceberg_ts column, the write's time (the model's own column of that name goes).
    let stamped = rows(
        &p,
        "select id, cast(update_iceberg_ts as timestamp) is not null as stamped from {{ ref('stamped') }}",
    );
    assert_eq!(stamped, vec![json!({"id": 1, "stamped": true})]);
    // Partition transforms: the table's spec has the bucket and day fields, one file per (bucket, day).
    let spec = rows(
        &p,
        &format!(
            "select count(distinct partition.id_bucket) as buckets, count(distinct partition.ts_day) as days \
                  from glue_catalog.{s}.transformed.files"
        ),
    );
    assert_eq!(spec[0]["days"], json!(6), "{spec:?}");
    assert!(spec[0]["buckets"].as_i64().unwrap() >= 2, "{spec:?}");
    // on_schema_change: append_new_columns adds `extra`; the first run's row has none.
    let evolving = rows(&p, "select id, extra from {{ ref('evolving') }} order by id");
    assert_eq!(
        evolving,
        vec![json!({"id": 1, "extra": null}), json!({"id": 2, "extra": "new"})]
    );
    // purge_dropped_iceberg_data: the Iceberg table the Parquet rebuild replaced was dropped with PURGE.
    assert!(run_sql("purged").contains("PURGE"), "{}", run_sql("purged"));
    assert_eq!(rows(&p, "select id from {{ ref('purged') }}"), vec![json!({"id": 1})]);
}
