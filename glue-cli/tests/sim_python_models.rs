//! Python models of the `glue` binary on Glue sessions of the test world's simulator: `dbt.ref`, `dbt.this` and
//! `dbt.is_incremental` on the session's Spark.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use serde_json::Value;

use common::sim::Project;
use common::text;

#[test]
fn python_models_run_on_the_session_with_dbt_ref_and_is_incremental() {
    let p = Project::new(
        &[(
            "base",
            "{{ config(materialized='table') }}\nselect 1 as id, 'a' as name union all select 2, 'b'",
        )],
        "",
        2,
    );
    std::fs::write(
        p.path().join("models/py_double.py"),
        "def model(dbt, session):\n    dbt.config(materialized=\"table\")\n    df = dbt.ref(\"base\")\n    \
         return df.withColumn(\"twice\", df.id * 2)\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("models/py_inc.py"),
        "def model(dbt, session):\n    dbt.config(materialized='incremental', incremental_strategy='append')\n    \
         df = dbt.ref('base')\n    if dbt.is_incremental:\n        \
         df = df.filter(df.id > session.table(dbt.this).agg({'id': 'max'}).collect()[0][0] - 1)\n    return df\n",
    )
    .unwrap();
    for round in 1..=2 {
        let out = p.run(&["run"]);
        assert!(out.status.success(), "run {round}: {}", text(&out));
    }
    let rows = |sql: &str| -> Vec<Value> {
        let out = p.run(&["show", "--inline", sql, "--output", "json", "--limit", "100"]);
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let v: Value = serde_json::from_str(&stdout[stdout.find('{').unwrap()..]).unwrap();
        v["show"].as_array().unwrap().clone()
    };
    let doubled = rows("select id, twice from {{ ref('py_double') }} order by id");
    assert_eq!(
        doubled,
        vec![
            serde_json::json!({"id": 1, "twice": 2}),
            serde_json::json!({"id": 2, "twice": 4})
        ]
    );
    // First run: ids 1 and 2; the second appends only what is past the max minus one: id 2 again.
    let appended = rows("select id from {{ ref('py_inc') }} order by id");
    assert_eq!(
        appended,
        vec![
            serde_json::json!({"id": 1}),
            serde_json::json!({"id": 2}),
            serde_json::json!({"id": 2})
        ]
    );
}
