//! Plan + render 10,000 models of mixed configurations (every materialization, format, existing relation and
//! strategy in rotation). Criterion reports the time per batch and the throughput in models per second;
//! microseconds per model = batch time / 10,000.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use glue_materialize::render::{RenderContext, render_step};
use glue_materialize::{
    Existing, ExistingTable, FileFormat, Materialization, Model, ModelConfig, PlanFlags, Target, plan,
};
use glue_sql::types::ColumnDef;
use serde_json::json;

const MODELS: usize = 10_000;

fn inputs() -> Vec<(Model, Existing)> {
    let strategies = ["append", "insert_overwrite", "merge"];
    let osc = ["ignore", "fail", "append_new_columns", "sync_all_columns"];
    (0..MODELS)
        .map(|i| {
            let mat = Materialization::ALL[i % Materialization::ALL.len()];
            let format = FileFormat::ALL[(i / 7) % FileFormat::ALL.len()];
            let mut cfg = json!({
                "materialized": mat.as_str(),
                "file_format": format.as_str(),
                "incremental_strategy": strategies[(i / 3) % 3],
                "on_schema_change": osc[(i / 5) % 4],
                "unique_key": if i % 2 == 0 { json!("id") } else { json!(["id", "dt"]) },
                "strategy": "timestamp",
                "updated_at": "updated_at",
                "pre-hook": "select 1",
                "persist_docs": {"relation": true, "columns": true},
            });
            if i % 3 == 0 {
                cfg["partition_by"] = json!(["dt"]);
            }
            if i % 11 == 0 {
                cfg["lf_tags_config"] = json!({"enabled": true, "tags_table": {"tier": "gold"}});
            }
            let config = ModelConfig::from_json(&cfg).expect("bench config");
            let m = Model::new(
                format!("model_{i}"),
                "analytics",
                "select id, name, updated_at, dt from raw.src",
                config,
            );
            let existing = match i % 4 {
                0 => Existing::Absent,
                1 => Existing::View,
                2 => Existing::Table(ExistingTable::of(format)),
                _ => Existing::Table(ExistingTable::of(FileFormat::Parquet)),
            };
            (m, existing)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let models = inputs();
    let mut target = Target::new("analytics", Some("s3://lake/warehouse".into()));
    target.datalake_formats = [FileFormat::Delta, FileFormat::Iceberg, FileFormat::Hudi]
        .into_iter()
        .collect();
    let cols = vec![
        ColumnDef::new("id", "bigint").unwrap(),
        ColumnDef::new("name", "string").unwrap(),
        ColumnDef::new("updated_at", "timestamp").unwrap(),
        ColumnDef::new("dt", "date").unwrap(),
    ];
    let ctx = RenderContext {
        now: "2026-01-01 00:00:00".into(),
        target_columns: Some(cols.clone()),
        source_columns: Some(cols),
    };
    let flags = PlanFlags {
        full_refresh: false,
        invocation_id: "bench".into(),
    };
    let mut group = c.benchmark_group("plan_and_render");
    group.throughput(Throughput::Elements(MODELS as u64));
    group.sample_size(20);
    group.bench_function("10k_mixed_models", |b| {
        b.iter(|| {
            let mut statements = 0usize;
            for (m, existing) in &models {
                if let Ok(p) = plan(black_box(m), existing, &target, &flags) {
                    for s in &p.steps {
                        statements += render_step(s, &ctx).map(|r| r.len()).unwrap_or(0);
                    }
                }
            }
            black_box(statements)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
