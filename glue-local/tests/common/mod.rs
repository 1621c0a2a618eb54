//! Runs models through the planner and the embedded engine, as the `glue` command will.

#![allow(dead_code)]

use arrow_array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use glue_local::LocalEngine;
use glue_materialize::{Engine, Existing, Model, ModelConfig, Plan, PlanFlags, Target, plan};
use serde_json::Value;

pub const SCHEMA: &str = "analytics";

pub enum Dir {
    Owned(tempfile::TempDir),
    Borrowed(std::path::PathBuf),
}

impl Dir {
    pub fn path(&self) -> &std::path::Path {
        match self {
            Dir::Owned(t) => t.path(),
            Dir::Borrowed(p) => p,
        }
    }
}

fn target_for(engine: &LocalEngine) -> Target {
    let mut target = Target::new(SCHEMA, Some(engine.root().display().to_string()));
    target.datalake_formats = [glue_materialize::FileFormat::Delta].into_iter().collect();
    target
}

pub struct World {
    pub dir: Dir,
    pub engine: LocalEngine,
    pub target: Target,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = LocalEngine::open(dir.path(), SCHEMA).unwrap();
        let target = target_for(&engine);
        Self {
            dir: Dir::Owned(dir),
            engine,
            target,
        }
    }

    /// A second view of an existing warehouse (another "process").
    pub fn at(path: &std::path::Path) -> Self {
        let engine = LocalEngine::open(path, SCHEMA).unwrap();
        let target = target_for(&engine);
        Self {
            dir: Dir::Borrowed(path.to_path_buf()),
            engine,
            target,
        }
    }

    pub async fn existing(&self, name: &str) -> Existing {
        self.existing_in(SCHEMA, name).await
    }

    /// What the warehouse holds under `schema.name`.
    pub async fn existing_in(&self, schema: &str, name: &str) -> Existing {
        self.engine
            .list_relations(schema)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.name.identifier.as_str() == name)
            .map(|r| r.existing)
            .unwrap_or(Existing::Absent)
    }

    pub async fn try_plan(
        &self,
        name: &str,
        config: Value,
        sql: &str,
        full_refresh: bool,
    ) -> Result<Plan, glue_materialize::PlanError> {
        let cfg = ModelConfig::from_json(&config).unwrap();
        let m = Model::new(name, SCHEMA, sql, cfg);
        let flags = PlanFlags {
            full_refresh,
            invocation_id: format!("p{}n{}", std::process::id(), rand_id()),
        };
        plan(&m, &self.existing(name).await, &self.target, &flags)
    }

    pub async fn plan(&self, name: &str, config: Value, sql: &str, full_refresh: bool) -> Plan {
        let cfg = ModelConfig::from_json(&config).unwrap();
        let m = Model::new(name, SCHEMA, sql, cfg);
        let flags = PlanFlags {
            full_refresh,
            invocation_id: format!("p{}n{}", std::process::id(), rand_id()),
        };
        plan(&m, &self.existing(name).await, &self.target, &flags).unwrap()
    }

    /// Plans and runs a model; panics with the engine's error.
    pub async fn run(&self, name: &str, config: Value, sql: &str) {
        let p = self.plan(name, config, sql, false).await;
        if let Err(e) = self.engine.execute(&p).await {
            panic!("{name}: {e}\nplan: {:#?}", p.steps);
        }
    }

    /// Plans and runs a model in another schema.
    pub async fn run_in(&self, schema: &str, name: &str, config: Value, sql: &str) {
        let cfg = ModelConfig::from_json(&config).unwrap();
        let m = Model::new(name, schema, sql, cfg);
        let existing = self.existing_in(schema, name).await;
        let flags = PlanFlags {
            full_refresh: true,
            invocation_id: format!("p{}n{}", std::process::id(), rand_id()),
        };
        let p = plan(&m, &existing, &self.target, &flags).unwrap();
        self.engine
            .execute(&p)
            .await
            .unwrap_or_else(|e| panic!("{schema}.{name}: {e}"));
    }

    pub async fn run_full_refresh(&self, name: &str, config: Value, sql: &str) {
        let p = self.plan(name, config, sql, true).await;
        self.engine.execute(&p).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    /// Rows of a query as strings, sorted.
    pub async fn rows(&self, sql: &str) -> Vec<String> {
        let batches = self.engine.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut rows = render(&batches);
        rows.sort();
        rows
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn render(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = (0..b.num_columns())
                .map(|c| {
                    let col = b.column(c);
                    if col.is_null(r) {
                        "NULL".into()
                    } else {
                        array_value_to_string(col, r).unwrap()
                    }
                })
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows
}
