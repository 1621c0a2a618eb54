//! glue-lakeformation against the Glue simulator's Lake Formation through the real SDK: tags on the database, the
//! table and its columns; data-cell filters and their grants; pagination (the simulator answers lists in pages of 2);
//! missing tags; per-entry `Failures`; throttling. Run by `cargo xtask it` (feature `it`), which passes
//! `GLUE_SIM_ENDPOINT` and the AWS environment. A missing endpoint fails: nothing skips.
//!
//! The simulator is shared: databases, tag keys and principals are unique per test, calls are read from the request
//! log since the test's own first sequence number. Run with `--test-threads 1` (faults are global).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_lakeformation::types::{DataLakePrincipal, LfTagPair, Permission, Resource, TableResource};
use glue_lakeformation::{Diff, LakeFormation, LfError, LfGrants, LfTagsConfig, TableRef};
use glue_testkit::sim::{self, Restore, admin, last_seq};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

fn unique(prefix: &str) -> String {
    sim::unique(prefix, "_")
}

/// The Lake Formation calls since `since`: (operation, was a follow-up page).
fn lf_calls(since: u64) -> Vec<(String, bool)> {
    sim::log(since)
        .iter()
        .filter(|e| e["service"] == "lakeformation")
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or("").to_string(),
                e["next_token"] == true,
            )
        })
        .collect()
}

async fn sdk() -> aws_config::SdkConfig {
    sim::endpoint_for_sdk();
    // As glue-session builds it from a profile: standard retries with backoff, enough attempts for 20% throttling.
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(10)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .load()
        .await
}

/// A database with a table `customers` (id, name, email, phone; partitioned by dt).
async fn make_table(config: &aws_config::SdkConfig) -> (String, String) {
    let glue = aws_sdk_glue::Client::new(config);
    let db = unique("lf");
    glue.create_database()
        .database_input(aws_sdk_glue::types::DatabaseInput::builder().name(&db).build().unwrap())
        .send()
        .await
        .unwrap();
    let column = |n: &str| {
        aws_sdk_glue::types::Column::builder()
            .name(n)
            .r#type("string")
            .build()
            .unwrap()
    };
    glue.create_table()
        .database_name(&db)
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name("customers")
                .storage_descriptor(
                    aws_sdk_glue::types::StorageDescriptor::builder()
                        .set_columns(Some(["id", "name", "email", "phone"].map(column).to_vec()))
                        .build(),
                )
                .partition_keys(column("dt"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    (db, "customers".into())
}

async fn make_tag(lf: &aws_sdk_lakeformation::Client, values: &[&str]) -> String {
    let key = unique("tag");
    lf.create_lf_tag()
        .tag_key(&key)
        .set_tag_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .send()
        .await
        .unwrap();
    key
}

fn pair(key: &str, value: &str) -> LfTagPair {
    LfTagPair::builder().tag_key(key).tag_values(value).build().unwrap()
}

/// The tags assigned to the database, the table and each column (ShowAssignedLFTags).
async fn assigned(
    lf: &aws_sdk_lakeformation::Client,
    t: &TableRef,
) -> (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    BTreeMap<String, BTreeMap<String, String>>,
) {
    let map = |pairs: &[LfTagPair]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|p| (p.tag_key().to_string(), p.tag_values()[0].clone()))
            .collect()
    };
    let out = lf
        .get_resource_lf_tags()
        .resource(table_resource(t))
        .show_assigned_lf_tags(true)
        .send()
        .await
        .unwrap();
    let columns = out
        .lf_tags_on_columns()
        .iter()
        .map(|c| (c.name().unwrap().to_string(), map(c.lf_tags())))
        .collect();
    (map(out.lf_tag_on_database()), map(out.lf_tags_on_table()), columns)
}

fn table_resource(t: &TableRef) -> Resource {
    Resource::builder()
        .table(
            TableResource::builder()
                .database_name(&t.database)
                .name(&t.table)
                .build()
                .unwrap(),
        )
        .build()
}

fn tags_config(v: Value) -> LfTagsConfig {
    LfTagsConfig::from_config(&v).unwrap()
}

fn grants_config(v: Value) -> LfGrants {
    LfGrants::from_config(&json!({ "data_cell_filters": v })).unwrap()
}

fn only_reads(calls: &[(String, bool)]) -> bool {
    calls
        .iter()
        .all(|(op, _)| op.starts_with("Get") || op.starts_with("List"))
}

#[tokio::test]
async fn tags_reconcile_exactly_and_a_second_apply_only_reads() {
    let config = sdk().await;
    let client = aws_sdk_lakeformation::Client::new(&config);
    let (db, table) = make_table(&config).await;
    let domain = make_tag(&client, &["sales", "hr"]).await;
    let level = make_tag(&client, &["pii", "public"]).await;
    let legacy = make_tag(&client, &["x"]).await;
    let lf = LakeFormation::new(&config, None);
    let t = lf.table(&db, &table).await.unwrap();
    assert_eq!(t.catalog_id, ACCOUNT, "the caller's account, from STS");
    // Set outside glue-rs: a database tag, a table tag and a column tag the config does not name.
    for (resource, key, value) in [
        (
            Resource::builder()
                .database(
                    aws_sdk_lakeformation::types::DatabaseResource::builder()
                        .name(&db)
                        .build()
                        .unwrap(),
                )
                .build(),
            &legacy,
            "x",
        ),
        (table_resource(&t), &legacy, "x"),
    ] {
        client
            .add_lf_tags_to_resource()
            .resource(resource)
            .lf_tags(pair(key, value))
            .send()
            .await
            .unwrap();
    }
    client
        .add_lf_tags_to_resource()
        .resource(
            Resource::builder()
                .table_with_columns(
                    aws_sdk_lakeformation::types::TableWithColumnsResource::builder()
                        .database_name(&db)
                        .name(&table)
                        .column_names("name")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .lf_tags(pair(&level, "pii"))
        .send()
        .await
        .unwrap();

    let keep = json!({"enabled": true, "tags_database": {&domain: "sales"}, "tags_table": {&level: "public"},
        "tags_columns": {&level: {"pii": ["email", "Phone"]}}});
    let since = last_seq();
    let diff = lf.reconcile(&t, Some(&tags_config(keep.clone())), None).await.unwrap();
    assert!(!diff.is_empty());
    let calls = lf_calls(since);
    assert!(
        calls.iter().any(|(op, follow)| op == "ListLFTags" && *follow),
        "the catalog's tags were read to their last page: {calls:?}"
    );
    let (on_db, on_table, on_columns) = assigned(&client, &t).await;
    assert_eq!(
        on_db,
        BTreeMap::from([(domain.clone(), "sales".into()), (legacy.clone(), "x".into())])
    );
    assert_eq!(
        on_table,
        BTreeMap::from([(legacy.clone(), "x".into()), (level.clone(), "public".into())])
    );
    for c in ["email", "phone", "name"] {
        assert_eq!(
            on_columns[c],
            BTreeMap::from([(level.clone(), "pii".into())]),
            "column {c}"
        );
    }

    let since = last_seq();
    let again = lf.reconcile(&t, Some(&tags_config(keep.clone())), None).await.unwrap();
    assert!(again.is_empty(), "{again}");
    let calls = lf_calls(since);
    assert!(only_reads(&calls), "a second apply only reads: {calls:?}");

    // drop_existing: what the config lacks goes (the database tag, the table tag, the column tag on `name`).
    let mut exact = keep.clone();
    exact["drop_existing"] = json!(true);
    let diff = lf.reconcile(&t, Some(&tags_config(exact.clone())), None).await.unwrap();
    assert_eq!(diff.tags.len(), 3, "{diff}");
    let (on_db, on_table, on_columns) = assigned(&client, &t).await;
    assert_eq!(on_db, BTreeMap::from([(domain.clone(), "sales".into())]));
    assert_eq!(on_table, BTreeMap::from([(level.clone(), "public".into())]));
    assert!(!on_columns.contains_key("name"));
    assert_eq!(on_columns.len(), 2);
    let since = last_seq();
    assert!(
        lf.reconcile(&t, Some(&tags_config(exact)), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(only_reads(&lf_calls(since)));
}

#[tokio::test]
async fn a_tag_that_does_not_exist_fails_naming_it_before_anything_changes() {
    let config = sdk().await;
    let client = aws_sdk_lakeformation::Client::new(&config);
    let (db, table) = make_table(&config).await;
    let level = make_tag(&client, &["pii", "public"]).await;
    let lf = LakeFormation::new(&config, Some(ACCOUNT.into()));
    let t = lf.table(&db, &table).await.unwrap();
    let missing_key = unique("nosuchtag");
    let since = last_seq();
    let e = lf
        .reconcile(
            &t,
            Some(&tags_config(
                json!({"enabled": true, "tags_table": {&level: "public", &missing_key: "v"}}),
            )),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LfError::UnknownTag { key, value: None, .. } if *key == missing_key),
        "{e}"
    );
    assert!(e.to_string().contains(&format!("table {db}.{table}")), "{e}");
    let e = lf
        .reconcile(
            &t,
            Some(&tags_config(
                json!({"enabled": true, "tags_columns": {&level: {"secret": ["email"]}}}),
            )),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LfError::UnknownTag { value: Some(v), .. } if v == "secret"),
        "{e}"
    );
    assert!(
        e.to_string().contains(&format!("`{level}` has no value `secret`")),
        "{e}"
    );
    assert!(only_reads(&lf_calls(since)), "nothing was changed");
    let (_, on_table, on_columns) = assigned(&client, &t).await;
    assert!(on_table.is_empty() && on_columns.is_empty());
    // Created in the meantime (the tag list is read again once before failing): the same client now succeeds.
    client
        .create_lf_tag()
        .tag_key(&missing_key)
        .tag_values("v")
        .send()
        .await
        .unwrap();
    lf.reconcile(
        &t,
        Some(&tags_config(
            json!({"enabled": true, "tags_table": {&level: "public", &missing_key: "v"}}),
        )),
        None,
    )
    .await
    .unwrap();
}

async fn holders(client: &aws_sdk_lakeformation::Client, t: &TableRef, filter: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pages = client
        .list_permissions()
        .resource(
            Resource::builder()
                .data_cells_filter(
                    aws_sdk_lakeformation::types::DataCellsFilterResource::builder()
                        .table_catalog_id(&t.catalog_id)
                        .database_name(&t.database)
                        .table_name(&t.table)
                        .name(filter)
                        .build(),
                )
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        for x in p.unwrap().principal_resource_permissions() {
            out.push(
                x.principal()
                    .unwrap()
                    .data_lake_principal_identifier()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    out.sort();
    out
}

async fn filters(
    client: &aws_sdk_lakeformation::Client,
    t: &TableRef,
) -> BTreeMap<String, aws_sdk_lakeformation::types::DataCellsFilter> {
    let mut out = BTreeMap::new();
    let mut pages = client
        .list_data_cells_filter()
        .table(
            TableResource::builder()
                .database_name(&t.database)
                .name(&t.table)
                .build()
                .unwrap(),
        )
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        for f in p.unwrap().data_cells_filters() {
            out.insert(f.name().to_string(), f.clone());
        }
    }
    out
}

#[tokio::test]
async fn filters_and_their_grants_are_created_updated_deleted_over_several_pages() {
    let config = sdk().await;
    let client = aws_sdk_lakeformation::Client::new(&config);
    let (db, table) = make_table(&config).await;
    let lf = LakeFormation::new(&config, None);
    let t = lf.table(&db, &table).await.unwrap();
    let p = |n: &str| format!("arn:aws:iam::{ACCOUNT}:role/{n}");
    let (p1, p2, p3, old) = (p(&unique("p1")), p(&unique("p2")), p(&unique("p3")), p(&unique("old")));
    // Outside glue-rs: three filters (two pages) and three grants on one of them (two pages).
    let first = grants_config(json!({"enabled": true, "filters": {
        "keep": {"row_filter": "id > 1", "principals": [&p1, &old, p("x")], "column_names": ["id", "name"]},
        "old1": {"principals": [&old]}, "old2": {"principals": [&old]}}}));
    lf.reconcile(&t, None, Some(&first)).await.unwrap();
    assert_eq!(holders(&client, &t, "keep").await.len(), 3);

    let wanted = json!({"enabled": true, "drop_existing": true, "filters": {
        "keep": {"row_filter": "id > 2", "principals": [&p1, &p2, &p3], "column_names": ["id", "name"]},
        "no_email": {"principals": [&p2], "excluded_column_names": ["email"]}}});
    let since = last_seq();
    let diff = lf
        .reconcile(&t, None, Some(&grants_config(wanted.clone())))
        .await
        .unwrap();
    let calls = lf_calls(since);
    for op in ["ListDataCellsFilter", "ListPermissions"] {
        assert!(
            calls.iter().any(|(o, follow)| o == op && *follow),
            "{op} followed to its second page: {calls:?}"
        );
    }
    let text = diff.to_string();
    assert!(
        text.contains("- data-cell filter old1") && text.contains("~ data-cell filter keep"),
        "{text}"
    );
    let now = filters(&client, &t).await;
    assert_eq!(now.keys().collect::<Vec<_>>(), ["keep", "no_email"]);
    assert_eq!(now["keep"].row_filter().unwrap().filter_expression(), Some("id > 2"));
    assert_eq!(
        now["no_email"].column_wildcard().unwrap().excluded_column_names(),
        ["email"]
    );
    assert!(
        now["no_email"].row_filter().unwrap().all_rows_wildcard().is_some(),
        "no row_filter: every row"
    );
    let mut want = vec![p1.clone(), p2.clone(), p3.clone()];
    want.sort();
    assert_eq!(
        holders(&client, &t, "keep").await,
        want,
        "granted p2 and p3, revoked the others"
    );
    assert_eq!(holders(&client, &t, "no_email").await, vec![p2.clone()]);

    let since = last_seq();
    assert!(
        lf.reconcile(&t, None, Some(&grants_config(wanted.clone())))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(only_reads(&lf_calls(since)), "a second apply only reads");

    // A column list change is an update in place: the filter's grants stay.
    let mut narrower = wanted.clone();
    narrower["filters"]["keep"]["column_names"] = json!(["id"]);
    let diff = lf.reconcile(&t, None, Some(&grants_config(narrower))).await.unwrap();
    assert_eq!(diff.filters.len(), 1, "{diff}");
    assert_eq!(filters(&client, &t).await["keep"].column_names(), ["id"]);
    assert_eq!(holders(&client, &t, "keep").await, want);
}

#[tokio::test]
async fn failures_entries_are_errors() {
    let config = sdk().await;
    let client = aws_sdk_lakeformation::Client::new(&config);
    let (db, table) = make_table(&config).await;
    let level = make_tag(&client, &["pii"]).await;
    let lf = LakeFormation::new(&config, None);
    let t = lf.table(&db, &table).await.unwrap();
    let denied = format!("arn:aws:iam::{ACCOUNT}:role/{}", unique("denied"));
    let _clear = Restore::FAULTS;
    admin(
        "POST",
        "faults",
        &json!({"lf_failures": {"principals": [&denied], "tag_keys": [&level]}}).to_string(),
    );
    let e = lf
        .reconcile(
            &t,
            Some(&tags_config(json!({"enabled": true, "tags_table": {&level: "pii"}}))),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            LfError::Failures {
                operation: "AddLFTagsToResource",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("AccessDeniedException"), "{e}");
    let e = lf
        .reconcile(
            &t,
            None,
            Some(&grants_config(
                json!({"enabled": true, "filters": {"f": {"principals": [&denied]}}}),
            )),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            LfError::Failures {
                operation: "BatchGrantPermissions",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains(&denied), "{e}");
}

#[tokio::test]
async fn throttling_is_retried_and_the_result_is_the_same() {
    let config = sdk().await;
    let client = aws_sdk_lakeformation::Client::new(&config);
    let (db, table) = make_table(&config).await;
    let level = make_tag(&client, &["pii", "public"]).await;
    let lf = LakeFormation::new(&config, None);
    let t = lf.table(&db, &table).await.unwrap();
    let tags = tags_config(
        json!({"enabled": true, "tags_table": {&level: "public"}, "tags_columns": {&level: {"pii": ["email"]}}}),
    );
    let grants = grants_config(
        json!({"enabled": true, "filters": {"f": {"row_filter": "id > 1", "principals": [format!("arn:aws:iam::{ACCOUNT}:role/a")]}}}),
    );
    let _clear = Restore::FAULTS;
    admin(
        "POST",
        "faults",
        r#"{"throttle": {"lakeformation:*": 0.2}, "seed": 11}"#,
    );
    let since = last_seq();
    lf.reconcile(&t, Some(&tags), Some(&grants)).await.unwrap();
    let throttled = admin("GET", &format!("log?since={since}"), "")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["service"] == "lakeformation" && e["status"] == 400)
        .count();
    assert!(throttled > 0, "some calls were throttled");
    admin("DELETE", "faults", "");
    let d: Diff = lf.plan(&t, Some(&tags), Some(&grants)).await.unwrap();
    assert!(d.is_empty(), "{d}");
}

#[tokio::test]
async fn database_grants_for_the_session_role() {
    let config = sdk().await;
    let client = aws_sdk_lakeformation::Client::new(&config);
    let (db, _) = make_table(&config).await;
    let role = format!("arn:aws:iam::{ACCOUNT}:role/{}", unique("glue"));
    let lf = LakeFormation::new(&config, None);
    lf.grant_database_access(&db, &role).await.unwrap();
    let listed = client
        .list_permissions()
        .principal(
            DataLakePrincipal::builder()
                .data_lake_principal_identifier(&role)
                .build(),
        )
        .resource(
            Resource::builder()
                .database(
                    aws_sdk_lakeformation::types::DatabaseResource::builder()
                        .name(&db)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let on_db = &listed.principal_resource_permissions()[0];
    let mut perms: Vec<&str> = on_db.permissions().iter().map(Permission::as_str).collect();
    perms.sort();
    assert_eq!(perms, ["ALTER", "CREATE_TABLE", "DESCRIBE", "DROP"]);
    assert_eq!(on_db.permissions_with_grant_option().len(), 4);
    let on_tables = client
        .list_permissions()
        .principal(
            DataLakePrincipal::builder()
                .data_lake_principal_identifier(&role)
                .build(),
        )
        .resource(
            Resource::builder()
                .table(
                    TableResource::builder()
                        .database_name(&db)
                        .table_wildcard(aws_sdk_lakeformation::types::TableWildcard::builder().build())
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut perms: Vec<&str> = on_tables.principal_resource_permissions()[0]
        .permissions()
        .iter()
        .map(Permission::as_str)
        .collect();
    perms.sort();
    assert_eq!(perms, ["ALTER", "DELETE", "DESCRIBE", "DROP", "INSERT", "SELECT"]);
}

#[tokio::test]
async fn a_tag_value_deleted_after_the_check_is_named_from_the_services_rejection() {
    let config = sdk().await;
    let client = aws_sdk_lakeformation::Client::new(&config);
    let (db, table) = make_table(&config).await;
    let key = make_tag(&client, &["a", "b"]).await;
    let lf = LakeFormation::new(&config, None);
    let t = lf.table(&db, &table).await.unwrap();
    // The first reconcile reads the catalog's tags (key: a, b) and keeps them.
    lf.reconcile(
        &t,
        Some(&tags_config(json!({"enabled": true, "tags_table": {&key: "a"}}))),
        None,
    )
    .await
    .unwrap();
    client
        .update_lf_tag()
        .tag_key(&key)
        .tag_values_to_delete("b")
        .send()
        .await
        .unwrap();
    let since = last_seq();
    let e = lf
        .reconcile(
            &t,
            Some(&tags_config(json!({"enabled": true, "tags_table": {&key: "b"}}))),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LfError::UnknownTag { value: Some(v), .. } if v == "b"),
        "{e}"
    );
    let rejected = admin("GET", &format!("log?since={since}"), "")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["operation"] == "AddLFTagsToResource" && e["status"] == 400);
    assert!(rejected, "the simulator rejected the add, as Lake Formation does");
}
