//! The bundled example project (`examples/glue_shop`) end to end on the embedded engine: `glue build`, then a second
//! build after the seed changes (the incremental paths), checking the tables' contents and the artifacts.

mod common;

use common::{copy_dir, glue, rows, workspace};
use serde_json::{Value, json};

fn by_id(rows: &[Value]) -> Vec<(i64, String)> {
    let mut v: Vec<(i64, String)> = rows
        .iter()
        .map(|r| {
            (
                r["order_id"].as_i64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn glue_shop_builds_then_runs_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let examples = workspace().join("examples");
    copy_dir(&examples.join("glue_shop"), &tmp.path().join("glue_shop"));
    copy_dir(&examples.join("glue_shop_utils"), &tmp.path().join("glue_shop_utils"));
    let dir = tmp.path().join("glue_shop");

    // First build: everything passes.
    let out = glue(&dir, &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("Done. PASS=19 WARN=0 ERROR=0 SKIP=0 TOTAL=19"),
        "{}",
        out.stdout
    );
    let rr: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/run_results.json")).unwrap()).unwrap();
    assert_eq!(rr["results"].as_array().unwrap().len(), 19);
    assert!(
        rr["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "success" || r["status"] == "pass")
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["nodes"]["model.glue_shop.customers"]["depends_on"]["nodes"],
        json!(["model.glue_shop.stg_customers", "model.glue_shop.order_totals"])
    );
    assert!(
        dir.join("target/compiled/glue_shop/models/marts/customers.sql")
            .exists()
    );
    let compiled = std::fs::read_to_string(dir.join("target/compiled/glue_shop/models/marts/customers.sql")).unwrap();
    assert!(compiled.starts_with("with __dbt__cte__order_totals as ("), "{compiled}");

    let customers = rows(
        &dir,
        "select customer_id, order_count, cast(revenue as string) as revenue, country from {{ ref('customers') }}",
    );
    let mut c: Vec<(i64, i64, String, String)> = customers
        .iter()
        .map(|r| {
            (
                r["customer_id"].as_i64().unwrap(),
                r["order_count"].as_i64().unwrap(),
                r["revenue"].as_str().unwrap().to_string(),
                r["country"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    c.sort();
    assert_eq!(
        c,
        vec![
            (10, 2, "32.75".into(), "FR".into()),
            (11, 2, "55.00".into(), "IE".into()),
            (12, 0, "0.00".into(), "SG".into())
        ]
    );

    // Change the seed: order 5 ships (later updated_at), orders 6 and 7 arrive.
    let seed = dir.join("seeds/raw_orders.csv");
    let text = std::fs::read_to_string(&seed).unwrap().replace(
        "5,11,2024-01-03,42.00,placed,2024-01-03 15:45:00",
        "5,11,2024-01-03,42.00,shipped,2024-01-05 08:00:00",
    );
    std::fs::write(
        &seed,
        format!(
            "{text}6,12,2024-01-04,10.00,placed,2024-01-04 09:00:00\n7,10,2024-01-03,5.00,placed,2024-01-04 10:00:00\n"
        ),
    )
    .unwrap();
    let out = glue(&dir, &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());

    // Incremental merge on Delta: 5 updated in place, 6 and 7 inserted, nothing duplicated.
    let orders = rows(&dir, "select order_id, status from {{ ref('orders') }}");
    assert_eq!(
        by_id(&orders),
        vec![
            (1, "placed".into()),
            (2, "shipped".into()),
            (3, "shipped".into()),
            (4, "returned".into()),
            (5, "shipped".into()),
            (6, "placed".into()),
            (7, "placed".into())
        ]
    );
    // insert_overwrite by partition: 2024-01-03 rebuilt (3 orders now), 2024-01-04 added, older days kept.
    let daily = rows(
        &dir,
        "select cast(order_date as string) as d, orders, cast(revenue as string) as revenue from {{ ref('daily_revenue') }}",
    );
    let mut d: Vec<(String, i64, String)> = daily
        .iter()
        .map(|r| {
            (
                r["d"].as_str().unwrap().into(),
                r["orders"].as_i64().unwrap(),
                r["revenue"].as_str().unwrap().into(),
            )
        })
        .collect();
    d.sort();
    assert_eq!(
        d,
        vec![
            ("2024-01-01".into(), 2, "38.50".into()),
            ("2024-01-02".into(), 1, "7.25".into()),
            ("2024-01-03".into(), 3, "146.99".into()),
            ("2024-01-04".into(), 1, "10.00".into())
        ]
    );
    // Snapshot: order 5 has a closed 'placed' version and a current 'shipped' one.
    let snap = rows(
        &dir,
        "select order_id, status, dbt_valid_to is null as current from {{ ref('orders_snapshot') }} where order_id = 5",
    );
    let mut s: Vec<(String, bool)> = snap
        .iter()
        .map(|r| (r["status"].as_str().unwrap().into(), r["current"].as_bool().unwrap()))
        .collect();
    s.sort();
    assert_eq!(s, vec![("placed".into(), false), ("shipped".into(), true)]);
    let n = rows(&dir, "select count(*) as n from {{ ref('orders_snapshot') }}");
    assert_eq!(n[0]["n"], json!(8));

    // Source freshness: raw_orders has a loaded_at_field and a (generous) warn_after.
    let out = glue(&dir, &["source", "freshness"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let sources: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("target/sources.json")).unwrap()).unwrap();
    assert_eq!(
        sources["results"],
        json!([{"unique_id": "source.glue_shop.raw.raw_orders", "status": "pass"}])
    );
}

#[test]
fn selection_and_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let examples = workspace().join("examples");
    copy_dir(&examples.join("glue_shop"), &tmp.path().join("glue_shop"));
    copy_dir(&examples.join("glue_shop_utils"), &tmp.path().join("glue_shop_utils"));
    let dir = tmp.path().join("glue_shop");
    let ls = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["ls", "-q", "--output", "name"];
        a.extend_from_slice(args);
        let out = glue(&dir, &a);
        assert_eq!(out.code, 0, "{}", out.all());
        let mut v: Vec<String> = out.stdout.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(
        ls(&["--select", "stg_orders+", "--resource-type", "model"]),
        ["customers", "daily_revenue", "order_totals", "orders", "stg_orders"]
    );
    assert_eq!(
        ls(&["--select", "+customers", "--resource-type", "model", "seed"]),
        [
            "customers",
            "order_totals",
            "raw_customers",
            "raw_orders",
            "stg_customers",
            "stg_orders"
        ]
    );
    assert_eq!(
        ls(&[
            "--select",
            "tag:marts",
            "--exclude",
            "customers",
            "--resource-type",
            "model"
        ]),
        ["daily_revenue", "orders"]
    );
    assert_eq!(
        ls(&[
            "--select",
            "config.materialized:incremental",
            "--resource-type",
            "model"
        ]),
        ["daily_revenue", "orders"]
    );
    // Tests attached to selected models come along (dbt's eager indirect selection).
    assert_eq!(
        ls(&["--select", "orders"]),
        [
            "assert_revenue_matches_orders",
            "orders",
            "positive_orders_amount",
            "relationships_orders_customer_id__customer_id__ref_customers_",
            "unique_orders_order_id"
        ]
    );
    assert_eq!(
        ls(&[
            "--select",
            "tag:marts,config.file_format:delta",
            "--resource-type",
            "model"
        ]),
        ["orders"]
    );
    assert_eq!(
        ls(&["--select", "path:models/staging", "--resource-type", "model"]),
        ["order_totals", "stg_customers", "stg_orders"]
    );
    assert_eq!(
        ls(&["--select", "1+orders", "--resource-type", "model"]),
        ["orders", "stg_orders"]
    );
    assert_eq!(
        ls(&["--select", "source:raw+", "--resource-type", "model"]),
        [
            "customers",
            "daily_revenue",
            "order_totals",
            "orders",
            "stg_customers",
            "stg_orders"
        ]
    );
    assert_eq!(ls(&["--select", "test_type:unit"]), ["stg_orders_lowercases_status"]);
    assert_eq!(ls(&["--select", "resource_type:snapshot"]), ["orders_snapshot"]);
}
