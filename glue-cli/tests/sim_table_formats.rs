//! The `glue` binary's data lake formats on Glue sessions of the test world's simulator: a run creates the Iceberg
//! lock table its profile configures first, and a Hudi model reaches the Hudi writer on the session.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use glue_testkit::sim::endpoint;

use common::sim::{Project, unique};
use common::text;

#[tokio::test(flavor = "multi_thread")]
async fn a_run_creates_the_configured_iceberg_lock_table_first() {
    let table = unique("it_locks_");
    let p = Project::new(
        &[("one", "{{ config(materialized='table') }}\nselect 1 as id")],
        &format!(
            "      conf: \"spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog --conf \
             spark.sql.catalog.glue_catalog.lock-impl=org.apache.iceberg.aws.dynamodb.DynamoDbLockManager --conf \
             spark.sql.catalog.glue_catalog.lock.table={table}\"\n      custom_iceberg_catalog_namespace: glue_catalog\n"
        ),
        1,
    );
    let out = p.run(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .load()
        .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let described = dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the lock table exists");
    let keys: Vec<String> = described
        .table
        .and_then(|t| t.key_schema)
        .unwrap_or_default()
        .iter()
        .map(|k| k.attribute_name.clone())
        .collect();
    assert_eq!(keys, vec!["entityId".to_string()], "Iceberg's lock table schema");
}

/// No Hudi jars exist in the test world: a Hudi model runs through the plan, the engine and the session's runner up to
/// the write, which Spark refuses for want of the `org.apache.hudi` data source (with the jars, as on Glue, it writes).
#[test]
fn a_hudi_model_reaches_the_hudi_writer_on_the_session() {
    let p = Project::new(
        &[(
            "h",
            "{{ config(materialized='incremental', file_format='hudi', unique_key='id', \
             substitute_variables=['1 + 1']) }}\nselect 2 as id where 2 = <SUBSTITUTE_VARIABLE_0>",
        )],
        "      datalake_formats: hudi\n",
        1,
    );
    let out = p.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("org.apache.hudi"),
        "the rows went to the Hudi data source: {}",
        text(&out)
    );
}

/// An Iceberg project on Glue 3 loads Iceberg through its Spark settings (or a marketplace connector), not
/// `datalake_formats`: its models run, with one warning for the run that names the key glue-rs trusted.
#[test]
fn iceberg_loaded_through_conf_runs_with_one_warning_naming_the_key() {
    let model = "{{ config(materialized='table', file_format='iceberg') }}\nselect 1 as id";
    let p = Project::new(
        &[("one", model), ("two", model)],
        "      conf: \"spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions --conf \
         spark.sql.catalog.glue_catalog=org.apache.iceberg.spark.SparkCatalog\"\n",
        2,
    );
    let out = p.run(&["run"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let warnings: Vec<&str> = all.lines().filter(|l| l.contains("cannot verify")).collect();
    assert_eq!(warnings.len(), 1, "one warning for the run: {all}");
    assert!(warnings[0].contains("`conf`"), "it names the key: {}", warnings[0]);
    assert!(warnings[0].contains("iceberg"), "and the format: {}", warnings[0]);
    assert!(!all.contains("does not list"), "no per-model planner warning: {all}");
}

/// A format no profile key loads is refused before anything runs, naming `datalake_formats`, the line to add and
/// the profiles file.
#[test]
fn a_format_no_key_loads_is_refused_with_the_line_to_add_and_the_file() {
    let p = Project::new(
        &[(
            "d",
            "{{ config(materialized='table', file_format='delta') }}\nselect 1 as id",
        )],
        "      datalake_formats: iceberg\n",
        1,
    );
    let out = p.run(&["run"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("`datalake_formats: iceberg,delta`"), "{all}");
    let file = p.path().join("profiles.yml");
    assert!(
        all.contains(&file.display().to_string()),
        "names {}: {all}",
        file.display()
    );
}
