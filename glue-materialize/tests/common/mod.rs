//! Shared fixtures of the golden tests: one model, one target, one warehouse state.

#![allow(dead_code)]

use glue_materialize::render::{RenderContext, Rendered, render_step};
use glue_materialize::{Existing, ExistingTable, FileFormat, Model, ModelConfig, Plan, PlanError, TableFormat, Target};
use glue_sql::types::ColumnDef;

pub const SCHEMA: &str = "analytics";
pub const LOCATION: &str = "s3://lake/warehouse/";
pub const SQL: &str = "select id, name, updated_at, dt\nfrom raw.orders -- the source\n";

pub fn col(n: &str, t: &str) -> ColumnDef {
    ColumnDef::new(n, t).unwrap()
}

/// The table's columns as the engine would describe them.
pub fn target_columns() -> Vec<ColumnDef> {
    vec![
        col("id", "bigint"),
        col("name", "string"),
        col("updated_at", "timestamp"),
        col("dt", "date"),
    ]
}

/// The new rows' columns: one column more than the table (so on_schema_change has work).
pub fn source_columns() -> Vec<ColumnDef> {
    let mut c = target_columns();
    c.insert(3, col("category", "string"));
    c
}

/// The render context of a plan: a snapshot table also holds dbt's meta columns.
pub fn ctx_for(plan: &Plan) -> RenderContext {
    let mut target = target_columns();
    if plan.materialization == glue_materialize::Materialization::Snapshot {
        for (n, t) in [
            ("dbt_scd_id", "string"),
            ("dbt_updated_at", "timestamp"),
            ("dbt_valid_from", "timestamp"),
            ("dbt_valid_to", "timestamp"),
        ] {
            target.push(col(n, t));
        }
    }
    RenderContext {
        now: "2026-01-01 00:00:00".into(),
        target_columns: Some(target),
        source_columns: Some(source_columns()),
    }
}

/// What an engine does after a schema sync: it describes the target again. Here the added columns are appended.
fn after_sync(ctx: &mut RenderContext, step: &glue_materialize::Step, rendered: &[Rendered]) {
    if !matches!(step, glue_materialize::Step::SyncSchema { .. }) || rendered.is_empty() {
        return;
    }
    let (Some(source), Some(target)) = (ctx.source_columns.clone(), ctx.target_columns.as_mut()) else {
        return;
    };
    for c in source {
        let dbt_meta = c.name.as_str().starts_with("dbt_");
        if !dbt_meta
            && !target
                .iter()
                .any(|t| t.name.as_str().eq_ignore_ascii_case(c.name.as_str()))
        {
            target.push(c);
        }
    }
}

pub fn target() -> Target {
    let mut t = Target::new(SCHEMA, Some(LOCATION.into()));
    t.datalake_formats = [FileFormat::Delta, FileFormat::Iceberg, FileFormat::Hudi]
        .into_iter()
        .collect();
    t
}

pub fn model(config: serde_json::Value) -> Model {
    let cfg = ModelConfig::from_json(&config).unwrap_or_else(|e| panic!("fixture config {config}: {e}"));
    let mut m = Model::new("orders", SCHEMA, SQL, cfg);
    m.path = Some("models/orders.sql".into());
    m
}

pub fn existing_table(format: FileFormat) -> Existing {
    Existing::Table(ExistingTable {
        format: TableFormat::Known(format),
        location: Some(format!("{}{SCHEMA}/orders", LOCATION)),
        columns: target_columns(),
        partition_columns: vec![],
        version: None,
        siblings: Vec::new(),
        temp_siblings: Vec::new(),
    })
}

/// Renders a plan (or its error) as golden text: warnings, then each step's summary and its statements fenced
/// as `--- sql` … `--- end` (the Spark parse check reads these fences).
pub fn golden(result: &Result<Plan, PlanError>) -> String {
    let mut out = String::new();
    match result {
        Err(e) => {
            out.push_str(&format!("error {}: {e}\n", e.kind()));
        }
        Ok(p) => {
            for w in &p.warnings {
                out.push_str(&format!("warning: {w}\n"));
            }
            if p.steps.is_empty() {
                out.push_str("(no steps)\n");
            }
            let mut ctx = ctx_for(p);
            for (i, s) in p.steps.iter().enumerate() {
                out.push_str(&format!("{}. {s}\n", i + 1));
                match render_step(s, &ctx) {
                    Ok(parts) => {
                        after_sync(&mut ctx, s, &parts);
                        for r in parts {
                            match r {
                                Rendered::Sql(sql) => out.push_str(&format!("--- sql\n{sql}\n--- end\n")),
                                Rendered::Scoped { sql, settings } => {
                                    for s in settings {
                                        out.push_str(&format!("--- set {s} (this statement only)\n"));
                                    }
                                    out.push_str(&format!("--- sql\n{sql}\n--- end\n"))
                                }
                                Rendered::Native { action, detail } => {
                                    out.push_str(&format!("--- native {action}\n{detail}\n--- end\n"))
                                }
                            }
                        }
                    }
                    Err(e) => out.push_str(&format!("--- render error\n{e}\n--- end\n")),
                }
            }
        }
    }
    out
}
