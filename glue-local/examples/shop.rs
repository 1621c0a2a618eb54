//! Runs the bundled example project (`examples/glue_shop`) on the embedded engine: a seed, a view, a partitioned
//! table and an incremental Delta model merged on its key, twice (the second run is incremental), then prints the
//! tables. The warehouse is `target/glue_shop_warehouse` under the workspace (removed at start).
//!
//! `cargo run -p glue-local --example shop`

use std::path::PathBuf;

use datafusion::arrow::util::pretty::pretty_format_batches;
use glue_local::LocalEngine;
use glue_materialize::{Engine, Existing, FileFormat, Model, ModelConfig, PlanFlags, Target, plan};
use serde_json::{Value, json};

const SCHEMA: &str = "glue_shop";

async fn existing(engine: &LocalEngine, name: &str) -> Existing {
    engine
        .list_relations(SCHEMA)
        .await
        .expect("list relations")
        .into_iter()
        .find(|r| r.name.identifier.as_str() == name)
        .map(|r| r.existing)
        .unwrap_or(Existing::Absent)
}

/// Plans and runs one model; false when it failed (the message says why).
async fn run(
    engine: &LocalEngine,
    target: &Target,
    name: &str,
    config: Value,
    sql: &str,
    seed: Option<PathBuf>,
) -> bool {
    let mut model = Model::new(name, SCHEMA, sql, ModelConfig::from_json(&config).expect("config"));
    model.seed_path = seed.map(|p| p.display().to_string());
    let flags = PlanFlags {
        full_refresh: false,
        invocation_id: format!("{}", std::process::id()),
    };
    let p = plan(&model, &existing(engine, name).await, target, &flags).expect("plan");
    let steps: Vec<String> = p.steps.iter().map(|s| s.to_string()).collect();
    match engine.execute(&p).await {
        Ok(_) => {
            println!("OK   {name}: {}", steps.join("; "));
            true
        }
        Err(e) => {
            println!("FAIL {name}: {e}");
            false
        }
    }
}

#[tokio::main]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root");
    let warehouse = root.join("target").join("glue_shop_warehouse");
    let _ = std::fs::remove_dir_all(&warehouse);
    let engine = LocalEngine::open(&warehouse, SCHEMA).expect("open the warehouse");
    let mut target = Target::new(SCHEMA, Some(engine.root().display().to_string()));
    target.datalake_formats = [FileFormat::Delta, FileFormat::Iceberg].into_iter().collect();
    let seed = root.join("examples/glue_shop/seeds/raw_orders.csv");
    let mut ok = true;
    for round in 1..=2 {
        println!("== run {round}");
        run(
            &engine,
            &target,
            "raw_orders",
            json!({"materialized": "seed",
            "column_types": {"order_date": "date", "amount": "decimal(10,2)"}}),
            "",
            Some(seed.clone()),
        )
        .await;
        run(
            &engine,
            &target,
            "stg_orders",
            json!({"materialized": "view"}),
            "select order_id, customer_id, order_date, amount, status from glue_shop.raw_orders",
            None,
        )
        .await;
        ok &= run(&engine, &target, "customers", json!({"materialized": "table", "partition_by": ["status"]}),
            "select customer_id, status, count(*) as orders, sum(amount) as revenue, sum(amount) / count(*) as avg_order \
             from glue_shop.stg_orders group by customer_id, status", None).await;
        run(
            &engine,
            &target,
            "daily_revenue",
            json!({"materialized": "incremental", "file_format": "delta",
            "incremental_strategy": "merge", "unique_key": "order_date"}),
            "select order_date, sum(amount) as revenue, count(*) as orders from glue_shop.stg_orders \
             group by order_date",
            None,
        )
        .await;
        run(
            &engine,
            &target,
            "orders_iceberg",
            json!({"materialized": "incremental", "file_format": "iceberg",
            "incremental_strategy": "append"}),
            &format!("select order_id, amount, {round} as load_round from glue_shop.stg_orders"),
            None,
        )
        .await;
    }
    for t in ["customers", "daily_revenue", "orders_iceberg"] {
        let batches = engine
            .query(&format!("select * from {SCHEMA}.{t} order by 1, 2"))
            .await
            .expect("query");
        println!("\n{SCHEMA}.{t}\n{}", pretty_format_batches(&batches).expect("format"));
    }
    println!("\nwarehouse: {}", warehouse.display());
    if !ok {
        std::process::exit(1);
    }
}
