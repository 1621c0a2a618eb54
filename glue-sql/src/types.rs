//! Column types, column definitions and partition fields.

use std::fmt;

use crate::{Ident, SqlError, string_literal};

/// A Spark data type as `DESCRIBE` prints it (`bigint`, `decimal(10,2)`, `array<struct<a:int>>`).
///
/// Types come from engines and catalogs, not from users, but are still checked to hold only the characters a
/// type can have, so a corrupt catalog entry cannot inject SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SparkType(String);

impl SparkType {
    /// Checks and wraps a type string.
    pub fn new(text: impl Into<String>) -> Result<Self, SqlError> {
        let text = text.into();
        let t = text.trim();
        let ok =
            !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || " _<>,:()`".contains(c)) && balanced(t);
        if ok {
            Ok(Self(t.to_string()))
        } else {
            Err(SqlError::InvalidType(text))
        }
    }

    /// The type text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn balanced(t: &str) -> bool {
    let mut depth: i32 = 0;
    for c in t.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0 && t.matches('`').count().is_multiple_of(2)
}

impl TryFrom<String> for SparkType {
    type Error = SqlError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<SparkType> for String {
    fn from(value: SparkType) -> Self {
        value.0
    }
}

impl fmt::Display for SparkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A column definition: name, type and optional comment (`` `c` bigint COMMENT '…' ``).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ColumnDef {
    /// Column name.
    pub name: Ident,
    /// Spark type.
    pub data_type: SparkType,
    /// Optional comment.
    pub comment: Option<String>,
}

impl ColumnDef {
    /// A column without comment.
    pub fn new(name: impl Into<String>, data_type: impl Into<String>) -> Result<Self, SqlError> {
        Ok(Self {
            name: Ident::named(name, "column")?,
            data_type: SparkType::new(data_type)?,
            comment: None,
        })
    }

    /// Renders the definition.
    pub fn to_sql(&self) -> String {
        match &self.comment {
            Some(c) => format!("{} {} COMMENT {}", self.name, self.data_type, string_literal(c)),
            None => format!("{} {}", self.name, self.data_type),
        }
    }
}

/// One entry of `PARTITIONED BY`: a column, or an Iceberg partition transform such as `days(ts)` or
/// `bucket(16, id)` (Iceberg and S3 Tables only).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PartitionField {
    /// Identity partitioning on a column.
    Column(Ident),
    /// An Iceberg transform of a column.
    Transform {
        /// The transform: years, months, days, hours (and their singular forms), bucket, truncate.
        transform: IcebergTransform,
        /// The width (`bucket(N, col)`, `truncate(W, col)`).
        width: Option<u32>,
        /// The column transformed.
        column: Ident,
    },
}

/// An Iceberg partition transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum IcebergTransform {
    /// `years(col)`
    Years,
    /// `months(col)`
    Months,
    /// `days(col)`
    Days,
    /// `hours(col)`
    Hours,
    /// `bucket(n, col)`
    Bucket,
    /// `truncate(w, col)`
    Truncate,
}

impl IcebergTransform {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "years" | "year" => Self::Years,
            "months" | "month" => Self::Months,
            "days" | "day" | "date" => Self::Days,
            "hours" | "hour" | "date_hour" => Self::Hours,
            "bucket" => Self::Bucket,
            "truncate" => Self::Truncate,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Years => "years",
            Self::Months => "months",
            Self::Days => "days",
            Self::Hours => "hours",
            Self::Bucket => "bucket",
            Self::Truncate => "truncate",
        }
    }

    fn takes_width(self) -> bool {
        matches!(self, Self::Bucket | Self::Truncate)
    }
}

impl PartitionField {
    /// Parses a `partition_by` entry: a column name (taken literally, it may hold any character), or a transform
    /// call `name(col)` / `name(N, col)` with a known Iceberg transform. Returns `None` for an empty entry or a
    /// malformed call.
    pub fn parse(entry: &str) -> Option<Self> {
        let e = entry.trim();
        if e.is_empty() {
            return None;
        }
        let Some(open) = e.find('(') else {
            return Some(Self::Column(Ident::new(unquote(e)).ok()?));
        };
        if !e.ends_with(')') {
            return Some(Self::Column(Ident::new(unquote(e)).ok()?));
        }
        let name = e[..open].trim();
        let Some(transform) = IcebergTransform::parse(name) else {
            // `weird(name)` that is not a transform: only a column if it is backtick-quoted, else malformed.
            return None;
        };
        let args: Vec<&str> = e[open + 1..e.len() - 1].split(',').map(str::trim).collect();
        match (transform.takes_width(), args.as_slice()) {
            (false, [col]) => Some(Self::Transform {
                transform,
                width: None,
                column: Ident::new(unquote(col)).ok()?,
            }),
            (true, [w, col]) => Some(Self::Transform {
                transform,
                width: Some(w.parse().ok()?),
                column: Ident::new(unquote(col)).ok()?,
            }),
            _ => None,
        }
    }

    /// The column partitioned on.
    pub fn column(&self) -> &Ident {
        match self {
            Self::Column(c) | Self::Transform { column: c, .. } => c,
        }
    }

    /// True for identity partitioning on a column.
    pub fn is_identity(&self) -> bool {
        matches!(self, Self::Column(_))
    }

    /// Renders the field for `PARTITIONED BY`.
    pub fn to_sql(&self) -> String {
        match self {
            Self::Column(c) => c.quoted(),
            Self::Transform {
                transform,
                width: Some(w),
                column,
            } => format!("{}({w}, {column})", transform.name()),
            Self::Transform {
                transform,
                width: None,
                column,
            } => format!("{}({column})", transform.name()),
        }
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('`') && s.ends_with('`') {
        s[1..s.len() - 1].replace("``", "`")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        assert!(SparkType::new("decimal(10,2)").is_ok());
        assert!(SparkType::new("array<struct<a:int,b:string>>").is_ok());
        assert!(SparkType::new("int; drop table x").is_err());
        assert!(SparkType::new("array<int").is_err());
        assert!(SparkType::new("").is_err());
    }

    #[test]
    fn partition_fields() {
        assert_eq!(PartitionField::parse("dt").unwrap().to_sql(), "`dt`");
        assert_eq!(PartitionField::parse("days(ts)").unwrap().to_sql(), "days(`ts`)");
        assert_eq!(
            PartitionField::parse("bucket(16, id)").unwrap().to_sql(),
            "bucket(16, `id`)"
        );
        assert_eq!(PartitionField::parse("`a b`").unwrap().to_sql(), "`a b`");
        assert!(PartitionField::parse("bucket(x, id)").is_none());
        assert!(PartitionField::parse("foo(id)").is_none());
        assert!(!PartitionField::parse("days(ts)").unwrap().is_identity());
    }
}
