//! Golden plans for the options the matrix keeps at their defaults: hooks, sql_header, persist_docs, Lake Formation,
//! locations, temp relations, Iceberg options, merge column lists and predicates, bucketing, Delta write options and
//! Athena manifests, Hudi options, seeds, snapshot strategies and hard deletes, schema-change failures.

mod common;

use common::*;
use glue_materialize::config::SeedMode;
use glue_materialize::{ColumnDoc, Existing, ExistingTable, FileFormat, PlanFlags, TableFormat, Target, plan};
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    config: Value,
    existing: Existing,
    full_refresh: bool,
    target: fn(&mut Target),
}

fn case(name: &'static str, config: Value, existing: Existing) -> Case {
    Case {
        name,
        config,
        existing,
        full_refresh: false,
        target: |_| {},
    }
}

fn cases() -> Vec<Case> {
    use FileFormat::*;
    vec![
        case(
            "hooks_and_sql_header",
            json!({"materialized": "table", "pre-hook": ["set spark.sql.shuffle.partitions=4"],
            "post_hook": "analyze table analytics.orders compute statistics", "sql_header": "create temporary function f as 'x.F'"}),
            Existing::Absent,
        ),
        case(
            "persist_docs_table",
            json!({"materialized": "table", "file_format": "delta",
            "persist_docs": {"relation": true, "columns": true}}),
            existing_table(Delta),
        ),
        case(
            "persist_docs_view",
            json!({"materialized": "view", "persist_docs": {"relation": true}}),
            Existing::View,
        ),
        case(
            "lake_formation_table",
            json!({"materialized": "table", "lf_tags_config": {"enabled": true,
            "drop_existing": "True", "tags_database": {"domain": "sales"}, "tags_table": {"tier": "gold"},
            "tags_columns": {"pii": {"yes": ["name"]}}}, "lf_grants": {"data_cell_filters": {"enabled": true,
            "filters": {"only_recent": {"row_filter": "dt > '2024-01-01'", "principals": ["arn:aws:iam::123:role/analyst"],
            "excluded_column_names": ["name"]}}}}}),
            Existing::Absent,
        ),
        case(
            "lake_formation_disabled",
            json!({"materialized": "table", "lf_tags_config": {"enabled": false,
            "tags_table": {"tier": "gold"}}}),
            Existing::Absent,
        ),
        case(
            "custom_location_rebuild_keeps_path",
            json!({"materialized": "table",
            "custom_location": "s3://custom/bucket/orders"}),
            existing_table(Parquet),
        ),
        case(
            "rebuild_removes_other_runs_staging_after_its_switch",
            json!({"materialized": "table"}),
            with_other_staging(existing_table(Parquet)),
        ),
        case(
            "custom_location_rebuild_drops_other_runs_staging_first",
            json!({"materialized": "table",
            "custom_location": "s3://custom/bucket/orders"}),
            with_other_staging(existing_table(Parquet)),
        ),
        case(
            "iceberg_merge_drops_other_runs_temp_tables_after_its_write",
            json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
            "unique_key": "id"}),
            with_other_staging(existing_table(Iceberg)),
        ),
        case(
            "iceberg_custom_location",
            json!({"materialized": "table", "file_format": "iceberg",
            "custom_location": "s3://custom/iceberg/orders", "table_properties": {"format-version": "2",
            "write.target-file-size-bytes": 268435456}}),
            existing_table(Iceberg),
        ),
        Case {
            target: |t| t.root_location = true,
            ..case("root_location", json!({"materialized": "table"}), Existing::Absent)
        },
        Case {
            // The staging table of a rebuild is readable by whoever reads the model's schema while it exists: with
            // temp_schema it is built there.
            target: |t| t.temp_schema = Some("scratch".into()),
            ..case(
                "lake_formation_rebuild_stages_in_temp_schema",
                json!({"materialized": "table", "lf_grants": {"data_cell_filters": {"enabled": true,
                "filters": {"only_recent": {"row_filter": "dt > '2024-01-01'", "principals": ["arn:aws:iam::123:role/analyst"]}}}}}),
                existing_table(Parquet),
            )
        },
        case(
            "lake_formation_rebuild_without_temp_schema",
            json!({"materialized": "table", "lf_grants": {"data_cell_filters": {"enabled": true,
            "filters": {"only_recent": {"row_filter": "dt > '2024-01-01'", "principals": ["arn:aws:iam::123:role/analyst"]}}}}}),
            existing_table(Parquet),
        ),
        Case {
            target: |t| t.temp_schema = Some("scratch".into()),
            ..case(
                "iceberg_temp_schema",
                json!({"materialized": "incremental", "file_format": "iceberg",
                "incremental_strategy": "append", "purge_dropped_iceberg_data": "True"}),
                existing_table(Iceberg),
            )
        },
        case(
            "iceberg_temp_views",
            json!({"materialized": "incremental", "file_format": "iceberg",
            "incremental_strategy": "insert_overwrite", "partition_by": ["days(updated_at)", "bucket(16, id)"],
            "use_iceberg_temp_views": true, "iceberg_expire_snapshots": "False"}),
            existing_table(Iceberg),
        ),
        case(
            "iceberg_timestamp_first_build",
            json!({"materialized": "incremental", "file_format": "iceberg",
            "add_iceberg_timestamp": true}),
            Existing::Absent,
        ),
        case(
            "iceberg_timestamp_incremental",
            json!({"materialized": "incremental", "file_format": "iceberg",
            "add_iceberg_timestamp": "True", "incremental_strategy": "append"}),
            existing_table(Iceberg),
        ),
        case(
            "merge_update_columns",
            json!({"materialized": "incremental", "file_format": "delta",
            "incremental_strategy": "merge", "unique_key": "id", "merge_update_columns": ["name", "updated_at"]}),
            existing_table(Delta),
        ),
        case(
            "merge_exclude_columns_and_predicates",
            json!({"materialized": "incremental", "file_format": "iceberg",
            "incremental_strategy": "merge", "unique_key": ["id"], "merge_exclude_columns": ["ID"],
            "incremental_predicates": ["DBT_INTERNAL_DEST.dt > date_sub(current_date(), 7) -- last week"]}),
            existing_table(Iceberg),
        ),
        case(
            "merge_without_unique_key_warns",
            json!({"materialized": "incremental", "file_format": "delta",
            "incremental_strategy": "merge"}),
            existing_table(Delta),
        ),
        case(
            "bucketing",
            json!({"materialized": "table", "clustered_by": ["id"], "buckets": 8,
            "partition_by": "dt"}),
            Existing::Absent,
        ),
        case(
            "delta_first_build_write_options_athena",
            json!({"materialized": "incremental", "file_format": "delta",
            "partition_by": ["dt"], "write_options": {"delta.autoOptimize.optimizeWrite": true},
            "delta_athena_prefix": "athena"}),
            Existing::Absent,
        ),
        case(
            "delta_incremental_athena",
            json!({"materialized": "incremental", "file_format": "delta",
            "incremental_strategy": "merge", "unique_key": "id", "partition_by": ["dt"], "delta_athena_prefix": "athena"}),
            existing_table(Delta),
        ),
        case(
            "hudi_options",
            json!({"materialized": "incremental", "file_format": "hudi", "unique_key": "id",
            "partition_by": ["dt"], "hudi_options": {"hoodie.datasource.write.precombine.field": "updated_at"},
            "substitute_variables": ["spark.conf.get('x')"]}),
            existing_table(Hudi),
        ),
        Case {
            full_refresh: true,
            ..case(
                "hudi_full_refresh_is_one_commit",
                json!({"materialized": "incremental",
            "file_format": "hudi", "unique_key": "id"}),
                existing_table(Hudi),
            )
        },
        Case {
            target: |t| {
                t.seed_format = Delta;
                t.seed_mode = SeedMode::Append;
                t.enable_spark_seed_casting = true;
            },
            ..case(
                "seed_column_types",
                json!({"materialized": "seed", "column_types": {"id": "bigint", "dt": "date"},
                "lf_tags_config": {"enabled": true, "tags_table": {"tier": "raw"}}}),
                Existing::Absent,
            )
        },
        case(
            "seed_ignores_file_format",
            json!({"materialized": "seed", "file_format": "iceberg"}),
            existing_table(Parquet),
        ),
        case(
            "snapshot_check_all_new_record",
            json!({"materialized": "snapshot", "file_format": "iceberg",
            "unique_key": "id", "strategy": "check", "check_cols": "all", "hard_deletes": "new_record"}),
            existing_table(Iceberg),
        ),
        case(
            "snapshot_check_cols_invalidate",
            json!({"materialized": "snapshot", "file_format": "delta",
            "unique_key": ["id", "dt"], "strategy": "check", "check_cols": ["name"], "invalidate_hard_deletes": true,
            "updated_at": "updated_at"}),
            existing_table(Delta),
        ),
        case(
            "snapshot_valid_to_current_and_names",
            json!({"materialized": "snapshot", "file_format": "delta",
            "unique_key": "id || '-' || dt", "strategy": "timestamp", "updated_at": "updated_at",
            "dbt_valid_to_current": "to_timestamp('9999-12-31')",
            "snapshot_meta_column_names": {"dbt_valid_from": "valid_from", "dbt_valid_to": "valid_to"}}),
            existing_table(Delta),
        ),
        case(
            "snapshot_first_build_valid_to_current",
            json!({"materialized": "snapshot", "file_format": "iceberg",
            "unique_key": "id", "strategy": "timestamp", "updated_at": "updated_at",
            "dbt_valid_to_current": "to_timestamp('9999-12-31')", "hard_deletes": "new_record"}),
            Existing::Absent,
        ),
        case(
            "on_schema_change_fail_with_new_column",
            json!({"materialized": "incremental", "incremental_strategy": "append",
            "on_schema_change": "fail"}),
            existing_table(Parquet),
        ),
        case(
            "custom_temp_suffix",
            json!({"materialized": "incremental", "incremental_strategy": "append",
            "custom_temp_suffix": "_staging"}),
            existing_table(Parquet),
        ),
        case(
            "plain_format_change_warns",
            json!({"materialized": "incremental", "file_format": "orc",
            "incremental_strategy": "append"}),
            existing_table(Csv),
        ),
        case(
            "unknown_existing_provider",
            json!({"materialized": "table"}),
            Existing::Table(ExistingTable {
                format: TableFormat::Other("org.apache.spark.sql.jdbc".into()),
                location: Some("s3://elsewhere/t".into()),
                columns: vec![],
                partition_columns: vec![],
                version: None,
                siblings: Vec::new(),
                temp_siblings: Vec::new(),
            }),
        ),
        Case {
            full_refresh: true,
            ..case(
                "full_refresh_false_in_config_wins",
                json!({"materialized": "incremental",
            "full_refresh": false, "incremental_strategy": "append"}),
                existing_table(Parquet),
            )
        },
        Case {
            target: |t| t.iceberg_catalog = None,
            ..case(
                "iceberg_without_catalog_prefix",
                json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge",
            "unique_key": "id"}),
                existing_table(Iceberg),
            )
        },
        case(
            "view_over_iceberg_builds_table",
            json!({"materialized": "view", "file_format": "iceberg"}),
            Existing::Absent,
        ),
        case(
            "s3tables_view",
            json!({"materialized": "view", "file_format": "s3tables"}),
            Existing::Absent,
        ),
        case(
            "table_replacing_view_on_s3tables",
            json!({"materialized": "table", "file_format": "s3tables"}),
            Existing::View,
        ),
    ]
}

#[test]
fn feature_plans() {
    for c in cases() {
        let mut m = model(c.config.clone());
        m.description = Some("Orders, one row per order; it's the \"truth\".".into());
        m.columns = vec![
            ColumnDoc {
                name: "id".into(),
                description: Some("The order's id".into()),
            },
            ColumnDoc {
                name: "name".into(),
                description: None,
            },
        ];
        m.seed_path = Some("seeds/orders.csv".into());
        let mut t = target();
        (c.target)(&mut t);
        let flags = PlanFlags {
            full_refresh: c.full_refresh,
            invocation_id: "run42".into(),
        };
        let result = plan(&m, &c.existing, &t, &flags);
        assert!(result.is_ok(), "{}: {:?}", c.name, result.err());
        let existing = match &c.existing {
            Existing::Absent => "none".to_string(),
            Existing::View => "view".to_string(),
            Existing::Table(t) => format!("{} at {}", t.format_name(), t.location.as_deref().unwrap_or("?")),
        };
        let text = format!(
            "config: {}\nexisting: {existing}\nfull_refresh: {}\n\n{}",
            c.config,
            c.full_refresh,
            golden(&result)
        );
        insta::with_settings!({ snapshot_path => "golden/features", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(c.name, text);
        });
    }
}

/// The table as a listing finds it beside staging and temporary tables of other runs (a crashed run's, a staging
/// table of glue-rs before per-run names), a model named `orders_tmp` and another model.
fn with_other_staging(e: Existing) -> Existing {
    match e {
        Existing::Table(mut t) => {
            t.siblings = vec![
                "orders__dbt_swap_0a1b2c3d4e5f".into(),
                "orders__dbt_swap".into(),
                "orders_tmp__run_0a1b2c3d4e5f".into(),
                "orders_tmp".into(),
                "orders_archive".into(),
            ];
            Existing::Table(t)
        }
        other => other,
    }
}

#[test]
fn models_of_one_alias_in_two_schemas_never_share_a_scratch_table_in_temp_schema() {
    // One run (one invocation id) builds `sales.orders` and `finance.orders` at once, with a shared temp_schema: their
    // Iceberg temporary tables, snapshot staging and rebuild staging tables must be distinct, or one model merges the
    // other's rows.
    let scratch = |schema: &str, config: Value, existing: Existing| -> Vec<String> {
        let config = glue_materialize::ModelConfig::from_json(&config).unwrap();
        let model = glue_materialize::Model::new("orders", schema, SQL, config);
        let mut target = Target::new(schema, Some(LOCATION.to_string()));
        target.temp_schema = Some("scratch".into());
        let flags = PlanFlags {
            invocation_id: "0a1b2c3d4e5f6a7b".into(),
            ..PlanFlags::default()
        };
        let p = plan(&model, &existing, &target, &flags).unwrap();
        // The names each step gives in `scratch` (steps display their relations quoted).
        p.steps
            .iter()
            .flat_map(|s| {
                let text = s.to_string();
                text.split("`scratch`.`")
                    .skip(1)
                    .filter_map(|rest| rest.split('`').next().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let cases = [
        (
            json!({"materialized": "incremental", "file_format": "iceberg", "incremental_strategy": "merge", "unique_key": "id"}),
            FileFormat::Iceberg,
        ),
        (
            json!({"materialized": "snapshot", "file_format": "iceberg", "unique_key": "id", "strategy": "timestamp", "updated_at": "updated_at"}),
            FileFormat::Iceberg,
        ),
        (json!({"materialized": "table"}), FileFormat::Parquet),
    ];
    for (config, format) in cases {
        let a = scratch("sales", config.clone(), existing_table(format));
        let b = scratch("finance", config.clone(), existing_table(format));
        assert!(!a.is_empty(), "{config}: a scratch table in temp_schema");
        assert!(a.iter().all(|n| !b.contains(n)), "{config}: shared {a:?} / {b:?}");
    }
}
