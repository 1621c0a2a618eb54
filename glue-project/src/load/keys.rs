//! The config keys glue knows, and the warning for one it does not.

use serde_json::{Map, Value};

use crate::node::Node;
use glue_jinja::normalize_key;

/// Config keys of dbt (and of dbt-glue) that the model-config parser does not read: the loader, the runner, tests
/// and docs read them. With the parser's own keys ([`glue_materialize::config::MODEL_CONFIG_KEYS`]) they are every
/// key glue knows; others warn.
pub const DBT_CONFIG_KEYS: &[&str] = &[
    "enabled",
    "tags",
    "meta",
    "schema",
    "alias",
    "database",
    "docs",
    "contract",
    "grants",
    "group",
    "access",
    "quoting",
    "quote_columns",
    "delimiter",
    "packages",
    "event_time",
    "batch_size",
    "lookback",
    "begin",
    "concurrent_batches",
    "on_configuration_change",
    "labels",
    "severity",
    "warn_if",
    "error_if",
    "fail_calc",
    "where",
    "limit",
    "store_failures",
    "store_failures_as",
    "target_schema",
    "target_database",
    "lf_inherited_tags",
    "meta_columns",
    "location_root",
];

/// Whether glue knows a config key (dbt's spelling: hooks with a dash).
pub fn is_known_config_key(key: &str) -> bool {
    DBT_CONFIG_KEYS.contains(&key) || glue_materialize::config::MODEL_CONFIG_KEYS.contains(&key)
}

pub(crate) fn warn_unknown_keys(node: &Node, config: &Map<String, Value>, warnings: &mut Vec<String>) {
    for k in config.keys() {
        let k = normalize_key(k);
        if !is_known_config_key(&k) {
            warnings.push(format!(
                "{}: {} `{}`: unknown config key `{k}` (ignored)",
                node.file_display(),
                node.resource_type.as_str(),
                node.name
            ));
        }
    }
}
