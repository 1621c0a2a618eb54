//! Two `glue run` processes rebuilding one table of the test world's Glue catalog at once (issue 19, item 6): one
//! run's result whole. The embedded engine's counterpart is `concurrent_runs.rs`.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use serde_json::Value;

use common::sim::Project;
use common::text;

/// Two `glue run` processes rebuild one table of the simulator's catalog at once (issue 19, item 6): the table is
/// always one run's result whole; a run that fails says another run won. `GLUE_RS_RACE_ROUNDS` rounds (3 by
/// default; `cargo xtask it --long` runs 20).
#[test]
fn two_glue_processes_rebuilding_one_table_leave_one_result_whole() {
    let rounds = common::race_rounds();
    let model = "{{ config(materialized='table') }}\n\
                 select id, '{{ var(\"tag\", \"none\") }}' as tag \
                 from range(0, {{ 2 if var('tag', 'none').startswith('a') else 3 }})";
    let p = Project::new(&[("raced", model)], "", 1);
    let first = p.run(&["run", "--vars", "{tag: start}"]);
    assert!(first.status.success(), "{}", text(&first));
    let mut one_failed = 0;
    for round in 0..rounds {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let spawn = |tag: &str| {
            p.command(&["run", "--vars", &format!("{{tag: {tag}}}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("glue starts")
        };
        let (ca, cb) = (spawn(&a), spawn(&b));
        let (oa, ob) = (ca.wait_with_output().unwrap(), cb.wait_with_output().unwrap());
        let sql = format!("select tag, count(*) as n from {}.raced group by tag", p.schema);
        let shown = p.run(&["show", "--inline", &sql, "--output", "json", "-q"]);
        assert!(shown.status.success(), "{}", text(&shown));
        let v: Value = serde_json::from_str(String::from_utf8_lossy(&shown.stdout).trim()).expect("JSON rows");
        let got = v["show"].as_array().expect("rows");
        one_failed += common::check_race_round(round, [(&a, &oa), (&b, &ob)], got);
    }
    println!("{rounds} rounds on Glue sessions: {one_failed} runs lost to the other");
}
