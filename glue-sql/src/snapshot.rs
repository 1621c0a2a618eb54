//! Snapshot (SCD type 2) statements: the first build, the staging query that decides which rows change, and the
//! merge that applies it. The SQL follows dbt-core's snapshot macros (timestamp and check strategies, `hard_deletes`
//! ignore / invalidate / new_record, `dbt_valid_to_current`) with dbt-glue's Spark specifics (md5 hash of
//! `coalesce(cast(… as string), '')` parts joined by `'|'`, `current_timestamp()` as the snapshot time).

use crate::dml::{DEST_ALIAS, MatchedAction, MergeClause, MergeInto, NotMatchedAction, SOURCE_ALIAS, Source};
use crate::{Ident, RelationName, SqlFragment, quote_ident};

/// The meta column names (dbt's `snapshot_meta_column_names`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MetaColumns {
    /// `dbt_valid_from`.
    pub dbt_valid_from: Ident,
    /// `dbt_valid_to`.
    pub dbt_valid_to: Ident,
    /// `dbt_scd_id`.
    pub dbt_scd_id: Ident,
    /// `dbt_updated_at`.
    pub dbt_updated_at: Ident,
    /// `dbt_is_deleted` (hard_deletes = new_record).
    pub dbt_is_deleted: Ident,
}

impl Default for MetaColumns {
    fn default() -> Self {
        let i = |s: &str| Ident::new(s).expect("static name");
        Self {
            dbt_valid_from: i("dbt_valid_from"),
            dbt_valid_to: i("dbt_valid_to"),
            dbt_scd_id: i("dbt_scd_id"),
            dbt_updated_at: i("dbt_updated_at"),
            dbt_is_deleted: i("dbt_is_deleted"),
        }
    }
}

/// One part of a snapshot's unique key: a column, or (as dbt allows) an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyPart {
    /// A column name.
    Column(Ident),
    /// A SQL expression over the source's columns.
    Expr(SqlFragment),
}

impl KeyPart {
    /// A column when the text is a plain identifier, else an expression.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let plain = t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && t.chars().all(|c| c.is_alphanumeric() || c == '_');
        Some(if plain {
            Self::Column(Ident::new(t).ok()?)
        } else {
            Self::Expr(SqlFragment::new(t))
        })
    }

    fn to_sql(&self) -> String {
        match self {
            Self::Column(c) => c.quoted(),
            Self::Expr(e) => format!("({})", e.trimmed()),
        }
    }
}

/// How changed rows are detected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ChangeDetection {
    /// `timestamp`: a row changed when its `updated_at` is newer than the snapshot's `dbt_valid_from`.
    Timestamp {
        /// The updated-at column or expression.
        updated_at: SqlFragment,
    },
    /// `check`: a row changed when any of these columns differs (NULL-aware).
    Check {
        /// Columns compared (for `check_cols: all`, the source's columns minus the key, resolved before rendering).
        columns: Vec<Ident>,
        /// `updated_at` to stamp rows with; `current_timestamp()` when absent.
        updated_at: Option<SqlFragment>,
    },
}

/// What happens to rows that disappear from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum HardDeletes {
    /// Keep them current.
    Ignore,
    /// Close them (`dbt_valid_to` = now).
    Invalidate,
    /// Close them and add a row with `dbt_is_deleted = 'True'`.
    NewRecord,
}

/// Everything the snapshot statements need.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SnapshotSql {
    /// The unique key (one or more parts).
    pub unique_key: Vec<KeyPart>,
    /// The strategy.
    pub detection: ChangeDetection,
    /// Hard-delete handling.
    pub hard_deletes: HardDeletes,
    /// `dbt_valid_to_current`: the value of `dbt_valid_to` for current rows (NULL when absent).
    pub valid_to_current: Option<SqlFragment>,
    /// Meta column names.
    pub columns: MetaColumns,
}

const NOW: &str = "current_timestamp()";

impl SnapshotSql {
    fn updated_at(&self) -> String {
        match &self.detection {
            ChangeDetection::Timestamp { updated_at } => format!("({})", updated_at.trimmed()),
            ChangeDetection::Check {
                updated_at: Some(u), ..
            } => format!("({})", u.trimmed()),
            ChangeDetection::Check { updated_at: None, .. } => NOW.to_string(),
        }
    }

    fn scd_id(&self) -> String {
        let mut parts: Vec<String> = self.unique_key.iter().map(KeyPart::to_sql).collect();
        parts.push(self.updated_at());
        let hashed: Vec<String> = parts
            .iter()
            .map(|p| format!("coalesce(cast({p} as string), '')"))
            .collect();
        format!("md5({})", hashed.join(" || '|' || "))
    }

    fn key_names(&self) -> Vec<String> {
        if self.unique_key.len() == 1 {
            vec![quote_ident("dbt_unique_key")]
        } else {
            (1..=self.unique_key.len())
                .map(|i| quote_ident(&format!("dbt_unique_key_{i}")))
                .collect()
        }
    }

    fn key_fields(&self) -> String {
        self.unique_key
            .iter()
            .zip(self.key_names())
            .map(|(k, n)| format!("{} AS {n}", k.to_sql()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn key_join(&self, left: &str, right: &str) -> String {
        self.key_names()
            .iter()
            .map(|n| format!("{left}.{n} = {right}.{n}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn key_is_null(&self, rel: &str) -> String {
        format!("{rel}.{} IS NULL", self.key_names()[0])
    }

    fn valid_to_current(&self) -> String {
        self.valid_to_current
            .as_ref()
            .map(|v| format!("({})", v.trimmed()))
            .unwrap_or_else(|| "NULL".into())
    }

    /// `dbt_valid_to IS NULL` (or equal to `dbt_valid_to_current`), qualified with `rel` when given.
    fn current_filter(&self, rel: Option<&str>) -> String {
        let vt = match rel {
            Some(r) => format!("{r}.{}", self.columns.dbt_valid_to),
            None => self.columns.dbt_valid_to.quoted(),
        };
        match &self.valid_to_current {
            Some(v) => format!("({vt} = ({}) OR {vt} IS NULL)", v.trimmed()),
            None => format!("{vt} IS NULL"),
        }
    }

    fn row_changed(&self) -> String {
        match &self.detection {
            // The staging rows carry the updated-at value as `dbt_updated_at`, so expressions work too.
            ChangeDetection::Timestamp { .. } => format!(
                "(snapshotted_data.{} < source_data.{})",
                self.columns.dbt_valid_from, self.columns.dbt_updated_at
            ),
            ChangeDetection::Check { columns, .. } => {
                if columns.is_empty() {
                    return "FALSE".into();
                }
                let parts: Vec<String> = columns
                    .iter()
                    .map(|c| {
                        format!(
                            "snapshotted_data.{c} != source_data.{c} OR \
                             (snapshotted_data.{c} IS NULL) != (source_data.{c} IS NULL)"
                        )
                    })
                    .collect();
                format!("({})", parts.join("\n      OR "))
            }
        }
    }

    /// The SELECT of the first build: the source with `dbt_scd_id`, `dbt_updated_at`, `dbt_valid_from`,
    /// `dbt_valid_to` (and `dbt_is_deleted` for new_record).
    pub fn build_select(&self, source: &SqlFragment) -> String {
        let c = &self.columns;
        let u = self.updated_at();
        let mut s = format!(
            "SELECT *,\n  {} AS {},\n  {u} AS {},\n  {u} AS {},\n  coalesce(nullif({u}, {u}), {}) AS {}",
            self.scd_id(),
            c.dbt_scd_id,
            c.dbt_updated_at,
            c.dbt_valid_from,
            self.valid_to_current(),
            c.dbt_valid_to
        );
        if self.hard_deletes == HardDeletes::NewRecord {
            s.push_str(&format!(",\n  'False' AS {}", c.dbt_is_deleted));
        }
        s.push_str(&format!("\nFROM (\n{}\n) AS sbq", source.trimmed()));
        s
    }

    /// The staging SELECT: one row per change (`dbt_change_type` insert / update / delete) between the source and
    /// the current snapshot rows of `target`. `source_columns` is needed only for `hard_deletes: new_record` (the
    /// columns copied into the deletion records).
    pub fn staging_select(&self, source: &SqlFragment, target: &RelationName, source_columns: &[Ident]) -> String {
        let c = &self.columns;
        let u = self.updated_at();
        let keys = self.key_fields();
        let deletes = self.hard_deletes != HardDeletes::Ignore;
        let new_record = self.hard_deletes == HardDeletes::NewRecord;
        let join = self.key_join("snapshotted_data", "source_data");
        let mut s = String::new();
        s.push_str(&format!("WITH snapshot_query AS (\n{}\n),\n", source.trimmed()));
        s.push_str(&format!(
            "snapshotted_data AS (\n  SELECT *, {keys}\n  FROM {target}\n  WHERE {}\n),\n",
            self.current_filter(None)
        ));
        s.push_str(&format!(
            "insertions_source_data AS (\n  SELECT *, {keys},\n    {u} AS {},\n    {u} AS {},\n    \
             coalesce(nullif({u}, {u}), {}) AS {},\n    {} AS {}\n  FROM snapshot_query\n),\n",
            c.dbt_updated_at,
            c.dbt_valid_from,
            self.valid_to_current(),
            c.dbt_valid_to,
            self.scd_id(),
            c.dbt_scd_id
        ));
        s.push_str(&format!(
            "updates_source_data AS (\n  SELECT *, {keys},\n    {u} AS {},\n    {u} AS {},\n    {u} AS {}\n  \
             FROM snapshot_query\n),\n",
            c.dbt_updated_at, c.dbt_valid_from, c.dbt_valid_to
        ));
        if deletes {
            s.push_str(&format!(
                "deletes_source_data AS (\n  SELECT *, {keys}\n  FROM snapshot_query\n),\n"
            ));
        }
        let is_deleted_true = format!("snapshotted_data.{} = 'True'", c.dbt_is_deleted);
        s.push_str(&format!(
            "insertions AS (\n  SELECT 'insert' AS dbt_change_type, source_data.*{}\n  \
             FROM insertions_source_data AS source_data\n  LEFT OUTER JOIN snapshotted_data ON {join}\n  \
             WHERE {}\n     OR (NOT {} AND ({}{}))\n),\n",
            if new_record {
                format!(", 'False' AS {}", c.dbt_is_deleted)
            } else {
                String::new()
            },
            self.key_is_null("snapshotted_data"),
            self.key_is_null("snapshotted_data"),
            self.row_changed(),
            if new_record {
                format!(" OR {is_deleted_true}")
            } else {
                String::new()
            },
        ));
        s.push_str(&format!(
            "updates AS (\n  SELECT 'update' AS dbt_change_type, source_data.*, snapshotted_data.{}{}\n  \
             FROM updates_source_data AS source_data\n  JOIN snapshotted_data ON {join}\n  WHERE ({}){}\n)",
            c.dbt_scd_id,
            if new_record {
                format!(", snapshotted_data.{}", c.dbt_is_deleted)
            } else {
                String::new()
            },
            self.row_changed(),
            if new_record {
                format!(" OR {is_deleted_true}")
            } else {
                String::new()
            },
        ));
        let not_already_deleted = format!(
            " AND NOT ({is_deleted_true} AND snapshotted_data.{} IS NULL)",
            c.dbt_valid_to
        );
        if deletes {
            s.push_str(&format!(
                ",\ndeletes AS (\n  SELECT 'delete' AS dbt_change_type, source_data.*,\n    {NOW} AS {},\n    \
                 {NOW} AS {},\n    {NOW} AS {},\n    snapshotted_data.{}{}\n  FROM snapshotted_data\n  \
                 LEFT JOIN deletes_source_data AS source_data ON {join}\n  WHERE {}{}\n)",
                c.dbt_valid_from,
                c.dbt_updated_at,
                c.dbt_valid_to,
                c.dbt_scd_id,
                if new_record {
                    format!(", snapshotted_data.{}", c.dbt_is_deleted)
                } else {
                    String::new()
                },
                self.key_is_null("source_data"),
                if new_record {
                    not_already_deleted.clone()
                } else {
                    String::new()
                },
            ));
        }
        if new_record {
            let copied: Vec<String> = source_columns
                .iter()
                .map(|col| format!("snapshotted_data.{col}"))
                .collect();
            let keys_again: Vec<String> = self
                .key_names()
                .iter()
                .map(|n| format!("snapshotted_data.{n}"))
                .collect();
            let mut scd_parts: Vec<String> = keys_again.clone();
            scd_parts.push(NOW.to_string());
            let scd = scd_parts
                .iter()
                .map(|p| format!("coalesce(cast({p} as string), '')"))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            s.push_str(&format!(
                ",\ndeletion_records AS (\n  SELECT 'insert' AS dbt_change_type,\n    {}{}{},\n    {NOW} AS {},\n    \
                 {NOW} AS {},\n    {} AS {},\n    md5({scd}) AS {},\n    'True' AS {}\n  FROM snapshotted_data\n  \
                 LEFT JOIN deletes_source_data AS source_data ON {join}\n  WHERE {}{}\n)",
                copied.join(", "),
                if copied.is_empty() { "" } else { ", " },
                keys_again.join(", "),
                c.dbt_valid_from,
                c.dbt_updated_at,
                self.valid_to_current(),
                c.dbt_valid_to,
                c.dbt_scd_id,
                c.dbt_is_deleted,
                self.key_is_null("source_data"),
                not_already_deleted,
            ));
        }
        s.push_str("\nSELECT * FROM insertions\nUNION ALL\nSELECT * FROM updates");
        if deletes {
            s.push_str("\nUNION ALL\nSELECT * FROM deletes");
        }
        if new_record {
            s.push_str("\nUNION ALL\nSELECT * FROM deletion_records");
        }
        s
    }

    /// The merge applying a staging relation to the snapshot table: close changed rows, insert new versions.
    /// `insert_columns` are the target's columns (empty renders `INSERT *`).
    pub fn merge(&self, target: RelationName, staging: RelationName, insert_columns: Vec<Ident>) -> MergeInto {
        let c = &self.columns;
        let current = self.current_filter(Some(DEST_ALIAS));
        let matched = format!("{current}\n  AND {SOURCE_ALIAS}.dbt_change_type IN ('update', 'delete')");
        let insert = if insert_columns.is_empty() {
            NotMatchedAction::InsertAll
        } else {
            NotMatchedAction::InsertColumns(insert_columns)
        };
        let mut m = MergeInto::upsert(target, Source::Relation(staging), vec![]);
        m.keys = vec![c.dbt_scd_id.clone()];
        m.clauses = vec![
            MergeClause::Matched(
                Some(SqlFragment::new(matched)),
                MatchedAction::UpdateColumns(vec![c.dbt_valid_to.clone()]),
            ),
            MergeClause::NotMatched(
                Some(SqlFragment::new(format!("{SOURCE_ALIAS}.dbt_change_type = 'insert'"))),
                insert,
            ),
        ];
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hd: HardDeletes) -> SnapshotSql {
        SnapshotSql {
            unique_key: vec![KeyPart::parse("id").unwrap()],
            detection: ChangeDetection::Timestamp {
                updated_at: "updated_at".into(),
            },
            hard_deletes: hd,
            valid_to_current: None,
            columns: MetaColumns::default(),
        }
    }

    #[test]
    fn build_select_adds_meta_columns() {
        let s = spec(HardDeletes::Ignore).build_select(&"select * from src".into());
        assert!(
            s.contains("md5(coalesce(cast(`id` as string), '') || '|' || coalesce(cast((updated_at) as string), ''))")
        );
        assert!(s.contains("AS `dbt_valid_to`"));
    }

    #[test]
    fn staging_has_deletes_only_when_asked() {
        let t = RelationName::new("s", "snap").unwrap();
        let src: SqlFragment = "select * from src".into();
        assert!(
            !spec(HardDeletes::Ignore)
                .staging_select(&src, &t, &[])
                .contains("deletes AS")
        );
        assert!(
            spec(HardDeletes::Invalidate)
                .staging_select(&src, &t, &[])
                .contains("deletes AS")
        );
        let nr = spec(HardDeletes::NewRecord).staging_select(&src, &t, &[Ident::new("id").unwrap()]);
        assert!(nr.contains("deletion_records AS"));
    }

    #[test]
    fn key_expressions() {
        assert_eq!(KeyPart::parse("id"), Some(KeyPart::Column(Ident::new("id").unwrap())));
        assert!(matches!(KeyPart::parse("id || '-' || dt"), Some(KeyPart::Expr(_))));
    }
}
