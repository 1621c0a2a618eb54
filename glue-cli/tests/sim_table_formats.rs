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
