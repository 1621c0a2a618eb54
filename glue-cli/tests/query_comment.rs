//! dbt's `query-comment` (dbt_project.yml): dbt's default comment, a string or a `{comment, append, job-label}`
//! mapping rendered per node (with `node` and the project's macros), or none (`null`, `''`). What a run sends for a
//! node carries it on every statement, and `glue plan` and `target/run/` show it.

mod common;

use common::{glue, project};

const MODEL: &str = "{{ config(materialized='table', pre_hook='select 1') }}\nselect 1 as id";

fn project_yml(extra: &str) -> String {
    format!("name: proj\nprofile: proj\n{extra}")
}

/// `target/run/` of model `m` after `glue run`, and `glue plan`'s text of it.
fn ran_and_planned(extra: &str) -> (String, String) {
    let p = project(&[("dbt_project.yml", &project_yml(extra)), ("models/m.sql", MODEL)]);
    let plan = glue(p.path(), &["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let ran = std::fs::read_to_string(p.path().join("target/run/proj/models/m.sql")).unwrap();
    (ran, plan.stdout)
}

#[test]
fn dbt_default_comment_names_the_node_on_every_statement() {
    let (ran, planned) = ran_and_planned("");
    let comment = r#"/* {"app": "dbt", "dbt_version": "1.11.0", "profile_name": "proj", "target_name": "dev", "node_id": "model.proj.m"} */"#;
    // The hook and the CTAS.
    assert_eq!(ran.matches(comment).count(), 2, "{ran}");
    assert!(ran.contains(&format!("{comment}\nselect 1;")), "{ran}");
    assert!(planned.contains(comment), "{planned}");
}

#[test]
fn a_string_comment_is_rendered_and_stripped_as_dbt_does() {
    let (ran, planned) = ran_and_planned("query-comment: \"dbt\\nrules!\\n\"\n");
    assert!(ran.contains("/* dbt\nrules! */\nselect 1;"), "{ran}");
    assert!(planned.contains("/* dbt\nrules! */\n"), "{planned}");
    // Jinja with the node and the project's macros.
    let p = project(&[
        (
            "dbt_project.yml",
            &project_yml("query-comment: \"{{ tag() }} {{ node.unique_id }} {{ target.name }}\"\n"),
        ),
        (
            "macros/tag.sql",
            "{% macro tag() %}{{ return('from ' ~ project_name) }}{% endmacro %}",
        ),
        ("models/m.sql", MODEL),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let ran = std::fs::read_to_string(p.path().join("target/run/proj/models/m.sql")).unwrap();
    assert!(ran.contains("/* from proj model.proj.m dev */\n"), "{ran}");
}

#[test]
fn a_mapping_can_append_the_comment() {
    let (ran, _) = ran_and_planned("query-comment:\n  comment: \"m={{ node.name }}\"\n  append: true\n");
    assert!(ran.contains("select 1 as id\n/* m=m */;"), "{ran}");
    assert!(!ran.contains("/* m=m */\nselect"), "{ran}");
}

#[test]
fn null_or_empty_sends_no_comment() {
    for extra in [
        "query-comment: null\n",
        "query-comment: ''\n",
        "query-comment:\n  comment: ''\n",
    ] {
        let (ran, planned) = ran_and_planned(extra);
        assert!(!ran.contains("/*"), "{extra}: {ran}");
        assert!(!planned.contains("/*"), "{extra}: {planned}");
    }
}

#[test]
fn a_comment_that_would_end_early_fails_the_node_naming_the_key() {
    let p = project(&[
        (
            "dbt_project.yml",
            &project_yml("query-comment: \"bad */ drop table x\"\n"),
        ),
        ("models/m.sql", MODEL),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_ne!(out.code, 0, "{}", out.all());
    let all = out.all();
    assert!(
        all.contains("query-comment") && all.contains("*/") && all.contains("`m`"),
        "{all}"
    );
}

#[test]
fn malformed_settings_are_errors_and_job_label_warns() {
    for (extra, field) in [
        ("query-comment: [a]\n", "query-comment"),
        ("query-comment:\n  append: maybe\n", "query-comment.append"),
        ("query-comment:\n  comment: 3\n", "query-comment.comment"),
        ("query-comment:\n  other: 1\n", "query-comment.other"),
    ] {
        let p = project(&[("dbt_project.yml", &project_yml(extra)), ("models/m.sql", MODEL)]);
        let out = glue(p.path(), &["run"]);
        assert_ne!(out.code, 0, "{extra}: {}", out.all());
        assert!(
            out.all().contains("dbt_project.yml") && out.all().contains(field),
            "{extra}: {}",
            out.all()
        );
    }
    let p = project(&[
        ("dbt_project.yml", &project_yml("query-comment:\n  job-label: true\n")),
        ("models/m.sql", MODEL),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.all().matches("job-label").count(), 1, "{}", out.all());
}

#[test]
fn the_profile_key_points_to_dbt_project_yml() {
    let p = project(&[
        ("models/m.sql", MODEL),
        (
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      schema: s\n      query-comment: my comment\n",
        ),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains("`query-comment` has no effect in glue-rs"),
        "{}",
        out.all()
    );
    assert!(
        out.all().contains("`query-comment:` in dbt_project.yml"),
        "{}",
        out.all()
    );
    // Not sent: the profile's value is not the comment.
    let ran = std::fs::read_to_string(p.path().join("target/run/proj/models/m.sql")).unwrap();
    assert!(!ran.contains("my comment"), "{ran}");
}
