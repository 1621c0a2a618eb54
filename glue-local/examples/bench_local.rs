//! One benchmark scenario of the embedded engine, run as its own process so its peak memory is its own:
//! `bench_local <warehouse dir> <parquet|delta|iceberg> <rows>` builds a table of `rows` rows × 10 columns (CTAS),
//! then runs the incremental model over as many new rows (half of them updates of existing keys): append for Parquet,
//! merge on the key for Delta and Iceberg (Iceberg's as a new table version). Prints one JSON line: seconds for each phase, rows, peak RSS. `xtask/bench/local_vs_duckdb.py`
//! runs it beside DuckDB doing the same SQL.

use std::time::Instant;

use glue_local::LocalEngine;
use glue_materialize::{Engine, Existing, Model, ModelConfig, PlanFlags, Target, plan};
use serde_json::json;

fn rows_sql(n: u64, offset: u64) -> String {
    format!(
        "select value + {offset} as id, value % 97 as c1, value * 2 as c2, cast(value as double) / 7 as c3, \
         concat('name-', cast(value as string)) as c4, value % 13 = 0 as c5, cast(value % 1000 as double) as c6, \
         value % 7 as c7, concat('k', cast(value % 100 as string)) as c8, cast(value as bigint) * 3 as c9 \
         from range(0, {n})"
    )
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, format, n) = (&args[1], args[2].as_str(), args[3].parse::<u64>().expect("rows"));
    let engine = LocalEngine::open(dir, "bench").expect("engine");
    let mut target = Target::new("bench", Some(engine.root().display().to_string()));
    target.datalake_formats = [glue_materialize::FileFormat::Delta].into_iter().collect();
    let cfg = match format {
        "parquet" => json!({"materialized": "incremental", "file_format": "parquet", "incremental_strategy": "append"}),
        "iceberg" => json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
            "unique_key": "id", "use_iceberg_temp_views": true}),
        _ => {
            json!({"materialized": "incremental", "file_format": "delta", "incremental_strategy": "merge", "unique_key": "id"})
        }
    };
    let mut timings = Vec::new();
    for (phase, sql) in [("ctas", rows_sql(n, 0)), ("incremental", rows_sql(n, n / 2))] {
        let m = Model::new(
            "t",
            "bench",
            sql.as_str(),
            ModelConfig::from_json(&cfg).expect("config"),
        );
        let existing = engine
            .list_relations("bench")
            .await
            .expect("list")
            .into_iter()
            .find(|r| r.name.identifier.as_str() == "t")
            .map(|r| r.existing)
            .unwrap_or(Existing::Absent);
        let p = plan(&m, &existing, &target, &PlanFlags::default()).expect("plan");
        let start = Instant::now();
        engine.execute(&p).await.expect("execute");
        timings.push((phase, start.elapsed().as_secs_f64()));
    }
    let count = engine.query("select count(*) from bench.t").await.expect("count");
    let rows = arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Int64Type>(count[0].column(0)).value(0);
    println!(
        "{}",
        json!({"engine": "glue-local", "format": format, "rows": n, "final_rows": rows,
               "ctas_s": timings[0].1, "incremental_s": timings[1].1, "peak_rss_mib": peak_rss_kib() / 1024})
    );
}
