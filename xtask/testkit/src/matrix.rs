//! The planner's scenario matrix, enumerated once: for each materialization × file format, every cell of existing
//! relation (none, view, table of the same format, table of another format) × full refresh × partitioned ×
//! unique_key (none, one, many) × on_schema_change (× incremental_strategy for incremental models), in one fixed
//! order. glue-materialize's `matrix` test writes each cell's plan to its golden files; glue-local's `golden_plans`
//! runs each distinct plan on real files (its outcomes pinned in `golden_plans.txt`).

use glue_materialize::config::IncrementalStrategy;
use glue_materialize::{FileFormat, Materialization, OnSchemaChange};
use serde_json::{Value, json};

/// The relation that exists before the model runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ex {
    None,
    View,
    /// A table of the cell's format.
    Same,
    /// A table of another format ([`other_format`]).
    Other,
}

/// The format of an [`Ex::Other`] table: Delta for Parquet, Parquet for the rest.
pub fn other_format(f: FileFormat) -> FileFormat {
    if f == FileFormat::Parquet {
        FileFormat::Delta
    } else {
        FileFormat::Parquet
    }
}

/// One cell of the matrix.
#[derive(Clone, Debug)]
pub struct Cell {
    pub mat: Materialization,
    pub format: FileFormat,
    pub ex: Ex,
    pub full_refresh: bool,
    pub partitioned: bool,
    /// 0: no unique_key, 1: `id`, 2: `[id, dt]`.
    pub uk: usize,
    pub osc: OnSchemaChange,
    /// Set for incremental models only.
    pub strategy: Option<IncrementalStrategy>,
}

impl Cell {
    /// The cell in one line, for pinned outcomes.
    pub fn describe(&self) -> String {
        format!(
            "{} {} existing={:?} full_refresh={} partitioned={} unique_key={} on_schema_change={} strategy={}",
            self.mat.as_str(),
            self.format.as_str(),
            self.ex,
            self.full_refresh,
            self.partitioned,
            self.uk,
            self.osc.as_str(),
            self.strategy.map(|s| s.as_str()).unwrap_or("-")
        )
    }

    /// The model's config of this cell in file format `format` (the cell's own, or another one for the existing
    /// table): `materialized`, `on_schema_change`, `file_format` (not for seeds), `partition_by: [dt]`, `unique_key`
    /// (`id` or `[id, dt]`), `incremental_strategy`, and a timestamp strategy on `updated_at` for snapshots.
    pub fn config(&self, format: FileFormat) -> Value {
        let mut cfg = json!({"materialized": self.mat.as_str(), "on_schema_change": self.osc.as_str()});
        let o = cfg.as_object_mut().unwrap();
        if self.mat != Materialization::Seed {
            o.insert("file_format".into(), json!(format.as_str()));
        }
        if self.partitioned {
            o.insert("partition_by".into(), json!(["dt"]));
        }
        match self.uk {
            1 => o.insert("unique_key".into(), json!("id")),
            2 => o.insert("unique_key".into(), json!(["id", "dt"])),
            _ => None,
        };
        if let Some(s) = self.strategy {
            o.insert("incremental_strategy".into(), json!(s.as_str()));
        }
        if self.mat == Materialization::Snapshot {
            o.insert("strategy".into(), json!("timestamp"));
            o.insert("updated_at".into(), json!("updated_at"));
        }
        cfg
    }
}

/// Every cell of one materialization and format, in the matrix's order (existing, full refresh, partitioned,
/// unique_key, on_schema_change, strategy; the last varying fastest): 192 cells, 576 for incremental.
pub fn cells(mat: Materialization, format: FileFormat) -> Vec<Cell> {
    let strategies: Vec<Option<IncrementalStrategy>> = if mat == Materialization::Incremental {
        // microbatch is planned batch by batch (glue_materialize::microbatch), not as one plan per model
        IncrementalStrategy::ALL
            .iter()
            .copied()
            .filter(|s| *s != IncrementalStrategy::Microbatch)
            .map(Some)
            .collect()
    } else {
        vec![None]
    };
    let mut out = Vec::new();
    for ex in [Ex::None, Ex::View, Ex::Same, Ex::Other] {
        for full_refresh in [false, true] {
            for partitioned in [false, true] {
                for uk in 0..3 {
                    for osc in OnSchemaChange::ALL {
                        for strategy in &strategies {
                            out.push(Cell {
                                mat,
                                format,
                                ex,
                                full_refresh,
                                partitioned,
                                uk,
                                osc: *osc,
                                strategy: *strategy,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}
