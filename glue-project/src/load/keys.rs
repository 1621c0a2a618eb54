//! The config keys glue knows, and the warning for one it does not.

use serde_json::{Map, Value};

use crate::node::Node;
use glue_jinja::normalize_key;

/// Config keys glue knows: dbt's own and every key of the dbt-glue reference. Others warn.
pub const KNOWN_CONFIG_KEYS: &[&str] = &[
    // dbt
    "enabled",
    "tags",
    "meta",
    "materialized",
    "schema",
    "alias",
    "database",
    "docs",
    "contract",
    "grants",
    "group",
    "access",
    "quoting",
    "persist_docs",
    "pre-hook",
    "post-hook",
    "full_refresh",
    "on_schema_change",
    "unique_key",
    "incremental_strategy",
    "sql_header",
    "column_types",
    "quote_columns",
    "delimiter",
    "packages",
    "event_time",
    "batch_size",
    "lookback",
    "begin",
    "concurrent_batches",
    "on_configuration_change",
    "incremental_predicates",
    "predicates",
    "labels",
    // tests
    "severity",
    "warn_if",
    "error_if",
    "fail_calc",
    "where",
    "limit",
    "store_failures",
    "store_failures_as",
    // snapshots
    "strategy",
    "updated_at",
    "check_cols",
    "target_schema",
    "target_database",
    "invalidate_hard_deletes",
    "hard_deletes",
    "dbt_valid_to_current",
    "snapshot_meta_column_names",
    // dbt-glue
    "file_format",
    "partition_by",
    "clustered_by",
    "buckets",
    "custom_location",
    "table_properties",
    "hudi_options",
    "merge_update_columns",
    "merge_exclude_columns",
    "iceberg_expire_snapshots",
    "add_iceberg_timestamp",
    "purge_dropped_iceberg_data",
    "use_iceberg_temp_views",
    "custom_temp_suffix",
    "substitute_variables",
    "delta_athena_prefix",
    "write_options",
    "lf_tags_config",
    "lf_grants",
    "lf_inherited_tags",
    "meta_columns",
    "location_root",
];

pub(crate) fn warn_unknown_keys(node: &Node, config: &Map<String, Value>, warnings: &mut Vec<String>) {
    for k in config.keys() {
        let k = normalize_key(k);
        if !KNOWN_CONFIG_KEYS.contains(&k.as_str()) {
            warnings.push(format!(
                "{}: {} `{}`: unknown config key `{k}` (ignored)",
                node.file_display(),
                node.resource_type.as_str(),
                node.name
            ));
        }
    }
}
