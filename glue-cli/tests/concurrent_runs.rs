//! Two `glue run` processes rebuilding one model of one project at once on the embedded engine (issue 19, item 6):
//! the final table is always one run's result whole, never rows of both; a run that loses fails saying another run
//! won. `GLUE_RS_RACE_ROUNDS` rounds (3 by default; `cargo xtask it --long` runs 20).

mod common;

use std::process::{Command, Stdio};

use common::{check_race_round, project, race_rounds, rows, text};

fn spawn(dir: &std::path::Path, tag: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_glue"))
        .args(["run", "--vars", &format!("{{tag: {tag}}}"), "--project-dir"])
        .arg(dir)
        .env_remove("DBT_PROFILES_DIR")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start glue")
}

#[test]
fn two_runs_rebuilding_one_table_at_once_leave_one_result_whole() {
    let rounds = race_rounds();
    // Run `a…` writes 2 rows, run `b…` 3 rows, each tagged with its name.
    let p = project(&[(
        "models/raced.sql",
        "{{ config(materialized='table') }}\n\
         select id, '{{ var(\"tag\", \"none\") }}' as tag from (values (1), (2), (3)) as v(id)\n\
         where id <= {{ 2 if var('tag', 'none').startswith('a') else 3 }}",
    )]);
    let first = spawn(p.path(), "start").wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let (mut both, mut one) = (0, 0);
    for round in 0..rounds {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let (pa, pb) = (spawn(p.path(), &a), spawn(p.path(), &b));
        let (oa, ob) = (pa.wait_with_output().unwrap(), pb.wait_with_output().unwrap());
        for (o, name) in [(&oa, &a), (&ob, &b)] {
            assert!(!text(o).contains("panicked"), "round {round}, run {name}:\n{}", text(o));
        }
        let got = rows(p.path(), "select tag, count(*) as n from raced group by tag");
        if check_race_round(round, [(&a, &oa), (&b, &ob)], &got) == 0 {
            both += 1;
        } else {
            one += 1;
        }
    }
    println!("{rounds} rounds: {one} with one run failing, {both} with both done one after the other");
}
