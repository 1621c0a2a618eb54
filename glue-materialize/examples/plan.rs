//! Prints what glue-rs would run for the models of a small shop project: each model's plan, with its Spark SQL,
//! against a warehouse where some tables already exist (their columns as an engine would describe them).
//!
//! `cargo run -p glue-materialize --example plan`

use glue_materialize::render::{RenderContext, Rendered, render_step};
use glue_materialize::{Existing, ExistingTable, FileFormat, Model, ModelConfig, PlanFlags, Target, plan};
use glue_sql::types::ColumnDef;
use serde_json::json;

fn main() {
    let mut target = Target::new("glue_shop", Some("s3://glue-shop-lake/warehouse".into()));
    target.datalake_formats = [FileFormat::Delta, FileFormat::Iceberg].into_iter().collect();
    let c = |n: &str, t: &str| ColumnDef::new(n, t).unwrap();
    let order_columns = vec![
        c("order_id", "bigint"),
        c("customer_id", "bigint"),
        c("order_date", "date"),
        c("amount", "decimal(12,2)"),
    ];
    let models = [
        (
            "stg_orders",
            json!({"materialized": "view"}),
            "select * from glue_shop.raw_orders",
            Existing::Absent,
            order_columns.clone(),
        ),
        (
            "customers",
            json!({"materialized": "table", "file_format": "parquet", "partition_by": ["country"],
                   "persist_docs": {"relation": true}}),
            "select customer_id, country, count(*) as orders from glue_shop.stg_orders group by 1, 2",
            Existing::Table(ExistingTable::of(FileFormat::Parquet)),
            vec![
                c("customer_id", "bigint"),
                c("country", "string"),
                c("orders", "bigint"),
            ],
        ),
        (
            "orders",
            json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
                   "unique_key": "order_id", "on_schema_change": "append_new_columns"}),
            "select * from glue_shop.stg_orders where order_date >= date_sub(current_date(), 3)",
            Existing::Table(ExistingTable::of(FileFormat::Iceberg)),
            order_columns.clone(),
        ),
        (
            "daily_revenue",
            json!({"materialized": "incremental", "file_format": "delta", "partition_by": ["order_date"]}),
            "select order_date, sum(amount) as revenue from glue_shop.stg_orders group by 1",
            Existing::Table(ExistingTable::of(FileFormat::Delta)),
            vec![c("order_date", "date"), c("revenue", "decimal(22,2)")],
        ),
    ];
    for (name, config, sql, existing, columns) in models {
        let ctx = RenderContext {
            now: "2026-11-25 12:00:00".into(),
            target_columns: Some(columns.clone()),
            source_columns: Some(columns),
        };
        let existing_text = match &existing {
            Existing::Absent => "nothing".to_string(),
            Existing::View => "a view".to_string(),
            Existing::Table(t) => t.format_name(),
        };
        let config = ModelConfig::from_json(&config).expect("example config");
        let mut model = Model::new(name, "glue_shop", sql, config);
        model.description = Some(format!("The {name} model"));
        match plan(&model, &existing, &target, &PlanFlags::default()) {
            Err(e) => println!("-- {name}: {e}\n"),
            Ok(p) => {
                println!("-- {name} ({}); the warehouse holds {existing_text}", p.materialization);
                for w in &p.warnings {
                    println!("-- warning: {w}");
                }
                for step in &p.steps {
                    println!("-- {step}");
                    for r in render_step(step, &ctx).expect("render") {
                        match r {
                            Rendered::Sql(s) => println!("{s};"),
                            Rendered::Scoped { sql, settings } => {
                                for s in settings {
                                    println!("-- with {s} for this statement only");
                                }
                                println!("{sql};")
                            }
                            Rendered::Native { action, detail } => {
                                println!("-- [{action}] {}", detail.replace('\n', "; "))
                            }
                        }
                    }
                }
                println!();
            }
        }
    }
}
