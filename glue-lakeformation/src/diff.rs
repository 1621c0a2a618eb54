//! The typed difference between a model's Lake Formation config and what Lake Formation holds, computed without
//! calling anything ([`Diff::compute`]), printed by `glue plan` and applied by [`crate::LakeFormation::apply`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use glue_materialize::lakeformation::{FilterColumns, LfGrants, LfTagsConfig};

use crate::state::{Current, Tags, normal_columns, normal_row_filter};
use crate::table::TableRef;

/// Where LF-tags go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagResource {
    /// The table's database.
    Database,
    /// The table.
    Table,
    /// These columns of the table (lower case, sorted).
    Columns(Vec<String>),
}

/// Whether tags are assigned or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagAction {
    /// Removed first (only with `drop_existing`).
    Remove,
    /// Assigned (an assigned key with another value gets the new one).
    Add,
}

/// One `AddLFTagsToResource` / `RemoveLFTagsFromResource` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagChange {
    /// Add or remove.
    pub action: TagAction,
    /// On what.
    pub on: TagResource,
    /// The tags: key → value.
    pub tags: Tags,
}

/// A data-cell filter's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    /// The row filter; `None`: every row.
    pub row_filter: Option<String>,
    /// The columns it shows.
    pub columns: FilterColumns,
}

/// A change of one data-cell filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterChange {
    /// Deleted (`drop_existing` and not in the config). Lake Formation drops the grants on it with it.
    Delete {
        /// Its name.
        name: String,
    },
    /// Created.
    Create {
        /// Its name.
        name: String,
        /// Its definition.
        spec: FilterSpec,
    },
    /// Changed in place (its grants stay).
    Update {
        /// Its name.
        name: String,
        /// What it is now.
        from: FilterSpec,
        /// What it becomes.
        to: FilterSpec,
        /// The version read, so a concurrent change fails the update instead of being overwritten.
        version_id: Option<String>,
    },
}

/// A change of who may read through a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantChange {
    /// `SELECT` granted (no grant option).
    Grant {
        /// The filter.
        filter: String,
        /// The principal.
        principal: String,
    },
    /// Everything the principal holds on the filter revoked (it is not in the filter's `principals`).
    Revoke {
        /// The filter.
        filter: String,
        /// The principal.
        principal: String,
        /// Its permissions.
        permissions: Vec<String>,
        /// Its grant options.
        grantable: Vec<String>,
    },
}

/// What a reconcile changes, in the order it is applied: tags (removals first), filters (deletions, creations,
/// updates), then revocations and grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// The table.
    pub table: TableRef,
    /// Tag calls.
    pub tags: Vec<TagChange>,
    /// Filter calls.
    pub filters: Vec<FilterChange>,
    /// Permission entries (sent in batches).
    pub grants: Vec<GrantChange>,
}

impl Diff {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.filters.is_empty() && self.grants.is_empty()
    }

    /// The changes that make `current` equal to the config. Only enabled parts of the config count; `drop_existing`
    /// removes what the config lacks (database tags only when `tags_database` is set: other models share the
    /// database). Tag keys, values and column names compare in lower case, as Lake Formation stores them.
    pub fn compute(
        table: &TableRef,
        tags: Option<&LfTagsConfig>,
        grants: Option<&LfGrants>,
        current: &Current,
    ) -> Diff {
        let mut diff = Diff {
            table: table.clone(),
            tags: Vec::new(),
            filters: Vec::new(),
            grants: Vec::new(),
        };
        if let Some(cfg) = tags.filter(|t| t.enabled) {
            diff.tags = tag_changes(cfg, current);
        }
        if let Some(cfg) = grants.map(|g| &g.data_cell_filters).filter(|f| f.enabled) {
            let none = BTreeMap::new();
            let existing = current.filters.as_ref().unwrap_or(&none);
            if cfg.drop_existing {
                for name in existing.keys().filter(|n| !cfg.filters.contains_key(*n)) {
                    diff.filters.push(FilterChange::Delete { name: name.clone() });
                }
            }
            for (name, want) in &cfg.filters {
                let to = FilterSpec {
                    row_filter: normal_row_filter(want.row_filter.as_deref()),
                    columns: normal_columns(&want.columns),
                };
                match existing.get(name) {
                    None => diff.filters.push(FilterChange::Create {
                        name: name.clone(),
                        spec: to,
                    }),
                    Some(have) => {
                        let from = FilterSpec {
                            row_filter: normal_row_filter(have.row_filter.as_deref()),
                            columns: normal_columns(&have.columns),
                        };
                        if from != to {
                            diff.filters.push(FilterChange::Update {
                                name: name.clone(),
                                from,
                                to,
                                version_id: have.version_id.clone(),
                            });
                        }
                    }
                }
            }
            let mut grants = Vec::new();
            for (name, want) in &cfg.filters {
                let holders = current.holders.get(name).map(Vec::as_slice).unwrap_or_default();
                let wanted: BTreeSet<&str> = want.principals.iter().map(String::as_str).collect();
                for h in holders.iter().filter(|h| !wanted.contains(h.principal.as_str())) {
                    diff.grants.push(GrantChange::Revoke {
                        filter: name.clone(),
                        principal: h.principal.clone(),
                        permissions: h.permissions.iter().cloned().collect(),
                        grantable: h.grantable.iter().cloned().collect(),
                    });
                }
                for p in &wanted {
                    let holds = holders
                        .iter()
                        .any(|h| h.principal == *p && h.permissions.contains("SELECT"));
                    if !holds {
                        grants.push(GrantChange::Grant {
                            filter: name.clone(),
                            principal: p.to_string(),
                        });
                    }
                }
            }
            diff.grants.extend(grants);
        }
        diff
    }
}

fn lower(m: &std::collections::BTreeMap<String, String>) -> Tags {
    m.iter().map(|(k, v)| (k.to_lowercase(), v.to_lowercase())).collect()
}

/// Changes of one resource's own tags: removals (keys the config lacks, with `drop_existing`) and additions (keys
/// missing or with another value).
fn resource_changes(on: TagResource, want: &Tags, have: &Tags, drop_existing: bool, out: &mut Vec<TagChange>) {
    if drop_existing {
        let gone: Tags = have
            .iter()
            .filter(|(k, _)| !want.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !gone.is_empty() {
            out.push(TagChange {
                action: TagAction::Remove,
                on: on.clone(),
                tags: gone,
            });
        }
    }
    let add: Tags = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !add.is_empty() {
        out.push(TagChange {
            action: TagAction::Add,
            on,
            tags: add,
        });
    }
}

fn tag_changes(cfg: &LfTagsConfig, current: &Current) -> Vec<TagChange> {
    let empty = Tags::new();
    let mut out = Vec::new();
    if !cfg.tags_database.is_empty() {
        let have = current.database_tags.as_ref().unwrap_or(&empty);
        resource_changes(
            TagResource::Database,
            &lower(&cfg.tags_database),
            have,
            cfg.drop_existing,
            &mut out,
        );
    }
    let have = current.table_tags.as_ref().unwrap_or(&empty);
    resource_changes(
        TagResource::Table,
        &lower(&cfg.tags_table),
        have,
        cfg.drop_existing,
        &mut out,
    );
    // Columns: what each column should carry, then one call per (action, key, value) over the columns concerned.
    let mut want: BTreeMap<String, Tags> = BTreeMap::new();
    for (key, per_value) in &cfg.tags_columns {
        for (value, columns) in per_value {
            for c in columns {
                want.entry(c.to_lowercase())
                    .or_default()
                    .insert(key.to_lowercase(), value.to_lowercase());
            }
        }
    }
    let mut calls: BTreeMap<(TagAction, String, String), BTreeSet<String>> = BTreeMap::new();
    for (column, tags) in &want {
        let have = current.column_tags.get(column).unwrap_or(&empty);
        for (k, v) in tags.iter().filter(|(k, v)| have.get(*k) != Some(*v)) {
            calls
                .entry((TagAction::Add, k.clone(), v.clone()))
                .or_default()
                .insert(column.clone());
        }
    }
    if cfg.drop_existing {
        for (column, have) in &current.column_tags {
            let wanted = want.get(column).unwrap_or(&empty);
            for (k, v) in have.iter().filter(|(k, _)| !wanted.contains_key(*k)) {
                calls
                    .entry((TagAction::Remove, k.clone(), v.clone()))
                    .or_default()
                    .insert(column.clone());
            }
        }
    }
    // BTreeMap order puts removals (TagAction::Remove < Add) first.
    for ((action, k, v), columns) in calls {
        out.push(TagChange {
            action,
            on: TagResource::Columns(columns.into_iter().collect()),
            tags: [(k, v)].into_iter().collect(),
        });
    }
    out.sort_by_key(|c| c.action);
    out
}

impl fmt::Display for TagResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagResource::Database => f.write_str("database"),
            TagResource::Table => f.write_str("table"),
            TagResource::Columns(c) => write!(f, "columns [{}]", c.join(", ")),
        }
    }
}

impl fmt::Display for FilterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.row_filter {
            Some(r) => write!(f, "rows where {r}")?,
            None => f.write_str("all rows")?,
        }
        match &self.columns {
            FilterColumns::All => f.write_str(", all columns"),
            FilterColumns::Only(c) => write!(f, ", columns [{}]", c.join(", ")),
            FilterColumns::Excluding(c) => write!(f, ", all columns but [{}]", c.join(", ")),
        }
    }
}

fn pairs(t: &Tags) -> String {
    t.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Diff {
    /// One line per change (`+` add/create/grant, `-` remove/delete/revoke, `~` update), or `no change`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lake formation {}:", self.table)?;
        if self.is_empty() {
            return f.write_str(" no change");
        }
        for t in &self.tags {
            let sign = if t.action == TagAction::Add { '+' } else { '-' };
            write!(f, "\n  {sign} LF-tags {} on {}", pairs(&t.tags), t.on)?;
        }
        for c in &self.filters {
            match c {
                FilterChange::Delete { name } => write!(f, "\n  - data-cell filter {name}")?,
                FilterChange::Create { name, spec } => write!(f, "\n  + data-cell filter {name}: {spec}")?,
                FilterChange::Update { name, from, to, .. } => {
                    write!(f, "\n  ~ data-cell filter {name}: {from} -> {to}")?
                }
            }
        }
        for g in &self.grants {
            match g {
                GrantChange::Grant { filter, principal } => {
                    write!(f, "\n  + grant SELECT on filter {filter} to {principal}")?
                }
                GrantChange::Revoke {
                    filter,
                    principal,
                    permissions,
                    ..
                } => write!(
                    f,
                    "\n  - revoke {} on filter {filter} from {principal}",
                    permissions.join(", ")
                )?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{CurrentFilter, Holder};
    use serde_json::json;

    fn table() -> TableRef {
        TableRef::new("123456789012", "sales", "customers")
    }

    fn tags_cfg(v: serde_json::Value) -> LfTagsConfig {
        LfTagsConfig::from_config(&v).unwrap()
    }

    fn grants_cfg(v: serde_json::Value) -> LfGrants {
        LfGrants::from_config(&json!({"data_cell_filters": v})).unwrap()
    }

    fn t(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tags_are_added_where_missing_or_different_and_kept_without_drop_existing() {
        let cfg = tags_cfg(json!({"enabled": true, "tags_database": {"Domain": "Sales"},
            "tags_table": {"level": "public", "owner": "bi"},
            "tags_columns": {"level": {"pii": ["email", "Phone"], "public": ["id"]}}}));
        let current = Current {
            database_tags: Some(t(&[("domain", "sales"), ("other", "x")])),
            table_tags: Some(t(&[("level", "pii"), ("legacy", "y")])),
            column_tags: [("email".to_string(), t(&[("level", "pii")]))].into_iter().collect(),
            ..Current::default()
        };
        let d = Diff::compute(&table(), Some(&cfg), None, &current);
        assert_eq!(
            d.tags,
            vec![
                TagChange {
                    action: TagAction::Add,
                    on: TagResource::Table,
                    tags: t(&[("level", "public"), ("owner", "bi")]),
                },
                TagChange {
                    action: TagAction::Add,
                    on: TagResource::Columns(vec!["phone".into()]),
                    tags: t(&[("level", "pii")]),
                },
                TagChange {
                    action: TagAction::Add,
                    on: TagResource::Columns(vec!["id".into()]),
                    tags: t(&[("level", "public")]),
                },
            ]
        );
    }

    #[test]
    fn drop_existing_removes_only_what_the_config_lacks() {
        let cfg = tags_cfg(
            json!({"enabled": true, "drop_existing": true, "tags_database": {"domain": "sales"},
            "tags_table": {"level": "public"}, "tags_columns": {"level": {"pii": ["email"]}}}),
        );
        let current = Current {
            database_tags: Some(t(&[("domain", "sales"), ("other", "x")])),
            table_tags: Some(t(&[("level", "public"), ("legacy", "y")])),
            column_tags: [
                ("email".to_string(), t(&[("level", "pii"), ("legacy", "z")])),
                ("name".to_string(), t(&[("level", "pii")])),
            ]
            .into_iter()
            .collect(),
            ..Current::default()
        };
        let d = Diff::compute(&table(), Some(&cfg), None, &current);
        let lines = d.to_string();
        assert_eq!(
            lines,
            "lake formation sales.customers (catalog 123456789012):\n  \
             - LF-tags other=x on database\n  \
             - LF-tags legacy=y on table\n  \
             - LF-tags legacy=z on columns [email]\n  \
             - LF-tags level=pii on columns [name]"
        );
    }

    #[test]
    fn database_tags_are_left_alone_when_the_model_sets_none() {
        let cfg = tags_cfg(json!({"enabled": true, "drop_existing": true, "tags_table": {"level": "public"}}));
        let current = Current {
            database_tags: Some(t(&[("domain", "sales")])),
            table_tags: Some(t(&[("level", "public")])),
            ..Current::default()
        };
        assert!(Diff::compute(&table(), Some(&cfg), None, &current).is_empty());
    }

    #[test]
    fn filters_are_created_updated_and_deleted_and_principals_reconciled() {
        let cfg = grants_cfg(json!({"enabled": true, "drop_existing": true, "filters": {
            "new_one": {"row_filter": "x > 1", "principals": ["arn:p1"]},
            "changed": {"row_filter": "x > 2", "principals": ["arn:p1", "arn:p2"], "column_names": ["B", "a"]},
            "same": {"principals": ["arn:p1"], "excluded_column_names": ["secret"]}}}));
        let filter = |row: Option<&str>, columns: FilterColumns| CurrentFilter {
            row_filter: row.map(str::to_string),
            columns,
            version_id: Some("v1".into()),
        };
        let holder = |p: &str, perms: &[&str]| Holder {
            principal: p.into(),
            permissions: perms.iter().map(|s| s.to_string()).collect(),
            grantable: BTreeSet::new(),
        };
        let current = Current {
            filters: Some(
                [
                    (
                        "changed".to_string(),
                        filter(Some("x > 1"), FilterColumns::Only(vec!["a".into(), "b".into()])),
                    ),
                    (
                        "same".to_string(),
                        filter(None, FilterColumns::Excluding(vec!["secret".into()])),
                    ),
                    ("stale".to_string(), filter(None, FilterColumns::All)),
                ]
                .into_iter()
                .collect(),
            ),
            holders: [
                (
                    "changed".to_string(),
                    vec![
                        holder("arn:p1", &["SELECT"]),
                        holder("arn:old", &["SELECT", "DESCRIBE"]),
                    ],
                ),
                ("same".to_string(), vec![holder("arn:p1", &["SELECT"])]),
            ]
            .into_iter()
            .collect(),
            ..Current::default()
        };
        let d = Diff::compute(&table(), None, Some(&cfg), &current);
        assert_eq!(
            d.to_string(),
            "lake formation sales.customers (catalog 123456789012):\n  \
             - data-cell filter stale\n  \
             ~ data-cell filter changed: rows where x > 1, columns [a, b] -> rows where x > 2, columns [a, b]\n  \
             + data-cell filter new_one: rows where x > 1, all columns\n  \
             - revoke DESCRIBE, SELECT on filter changed from arn:old\n  \
             + grant SELECT on filter changed to arn:p2\n  \
             + grant SELECT on filter new_one to arn:p1"
        );
        assert!(matches!(&d.filters[1], FilterChange::Update { version_id: Some(v), .. } if v == "v1"));
    }

    #[test]
    fn without_drop_existing_other_filters_stay_and_disabled_parts_change_nothing() {
        let cfg = grants_cfg(json!({"enabled": true, "filters": {"f": {"principals": ["arn:p1"]}}}));
        let current = Current {
            filters: Some(
                [(
                    "other".to_string(),
                    CurrentFilter {
                        row_filter: None,
                        columns: FilterColumns::All,
                        version_id: None,
                    },
                )]
                .into_iter()
                .collect(),
            ),
            ..Current::default()
        };
        let d = Diff::compute(&table(), None, Some(&cfg), &current);
        assert_eq!(d.filters.len(), 1);
        assert!(matches!(&d.filters[0], FilterChange::Create { name, .. } if name == "f"));
        let off = grants_cfg(json!({"enabled": false, "filters": {"f": {"principals": ["arn:p1"]}}}));
        let tags_off = tags_cfg(json!({"enabled": false, "tags_table": {"k": "v"}}));
        assert!(Diff::compute(&table(), Some(&tags_off), Some(&off), &current).is_empty());
    }
}
