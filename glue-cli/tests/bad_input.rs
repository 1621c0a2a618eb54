//! Bad input: each case fails (or warns) with a message naming the file, the node and the field or line, never
//! panics, and never leaves a table half-written.

mod common;

use common::{glue, project, rows, write};

fn assert_has(out: &common::Out, needles: &[&str]) {
    let all = out.all();
    for n in needles {
        assert!(all.contains(n), "expected `{n}` in:\n{all}");
    }
    assert!(!all.contains("panicked"), "panicked:\n{all}");
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let p = project(&[
        ("models/m.sql", "select 1 as id"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: m\n    columns: [a, b\n    description: x\n",
        ),
    ]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["models/schema.yml", "invalid YAML", "line 5"]);
}

#[test]
fn unknown_config_key_warns_with_file_and_model() {
    let p = project(&[(
        "models/m.sql",
        "{{ config(materialized='table', file_fromat='delta') }}\nselect 1 as id",
    )]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_has(
        &out,
        &[
            "[WARNING]",
            "models/m.sql",
            "model `m`",
            "unknown config key `file_fromat`",
        ],
    );
}

#[test]
fn unknown_materialization_is_an_error_naming_model_and_value() {
    let p = project(&[("models/m.sql", "{{ config(materialized='tabel') }}\nselect 1 as id")]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["models/m.sql", "model `m`", "materialized", "tabel", "table"]);
}

#[test]
fn ref_to_missing_model_names_both() {
    let p = project(&[("models/a.sql", "select * from {{ ref('nope') }}")]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["models/a.sql", "model `a` depends on `nope`", "not found"]);
}

#[test]
fn cycle_is_named() {
    let p = project(&[
        ("models/a.sql", "select * from {{ ref('b') }}"),
        ("models/b.sql", "select * from {{ ref('a') }}"),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["cycle", "model.proj.a", "model.proj.b"]);
}

#[test]
fn jinja_error_names_file_and_line() {
    let p = project(&[("models/m.sql", "select 1 as id\n-- two\n{{ undefined_macro_call() }}\n")]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["models/m.sql:3", "model `m`"]);
}

#[test]
fn jinja_syntax_error_names_file_and_line() {
    let p = project(&[("models/m.sql", "select 1 as id\n{% if true %}\nselect 2\n")]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["models/m.sql:", "model `m`"]);
}

#[test]
fn missing_profile_and_target() {
    let p = project(&[
        ("dbt_project.yml", "name: proj\nprofile: other\n"),
        ("models/m.sql", "select 1 as id"),
    ]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["profiles.yml", "profile `other`", "not defined"]);
    let p = project(&[("models/m.sql", "select 1 as id")]);
    let out = glue(p.path(), &["compile", "--target", "prod"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["profiles.yml", "target `prod`", "outputs: dev"]);
}

#[test]
fn missing_env_var_without_default() {
    let p = project(&[(
        "models/m.sql",
        "select '{{ env_var('GLUE_TEST_SURELY_UNSET_VAR') }}' as x",
    )]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["models/m.sql:1", "GLUE_TEST_SURELY_UNSET_VAR", "not set"]);
    // In profiles.yml too.
    let p = project(&[
        ("models/m.sql", "select 1 as id"),
        (
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      schema: \"{{ env_var('GLUE_TEST_SURELY_UNSET_VAR') }}\"\n",
        ),
    ]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["profiles.yml", "schema", "GLUE_TEST_SURELY_UNSET_VAR"]);
}

#[test]
fn duplicate_model_names() {
    let p = project(&[
        ("models/a/m.sql", "select 1 as id"),
        ("models/b/m.sql", "select 2 as id"),
    ]);
    let out = glue(p.path(), &["compile"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["named `m`", "models/a/m.sql", "models/b/m.sql"]);
}

#[test]
fn unknown_engine_is_not_a_silent_local_run() {
    let p = project(&[
        ("models/m.sql", "select 1 as id"),
        (
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: locale\n      warehouse: wh\n      schema: s\n",
        ),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 2);
    assert_has(&out, &["profiles.yml", "field `engine`", "locale"]);
    assert!(!p.path().join("wh").exists());
}

#[test]
fn failed_model_keeps_the_previous_table() {
    let p = project(&[("models/m.sql", "{{ config(materialized='table') }}\nselect 1 as id")]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    write(
        p.path(),
        "models/m.sql",
        "{{ config(materialized='table') }}\nselect no_such_column as id",
    );
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 1);
    assert_has(&out, &["ERROR creating sql table model s.m", "no_such_column"]);
    let r = rows(p.path(), "select id from s.m");
    assert_eq!(r, vec![serde_json::json!({"id": 1})]);
}

#[test]
fn failure_skips_descendants_and_exit_code_is_one() {
    let p = project(&[
        ("models/a.sql", "select no_such_column"),
        ("models/b.sql", "select * from {{ ref('a') }}"),
        ("models/c.sql", "select 1 as id"),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 1);
    assert_has(
        &out,
        &[
            "ERROR creating sql view model s.a",
            "SKIP sql view model s.b",
            "OK created sql view model s.c",
            "PASS=1 WARN=0 ERROR=1 SKIP=1 TOTAL=3",
        ],
    );
}

#[test]
fn python_model_fails_clearly_on_the_embedded_engine() {
    let p = project(&[(
        "models/py.py",
        "def model(dbt, session):\n    return session.sql('select 1')\n",
    )]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 1);
    assert_has(&out, &["models/py.py", "Python model", "embedded engine"]);
}

#[test]
fn enforced_contract_names_every_mismatch_and_writes_nothing() {
    let yml = "models:\n  - name: m\n    config:\n      contract: {enforced: true}\n    columns:\n      - name: id\n        data_type: integer\n      - name: name\n        data_type: string\n      - name: gone\n        data_type: date\n";
    let p = project(&[
        (
            "models/m.sql",
            "{{ config(materialized='table') }}\nselect cast(1 as int) as id, 2.5 as name, 'x' as extra",
        ),
        ("models/schema.yml", yml),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 1);
    assert_has(
        &out,
        &[
            "models/m.sql: model `m` has an enforced contract that failed",
            "| name | decimal(2,1) | string | data type mismatch |",
            "| gone |  | date | missing in definition |",
            "| extra | string |  | missing in contract |",
        ],
    );
    assert!(!out.all().contains("| id |"), "{}", out.all());
    let listed = glue(p.path(), &["show", "--inline", "select count(*) as n from s.m"]);
    assert_ne!(listed.code, 0, "the table must not exist: {}", listed.all());
    // Fixed, it builds.
    write(
        p.path(),
        "models/m.sql",
        "{{ config(materialized='table') }}\nselect cast(1 as int) as id, 'n' as name, current_date() as gone",
    );
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn database_other_than_schema_is_refused_as_dbt_glue_refuses_it() {
    let p = project(&[
        ("models/m.sql", "select 1 as id"),
        (
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      schema: s\n      database: other\n",
        ),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert_has(
        &out,
        &["profiles.yml", "field `database`", "`other`", "same value as schema"],
    );
    assert!(!p.path().join("wh").exists(), "nothing ran");
    // The same value, or database alone, is fine.
    for lines in ["schema: s\n      database: s\n", "database: s\n"] {
        write(
            p.path(),
            "profiles.yml",
            &format!(
                "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      {lines}"
            ),
        );
        let out = glue(p.path(), &["run"]);
        assert_eq!(out.code, 0, "{lines}: {}", out.all());
    }
}

#[test]
fn dbt_glue_profile_keys_without_effect_are_named_in_a_warning() {
    let p = project(&[
        ("models/m.sql", "select 1 as id"),
        (
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      schema: s\n      lf_tags: x\n      query-comment: my comment\n      use_arrow: true\n      packages: pandas\n",
        ),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    for key in ["lf_tags", "query-comment", "use_arrow", "packages"] {
        assert_has(&out, &[&format!("`{key}` has no effect in glue-rs")]);
    }
    assert_has(&out, &["lf_tags_config", "--additional-python-modules"]);
}

#[test]
fn dbt_grants_are_named_in_one_warning_per_model() {
    let p = project(&[
        (
            "dbt_project.yml",
            "name: proj\nprofile: proj\nmodels:\n  +grants:\n    select: [analyst]\n",
        ),
        ("models/a.sql", "{{ config(materialized='table') }}\nselect 1 as id"),
        ("models/b.sql", "select 1 as id"),
    ]);
    let out = glue(p.path(), &["run"]);
    assert_eq!(out.code, 0, "{}", out.all());
    for m in ["a", "b"] {
        let warning = format!("`grants` of model `{m}` has no effect");
        assert_eq!(out.all().matches(&warning).count(), 1, "{}", out.all());
    }
    assert_has(&out, &["lf_grants"]);
}
