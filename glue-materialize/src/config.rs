//! Typed model configuration: every key of dbt-glue's reference, parsed from the merged dbt config (a JSON object,
//! as dbt_project.yml, schema.yml and `{{ config() }}` produce it) with errors that name the field and list the
//! allowed values.

use std::collections::BTreeMap;

use glue_sql::snapshot::{KeyPart, MetaColumns};
use glue_sql::types::PartitionField;
use glue_sql::{Ident, SqlFragment};
use serde_json::{Map, Value};

pub use crate::choices::{
    FileFormat, HardDeletesMode, IncrementalStrategy, Materialization, OnSchemaChange, SeedMode, SnapshotStrategy,
};
use crate::error::{ConfigError, ConfigProblem};
use crate::fields::{Fields, wrong};
use crate::lakeformation::{LfGrants, LfTagsConfig};

/// Why dbt's `grants` have no effect on any engine glue-rs runs on (the planner's warning ends with it).
pub const GRANTS_HAVE_NO_EFFECT: &str = "Spark SQL has no GRANT statement (dbt-glue sends dbt-spark's `grant <privilege> \
     on <table> to <grantee>`, which Spark refuses once the table is built), and the embedded engine has no principals; \
     grant access with Lake Formation instead (`lf_grants` data-cell filters, or Lake Formation permissions on the \
     database and tables)";

/// Every key [`ModelConfig::from_json`] reads (a snapshot's keys included), and only those: the parser reads the
/// config through this table. Keys outside it are not the planner's (dbt's own `tags`, `meta`, … or unknown ones).
pub const MODEL_CONFIG_KEYS: &[&str] = &[
    "materialized",
    "file_format",
    "partition_by",
    "buckets",
    "persist_docs",
    "custom_location",
    "custom_temp_suffix",
    "incremental_strategy",
    "clustered_by",
    "table_properties",
    "hudi_options",
    "unique_key",
    "incremental_predicates",
    "predicates",
    "merge_update_columns",
    "merge_exclude_columns",
    "on_schema_change",
    "iceberg_expire_snapshots",
    "add_iceberg_timestamp",
    "purge_dropped_iceberg_data",
    "use_iceberg_temp_views",
    "sql_header",
    "substitute_variables",
    "delta_athena_prefix",
    "write_options",
    "lf_tags_config",
    "lf_grants",
    "grants",
    "full_refresh",
    "column_types",
    "delimiter",
    "strategy",
    "updated_at",
    "check_cols",
    "invalidate_hard_deletes",
    "hard_deletes",
    "snapshot_meta_column_names",
    "dbt_valid_to_current",
    "event_time",
    "batch_size",
    "lookback",
    "begin",
    "concurrent_batches",
    "pre-hook",
    "pre_hook",
    "post-hook",
    "post_hook",
];

/// The keys of `persist_docs`.
const PERSIST_DOCS_KEYS: &[&str] = &["relation", "columns"];

/// `persist_docs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PersistDocs {
    /// Table / view comment from the model description.
    pub relation: bool,
    /// Column comments from documented columns.
    pub columns: bool,
}

/// Snapshot settings (`strategy`, `updated_at`, `check_cols`, `hard_deletes`, `dbt_valid_to_current`,
/// `snapshot_meta_column_names`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct SnapshotConfig {
    /// The strategy.
    pub strategy: SnapshotStrategy,
    /// `updated_at` (required for timestamp; optional for check).
    pub updated_at: Option<SqlFragment>,
    /// `check_cols`: `None` means `all`.
    pub check_cols: Option<Vec<Ident>>,
    /// `hard_deletes` (or the legacy `invalidate_hard_deletes: true`).
    pub hard_deletes: HardDeletesMode,
    /// `dbt_valid_to_current`.
    pub dbt_valid_to_current: Option<SqlFragment>,
    /// Meta column names.
    pub meta_columns: MetaColumns,
}

/// A model's configuration, typed. Defaults follow dbt-glue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelConfig {
    /// `materialized` (default view, dbt's default).
    pub materialized: Materialization,
    /// `file_format` (default parquet; seeds use the profile's `seed_format`).
    pub file_format: FileFormat,
    /// True when `file_format` was set explicitly.
    pub file_format_set: bool,
    /// `incremental_strategy` (default insert_overwrite).
    pub incremental_strategy: IncrementalStrategy,
    /// `partition_by` (string or list; Iceberg transforms allowed on Iceberg / S3 Tables).
    pub partition_by: Vec<PartitionField>,
    /// `clustered_by`.
    pub clustered_by: Vec<Ident>,
    /// `buckets`.
    pub buckets: Option<u32>,
    /// `custom_location`.
    pub custom_location: Option<String>,
    /// `table_properties`.
    pub table_properties: BTreeMap<String, String>,
    /// `hudi_options`.
    pub hudi_options: BTreeMap<String, String>,
    /// `unique_key` (string or list).
    pub unique_key: Vec<String>,
    /// `incremental_predicates` (or the legacy `predicates`).
    pub incremental_predicates: Vec<SqlFragment>,
    /// `merge_update_columns`.
    pub merge_update_columns: Option<Vec<Ident>>,
    /// `merge_exclude_columns`.
    pub merge_exclude_columns: Option<Vec<Ident>>,
    /// `on_schema_change` (default ignore).
    pub on_schema_change: OnSchemaChange,
    /// `persist_docs`.
    pub persist_docs: PersistDocs,
    /// `iceberg_expire_snapshots` (default true).
    pub iceberg_expire_snapshots: bool,
    /// `add_iceberg_timestamp` (default false).
    pub add_iceberg_timestamp: bool,
    /// `purge_dropped_iceberg_data` (default false).
    pub purge_dropped_iceberg_data: bool,
    /// `use_iceberg_temp_views` (default false: Iceberg temp relations are tables).
    pub use_iceberg_temp_views: bool,
    /// `custom_temp_suffix` (default `tmp`: temp relation `<alias>_tmp`).
    pub custom_temp_suffix: String,
    /// `sql_header`.
    pub sql_header: Option<SqlFragment>,
    /// `substitute_variables` (Hudi).
    pub substitute_variables: Vec<String>,
    /// `delta_athena_prefix` (model level; the profile's applies otherwise).
    pub delta_athena_prefix: Option<String>,
    /// `write_options` (Delta first write).
    pub write_options: BTreeMap<String, String>,
    /// `lf_tags_config`.
    pub lf_tags_config: Option<LfTagsConfig>,
    /// `lf_grants`.
    pub lf_grants: Option<LfGrants>,
    /// dbt's `grants`: privilege → grantees. No engine honours them (see [`GRANTS_HAVE_NO_EFFECT`]).
    pub grants: BTreeMap<String, Vec<String>>,
    /// `full_refresh` (overrides the `--full-refresh` flag when set).
    pub full_refresh: Option<bool>,
    /// `pre-hook` / `pre_hook`.
    pub pre_hook: Vec<SqlFragment>,
    /// `post-hook` / `post_hook`.
    pub post_hook: Vec<SqlFragment>,
    /// Snapshot settings (snapshots only).
    pub snapshot: Option<SnapshotConfig>,
    /// Seed `column_types`.
    pub column_types: BTreeMap<String, String>,
    /// Seed `delimiter` (dbt 1.7): the byte between a CSV's fields, `,` by default.
    pub delimiter: u8,
    /// `event_time` (dbt 1.9): the model's timestamp column; a microbatch model's batches are windows on it, and
    /// a microbatch model's `ref()` to this model reads only the batch's window of it.
    pub event_time: Option<Ident>,
    /// The microbatch settings (incremental models whose strategy is microbatch only).
    pub microbatch: Option<crate::microbatch::MicrobatchConfig>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            materialized: Materialization::View,
            file_format: FileFormat::Parquet,
            file_format_set: false,
            incremental_strategy: IncrementalStrategy::InsertOverwrite,
            partition_by: Vec::new(),
            clustered_by: Vec::new(),
            buckets: None,
            custom_location: None,
            table_properties: BTreeMap::new(),
            hudi_options: BTreeMap::new(),
            unique_key: Vec::new(),
            incremental_predicates: Vec::new(),
            merge_update_columns: None,
            merge_exclude_columns: None,
            on_schema_change: OnSchemaChange::Ignore,
            persist_docs: PersistDocs::default(),
            iceberg_expire_snapshots: true,
            add_iceberg_timestamp: false,
            purge_dropped_iceberg_data: false,
            use_iceberg_temp_views: false,
            custom_temp_suffix: "tmp".into(),
            sql_header: None,
            substitute_variables: Vec::new(),
            delta_athena_prefix: None,
            write_options: BTreeMap::new(),
            lf_tags_config: None,
            lf_grants: None,
            grants: BTreeMap::new(),
            full_refresh: None,
            pre_hook: Vec::new(),
            post_hook: Vec::new(),
            snapshot: None,
            column_types: BTreeMap::new(),
            delimiter: b',',
            event_time: None,
            microbatch: None,
        }
    }
}

fn hooks(f: &Fields<'_>, keys: &[&'static str]) -> Result<Vec<SqlFragment>, ConfigError> {
    let Some((k, v)) = f.get(keys) else {
        return Ok(Vec::new());
    };
    let one = |v: &Value| -> Result<SqlFragment, ConfigError> {
        match v {
            Value::String(s) => Ok(SqlFragment::new(s.clone())),
            Value::Object(m) => match m.get("sql") {
                Some(Value::String(s)) => Ok(SqlFragment::new(s.clone())),
                _ => Err(wrong(k, "a hook: a SQL string or {sql: ..., transaction: ...}", v)),
            },
            other => Err(wrong(k, "a SQL string or a list of them", other)),
        }
    };
    match v {
        Value::Array(items) => items
            .iter()
            .map(one)
            .filter(|h| !matches!(h, Ok(s) if s.is_blank()))
            .collect(),
        v => Ok(vec![one(v)?].into_iter().filter(|h| !h.is_blank()).collect()),
    }
}

impl ModelConfig {
    /// Parses the merged dbt config of one node. Unknown keys are ignored (dbt has many configs that do not concern
    /// the planner); known keys are checked for type and value.
    pub fn from_json(config: &Value) -> Result<Self, ConfigError> {
        let empty = Map::new();
        let map = match config {
            Value::Object(m) => m,
            Value::Null => &empty,
            v => return Err(wrong("config", "a mapping", v)),
        };
        let f = Fields::new(map, MODEL_CONFIG_KEYS);
        let d = Self::default();
        let materialized = f
            .enum_value("materialized", Materialization::parse, Materialization::NAMES)?
            .unwrap_or(d.materialized);
        let file_format_value = f.enum_value("file_format", FileFormat::parse, FileFormat::NAMES)?;
        let file_format = file_format_value.unwrap_or(d.file_format);
        let partition_by = f
            .string_list(&["partition_by"])?
            .iter()
            .map(|p| {
                PartitionField::parse(p).ok_or_else(|| {
                    ConfigError::new(
                        "partition_by",
                        ConfigProblem::Invalid(format!(
                            "`{p}` is neither a column nor an Iceberg transform \
                             (years, months, days, hours, bucket(N, col), truncate(W, col))"
                        )),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !file_format.accepts_partition_transforms()
            && let Some(p) = partition_by.iter().find(|p| !p.is_identity())
        {
            return Err(ConfigError::new(
                "partition_by",
                ConfigProblem::Invalid(format!(
                    "`{}` is an Iceberg partition transform; file_format `{file_format}` only partitions by columns",
                    p.to_sql()
                )),
            ));
        }
        let buckets = match f.get(&["buckets"]) {
            None => None,
            Some((_, Value::Number(n))) if n.as_u64().is_some_and(|b| b > 0 && b <= u32::MAX as u64) => {
                Some(n.as_u64().unwrap_or_default() as u32)
            }
            Some((_, Value::String(s))) if s.trim().parse::<u32>().is_ok_and(|b| b > 0) => s.trim().parse().ok(),
            Some((k, v)) => return Err(wrong(k, "a positive whole number", v)),
        };
        let persist_docs = match f.get(&["persist_docs"]) {
            None => PersistDocs::default(),
            Some((k, Value::Object(m))) => {
                let pf = Fields::new(m, PERSIST_DOCS_KEYS);
                let relation = pf.bool("relation", false).map_err(|e| prefix(k, e))?;
                let columns = pf.bool("columns", false).map_err(|e| prefix(k, e))?;
                PersistDocs { relation, columns }
            }
            Some((k, v)) => {
                return Err(wrong(k, "a dict such as {relation: true, columns: true}", v));
            }
        };
        let custom_location = f
            .string(&["custom_location"])?
            .filter(|l| !l.is_empty() && l != "empty");
        let custom_temp_suffix = match f.string(&["custom_temp_suffix"])? {
            Some(s) if s.is_empty() => {
                return Err(ConfigError::new(
                    "custom_temp_suffix",
                    ConfigProblem::Invalid("must not be empty".into()),
                ));
            }
            Some(s) => s.trim_start_matches('_').to_string(),
            None => d.custom_temp_suffix,
        };
        let snapshot = if materialized == Materialization::Snapshot {
            Some(snapshot_config(&f)?)
        } else {
            None
        };
        let incremental_strategy = f
            .enum_value(
                "incremental_strategy",
                IncrementalStrategy::parse,
                IncrementalStrategy::NAMES,
            )?
            .unwrap_or(d.incremental_strategy);
        let event_time = crate::microbatch::event_time(&f)?;
        let microbatch = if materialized == Materialization::Incremental
            && incremental_strategy == IncrementalStrategy::Microbatch
        {
            Some(crate::microbatch::config(&f, event_time.clone())?)
        } else {
            None
        };
        let cfg = Self {
            materialized,
            file_format,
            file_format_set: file_format_value.is_some(),
            incremental_strategy,
            partition_by,
            clustered_by: f.ident_list(&["clustered_by"])?.unwrap_or_default(),
            buckets,
            custom_location,
            table_properties: f.string_map("table_properties")?,
            hudi_options: f.string_map("hudi_options")?,
            unique_key: f
                .string_list(&["unique_key"])?
                .into_iter()
                .filter(|k| !k.trim().is_empty())
                .collect(),
            incremental_predicates: f
                .string_list(&["incremental_predicates", "predicates"])?
                .into_iter()
                .map(SqlFragment::new)
                .filter(|p| !p.is_blank())
                .collect(),
            merge_update_columns: f.ident_list(&["merge_update_columns"])?,
            merge_exclude_columns: f.ident_list(&["merge_exclude_columns"])?,
            on_schema_change: f
                .enum_value("on_schema_change", OnSchemaChange::parse, OnSchemaChange::NAMES)?
                .unwrap_or(d.on_schema_change),
            persist_docs,
            iceberg_expire_snapshots: f.bool("iceberg_expire_snapshots", d.iceberg_expire_snapshots)?,
            add_iceberg_timestamp: f.bool("add_iceberg_timestamp", false)?,
            purge_dropped_iceberg_data: f.bool("purge_dropped_iceberg_data", false)?,
            use_iceberg_temp_views: f.bool("use_iceberg_temp_views", false)?,
            custom_temp_suffix,
            sql_header: f
                .string(&["sql_header"])?
                .map(SqlFragment::new)
                .filter(|h| !h.is_blank()),
            substitute_variables: f.string_list(&["substitute_variables"])?,
            delta_athena_prefix: f.string(&["delta_athena_prefix"])?.filter(|p| !p.is_empty()),
            write_options: f.string_map("write_options")?,
            lf_tags_config: f.object("lf_tags_config")?.map(LfTagsConfig::from_json).transpose()?,
            lf_grants: f.object("lf_grants")?.map(LfGrants::from_json).transpose()?,
            grants: match f.object("grants")? {
                None => BTreeMap::new(),
                Some(m) => m
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), crate::fields::string_list(&format!("grants.{k}"), v)?)))
                    .collect::<Result<_, ConfigError>>()?,
            },
            full_refresh: f.opt_bool("full_refresh")?,
            pre_hook: hooks(&f, &["pre-hook", "pre_hook"])?,
            post_hook: hooks(&f, &["post-hook", "post_hook"])?,
            snapshot,
            column_types: f.string_map("column_types")?,
            delimiter: match f.string(&["delimiter"])? {
                None => b',',
                Some(d) if d.len() == 1 && d.is_ascii() && d != "\n" && d != "\r" && d != "\"" => d.as_bytes()[0],
                Some(d) => {
                    return Err(ConfigError::new(
                        "delimiter",
                        ConfigProblem::Invalid(format!(
                            "`{d}`: a seed's delimiter is one ASCII character other than a quote or a line break \
                             (dbt's default is `,`)"
                        )),
                    ));
                }
            },
            event_time,
            microbatch,
        };
        cfg.check_combinations()?;
        Ok(cfg)
    }

    /// [`ModelConfig::from_json`] with the model named in the error.
    pub fn from_json_for(model: &crate::error::ModelRef, config: &Value) -> Result<Self, crate::error::PlanError> {
        Self::from_json(config).map_err(|e| e.for_model(model))
    }

    /// Checks the combinations that no single field shows.
    fn check_combinations(&self) -> Result<(), ConfigError> {
        if self.buckets.is_some() && self.clustered_by.is_empty() {
            return Err(ConfigError::new(
                "buckets",
                ConfigProblem::Needs { other: "clustered_by" },
            ));
        }
        if !self.clustered_by.is_empty() && self.buckets.is_none() {
            return Err(ConfigError::new(
                "clustered_by",
                ConfigProblem::Needs { other: "buckets" },
            ));
        }
        if self.merge_update_columns.is_some() && self.merge_exclude_columns.is_some() {
            return Err(ConfigError::new(
                "merge_update_columns",
                ConfigProblem::MutuallyExclusive {
                    other: "merge_exclude_columns",
                },
            ));
        }
        Ok(())
    }
}

fn prefix(parent: &str, e: ConfigError) -> ConfigError {
    ConfigError {
        field: format!("{parent}.{}", e.field),
        ..e
    }
}

fn snapshot_config(f: &Fields<'_>) -> Result<SnapshotConfig, ConfigError> {
    let strategy = f
        .enum_value("strategy", SnapshotStrategy::parse, SnapshotStrategy::NAMES)?
        .ok_or_else(|| ConfigError::new("strategy", ConfigProblem::Required { why: "for a snapshot" }))?;
    let updated_at = f
        .string(&["updated_at"])?
        .map(SqlFragment::new)
        .filter(|u| !u.is_blank());
    if strategy == SnapshotStrategy::Timestamp && updated_at.is_none() {
        return Err(ConfigError::new(
            "updated_at",
            ConfigProblem::Required {
                why: "by the timestamp strategy",
            },
        ));
    }
    let check_cols = match f.get(&["check_cols"]) {
        None if strategy == SnapshotStrategy::Check => {
            return Err(ConfigError::new(
                "check_cols",
                ConfigProblem::Required {
                    why: "by the check strategy",
                },
            ));
        }
        None => None,
        Some((_, Value::String(s))) if s.eq_ignore_ascii_case("all") => None,
        Some(_) => f.ident_list(&["check_cols"])?,
    };
    let legacy = f.bool("invalidate_hard_deletes", false)?;
    let hard_deletes = f
        .enum_value("hard_deletes", HardDeletesMode::parse, HardDeletesMode::NAMES)?
        .unwrap_or(if legacy {
            HardDeletesMode::Invalidate
        } else {
            HardDeletesMode::Ignore
        });
    let mut meta_columns = MetaColumns::default();
    if let Some(m) = f.object("snapshot_meta_column_names")? {
        for (k, v) in m {
            let Value::String(name) = v else {
                return Err(wrong(&format!("snapshot_meta_column_names.{k}"), "a column name", v));
            };
            let ident = Ident::new(name.clone()).map_err(|_| {
                ConfigError::new(
                    format!("snapshot_meta_column_names.{k}"),
                    ConfigProblem::Invalid("empty".into()),
                )
            })?;
            let slot = match k.as_str() {
                "dbt_valid_from" => &mut meta_columns.dbt_valid_from,
                "dbt_valid_to" => &mut meta_columns.dbt_valid_to,
                "dbt_scd_id" => &mut meta_columns.dbt_scd_id,
                "dbt_updated_at" => &mut meta_columns.dbt_updated_at,
                "dbt_is_deleted" => &mut meta_columns.dbt_is_deleted,
                other => {
                    return Err(ConfigError::new(
                        "snapshot_meta_column_names",
                        ConfigProblem::UnknownValue {
                            value: other.to_string(),
                            allowed: vec![
                                "dbt_valid_from",
                                "dbt_valid_to",
                                "dbt_scd_id",
                                "dbt_updated_at",
                                "dbt_is_deleted",
                            ],
                        },
                    ));
                }
            };
            *slot = ident;
        }
    }
    Ok(SnapshotConfig {
        strategy,
        updated_at,
        check_cols,
        hard_deletes,
        dbt_valid_to_current: f
            .string(&["dbt_valid_to_current"])?
            .map(SqlFragment::new)
            .filter(|v| !v.is_blank()),
        meta_columns,
    })
}

/// Parses a unique_key entry for snapshots: a column, or an expression.
pub(crate) fn key_part(text: &str) -> Option<KeyPart> {
    KeyPart::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults() {
        let c = ModelConfig::from_json(&json!({})).unwrap();
        assert_eq!(c.materialized, Materialization::View);
        assert_eq!(c.file_format, FileFormat::Parquet);
        assert!(c.iceberg_expire_snapshots);
    }

    #[test]
    fn reference_boolean_strings() {
        let c = ModelConfig::from_json(
            &json!({"iceberg_expire_snapshots": "False", "purge_dropped_iceberg_data": "True",
            "use_iceberg_temp_views": true}),
        )
        .unwrap();
        assert!(!c.iceberg_expire_snapshots);
        assert!(c.purge_dropped_iceberg_data);
        assert!(c.use_iceberg_temp_views);
        let e = ModelConfig::from_json(&json!({"add_iceberg_timestamp": "yes"})).unwrap_err();
        assert_eq!(e.field, "add_iceberg_timestamp");
    }

    #[test]
    fn case_insensitive_formats_and_lists() {
        let c = ModelConfig::from_json(&json!({"file_format": "Iceberg", "unique_key": ["a", "b"],
            "partition_by": "days(ts)"}))
        .unwrap();
        assert_eq!(c.file_format, FileFormat::Iceberg);
        assert_eq!(c.unique_key, vec!["a", "b"]);
        assert!(!c.partition_by[0].is_identity());
    }

    #[test]
    fn hooks_in_all_shapes() {
        let c = ModelConfig::from_json(
            &json!({"pre-hook": "select 1", "post_hook": ["select 2", {"sql": "select 3"}, ""]}),
        )
        .unwrap();
        assert_eq!(c.pre_hook.len(), 1);
        assert_eq!(c.post_hook.len(), 2);
    }

    #[test]
    fn the_parser_reads_only_the_keys_of_its_table() {
        // Every read path, each read checked against the table (a key outside it fails a debug build).
        let all: Map<String, Value> = MODEL_CONFIG_KEYS.iter().map(|k| (k.to_string(), Value::Null)).collect();
        assert!(ModelConfig::from_json(&Value::Object(all)).is_ok());
        let snapshot = serde_json::json!({
            "materialized": "snapshot", "strategy": "check", "check_cols": "all", "unique_key": "id",
            "persist_docs": {"relation": true, "columns": true}, "pre-hook": "select 1",
            "lf_tags_config": {"enabled": true, "tags_table": {"k": "v"}},
            "lf_grants": {"data_cell_filters": {"enabled": true, "filters": {"f": {"principals": ["p"], "row_filter": "true"}}}},
        });
        ModelConfig::from_json(&snapshot).unwrap();
        let mut sorted = MODEL_CONFIG_KEYS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), MODEL_CONFIG_KEYS.len(), "a key listed twice");
    }
}
