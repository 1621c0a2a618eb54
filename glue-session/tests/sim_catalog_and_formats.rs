//! glue-session's writes and catalog calls beyond plain tables, on the Glue simulator: a Hudi write (its variables
//! substituted, only rows written, in the Hudi format), the Athena manifest table getting the Delta location once, and
//! the Glue API called as the session role when the profile asks.
//!
//! Run by `cargo xtask it` (feature `it`) against the test world's simulator, which passes `GLUE_SIM_ENDPOINT` and the
//! AWS environment (`AWS_ENDPOINT_URL`, credentials, region); a missing endpoint fails: nothing skips. The simulator is
//! shared: session ids, schemas and buckets are unique per test, calls are counted in the request log by session id,
//! and the global faults and timings a test sets are cleared when it ends, also when it fails (`Restore`). Run with
//! `--test-threads 1`.

mod common;

use glue_session::Clients;
use glue_session::request::{Op, Request};
use glue_sql::RelationName;
use glue_testkit::sim::log;
use serde_json::json;

use common::{mark, open, profile, unique};

/// Hudi has no jars in the test world, so the write itself cannot succeed here: what is checked is everything up to
/// it on a real Spark session — the placeholders substituted from Python expressions (a wrong substitution is a SQL
/// error), no write and no failure without rows, and with rows a write attempted in the Hudi format.
#[tokio::test]
async fn a_hudi_write_substitutes_variables_and_writes_only_rows_in_the_hudi_format() {
    let p = profile("unused", json!({}));
    let clients = Clients::load(&p).await;
    let id = unique("sim-hudi");
    let session = open(&clients, &p, &id, true).await;
    let write = |query: &str| Request {
        ops: vec![Op::HudiWrite {
            query: query.into(),
            path: "s3://nowhere/hudi_t".into(),
            options: [("hoodie.table.name".to_string(), "hudi_t".to_string())]
                .into_iter()
                .collect(),
            mode: "overwrite".into(),
            substitute_variables: vec!["1 + 1".into(), "'b' * 2".into()],
            table: "`default`.`hudi_t`".into(),
        }],
    };
    let none = session
        .run_request(&write(
            "select 1 as id, 'k' as dbt_unique_key where 2 = <SUBSTITUTE_VARIABLE_0> and 'bb' <> '<SUBSTITUTE_VARIABLE_1>'",
        ))
        .await
        .expect("the request");
    assert!(none.ok, "no rows: nothing written, nothing refreshed: {:?}", none.error);
    let some = session
        .run_request(&write(
            "select 1 as id, 'k' as dbt_unique_key where 2 = <SUBSTITUTE_VARIABLE_0> and 'bb' = '<SUBSTITUTE_VARIABLE_1>'",
        ))
        .await
        .expect("the request");
    let error = some.error.expect("no Hudi in the test world");
    assert!(
        error.message.contains("org.apache.hudi"),
        "the rows went to the Hudi data source: {}",
        error.message
    );
    session.stop().await.expect("StopSession");
}

#[tokio::test]
async fn the_athena_manifest_table_gets_the_delta_location_once() {
    let p = profile("unused", json!({}));
    let clients = Clients::load(&p).await;
    let db = unique("sim_manifest").replace('-', "_");
    let bucket = unique("manifest");
    clients
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    let delta = format!("s3://{bucket}/orders");
    clients
        .glue
        .create_database()
        .database_input(aws_sdk_glue::types::DatabaseInput::builder().name(&db).build().unwrap())
        .send()
        .await
        .expect("CreateDatabase");
    clients
        .glue
        .create_table()
        .database_name(&db)
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name("athena_orders")
                .table_type("EXTERNAL_TABLE")
                .storage_descriptor(
                    aws_sdk_glue::types::StorageDescriptor::builder()
                        .columns(
                            aws_sdk_glue::types::Column::builder()
                                .name("id")
                                .r#type("int")
                                .build()
                                .unwrap(),
                        )
                        .location(format!("{delta}/_symlink_format_manifest/"))
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateTable");
    let catalog = glue_session::Catalog::new(clients.clone(), None);
    let table = RelationName::new(db.clone(), "athena_orders").unwrap();
    assert!(catalog.add_additional_location(&table, &delta).await.unwrap());
    assert!(
        !catalog.add_additional_location(&table, &delta).await.unwrap(),
        "already there"
    );
    let t = catalog.get(&table).await.unwrap().unwrap();
    let sd = t.storage_descriptor().unwrap();
    assert_eq!(sd.additional_locations(), std::slice::from_ref(&delta));
    assert_eq!(
        sd.location().map(|l| l.trim_end_matches('/')),
        Some(format!("{delta}/_symlink_format_manifest").as_str()),
        "the entry is otherwise unchanged"
    );
}

#[tokio::test]
async fn api_calls_run_as_the_session_role_when_the_profile_asks() {
    let own_key = std::env::var("AWS_ACCESS_KEY_ID").expect("the world's credentials");
    for as_role in [true, false] {
        let p = profile("unused", json!({"use_interactive_session_role_for_api_calls": as_role}));
        let before = mark();
        let clients = Clients::load(&p).await;
        let listed = glue_session::Catalog::new(clients, None)
            .list(&unique("no_such_schema").replace('-', "_"))
            .await
            .expect("GetTables");
        assert!(listed.is_empty());
        let entries = log(before);
        let assumed = entries
            .iter()
            .find(|e| e["service"] == "sts" && e["operation"] == "AssumeRole");
        let get = entries
            .iter()
            .find(|e| e["operation"] == "GetTables")
            .expect("GetTables in the log");
        if as_role {
            let assumed = assumed.expect("STS AssumeRole of role_arn");
            assert_eq!(
                assumed["access_key"],
                json!(own_key),
                "assumed with the caller's credentials"
            );
            assert!(
                get["access_key"].as_str().is_some_and(|k| k != own_key),
                "GetTables signed with the role's temporary credentials: {get}"
            );
        } else {
            assert!(assumed.is_none(), "no AssumeRole without the option");
            assert_eq!(get["access_key"], json!(own_key));
        }
    }
}
