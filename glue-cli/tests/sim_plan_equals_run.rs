//! `glue plan` on a Glue target of the test world's simulator: it reads the Glue Data Catalog without a session and
//! prints what the next run sends. The embedded engine's counterpart is `plan_equals_run.rs`.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use glue_testkit::sim::last_seq;

use common::sim::{Project, count, log_since};
use common::text;

/// `glue plan` on a Glue target reads each relation from the Glue Data Catalog (no session is created) and prints
/// the steps the next run sends, node by node: a documented table with `persist_docs`, a view, an incremental
/// append (its column list is bound at run time: a placeholder in both) and an Iceberg merge, against an empty
/// schema and then against the tables the first run made.
#[test]
fn plan_reads_the_glue_catalog_without_a_session_and_equals_the_run() {
    let p = Project::new(
        &[
            (
                "base",
                "{{ config(materialized='table', persist_docs={'relation': true, 'columns': true}) }}\n\
                 select 1 as id, 'a' as name",
            ),
            (
                "base_view",
                "{{ config(materialized='view') }}\nselect id from {{ ref('base') }}",
            ),
            (
                "appended",
                "{{ config(materialized='incremental', incremental_strategy='append') }}\nselect * from {{ ref('base') }}",
            ),
            (
                "merged",
                "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id', \
                 file_format='iceberg') }}\nselect * from {{ ref('base') }}",
            ),
        ],
        "      datalake_formats: iceberg\n",
        2,
    );
    std::fs::write(
        p.path().join("models/base.yml"),
        "version: 2\nmodels:\n  - name: base\n    description: The base.\n    columns:\n      - name: id\n        description: The key.\n",
    )
    .unwrap();
    for round in ["empty schema", "second run"] {
        let _ = std::fs::remove_dir_all(p.path().join("target/run"));
        let since = last_seq();
        let plan = p.run(&["plan"]);
        assert!(plan.status.success(), "{round}: {}", text(&plan));
        let log = log_since(since);
        assert_eq!(
            count(&log, "CreateSession"),
            0,
            "{round}: glue plan created a session: {log:?}"
        );
        assert!(
            count(&log, "GetTables") + count(&log, "GetTable") > 0,
            "{round}: glue plan read the catalog: {log:?}"
        );
        let planned = common::planned(&String::from_utf8_lossy(&plan.stdout));
        let run = p.run(&["run"]);
        assert!(run.status.success(), "{round}: {}", text(&run));
        let executed = common::executed(p.path());
        assert_eq!(
            planned.keys().collect::<Vec<_>>(),
            executed.keys().collect::<Vec<_>>(),
            "{round}"
        );
        for (id, ran) in &executed {
            assert_eq!(
                common::without_invocation_id(&planned[id]),
                common::without_invocation_id(ran),
                "{round}: `glue plan` of {id} differs from what `glue run` sent"
            );
        }
        // The second plan found the tables the first run made: a merge, its column list bound at run time.
        let merged = &planned["model.p.merged"];
        let merges = merged.contains("-- Merge ") && merged.contains("rendered by the engine at run time");
        assert_eq!(merges, round == "second run", "{round}: {merged}");
    }
}
