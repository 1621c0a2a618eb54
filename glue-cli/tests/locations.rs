//! Two nodes of one project whose tables would share a location, or nest one inside the other, are refused before
//! anything runs: building one would write into, or empty, the other's files (issue 19, item 2).

mod common;

use common::{glue, project};

#[test]
fn two_models_with_one_location_are_refused_before_anything_runs() {
    let p = project(&[
        (
            "models/a.sql",
            "{{ config(materialized='table', custom_location='s3://lake/shared/t') }}\nselect 1 as id",
        ),
        (
            "models/b.sql",
            "{{ config(materialized='table', custom_location='s3a://lake/shared/t/') }}\nselect 2 as id",
        ),
        ("models/c.sql", "select 3 as id"),
    ]);
    let out = glue(p.path(), &["run"]);
    let all = out.all();
    assert_ne!(out.code, 0, "{all}");
    assert!(all.contains("the same location as"), "{all}");
    assert!(all.contains("`a`") && all.contains("`b`"), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(!all.contains("OK created"), "nothing ran:\n{all}");
}

#[test]
fn a_location_inside_another_models_is_refused_and_distinct_ones_run() {
    let p = project(&[
        (
            "models/outer.sql",
            "{{ config(materialized='table', custom_location='s3://lake/t') }}\nselect 1 as id",
        ),
        (
            "models/inner.sql",
            "{{ config(materialized='table', custom_location='s3://lake/t/inner') }}\nselect 2 as id",
        ),
    ]);
    let out = glue(p.path(), &["run"]);
    let all = out.all();
    assert_ne!(out.code, 0, "{all}");
    assert!(all.contains("a location inside that of"), "{all}");
    assert!(all.contains("models/inner.sql"), "{all}");

    // Siblings that only share a prefix of characters (`t` and `t2`) are distinct locations.
    let ok = project(&[("models/t.sql", "select 1 as id"), ("models/t2.sql", "select 2 as id")]);
    let out = glue(ok.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
}
