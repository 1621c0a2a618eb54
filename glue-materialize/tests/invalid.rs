//! Invalid configurations: each gives a `PlanError` that names the model (and its file), the field, and, for closed
//! sets, the allowed values.

mod common;

use common::*;
use glue_materialize::{Existing, ModelConfig, ModelRef, PlanError, PlanFlags, plan};
use serde_json::{Value, json};

fn try_plan(config: Value, tweak_target: fn(&mut glue_materialize::Target)) -> Result<(), PlanError> {
    let mref = ModelRef {
        name: "orders".into(),
        path: Some("models/orders.sql".into()),
    };
    let cfg = ModelConfig::from_json_for(&mref, &config)?;
    let mut m = glue_materialize::Model::new("orders", SCHEMA, SQL, cfg);
    m.path = mref.path.clone();
    let mut t = target();
    tweak_target(&mut t);
    plan(&m, &Existing::Absent, &t, &PlanFlags::default()).map(|_| ())
}

fn keep(_: &mut glue_materialize::Target) {}

/// (case, config, target tweak, expected kind, expected field, texts the message must hold)
type Case = (
    &'static str,
    Value,
    fn(&mut glue_materialize::Target),
    &'static str,
    &'static str,
    &'static [&'static str],
);

#[test]
fn invalid_configurations_are_named_errors() {
    let cases: Vec<Case> = vec![
        (
            "unknown strategy",
            json!({"materialized": "incremental", "incremental_strategy": "upsert"}),
            keep,
            "UnknownValue",
            "incremental_strategy",
            &["`upsert`", "append, insert_overwrite, merge"],
        ),
        (
            "merge on parquet",
            json!({"materialized": "incremental", "incremental_strategy": "merge", "unique_key": "id"}),
            keep,
            "MergeNeedsLakehouseFormat",
            "incremental_strategy",
            &["`parquet`", "delta, iceberg, hudi, s3tables"],
        ),
        (
            "hudi without unique_key",
            json!({"materialized": "incremental", "file_format": "hudi"}),
            keep,
            "Required",
            "unique_key",
            &["Hudi"],
        ),
        (
            "buckets without clustered_by",
            json!({"materialized": "table", "buckets": 8}),
            keep,
            "Needs",
            "buckets",
            &["clustered_by"],
        ),
        (
            "clustered_by without buckets",
            json!({"materialized": "table", "clustered_by": ["id"]}),
            keep,
            "Needs",
            "clustered_by",
            &["buckets"],
        ),
        (
            "both merge column lists",
            json!({"materialized": "incremental", "file_format": "delta", "incremental_strategy": "merge",
            "merge_update_columns": ["a"], "merge_exclude_columns": ["b"]}),
            keep,
            "MutuallyExclusive",
            "merge_update_columns",
            &["merge_exclude_columns"],
        ),
        (
            "bad on_schema_change",
            json!({"materialized": "incremental", "on_schema_change": "evolve"}),
            keep,
            "UnknownValue",
            "on_schema_change",
            &["`evolve`", "ignore, fail, append_new_columns, sync_all_columns"],
        ),
        (
            "bad file_format",
            json!({"materialized": "table", "file_format": "excel"}),
            keep,
            "UnknownValue",
            "file_format",
            &[
                "`excel`",
                "parquet, csv, json, orc, avro, text, delta, iceberg, hudi, s3tables",
            ],
        ),
        (
            "bad materialized",
            json!({"materialized": "materialized_view"}),
            keep,
            "UnknownValue",
            "materialized",
            &["table, view, incremental, seed, snapshot, ephemeral"],
        ),
        (
            "s3tables without its catalog",
            json!({"materialized": "table", "file_format": "s3tables"}),
            |t| t.iceberg_catalog = None,
            "S3TablesWithoutCatalog",
            "file_format",
            &["custom_iceberg_catalog_namespace"],
        ),
        (
            "persist_docs not a dict",
            json!({"materialized": "table", "persist_docs": true}),
            keep,
            "WrongType",
            "persist_docs",
            &["dict"],
        ),
        (
            "boolean that is not one",
            json!({"materialized": "table", "iceberg_expire_snapshots": "maybe"}),
            keep,
            "UnknownValue",
            "iceberg_expire_snapshots",
            &["'True'"],
        ),
        (
            "buckets not a number",
            json!({"materialized": "table", "clustered_by": "id", "buckets": "many"}),
            keep,
            "WrongType",
            "buckets",
            &["positive whole number"],
        ),
        (
            "iceberg transform on parquet",
            json!({"materialized": "table", "partition_by": ["days(ts)"]}),
            keep,
            "Invalid",
            "partition_by",
            &["Iceberg partition transform"],
        ),
        (
            "snapshot on parquet",
            json!({"materialized": "snapshot", "unique_key": "id", "strategy": "timestamp",
            "updated_at": "u"}),
            keep,
            "FormatNotAllowed",
            "file_format",
            &["delta, iceberg, hudi, s3tables"],
        ),
        (
            "snapshot without unique_key",
            json!({"materialized": "snapshot", "file_format": "delta", "strategy": "timestamp",
            "updated_at": "u"}),
            keep,
            "Required",
            "unique_key",
            &["snapshot"],
        ),
        (
            "snapshot without strategy",
            json!({"materialized": "snapshot", "file_format": "delta", "unique_key": "id"}),
            keep,
            "Required",
            "strategy",
            &["snapshot"],
        ),
        (
            "timestamp snapshot without updated_at",
            json!({"materialized": "snapshot", "file_format": "delta",
            "unique_key": "id", "strategy": "timestamp"}),
            keep,
            "Required",
            "updated_at",
            &["timestamp"],
        ),
        (
            "check snapshot without check_cols",
            json!({"materialized": "snapshot", "file_format": "delta",
            "unique_key": "id", "strategy": "check"}),
            keep,
            "Required",
            "check_cols",
            &["check"],
        ),
        (
            "bad hard_deletes",
            json!({"materialized": "snapshot", "file_format": "delta", "unique_key": "id",
            "strategy": "check", "check_cols": "all", "hard_deletes": "purge"}),
            keep,
            "UnknownValue",
            "hard_deletes",
            &["ignore, invalidate, new_record"],
        ),
        (
            "no location anywhere",
            json!({"materialized": "table"}),
            |t| t.location = None,
            "Required",
            "location",
            &["profiles.yml"],
        ),
        (
            "cell filter with both column options",
            json!({"materialized": "table", "lf_grants": {"data_cell_filters": {
            "enabled": true, "filters": {"f1": {"row_filter": "x > 1", "principals": ["arn:aws:iam::1:user/u"],
            "column_names": ["a"], "excluded_column_names": ["b"]}}}}}),
            keep,
            "MutuallyExclusive",
            "lf_grants.data_cell_filters.filters.f1.column_names",
            &["excluded_column_names"],
        ),
        (
            "cell filter without principals",
            json!({"materialized": "table", "lf_grants": {"data_cell_filters": {
            "enabled": true, "filters": {"f1": {"row_filter": "x > 1"}}}}}),
            keep,
            "Required",
            "lf_grants.data_cell_filters.filters.f1.principals",
            &["data-cell filter"],
        ),
        (
            "tag value of the wrong type",
            json!({"materialized": "table", "lf_tags_config": {"enabled": true,
            "tags_table": {"k": ["v"]}}}),
            keep,
            "WrongType",
            "lf_tags_config.tags_table.k",
            &["string"],
        ),
    ];
    for (case, config, tweak, kind, field, texts) in cases {
        let err = try_plan(config, tweak).expect_err(case);
        let msg = err.to_string();
        assert_eq!(err.kind(), kind, "{case}: {msg}");
        assert_eq!(err.field, field, "{case}: {msg}");
        assert!(
            msg.starts_with("models/orders.sql: model `orders`: config `"),
            "{case}: {msg}"
        );
        for t in texts {
            assert!(msg.contains(t), "{case}: `{t}` missing from: {msg}");
        }
    }
}

#[test]
fn format_change_without_full_refresh_is_refused() {
    let m = model(
        json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
        "unique_key": "id"}),
    );
    let err = plan(
        &m,
        &existing_table(glue_materialize::FileFormat::Delta),
        &target(),
        &PlanFlags::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "ExistingFormatMismatch");
    assert!(err.to_string().contains("--full-refresh"), "{err}");
    let ok = plan(
        &m,
        &existing_table(glue_materialize::FileFormat::Delta),
        &target(),
        &PlanFlags {
            full_refresh: true,
            ..PlanFlags::default()
        },
    );
    assert!(ok.is_ok());
}
