//! The reference page's cross-account recipe on the test world's simulator: with
//! `conf: spark.hadoop.hive.metastore.glue.catalogid=<account>`, every Data Catalog and Lake Formation call glue-rs
//! makes itself names that account (`CatalogId`), as Spark in the session does.
//!
//! The simulator's request log records each request's top-level `CatalogId` (`catalog_id`); a simulator started
//! before it did fails this test until the test world is restarted.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use glue_testkit::sim::{self, last_seq};

use common::sim::{Project, unique};
use common::text;

/// The simulator's own account: its catalog answers for it.
const ACCOUNT: &str = "123456789012";

#[test]
fn every_catalog_call_of_a_run_names_the_conf_catalog_id() {
    let p = Project::new(
        &[
            ("t", "{{ config(materialized='table') }}\nselect 1 as id"),
            ("v", "{{ config(materialized='view') }}\nselect id from {{ ref('t') }}"),
        ],
        &format!(
            "      conf: \"hive.metastore.client.factory.class=com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory \
             --conf spark.hadoop.hive.metastore.glue.catalogid={ACCOUNT}\"\n"
        ),
        1,
    );
    // This run's requests, told from other clients of the shared simulator by the access key that signs them.
    let key = unique("AKIDXACCT").to_uppercase();
    let since = last_seq();
    for round in ["first run", "second run (a rebuild: the table switch)"] {
        let out = p
            .command(&["run"])
            .env("AWS_ACCESS_KEY_ID", &key)
            .output()
            .expect("glue runs");
        assert!(out.status.success(), "{round}: {}", text(&out));
    }
    let catalog_ops = contains_any(&["Database", "Table", "Partition"]);
    let mine: Vec<serde_json::Value> = sim::log(since)
        .into_iter()
        .filter(|e| e["access_key"].as_str() == Some(key.as_str()))
        .filter(|e| {
            let op = e["operation"].as_str().unwrap_or_default();
            (e["service"] == "glue" && catalog_ops(op)) || e["service"] == "lakeformation"
        })
        .collect();
    let ops: Vec<&str> = mine.iter().filter_map(|e| e["operation"].as_str()).collect();
    for needed in ["GetTables", "CreateDatabase", "UpdateTable"] {
        assert!(ops.contains(&needed), "the runs made {needed}: {ops:?}");
    }
    for e in &mine {
        assert_eq!(
            e["catalog_id"].as_str(),
            Some(ACCOUNT),
            "{} without the configured CatalogId: {e}",
            e["operation"]
        );
    }
}

/// Whether an operation name contains one of `parts` (a catalog operation).
fn contains_any(parts: &'static [&'static str]) -> impl Fn(&str) -> bool {
    move |op| parts.iter().any(|p| op.contains(p))
}
