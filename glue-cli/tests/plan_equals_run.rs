//! `glue plan` promises exactly what a run would send. For every node of the bundled example project (and its
//! lakehouse variants: Delta merge, Iceberg merge, Parquet append), with `persist_docs` off and on, the steps `glue
//! plan` prints equal the steps the next `glue build` executed (the plan text each run writes under `target/run/`),
//! first against an empty warehouse, then against the tables the first build made (the incremental paths).

mod common;

use std::path::Path;

use common::{copy_dir, executed, glue, planned, without_invocation_id, workspace};

/// Plans, builds, and holds the plan against what the build ran, node by node.
fn plan_then_build(dir: &Path, args: &[&str], round: &str) {
    let _ = std::fs::remove_dir_all(dir.join("target/run"));
    let plan = glue(dir, &[&["plan"], args].concat());
    assert_eq!(plan.code, 0, "{round}: glue plan failed:\n{}", plan.all());
    let planned = planned(&plan.stdout);
    let build = glue(dir, &[&["build"], args].concat());
    assert_eq!(build.code, 0, "{round}: glue build failed:\n{}", build.all());
    let executed = executed(dir);
    assert_eq!(
        planned.keys().collect::<Vec<_>>(),
        executed.keys().collect::<Vec<_>>(),
        "{round}: the nodes planned and the nodes built"
    );
    for (id, ran) in &executed {
        assert_eq!(
            without_invocation_id(&planned[id]),
            without_invocation_id(ran),
            "{round}: `glue plan` of {id} differs from what `glue build` ran"
        );
    }
}

/// Copies the example project, `persist_docs` on (relation and columns, models and seeds) when asked.
fn example(persist_docs: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let examples = workspace().join("examples");
    copy_dir(&examples.join("glue_shop"), &tmp.path().join("glue_shop"));
    copy_dir(&examples.join("glue_shop_utils"), &tmp.path().join("glue_shop_utils"));
    let dir = tmp.path().join("glue_shop");
    if persist_docs {
        let file = dir.join("dbt_project.yml");
        let text = std::fs::read_to_string(&file).unwrap();
        let docs = "    +persist_docs: {relation: true, columns: true}\n";
        let text = text
            .replace("models:\n  glue_shop:\n", &format!("models:\n  glue_shop:\n{docs}"))
            .replace("seeds:\n  glue_shop:\n", &format!("seeds:\n  glue_shop:\n{docs}"));
        assert_eq!(text.matches("+persist_docs").count(), 2, "{text}");
        std::fs::write(file, text).unwrap();
    }
    (tmp, dir)
}

fn plan_equals_run(persist_docs: bool) {
    // As the project's own comments give them: Parquet appends without the snapshot (a snapshot needs MERGE).
    for args in [
        &["--vars", "{lakehouse_format: delta, orders_strategy: merge}"][..],
        &["--vars", "{lakehouse_format: iceberg, orders_strategy: merge}"],
        &[
            "--vars",
            "{lakehouse_format: parquet, orders_strategy: append}",
            "--exclude",
            "orders_snapshot",
        ],
    ] {
        let (_tmp, dir) = example(persist_docs);
        let round = format!("{}, persist_docs {persist_docs}", args.join(" "));
        plan_then_build(&dir, args, &format!("{round}, empty warehouse"));
        plan_then_build(&dir, args, &format!("{round}, second build"));
    }
}

#[test]
fn plan_equals_run_without_persist_docs() {
    plan_equals_run(false);
}

#[test]
fn plan_equals_run_with_persist_docs() {
    plan_equals_run(true);
}

/// The smallest case: one documented model, `persist_docs` on. The run sets the table's comment and its columns'
/// comments; the plan shows those steps.
#[test]
fn plan_shows_the_comment_steps_of_persist_docs() {
    let dir = common::project(&[
        (
            "models/m.sql",
            "{{ config(materialized='table', persist_docs={'relation': true, 'columns': true}) }}\nselect 1 as id",
        ),
        (
            "models/m.yml",
            "version: 2\nmodels:\n  - name: m\n    description: The model.\n    columns:\n      - name: id\n        description: The key.\n",
        ),
    ]);
    let plan = glue(dir.path(), &["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let build = glue(dir.path(), &["run"]);
    assert_eq!(build.code, 0, "{}", build.all());
    let ran = std::fs::read_to_string(dir.path().join("target/run/proj/models/m.sql")).unwrap();
    assert!(ran.contains("The model."), "the run sets the comment:\n{ran}");
    assert_eq!(
        without_invocation_id(&planned(&plan.stdout)["model.proj.m"]),
        without_invocation_id(&ran)
    );
}

/// A Python model's hooks come from `dbt.config(...)` in Python's spelling (`post_hook`); the plan keeps them, as a
/// run on a Glue session does (the embedded engine runs SQL only, so the plan is what this test can see).
#[test]
fn a_python_models_hooks_are_in_its_plan() {
    let dir = common::project(&[(
        "models/py.py",
        "def model(dbt, session):\n    dbt.config(materialized='table', post_hook='select 42 as after_py')\n    \
         return session.range(3)\n",
    )]);
    let plan = glue(dir.path(), &["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let steps = &planned(&plan.stdout)["model.proj.py"];
    assert!(steps.contains("select 42 as after_py"), "{steps}");
}
