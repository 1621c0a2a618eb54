//! The `glue` binary's Lake Formation configuration on the test world's simulator: LF-tags, data cell filters and the
//! database grants applied, outside tags and grants surviving a rebuild, `glue plan` reading the live state; a
//! missing LF-tag failing the model by name.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use std::collections::BTreeSet;

use glue_testkit::sim::{self, endpoint, last_seq};

use common::sim::{Project, log_since, unique};
use common::text;

async fn lake_formation_client() -> aws_sdk_lakeformation::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .load()
        .await;
    aws_sdk_lakeformation::Client::new(&config)
}

/// (key → value) tags assigned to the table itself and to its column `column`.
async fn table_tags(
    lf: &aws_sdk_lakeformation::Client,
    db: &str,
    table: &str,
    column: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
    use aws_sdk_lakeformation::types::{Resource, TableResource};
    let out = lf
        .get_resource_lf_tags()
        .resource(
            Resource::builder()
                .table(TableResource::builder().database_name(db).name(table).build().unwrap())
                .build(),
        )
        .show_assigned_lf_tags(true)
        .send()
        .await
        .expect("GetResourceLFTags");
    let pairs = |p: &[aws_sdk_lakeformation::types::LfTagPair]| -> BTreeSet<String> {
        p.iter()
            .map(|t| format!("{}={}", t.tag_key(), t.tag_values()[0]))
            .collect()
    };
    let on_column = out
        .lf_tags_on_columns()
        .iter()
        .find(|c| c.name() == Some(column))
        .map(|c| pairs(c.lf_tags()))
        .unwrap_or_default();
    (pairs(out.lf_tags_on_table()), on_column)
}

/// Principals holding something on `resource`.
async fn principals_on(
    lf: &aws_sdk_lakeformation::Client,
    resource: aws_sdk_lakeformation::types::Resource,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut pages = lf.list_permissions().resource(resource).into_paginator().send();
    while let Some(page) = pages.next().await {
        for p in page.expect("ListPermissions").principal_resource_permissions() {
            out.insert(
                p.principal()
                    .unwrap()
                    .data_lake_principal_identifier()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn lake_formation_config_is_applied_and_outside_grants_survive_a_rebuild() {
    use aws_sdk_lakeformation::types::{
        DataCellsFilterResource, DataLakePrincipal, DatabaseResource, LfTagPair, Permission, Resource, TableResource,
    };
    let lf = lake_formation_client().await;
    let (level, owner) = (unique("it_level_"), unique("it_owner_"));
    for (key, values) in [(&level, vec!["pii", "public"]), (&owner, vec!["bi"])] {
        lf.create_lf_tag()
            .tag_key(key)
            .set_tag_values(Some(values.into_iter().map(String::from).collect()))
            .send()
            .await
            .expect("CreateLFTag");
    }
    let analyst = "arn:aws:iam::123456789012:role/analyst";
    let model = "{{ config(materialized='table',
  lf_tags_config={'enabled': true, 'tags_table': {'LEVEL': 'public'}, 'tags_columns': {'LEVEL': {'pii': ['email']}}},
  lf_grants={'data_cell_filters': {'enabled': true, 'drop_existing': true,
    'filters': {'no_email': {'row_filter': 'id > 1', 'principals': ['ANALYST'], 'excluded_column_names': ['email']}}}}
) }}
select 1 as id, 'a@example.com' as email union all select 2, 'b@example.com'"
        .replace("LEVEL", &level)
        .replace("ANALYST", analyst);
    let p = Project::new(&[("customers", &model)], "", 1);
    let db = p.schema.clone();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "first run: {}", text(&out));

    // The run created the database: the session role got the reference's grants on it.
    let role = "arn:aws:iam::123456789012:role/GlueInteractiveSessionRole";
    let on_db = Resource::builder()
        .database(DatabaseResource::builder().name(&db).build().unwrap())
        .build();
    assert!(
        principals_on(&lf, on_db).await.contains(role),
        "database grants for role_arn"
    );
    let (on_table, on_email) = table_tags(&lf, &db, "customers", "email").await;
    assert_eq!(on_table, BTreeSet::from([format!("{level}=public")]));
    assert_eq!(on_email, BTreeSet::from([format!("{level}=pii")]));
    let filter = Resource::builder()
        .data_cells_filter(
            DataCellsFilterResource::builder()
                .table_catalog_id("123456789012")
                .database_name(&db)
                .table_name("customers")
                .name("no_email")
                .build(),
        )
        .build();
    assert_eq!(
        principals_on(&lf, filter.clone()).await,
        BTreeSet::from([analyst.to_string()])
    );

    // Set outside glue-rs: a tag and a grant on the table.
    let table = Resource::builder()
        .table(
            TableResource::builder()
                .database_name(&db)
                .name("customers")
                .build()
                .unwrap(),
        )
        .build();
    lf.add_lf_tags_to_resource()
        .resource(table.clone())
        .lf_tags(LfTagPair::builder().tag_key(&owner).tag_values("bi").build().unwrap())
        .send()
        .await
        .expect("AddLFTagsToResource");
    let auditor = "arn:aws:iam::123456789012:role/auditor";
    lf.grant_permissions()
        .principal(
            DataLakePrincipal::builder()
                .data_lake_principal_identifier(auditor)
                .build(),
        )
        .resource(table.clone())
        .permissions(Permission::Select)
        .send()
        .await
        .expect("GrantPermissions");

    // A rebuild: the table entry is replaced in place (the simulator, like Lake Formation, drops a table's tags and
    // grants with the table), so all of it survives; the reconcile only reads.
    let since = last_seq();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "second run: {}", text(&out));
    let calls = log_since(since);
    assert!(
        calls.iter().any(|(op, _)| op == "UpdateTable"),
        "the rebuild swapped the entry: {calls:?}"
    );
    let lf_writes: Vec<_> = sim::log(since)
        .iter()
        .filter(|e| e["service"] == "lakeformation")
        .filter_map(|e| e["operation"].as_str())
        .filter(|op| !op.starts_with("Get") && !op.starts_with("List"))
        .map(str::to_string)
        .collect();
    assert!(
        lf_writes.is_empty(),
        "a second run changes nothing in Lake Formation: {lf_writes:?}"
    );
    let (on_table, on_email) = table_tags(&lf, &db, "customers", "email").await;
    assert_eq!(
        on_table,
        BTreeSet::from([format!("{level}=public"), format!("{owner}=bi")])
    );
    assert_eq!(on_email, BTreeSet::from([format!("{level}=pii")]));
    assert!(
        principals_on(&lf, table).await.contains(auditor),
        "the outside grant survived"
    );
    assert_eq!(principals_on(&lf, filter).await, BTreeSet::from([analyst.to_string()]));

    // `glue plan` reads the live state: nothing to change.
    let out = p.run(&["plan"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = text(&out);
    assert!(
        plan.contains(&format!(
            "-- lake formation {db}.customers (catalog 123456789012): no change"
        )),
        "{plan}"
    );
}

#[test]
fn a_missing_lf_tag_fails_the_model_naming_the_tag_the_value_and_the_model() {
    let key = unique("it_nosuchtag_");
    let model = "{{ config(materialized='table', lf_tags_config={'enabled': true, 'tags_table': {'KEY': 'gold'}}) }}\n\
                 select 1 as id"
        .replace("KEY", &key);
    let p = Project::new(&[("tagged", &model)], "", 1);
    let out = p.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("model `tagged`") && all.contains(&format!("LF-tag `{key}`")) && all.contains("does not exist"),
        "{all}"
    );
}
