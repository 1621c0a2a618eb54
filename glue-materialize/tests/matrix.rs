//! The full configuration matrix: every materialization × file format × existing relation (none, view, table of
//! the same format, table of another format) × full refresh × partitioned × unique_key (none, one, many) ×
//! on_schema_change (× incremental_strategy for incremental models). Every cell is either a plan (steps and rendered
//! statements) or a named `PlanError`, written to one insta golden file per materialization and format. Cells with
//! the same outcome share one entry; the table at the top of each file maps every cell to its outcome, so no cell is
//! left out.

mod common;

use common::*;
use glue_materialize::config::SeedMode;
use glue_materialize::{Existing, FileFormat, Materialization, PlanFlags, plan};
use glue_testkit::matrix::{self, Ex, other_format};

fn cell_outcomes(mat: Materialization, format: FileFormat) -> (Vec<String>, Vec<String>) {
    let mut cells = Vec::new();
    let mut outcomes: Vec<String> = Vec::new();
    for cell in matrix::cells(mat, format) {
        let m = model(cell.config(format));
        let mut t = target();
        if mat == Materialization::Seed {
            t.seed_format = format;
            t.seed_mode = SeedMode::Overwrite;
        }
        let existing = match cell.ex {
            Ex::None => Existing::Absent,
            Ex::View => Existing::View,
            Ex::Same => existing_table(format),
            Ex::Other => existing_table(other_format(format)),
        };
        let flags = PlanFlags {
            full_refresh: cell.full_refresh,
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
        let ex_name = match cell.ex {
            Ex::None => "none".to_string(),
            Ex::View => "view".to_string(),
            Ex::Same => format!("table({format})"),
            Ex::Other => format!("table({})", other_format(format)),
        };
        cells.push(format!(
            "existing={ex_name:<16} full_refresh={} partitioned={} unique_key={} \
             on_schema_change={:<18}{} -> #{}",
            cell.full_refresh as u8,
            cell.partitioned as u8,
            ["none", "one", "many"][cell.uk],
            cell.osc.as_str(),
            cell.strategy
                .map(|s| format!(" strategy={:<16}", s.as_str()))
                .unwrap_or_default(),
            id + 1
        ));
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
