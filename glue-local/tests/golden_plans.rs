//! Every distinct golden plan of glue-materialize's configuration matrix, run on real files.
//!
//! For each materialization × format, the matrix's cells (existing relation, full refresh, partitioning, unique_key,
//! on_schema_change, strategy) are planned as the golden test plans them; each distinct plan runs once in a fresh
//! warehouse where the existing relation was built from OLD rows, with the source now holding NEW rows. The result
//! is checked against what the strategy means (rows, and the partition layout for Hive-style tables); plans the
//! embedded engine does not support must fail with `unsupported on the embedded engine` and leave the catalog as
//! it was.

mod common;

use std::collections::BTreeSet;

use common::*;
use glue_materialize::config::IncrementalStrategy;
use glue_materialize::{Engine, FileFormat, Materialization, Plan};
use glue_testkit::matrix::{Cell, Ex, cells, other_format};
use serde_json::json;

const OLD: &str = "select * from (values (1, 'a', timestamp '2024-01-01 00:00:00', date '2024-01-01'), \
    (2, 'b', timestamp '2024-01-01 00:00:00', date '2024-01-01'), \
    (3, 'c', timestamp '2024-01-01 00:00:00', date '2024-01-02')) as t(id, name, updated_at, dt)";
const NEW: &str = "select * from (values (3, 'C', timestamp '2024-01-02 00:00:00', date '2024-01-02'), \
    (4, 'd', timestamp '2024-01-02 00:00:00', date '2024-01-03')) as t(id, name, updated_at, dt)";
const MODEL_SQL: &str = "select id, name, updated_at, dt from raw.orders -- the source";

/// Builds the world of a cell: the source with OLD rows, the existing relation from them, then NEW rows.
async fn world_for(cell: &Cell) -> World {
    let w = World::new();
    w.run_in("raw", "orders", json!({"materialized": "table"}), OLD).await;
    let seed_csv = w.dir.path().join("orders.csv");
    std::fs::write(&seed_csv, "id,name,updated_at,dt\n1,a,2024-01-01 00:00:00,2024-01-01\n").unwrap();
    match cell.ex {
        Ex::None => {}
        Ex::View => w.run("orders", json!({"materialized": "view"}), MODEL_SQL).await,
        Ex::Same | Ex::Other => {
            let format = if cell.ex == Ex::Same {
                cell.format
            } else {
                other_format(cell.format)
            };
            let mut cfg = cell.config(format);
            if cell.mat == Materialization::Seed {
                cfg = json!({"materialized": "table", "file_format": format.as_str()});
            }
            if cell.mat == Materialization::Ephemeral || cell.mat == Materialization::View {
                cfg["materialized"] = json!("table");
            }
            // When the existing table cannot be built here (a format the engine refuses), the cell runs
            // against no table: its own plan must then be refused too, or plan a first build.
            if let Ok(p) = w.try_plan("orders", cfg, MODEL_SQL, false).await {
                let _ = w.engine.execute(&p).await;
            }
        }
    }
    w.run_in("raw", "orders", json!({"materialized": "table"}), NEW).await;
    w
}

fn rows(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// What the model's table holds after the run, as `id|name` rows.
fn expected(cell: &Cell, existed_as_table: bool, plan: &Plan) -> Vec<String> {
    let new = rows(&["3|C", "4|d"]);
    let incremental_run = plan
        .steps
        .iter()
        .any(|s| matches!(s, glue_materialize::Step::CreateTempRelation { .. }));
    if cell.mat != Materialization::Incremental || !incremental_run || !existed_as_table {
        return new;
    }
    match cell.strategy.unwrap() {
        IncrementalStrategy::Append => rows(&["1|a", "2|b", "3|c", "3|C", "4|d"]),
        IncrementalStrategy::InsertOverwrite if cell.partitioned => rows(&["1|a", "2|b", "3|C", "4|d"]),
        IncrementalStrategy::InsertOverwrite => new,
        IncrementalStrategy::Merge if cell.uk == 0 => rows(&["1|a", "2|b", "3|c", "3|C", "4|d"]),
        IncrementalStrategy::Merge => rows(&["1|a", "2|b", "3|C", "4|d"]),
        IncrementalStrategy::Microbatch => unreachable!("the matrix has no microbatch cells"),
    }
}

#[tokio::test]
async fn every_golden_plan_runs_or_is_refused() {
    let mut ran = 0;
    let mut refused = 0;
    // What was refused, by format and reason (the engine's "unsupported on the embedded engine: …" construct).
    let mut reasons: std::collections::BTreeMap<(String, String), usize> = Default::default();
    // Each distinct plan's cell and outcome, pinned in `golden_plans.txt`.
    let mut outcomes: Vec<String> = Vec::new();
    for mat in Materialization::ALL {
        for format in FileFormat::ALL {
            let mut seen = BTreeSet::new();
            for cell in cells(*mat, *format) {
                let cfg = cell.config(*format);
                let m = glue_materialize::Model::new(
                    "orders",
                    SCHEMA,
                    MODEL_SQL,
                    glue_materialize::ModelConfig::from_json(&cfg).unwrap(),
                );
                let flags = glue_materialize::PlanFlags {
                    full_refresh: cell.full_refresh,
                    invocation_id: "g1".into(),
                };
                // The plan as the golden file has it (a synthetic existing relation): one run per distinct plan.
                let synthetic = match cell.ex {
                    Ex::None => glue_materialize::Existing::Absent,
                    Ex::View => glue_materialize::Existing::View,
                    Ex::Same => glue_materialize::Existing::Table(glue_materialize::ExistingTable::of(*format)),
                    Ex::Other => {
                        glue_materialize::Existing::Table(glue_materialize::ExistingTable::of(other_format(*format)))
                    }
                };
                let mut target = glue_materialize::Target::new(SCHEMA, Some("/warehouse".into()));
                target.datalake_formats = [FileFormat::Delta].into_iter().collect();
                if *mat == Materialization::Seed {
                    target.seed_format = *format;
                }
                let Ok(golden) = glue_materialize::plan(&m, &synthetic, &target, &flags) else {
                    continue;
                };
                if !seen.insert(format!("{:?}", golden.steps)) {
                    continue;
                }
                let probe = world_for(&cell).await;
                let existing = probe.existing("orders").await;
                let mut target = probe.target.clone();
                if *mat == Materialization::Seed {
                    target.seed_format = *format;
                }
                let mut model = m.clone();
                model.seed_path = Some(probe.dir.path().join("orders.csv").display().to_string());
                let plan = match glue_materialize::plan(&model, &existing, &target, &flags) {
                    Ok(p) => p,
                    // The existing relation could not be built in this format here; the cell plans an error.
                    Err(_) => continue,
                };
                let before = probe.engine.catalog().read().unwrap();
                let result = probe.engine.execute(&plan).await;
                let ctx = format!("{cell:?}");
                match &result {
                    Err(e) if e.to_string().starts_with("unsupported on the embedded engine") => {
                        assert_eq!(
                            probe.engine.catalog().read().unwrap(),
                            before,
                            "{ctx}: a refused plan wrote"
                        );
                        refused += 1;
                        let reason = e.to_string().replace(SCHEMA, "<schema>");
                        outcomes.push(format!("{} refused: {reason}", cell.describe()));
                        *reasons.entry((format.to_string(), reason)).or_default() += 1;
                        continue;
                    }
                    Err(e) => panic!("{ctx}: {e}\n{:#?}", plan.steps),
                    Ok(_) => {}
                }
                ran += 1;
                outcomes.push(format!("{} ran", cell.describe()));
                let existed_as_table = matches!(existing, glue_materialize::Existing::Table(_));
                match mat {
                    Materialization::Ephemeral => {
                        assert_eq!(probe.engine.catalog().read().unwrap(), before, "{ctx}: ephemeral wrote");
                    }
                    Materialization::Seed => {
                        assert_eq!(
                            probe.rows("select id, name from analytics.orders").await,
                            ["1|a"],
                            "{ctx}"
                        );
                    }
                    Materialization::Snapshot => {
                        let current = probe
                            .rows("select id, name from analytics.orders where dbt_valid_to is null")
                            .await;
                        if existed_as_table {
                            assert_eq!(current, rows(&["1|a", "2|b", "3|C", "4|d"]), "{ctx}");
                            assert_eq!(
                                probe.rows("select count(*) from analytics.orders").await,
                                ["5"],
                                "{ctx}"
                            );
                        } else {
                            assert_eq!(current, rows(&["3|C", "4|d"]), "{ctx}");
                        }
                    }
                    _ => {
                        let got = probe.rows("select id, name from analytics.orders").await;
                        assert_eq!(
                            got,
                            expected(&cell, existed_as_table, &plan),
                            "{ctx}\n{:#?}",
                            plan.steps
                        );
                    }
                }
                // Hive-style tables keep one directory per partition value.
                if cell.partitioned && matches!(mat, Materialization::Table | Materialization::Incremental) {
                    let state = probe.engine.catalog().read().unwrap();
                    let e = state.table(SCHEMA, "orders").unwrap();
                    assert_eq!(e.partition_columns, ["dt"], "{ctx}");
                    if matches!(e.format, Some(FileFormat::Parquet | FileFormat::Csv | FileFormat::Json)) {
                        let dir = std::path::Path::new(e.location.as_deref().unwrap());
                        let parts: BTreeSet<String> = std::fs::read_dir(dir)
                            .unwrap()
                            .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
                            .filter(|n| n.starts_with("dt="))
                            .collect();
                        assert!(parts.contains("dt=2024-01-03"), "{ctx}: {parts:?}");
                    }
                }
            }
        }
    }
    eprintln!("golden plans: {ran} ran on real files, {refused} refused as unsupported:");
    for ((format, reason), n) in &reasons {
        eprintln!("  {format}: {n} × {reason}");
    }
    assert!(ran > 100 && refused > 50, "ran {ran}, refused {refused}");
    // Which cells run and which are refused is pinned: a plan that newly becomes unsupported (or newly runs) shows in
    // review. `GLUE_RS_UPDATE_GOLDEN=1` rewrites the file.
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden_plans.txt");
    let text = format!(
        "# Every distinct golden plan of the configuration matrix on the embedded engine: {ran} ran, {refused} refused.\n{}\n",
        outcomes.join("\n")
    );
    if std::env::var_os("GLUE_RS_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let pinned = std::fs::read_to_string(&golden).unwrap_or_default();
    if pinned != text {
        let old: BTreeSet<&str> = pinned.lines().collect();
        let new: BTreeSet<&str> = text.lines().collect();
        panic!(
            "the outcomes differ from tests/golden_plans.txt (GLUE_RS_UPDATE_GOLDEN=1 rewrites it):\n  now:\n    {}\n  was:\n    {}",
            new.difference(&old).copied().collect::<Vec<_>>().join("\n    "),
            old.difference(&new).copied().collect::<Vec<_>>().join("\n    ")
        );
    }
    // Iceberg runs whole on the embedded engine: MERGE, snapshots, partition overwrites (issue 20).
    let iceberg: Vec<_> = reasons.keys().filter(|(f, _)| f == "iceberg").collect();
    assert!(iceberg.is_empty(), "Iceberg cells refused: {iceberg:?}");
}
