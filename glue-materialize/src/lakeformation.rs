//! Lake Formation configuration (`lf_tags_config`, `lf_grants`) as the model declares it. The reconcile against
//! Lake Formation lives in `glue-lakeformation`; the planner only places it in the plan.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ConfigError, ConfigProblem};
use crate::fields::{Fields, parse_bool, string_list};

/// The keys of `lf_tags_config`.
const LF_TAGS_CONFIG_KEYS: &[&str] = &[
    "enabled",
    "drop_existing",
    "tags_database",
    "tags_table",
    "tags_columns",
];

/// The keys of `lf_grants`.
const LF_GRANTS_KEYS: &[&str] = &["data_cell_filters"];

/// The keys of `lf_grants.data_cell_filters`.
const DATA_CELL_FILTERS_KEYS: &[&str] = &["enabled", "drop_existing", "filters"];

/// The keys of one data-cell filter.
const FILTER_KEYS: &[&str] = &["principals", "row_filter", "column_names", "excluded_column_names"];

/// `lf_tags_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LfTagsConfig {
    /// `enabled` (default false: nothing is done).
    pub enabled: bool,
    /// `drop_existing`: remove tags not in the config.
    pub drop_existing: bool,
    /// `tags_database`: tag key → value on the database.
    pub tags_database: BTreeMap<String, String>,
    /// `tags_table`: tag key → value on the table.
    pub tags_table: BTreeMap<String, String>,
    /// `tags_columns`: tag key → tag value → columns.
    pub tags_columns: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl LfTagsConfig {
    /// Parses `lf_tags_config` as dbt gives it (a model's `config()` or `+lf_tags_config` in YAML, as JSON). A
    /// column given two values of one tag key is an error (Lake Formation holds one value per key and resource).
    pub fn from_config(v: &Value) -> Result<Self, ConfigError> {
        match v {
            Value::Object(m) => Self::from_json(m),
            other => Err(ConfigError::new(
                "lf_tags_config",
                ConfigProblem::WrongType {
                    expected: "a mapping",
                    got: other.to_string(),
                },
            )),
        }
    }

    pub(crate) fn from_json(m: &Map<String, Value>) -> Result<Self, ConfigError> {
        let f = Fields::new(m, LF_TAGS_CONFIG_KEYS);
        let p = |e: ConfigError| ConfigError {
            field: format!("lf_tags_config.{}", e.field),
            ..e
        };
        let mut tags_columns = BTreeMap::new();
        if let Some(cols) = f.object("tags_columns").map_err(p)? {
            for (key, values) in cols {
                let Value::Object(values) = values else {
                    return Err(p(ConfigError::new(
                        format!("tags_columns.{key}"),
                        ConfigProblem::WrongType {
                            expected: "a mapping of tag value to columns",
                            got: values.to_string(),
                        },
                    )));
                };
                let mut per_value = BTreeMap::new();
                for (value, columns) in values {
                    let field = format!("tags_columns.{key}.{value}");
                    per_value.insert(value.clone(), string_list(&field, columns).map_err(p)?);
                }
                let mut seen: BTreeMap<String, &String> = BTreeMap::new();
                for (value, columns) in &per_value {
                    for c in columns {
                        if let Some(first) = seen.insert(c.to_lowercase(), value)
                            && first != value
                        {
                            return Err(p(ConfigError::new(
                                format!("tags_columns.{key}"),
                                ConfigProblem::Invalid(format!(
                                    "column `{c}` is given two values of tag `{key}` (`{first}` and `{value}`); \
                                     Lake Formation keeps one value per tag key"
                                )),
                            )));
                        }
                    }
                }
                tags_columns.insert(key.clone(), per_value);
            }
        }
        Ok(Self {
            enabled: f.bool("enabled", false).map_err(p)?,
            drop_existing: f.bool("drop_existing", false).map_err(p)?,
            tags_database: f.string_map("tags_database").map_err(p)?,
            tags_table: f.string_map("tags_table").map_err(p)?,
            tags_columns,
        })
    }
}

impl LfTagsConfig {
    /// The config as plan lines (`glue plan`): one per resource.
    pub fn summary(&self) -> String {
        let pairs =
            |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
        let mut out = format!(
            "\nLF-tags{}:",
            if self.drop_existing {
                " (drop_existing: others removed)"
            } else {
                ""
            }
        );
        if !self.tags_database.is_empty() {
            out.push_str(&format!("\n  database: {}", pairs(&self.tags_database)));
        }
        if !self.tags_table.is_empty() {
            out.push_str(&format!("\n  table: {}", pairs(&self.tags_table)));
        }
        for (key, per_value) in &self.tags_columns {
            for (value, columns) in per_value {
                out.push_str(&format!("\n  columns [{}]: {key}={value}", columns.join(", ")));
            }
        }
        out
    }
}

impl LfGrants {
    /// The config as plan lines (`glue plan`): one per filter.
    pub fn summary(&self) -> String {
        let d = &self.data_cell_filters;
        let mut out = format!(
            "\ndata-cell filters{}:",
            if d.drop_existing {
                " (drop_existing: others deleted)"
            } else {
                ""
            }
        );
        for (name, f) in &d.filters {
            let rows = f
                .row_filter
                .as_deref()
                .map(|r| format!("rows where {r}"))
                .unwrap_or_else(|| "all rows".into());
            let columns = match &f.columns {
                FilterColumns::All => "all columns".to_string(),
                FilterColumns::Only(c) => format!("columns [{}]", c.join(", ")),
                FilterColumns::Excluding(c) => format!("all columns but [{}]", c.join(", ")),
            };
            out.push_str(&format!(
                "\n  {name}: {rows}, {columns}; SELECT to {}",
                f.principals.join(", ")
            ));
        }
        out
    }
}

/// Which columns a data-cell filter shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum FilterColumns {
    /// All columns (no column-level security).
    All,
    /// Only these (`column_names`).
    Only(Vec<String>),
    /// All but these (`excluded_column_names`).
    Excluding(Vec<String>),
}

/// One data-cell filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CellFilter {
    /// `row_filter` (a PartiQL-like expression Lake Formation evaluates); `None` (absent or blank): every row.
    pub row_filter: Option<String>,
    /// `principals` granted SELECT on the filter.
    pub principals: Vec<String>,
    /// `column_names` XOR `excluded_column_names`.
    pub columns: FilterColumns,
}

/// `lf_grants.data_cell_filters`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DataCellFilters {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `drop_existing`: delete filters not in the config.
    pub drop_existing: bool,
    /// Filters by name.
    pub filters: BTreeMap<String, CellFilter>,
}

/// `lf_grants`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LfGrants {
    /// `data_cell_filters`.
    pub data_cell_filters: DataCellFilters,
}

impl LfGrants {
    /// Parses `lf_grants` as dbt gives it (a model's `config()` or `+lf_grants` in YAML, as JSON).
    pub fn from_config(v: &Value) -> Result<Self, ConfigError> {
        match v {
            Value::Object(m) => Self::from_json(m),
            other => Err(ConfigError::new(
                "lf_grants",
                ConfigProblem::WrongType {
                    expected: "a mapping",
                    got: other.to_string(),
                },
            )),
        }
    }

    pub(crate) fn from_json(m: &Map<String, Value>) -> Result<Self, ConfigError> {
        let f = Fields::new(m, LF_GRANTS_KEYS);
        let Some(dcf) = f.object("data_cell_filters").map_err(|e| ConfigError {
            field: format!("lf_grants.{}", e.field),
            ..e
        })?
        else {
            return Ok(Self::default());
        };
        let base = "lf_grants.data_cell_filters";
        let p = |e: ConfigError| ConfigError {
            field: format!("{base}.{}", e.field),
            ..e
        };
        let df = Fields::new(dcf, DATA_CELL_FILTERS_KEYS);
        let mut filters = BTreeMap::new();
        if let Some(fs) = df.object("filters").map_err(p)? {
            for (name, spec) in fs {
                let field = format!("{base}.filters.{name}");
                let Value::Object(spec) = spec else {
                    return Err(ConfigError::new(
                        field,
                        ConfigProblem::WrongType {
                            expected: "a filter mapping",
                            got: spec.to_string(),
                        },
                    ));
                };
                let sf = Fields::new(spec, FILTER_KEYS);
                let fp = |e: ConfigError| ConfigError {
                    field: format!("{field}.{}", e.field),
                    ..e
                };
                let principals = sf.string_list(&["principals"]).map_err(fp)?;
                if principals.is_empty() {
                    return Err(ConfigError::new(
                        format!("{field}.principals"),
                        ConfigProblem::Required {
                            why: "for a data-cell filter (who may read through it)",
                        },
                    ));
                }
                let only = sf.string_list(&["column_names"]).map_err(fp)?;
                let excluded = sf.string_list(&["excluded_column_names"]).map_err(fp)?;
                let columns = match (only.is_empty(), excluded.is_empty()) {
                    (true, true) => FilterColumns::All,
                    (false, true) => FilterColumns::Only(only),
                    (true, false) => FilterColumns::Excluding(excluded),
                    (false, false) => {
                        return Err(ConfigError::new(
                            format!("{field}.column_names"),
                            ConfigProblem::MutuallyExclusive {
                                other: "excluded_column_names",
                            },
                        ));
                    }
                };
                let row_filter = sf.string(&["row_filter"]).map_err(fp)?.filter(|r| !r.trim().is_empty());
                filters.insert(
                    name.clone(),
                    CellFilter {
                        row_filter,
                        principals,
                        columns,
                    },
                );
            }
        }
        let enabled = match dcf.get("enabled") {
            Some(v) => parse_bool(&format!("{base}.enabled"), v)?,
            None => false,
        };
        Ok(Self {
            data_cell_filters: DataCellFilters {
                enabled,
                drop_existing: df.bool("drop_existing", false).map_err(p)?,
                filters,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_column_options_are_refused() {
        let v = json!({"data_cell_filters": {"enabled": true, "filters": {"f": {"row_filter": "x > 1",
            "principals": ["arn:aws:iam::1:user/u"], "column_names": ["a"], "excluded_column_names": ["b"]}}}});
        let e = LfGrants::from_json(v.as_object().unwrap()).unwrap_err();
        assert_eq!(e.field, "lf_grants.data_cell_filters.filters.f.column_names");
    }

    #[test]
    fn a_column_with_two_values_of_one_key_is_refused() {
        let v = json!({"enabled": true, "tags_columns": {"level": {"pii": ["email"], "public": ["id", "EMAIL"]}}});
        let e = LfTagsConfig::from_config(&v).unwrap_err();
        assert_eq!(e.field, "lf_tags_config.tags_columns.level");
        assert!(e.to_string().contains("column `EMAIL` is given two values"), "{e}");
    }

    #[test]
    fn a_blank_row_filter_means_every_row() {
        let v = json!({"data_cell_filters": {"enabled": true, "filters": {"f": {"row_filter": " ",
            "principals": ["arn:aws:iam::1:user/u"]}}}});
        let g = LfGrants::from_config(&v).unwrap();
        assert_eq!(g.data_cell_filters.filters["f"].row_filter, None);
        assert_eq!(g.data_cell_filters.filters["f"].columns, FilterColumns::All);
    }

    #[test]
    fn tags() {
        let v = json!({"enabled": "True", "tags_table": {"k": "v"}, "tags_columns": {"k": {"v": ["a", "b"]}}});
        let c = LfTagsConfig::from_json(v.as_object().unwrap()).unwrap();
        assert!(c.enabled);
        assert_eq!(c.tags_columns["k"]["v"], vec!["a", "b"]);
    }
}
