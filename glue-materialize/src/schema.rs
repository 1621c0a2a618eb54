//! `on_schema_change`: the difference between the new rows' columns and the table's, and the ALTERs that apply it.
//! Pure: engines describe both relations and call [`schema_change`].

use glue_sql::RelationName;
use glue_sql::ddl::AlterTable;
use glue_sql::types::ColumnDef;
use thiserror::Error;

use crate::choices::{FileFormat, OnSchemaChange};

/// How the source's columns differ from the target's (names compared case-insensitively, as Spark does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaDiff {
    /// In the source, not in the target.
    pub added: Vec<ColumnDef>,
    /// In the target, not in the source.
    pub removed: Vec<ColumnDef>,
    /// In both with another type: (target, source).
    pub retyped: Vec<(ColumnDef, ColumnDef)>,
}

impl SchemaDiff {
    /// Compares; source columns starting with `ignore_prefix` are left out (snapshot meta columns).
    pub fn between(source: &[ColumnDef], target: &[ColumnDef], ignore_prefix: Option<&str>) -> Self {
        let key = |c: &ColumnDef| c.name.as_str().to_lowercase();
        let ignored = |c: &ColumnDef| ignore_prefix.is_some_and(|p| key(c).starts_with(&p.to_lowercase()));
        let mut d = Self::default();
        for s in source.iter().filter(|c| !ignored(c)) {
            match target.iter().find(|t| key(t) == key(s)) {
                None => d.added.push(s.clone()),
                Some(t) if !t.data_type.as_str().eq_ignore_ascii_case(s.data_type.as_str()) => {
                    d.retyped.push((t.clone(), s.clone()))
                }
                Some(_) => {}
            }
        }
        if ignore_prefix.is_none() {
            d.removed = target
                .iter()
                .filter(|t| !source.iter().any(|s| key(s) == key(t)))
                .cloned()
                .collect();
        }
        d
    }

    /// True when the columns are the same.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.retyped.is_empty()
    }

    fn describe(&self) -> String {
        let names = |cs: &[ColumnDef]| cs.iter().map(|c| c.to_sql()).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!("new columns: {}", names(&self.added)));
        }
        if !self.removed.is_empty() {
            parts.push(format!("missing columns: {}", names(&self.removed)));
        }
        if !self.retyped.is_empty() {
            let r: Vec<String> = self
                .retyped
                .iter()
                .map(|(t, s)| format!("{} {} -> {}", t.name, t.data_type, s.data_type))
                .collect();
            parts.push(format!("changed types: {}", r.join(", ")));
        }
        parts.join("; ")
    }
}

/// A schema change that the mode or the format does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SchemaChangeError {
    /// `on_schema_change: fail` and the columns differ.
    #[error("the columns of {target} changed and on_schema_change is `fail`: {diff}")]
    Changed {
        /// The table.
        target: String,
        /// What differs.
        diff: String,
    },
    /// The format cannot do what the mode asks.
    #[error("{format} tables cannot {what} ({target}: {diff}); rebuild with --full-refresh")]
    Unsupported {
        /// The format.
        format: FileFormat,
        /// What it cannot do.
        what: &'static str,
        /// The table.
        target: String,
        /// What differs.
        diff: String,
    },
}

/// The ALTER statements that apply `mode` to `target`, or why it cannot be done.
pub fn schema_change(
    target: &RelationName,
    diff: &SchemaDiff,
    mode: OnSchemaChange,
    format: FileFormat,
) -> Result<Vec<AlterTable>, SchemaChangeError> {
    if diff.is_empty() || mode == OnSchemaChange::Ignore {
        return Ok(Vec::new());
    }
    let unsupported = |what| SchemaChangeError::Unsupported {
        format,
        what,
        target: target.to_string(),
        diff: diff.describe(),
    };
    let mut out = Vec::new();
    match mode {
        OnSchemaChange::Ignore => {}
        OnSchemaChange::Fail => {
            return Err(SchemaChangeError::Changed {
                target: target.to_string(),
                diff: diff.describe(),
            });
        }
        OnSchemaChange::AppendNewColumns | OnSchemaChange::SyncAllColumns => {
            if !diff.added.is_empty() {
                if !format.can_add_columns() {
                    return Err(unsupported("add columns"));
                }
                out.push(AlterTable::AddColumns(target.clone(), diff.added.clone()));
            }
            if mode == OnSchemaChange::SyncAllColumns {
                if !diff.removed.is_empty() {
                    if !format.can_drop_columns() {
                        return Err(unsupported("drop columns"));
                    }
                    out.push(AlterTable::DropColumns(
                        target.clone(),
                        diff.removed.iter().map(|c| c.name.clone()).collect(),
                    ));
                }
                for (t, s) in &diff.retyped {
                    if !format.in_iceberg_catalog() {
                        return Err(unsupported("change column types"));
                    }
                    out.push(AlterTable::AlterColumnType(
                        target.clone(),
                        t.name.clone(),
                        s.data_type.clone(),
                    ));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: &str, t: &str) -> ColumnDef {
        ColumnDef::new(n, t).unwrap()
    }

    #[test]
    fn modes() {
        let t = RelationName::new("s", "t").unwrap();
        let diff = SchemaDiff::between(
            &[c("ID", "bigint"), c("x", "string")],
            &[c("id", "bigint"), c("y", "int")],
            None,
        );
        assert_eq!(diff.added, vec![c("x", "string")]);
        assert_eq!(diff.removed, vec![c("y", "int")]);
        assert!(schema_change(&t, &diff, OnSchemaChange::Fail, FileFormat::Parquet).is_err());
        let a = schema_change(&t, &diff, OnSchemaChange::AppendNewColumns, FileFormat::Parquet).unwrap();
        assert_eq!(a.len(), 1);
        assert!(schema_change(&t, &diff, OnSchemaChange::SyncAllColumns, FileFormat::Parquet).is_err());
        assert_eq!(
            schema_change(&t, &diff, OnSchemaChange::SyncAllColumns, FileFormat::Iceberg)
                .unwrap()
                .len(),
            2
        );
        assert!(
            schema_change(&t, &SchemaDiff::default(), OnSchemaChange::Fail, FileFormat::Parquet)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn prefix_is_ignored() {
        let d = SchemaDiff::between(
            &[c("dbt_change_type", "string"), c("id", "int")],
            &[c("id", "int"), c("dbt_scd_id", "string")],
            Some("dbt_"),
        );
        assert!(d.is_empty());
    }
}
