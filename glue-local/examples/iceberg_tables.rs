//! Builds Iceberg tables with the embedded engine, every way a dbt model writes one (create, append, partition
//! overwrite with identity partitions and with each partition transform, merge, snapshot, schema changes), each
//! built twice so the second build takes the incremental path; then writes, per table, its current metadata file
//! and the rows the engine reads from it, as JSON lines:
//! `{"table": …, "metadata": …, "sql": …, "types": [spark type, …], "rows": [[cell, …], …], "partition_by": […]}`.
//!
//! `xtask/oracle/iceberg_read.py` reads every table with Spark's Iceberg (the oracle: PySpark 3.5 + Iceberg 1.10) from
//! that metadata file and compares the rows, the table's partition spec and each data file's partition values with
//! what Spark's own transforms give for its rows.
//!
//! `cargo run -p glue-local --example iceberg_tables -- <warehouse dir> <out.jsonl>`

use std::io::Write;

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use glue_local::LocalEngine;
use glue_materialize::{Engine, Existing, Model, ModelConfig, PlanFlags, Target, plan};
use serde_json::{Value, json};

const SCHEMA: &str = "analytics";

/// Rows of every column type a dbt project writes, on two days; `step` shifts the values so the second build
/// differs from the first.
fn rows(step: i64) -> String {
    let values: Vec<String> = (1..=6)
        .map(|i| {
            let id = i + step * 3;
            let day = 1 + (id % 3);
            format!(
                "({id}, 'name{id}', date '2024-0{m}-0{day}', timestamp '2024-01-0{day} {h:02}:30:00', \
                 cast({id}.25 as decimal(10, 2)), {id}.5d, {flag}, 'code{id}')",
                m = 1 + (id % 2),
                h = (id * 5) % 24,
                flag = if id % 2 == 0 { "true" } else { "false" },
            )
        })
        .collect();
    format!(
        "select * from (values {}) as t(id, name, d, ts, amount, score, flag, code)",
        values.join(", ")
    )
}

/// The tables: name, config, and the SQL of the first and of the second build.
fn tables() -> Vec<(&'static str, Value, String, String)> {
    let inc = |extra: Value| {
        let mut c = json!({"materialized": "incremental", "file_format": "iceberg"});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        c
    };
    vec![
        (
            "created",
            json!({"materialized": "table", "file_format": "iceberg"}),
            rows(0),
            rows(1),
        ),
        (
            "appended",
            inc(json!({"incremental_strategy": "append"})),
            rows(0),
            rows(1),
        ),
        (
            "overwritten",
            inc(json!({"incremental_strategy": "insert_overwrite", "partition_by": ["d"]})),
            rows(0),
            rows(1),
        ),
        (
            "transformed",
            inc(json!({"incremental_strategy": "insert_overwrite",
                "partition_by": ["days(ts)", "bucket(4, id)", "truncate(3, code)"]})),
            rows(0),
            rows(1),
        ),
        (
            "by_hour",
            inc(json!({"incremental_strategy": "append", "partition_by": ["hours(ts)", "years(d)"]})),
            rows(0),
            rows(1),
        ),
        (
            "by_month",
            inc(json!({"incremental_strategy": "merge", "unique_key": "id",
                "partition_by": ["months(d)", "truncate(10, amount)", "bucket(3, name)"]})),
            rows(0),
            rows(1),
        ),
        (
            "merged",
            inc(json!({"incremental_strategy": "merge", "unique_key": "id"})),
            rows(0),
            rows(1),
        ),
        (
            "snapshotted",
            json!({"materialized": "snapshot", "file_format": "iceberg", "unique_key": "id", "strategy": "check",
                "check_cols": ["name", "amount"], "hard_deletes": "invalidate"}),
            rows(0),
            rows(1),
        ),
        (
            "evolved",
            inc(json!({"incremental_strategy": "append", "on_schema_change": "sync_all_columns"})),
            "select cast(id as int) as id, name, amount from (".to_string() + &rows(0) + ")",
            "select id, amount, 'new' as added from (".to_string() + &rows(1) + ")",
        ),
    ]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, output) = (&args[1], &args[2]);
    let engine = LocalEngine::open(dir, SCHEMA).expect("the warehouse");
    let target = Target::new(SCHEMA, Some(engine.root().display().to_string()));
    let mut out = std::fs::File::create(output).expect("the output file");
    for (n, (name, config, first, second)) in tables().into_iter().enumerate() {
        for (build, sql) in [first, second].iter().enumerate() {
            let existing = engine
                .list_relations(SCHEMA)
                .await
                .expect("the catalog")
                .into_iter()
                .find(|r| r.name.identifier.as_str() == name)
                .map(|r| r.existing)
                .unwrap_or(Existing::Absent);
            let model = Model::new(
                name,
                SCHEMA,
                sql.as_str(),
                ModelConfig::from_json(&config).expect("a config"),
            );
            let flags = PlanFlags {
                full_refresh: false,
                invocation_id: format!("i{n}b{build}"),
            };
            let p = plan(&model, &existing, &target, &flags).expect("a plan");
            if let Err(e) = engine.execute(&p).await {
                panic!("{name}, build {}: {e}", build + 1);
            }
        }
        let state = engine.catalog().read().expect("the catalog");
        let entry = state.table(SCHEMA, name).expect("the table");
        let metadata = entry.iceberg_metadata.clone().expect("an Iceberg table");
        let sql = format!("select * from {SCHEMA}.{name}");
        let batches = engine.query(&sql).await.expect("the rows");
        let opts = FormatOptions::default();
        let mut types = Vec::new();
        let mut all = Vec::new();
        for b in &batches {
            types = b
                .schema()
                .fields()
                .iter()
                .map(|f| glue_local::types::spark_type(f.data_type()).unwrap_or_else(|_| "?".into()))
                .collect();
            let formatters: Vec<_> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("a formatter"))
                .collect();
            for row in 0..b.num_rows() {
                let cells: Vec<Value> = b
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(c, f)| {
                        if c.is_null(row) {
                            Value::Null
                        } else {
                            Value::String(f.value(row).to_string())
                        }
                    })
                    .collect();
                all.push(cells);
            }
        }
        let line = json!({"table": name, "metadata": metadata, "sql": sql, "types": types, "rows": all,
            "partition_by": config.get("partition_by").cloned().unwrap_or(json!([]))});
        writeln!(out, "{line}").expect("writing");
    }
}
