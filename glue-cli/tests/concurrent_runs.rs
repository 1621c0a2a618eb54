//! Two `glue run` processes rebuilding one model of one project at once on the embedded engine (issue 19, item 6):
//! the final table is always one run's result whole, never rows of both; a run that loses fails saying another run
//! won. `GLUE_RS_RACE_ROUNDS` rounds (3 by default; `cargo xtask it --long` runs 20).

mod common;

use std::process::{Command, Stdio};

use common::{project, rows};

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
    let rounds: usize = std::env::var("GLUE_RS_RACE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
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
        let text = |o: &std::process::Output| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        assert!(
            oa.status.success() || ob.status.success(),
            "round {round}: both runs failed:\n{}\n{}",
            text(&oa),
            text(&ob)
        );
        for (o, name) in [(&oa, &a), (&ob, &b)] {
            let all = text(o);
            assert!(!all.contains("panicked"), "round {round}, run {name}:\n{all}");
            if !o.status.success() {
                assert!(
                    all.contains("another run"),
                    "round {round}: run {name} failed unclearly:\n{all}"
                );
            }
        }
        if oa.status.success() && ob.status.success() {
            both += 1;
        } else {
            one += 1;
        }
        let got = rows(p.path(), "select tag, count(*) as n from raced group by tag");
        assert_eq!(got.len(), 1, "round {round}: rows of more than one run: {got:?}");
        let tag = got[0]["tag"].as_str().unwrap().to_string();
        let n = got[0]["n"].as_i64().unwrap();
        let expected = if tag.starts_with('a') { 2 } else { 3 };
        assert!(tag == a || tag == b, "round {round}: {tag}");
        assert_eq!(n, expected, "round {round}: the table holds run {tag}'s rows whole");
    }
    println!("{rounds} rounds: {one} with one run failing, {both} with both done one after the other");
}
