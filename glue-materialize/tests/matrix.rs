//! The full configuration matrix: every materialization × file format × existing relation (none, view, table of
//! the same format, table of another format) × full refresh × partitioned × unique_key (none, one, many) ×
//! on_schema_change (× incremental_strategy for incremental models). Every cell is either a plan (steps and rendered
//! statements) or a named `PlanError`, written to one insta golden file per materialization and format. Cells with
//! the same outcome share one entry; the table at the top of each file maps every cell to its outcome, so no cell is
//! left out.

mod common;

use common::*;
use glue_materialize::config::{IncrementalStrategy, SeedMode};
use glue_materialize::{Existing, FileFormat, Materialization, OnSchemaChange, PlanFlags, plan};
use serde_json::json;

#[derive(Clone, Copy, Debug)]
enum Ex {
    None,
    View,
    Same,
    Other,
}

fn other_format(f: FileFormat) -> FileFormat {
    if f == FileFormat::Parquet {
        FileFormat::Delta
    } else {
        FileFormat::Parquet
    }
}

fn cell_outcomes(mat: Materialization, format: FileFormat) -> (Vec<String>, Vec<String>) {
    let mut cells = Vec::new();
    let mut outcomes: Vec<String> = Vec::new();
    let strategies: Vec<Option<IncrementalStrategy>> = if mat == Materialization::Incremental {
        IncrementalStrategy::ALL.iter().copied().map(Some).collect()
    } else {
        vec![None]
    };
    for ex in [Ex::None, Ex::View, Ex::Same, Ex::Other] {
        for full_refresh in [false, true] {
            for partitioned in [false, true] {
                for uk in 0..3 {
                    for osc in OnSchemaChange::ALL {
                        for strategy in &strategies {
                            let mut cfg = json!({
                                "materialized": mat.as_str(),
                                "on_schema_change": osc.as_str(),
                            });
                            let obj = cfg.as_object_mut().unwrap();
                            if mat != Materialization::Seed {
                                obj.insert("file_format".into(), json!(format.as_str()));
                            }
                            if partitioned {
                                obj.insert("partition_by".into(), json!(["dt"]));
                            }
                            match uk {
                                1 => obj.insert("unique_key".into(), json!("id")),
                                2 => obj.insert("unique_key".into(), json!(["id", "dt"])),
                                _ => None,
                            };
                            if let Some(s) = strategy {
                                obj.insert("incremental_strategy".into(), json!(s.as_str()));
                            }
                            if mat == Materialization::Snapshot {
                                obj.insert("strategy".into(), json!("timestamp"));
                                obj.insert("updated_at".into(), json!("updated_at"));
                            }
                            let m = model(cfg);
                            let mut t = target();
                            if mat == Materialization::Seed {
                                t.seed_format = format;
                                t.seed_mode = SeedMode::Overwrite;
                            }
                            let existing = match ex {
                                Ex::None => Existing::Absent,
                                Ex::View => Existing::View,
                                Ex::Same => existing_table(format),
                                Ex::Other => existing_table(other_format(format)),
                            };
                            let flags = PlanFlags {
                                full_refresh,
                                invocation_id: "run42".into(),
                            };
                            let text = golden(&plan(&m, &existing, &t, &flags));
                            let id = match outcomes.iter().position(|o| *o == text) {
                                Some(i) => i,
                                None => {
                                    outcomes.push(text);
                                    outcomes.len() - 1
                                }
                            };
                            let ex_name = match ex {
                                Ex::None => "none".to_string(),
                                Ex::View => "view".to_string(),
                                Ex::Same => format!("table({format})"),
                                Ex::Other => format!("table({})", other_format(format)),
                            };
                            cells.push(format!(
                                "existing={ex_name:<16} full_refresh={} partitioned={} unique_key={} \
                                 on_schema_change={:<18}{} -> #{}",
                                full_refresh as u8,
                                partitioned as u8,
                                ["none", "one", "many"][uk],
                                osc.as_str(),
                                strategy
                                    .map(|s| format!(" strategy={:<16}", s.as_str()))
                                    .unwrap_or_default(),
                                id + 1
                            ));
                        }
                    }
                }
            }
        }
    }
    (cells, outcomes)
}

#[test]
fn configuration_matrix() {
    let mut total = 0;
    for mat in Materialization::ALL {
        for format in FileFormat::ALL {
            let (cells, outcomes) = cell_outcomes(*mat, *format);
            total += cells.len();
            let mut text = format!(
                "materialized={mat} file_format={format}: {} cells, {} outcomes\n\n",
                cells.len(),
                outcomes.len()
            );
            text.push_str(&cells.join("\n"));
            text.push('\n');
            for (i, o) in outcomes.iter().enumerate() {
                text.push_str(&format!("\n## outcome #{}\n{o}", i + 1));
            }
            insta::with_settings!({ snapshot_path => "golden/matrix", prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(format!("{mat}__{format}"), text);
            });
        }
    }
    // 5 materializations × 192 cells + incremental × 576, for each of the 10 formats.
    assert_eq!(total, 10 * (5 * 192 + 576));
}
