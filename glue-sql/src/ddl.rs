//! Statement builders for DDL: CREATE TABLE / VIEW / DATABASE, DROP, ALTER TABLE, Iceberg `CALL`, Hive external
//! tables over Delta symlink manifests, MSCK REPAIR and REFRESH.
//!
//! Each builder is a plain struct with chainable setters and `to_sql()`; every name goes through [`Ident`] quoting and
//! every value through [`string_literal`]. User SQL ([`SqlFragment`]) is only ever a whole query.

use crate::ident::{idents, join_idents};
use crate::types::{ColumnDef, PartitionField};
use crate::{Ident, RelationName, SqlError, SqlFragment, string_literal, timestamp_literal};

fn kv_list(pairs: &[(String, String)], sep: &str) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}{sep}{}", string_literal(k), string_literal(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CREATE [OR REPLACE] TABLE … [USING …] [OPTIONS …] [PARTITIONED BY …] [CLUSTERED BY … INTO n BUCKETS]
/// [TBLPROPERTIES …] [LOCATION …] [COMMENT …] [AS <query>]`, the clause order of dbt-glue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTable {
    /// `CREATE OR REPLACE` (atomic in Delta and Iceberg).
    pub replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The table created.
    pub relation: RelationName,
    /// An explicit column list (for `CREATE TABLE t (…)` without a query).
    pub columns: Vec<ColumnDef>,
    /// The data source (`parquet`, `delta`, `iceberg`, …); `None` leaves the clause out.
    pub using: Option<&'static str>,
    /// `OPTIONS (k 'v')` (writer options).
    pub options: Vec<(String, String)>,
    /// `PARTITIONED BY`.
    pub partitioned_by: Vec<PartitionField>,
    /// `CLUSTERED BY (…) INTO n BUCKETS`.
    pub clustered_by: Option<(Vec<Ident>, u32)>,
    /// `TBLPROPERTIES`.
    pub properties: Vec<(String, String)>,
    /// `LOCATION`.
    pub location: Option<String>,
    /// `COMMENT`.
    pub comment: Option<String>,
    /// `AS <query>`.
    pub query: Option<SqlFragment>,
}

impl CreateTable {
    /// `CREATE TABLE relation … AS query`.
    pub fn as_query(relation: RelationName, query: SqlFragment) -> Self {
        Self {
            query: Some(query),
            ..Self::bare(relation)
        }
    }

    /// `CREATE TABLE relation (columns) …`.
    pub fn with_columns(relation: RelationName, columns: Vec<ColumnDef>) -> Self {
        Self {
            columns,
            ..Self::bare(relation)
        }
    }

    fn bare(relation: RelationName) -> Self {
        Self {
            replace: false,
            if_not_exists: false,
            relation,
            columns: Vec::new(),
            using: None,
            options: Vec::new(),
            partitioned_by: Vec::new(),
            clustered_by: None,
            properties: Vec::new(),
            location: None,
            comment: None,
            query: None,
        }
    }

    /// Sets `CREATE OR REPLACE`.
    pub fn or_replace(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }

    /// Sets `IF NOT EXISTS`.
    pub fn if_not_exists(mut self) -> Self {
        self.if_not_exists = true;
        self
    }

    /// Sets the data source. Only static names: formats are a closed set, never user text.
    pub fn using(mut self, format: &'static str) -> Self {
        self.using = Some(format);
        self
    }

    /// Sets writer options.
    pub fn options(mut self, options: impl IntoIterator<Item = (String, String)>) -> Self {
        self.options = options.into_iter().collect();
        self
    }

    /// Partitions by columns.
    pub fn partitioned_by<I, S>(mut self, columns: I) -> Result<Self, SqlError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.partitioned_by = idents(columns, "partition column")?
            .into_iter()
            .map(PartitionField::Column)
            .collect();
        Ok(self)
    }

    /// Partitions by fields (columns or Iceberg transforms).
    pub fn partition_fields(mut self, fields: Vec<PartitionField>) -> Self {
        self.partitioned_by = fields;
        self
    }

    /// Buckets the table.
    pub fn clustered_by(mut self, columns: Vec<Ident>, buckets: u32) -> Self {
        self.clustered_by = Some((columns, buckets));
        self
    }

    /// Sets table properties.
    pub fn properties(mut self, properties: impl IntoIterator<Item = (String, String)>) -> Self {
        self.properties = properties.into_iter().collect();
        self
    }

    /// Sets the location.
    pub fn location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// Sets the table comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        let mut s = String::from(if self.replace {
            "CREATE OR REPLACE TABLE "
        } else {
            "CREATE TABLE "
        });
        if self.if_not_exists {
            s.push_str("IF NOT EXISTS ");
        }
        s.push_str(&self.relation.to_string());
        if !self.columns.is_empty() {
            let cols: Vec<String> = self.columns.iter().map(ColumnDef::to_sql).collect();
            s.push_str(" (\n  ");
            s.push_str(&cols.join(",\n  "));
            s.push_str("\n)");
        }
        if let Some(f) = self.using {
            s.push_str("\nUSING ");
            s.push_str(f);
        }
        if !self.options.is_empty() {
            s.push_str(&format!("\nOPTIONS ({})", kv_list(&self.options, " ")));
        }
        if !self.partitioned_by.is_empty() {
            let p: Vec<String> = self.partitioned_by.iter().map(PartitionField::to_sql).collect();
            s.push_str(&format!("\nPARTITIONED BY ({})", p.join(", ")));
        }
        if let Some((cols, n)) = &self.clustered_by {
            s.push_str(&format!("\nCLUSTERED BY ({}) INTO {n} BUCKETS", join_idents(cols)));
        }
        if !self.properties.is_empty() {
            s.push_str(&format!("\nTBLPROPERTIES ({})", kv_list(&self.properties, " = ")));
        }
        if let Some(l) = &self.location {
            s.push_str(&format!("\nLOCATION {}", string_literal(l)));
        }
        if let Some(c) = &self.comment {
            s.push_str(&format!("\nCOMMENT {}", string_literal(c)));
        }
        if let Some(q) = &self.query {
            s.push_str("\nAS\n");
            s.push_str(q.trimmed());
        }
        s
    }
}

/// `CREATE [OR REPLACE] [TEMPORARY] VIEW name [COMMENT …] AS query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateView {
    /// `OR REPLACE`.
    pub replace: bool,
    /// A session-scoped temporary view (name unqualified).
    pub temporary: bool,
    /// The view.
    pub relation: RelationName,
    /// `COMMENT`.
    pub comment: Option<String>,
    /// The view's query.
    pub query: SqlFragment,
}

impl CreateView {
    /// `CREATE OR REPLACE VIEW relation AS query`.
    pub fn new(relation: RelationName, query: SqlFragment) -> Self {
        Self {
            replace: true,
            temporary: false,
            relation,
            comment: None,
            query,
        }
    }

    /// `CREATE OR REPLACE TEMPORARY VIEW name AS query` (the name is rendered unqualified).
    pub fn temporary(name: Ident, query: SqlFragment) -> Self {
        let relation = RelationName {
            catalog: None,
            schema: None,
            identifier: name,
        };
        Self {
            replace: true,
            temporary: true,
            relation,
            comment: None,
            query,
        }
    }

    /// Sets `OR REPLACE`.
    pub fn or_replace(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }

    /// Sets the comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        let mut s = String::from("CREATE ");
        if self.replace {
            s.push_str("OR REPLACE ");
        }
        if self.temporary {
            s.push_str("TEMPORARY ");
        }
        s.push_str("VIEW ");
        s.push_str(&self.relation.to_string());
        if let Some(c) = &self.comment {
            s.push_str(&format!("\nCOMMENT {}", string_literal(c)));
        }
        s.push_str("\nAS\n");
        s.push_str(self.query.trimmed());
        s
    }
}

/// What a DROP removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DropKind {
    /// `DROP TABLE`.
    Table,
    /// `DROP VIEW`.
    View,
}

/// `DROP TABLE|VIEW [IF EXISTS] name [PURGE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drop {
    /// Table or view.
    pub kind: DropKind,
    /// The relation.
    pub relation: RelationName,
    /// `IF EXISTS` (default true).
    pub if_exists: bool,
    /// `PURGE` (tables only: Iceberg data and metadata files are deleted).
    pub purge: bool,
}

impl Drop {
    /// `DROP TABLE IF EXISTS relation`.
    pub fn table(relation: RelationName) -> Self {
        Self {
            kind: DropKind::Table,
            relation,
            if_exists: true,
            purge: false,
        }
    }

    /// `DROP VIEW IF EXISTS relation`.
    pub fn view(relation: RelationName) -> Self {
        Self {
            kind: DropKind::View,
            relation,
            if_exists: true,
            purge: false,
        }
    }

    /// Adds `PURGE` (tables only; ignored for views).
    pub fn purge(mut self, purge: bool) -> Self {
        self.purge = purge;
        self
    }

    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        let kind = match self.kind {
            DropKind::Table => "TABLE",
            DropKind::View => "VIEW",
        };
        let ie = if self.if_exists { "IF EXISTS " } else { "" };
        let purge = if self.purge && self.kind == DropKind::Table {
            " PURGE"
        } else {
            ""
        };
        format!("DROP {kind} {ie}{}{purge}", self.relation)
    }
}

/// `ALTER TABLE` statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterTable {
    /// `ALTER TABLE t ADD COLUMNS (c type, …)`.
    AddColumns(RelationName, Vec<ColumnDef>),
    /// `ALTER TABLE t DROP COLUMNS (c, …)` (Iceberg; Delta with column mapping).
    DropColumns(RelationName, Vec<Ident>),
    /// `ALTER TABLE t ALTER COLUMN c TYPE type` (Iceberg type widening).
    AlterColumnType(RelationName, Ident, crate::types::SparkType),
    /// `ALTER TABLE t SET TBLPROPERTIES ('k' = 'v', …)`.
    SetProperties(RelationName, Vec<(String, String)>),
    /// `ALTER TABLE t SET LOCATION 'path'`.
    SetLocation(RelationName, String),
    /// `ALTER TABLE t ALTER COLUMN c COMMENT '…'`.
    ColumnComment(RelationName, Ident, String),
}

impl AlterTable {
    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        match self {
            Self::AddColumns(t, cols) => {
                let c: Vec<String> = cols.iter().map(ColumnDef::to_sql).collect();
                format!("ALTER TABLE {t} ADD COLUMNS ({})", c.join(", "))
            }
            Self::DropColumns(t, cols) => {
                format!("ALTER TABLE {t} DROP COLUMNS ({})", join_idents(cols))
            }
            Self::AlterColumnType(t, c, ty) => {
                format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty}")
            }
            Self::SetProperties(t, p) => {
                format!("ALTER TABLE {t} SET TBLPROPERTIES ({})", kv_list(p, " = "))
            }
            Self::SetLocation(t, l) => {
                format!("ALTER TABLE {t} SET LOCATION {}", string_literal(l))
            }
            Self::ColumnComment(t, c, comment) => {
                format!("ALTER TABLE {t} ALTER COLUMN {c} COMMENT {}", string_literal(comment))
            }
        }
    }
}

/// `CREATE DATABASE [IF NOT EXISTS] name [COMMENT …] [LOCATION …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDatabase {
    /// Database (schema) name.
    pub name: Ident,
    /// `IF NOT EXISTS` (default true).
    pub if_not_exists: bool,
    /// `COMMENT`.
    pub comment: Option<String>,
    /// `LOCATION`.
    pub location: Option<String>,
}

impl CreateDatabase {
    /// `CREATE DATABASE IF NOT EXISTS name`.
    pub fn new(name: Ident) -> Self {
        Self {
            name,
            if_not_exists: true,
            comment: None,
            location: None,
        }
    }

    /// Sets the location.
    pub fn location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// Sets the comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        let mut s = format!(
            "CREATE DATABASE {}{}",
            if self.if_not_exists { "IF NOT EXISTS " } else { "" },
            self.name
        );
        if let Some(c) = &self.comment {
            s.push_str(&format!("\nCOMMENT {}", string_literal(c)));
        }
        if let Some(l) = &self.location {
            s.push_str(&format!("\nLOCATION {}", string_literal(l)));
        }
        s
    }
}

/// Iceberg's `expire_snapshots` procedure: `CALL <catalog>.system.expire_snapshots(table => '…',
/// older_than => TIMESTAMP '…', retain_last => n)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpireSnapshots {
    /// The Spark catalog holding the procedure (`glue_catalog`); `None` calls `system.expire_snapshots`.
    pub catalog: Option<Ident>,
    /// The table, passed as a string argument.
    pub table: RelationName,
    /// Snapshots older than this timestamp (`yyyy-MM-dd HH:mm:ss[.SSS]`) are expired.
    pub older_than: String,
    /// Snapshots kept regardless of age.
    pub retain_last: u32,
}

impl ExpireSnapshots {
    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        let proc = match &self.catalog {
            Some(c) => format!("{c}.system.expire_snapshots"),
            None => "system.expire_snapshots".to_string(),
        };
        format!(
            "CALL {proc}(table => {}, older_than => {}, retain_last => {})",
            self.table.as_string_literal(),
            timestamp_literal(&self.older_than),
            self.retain_last
        )
    }
}

/// The Athena-readable Hive table over a Delta table's symlink manifest (`delta_athena_prefix`):
/// `CREATE EXTERNAL TABLE … ROW FORMAT SERDE '…ParquetHiveSerDe' STORED AS INPUTFORMAT '…SymlinkTextInputFormat'
/// OUTPUTFORMAT '…HiveIgnoreKeyTextOutputFormat' LOCATION '<path>/_symlink_format_manifest/'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymlinkManifestTable {
    /// The manifest table (`S.<prefix>_T`).
    pub relation: RelationName,
    /// Data columns (partition columns excluded).
    pub columns: Vec<ColumnDef>,
    /// Partition columns, with types (Hive form).
    pub partition_columns: Vec<ColumnDef>,
    /// The Delta table's location (the manifest directory is appended).
    pub delta_location: String,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
}

impl SymlinkManifestTable {
    /// The manifest directory for a Delta table location.
    pub fn manifest_location(delta_location: &str) -> String {
        format!("{}/_symlink_format_manifest/", delta_location.trim_end_matches('/'))
    }

    /// Renders the statement.
    pub fn to_sql(&self) -> String {
        let cols: Vec<String> = self.columns.iter().map(ColumnDef::to_sql).collect();
        let mut s = format!(
            "CREATE EXTERNAL TABLE {}{} (\n  {}\n)",
            if self.if_not_exists { "IF NOT EXISTS " } else { "" },
            self.relation,
            cols.join(",\n  ")
        );
        if !self.partition_columns.is_empty() {
            let p: Vec<String> = self.partition_columns.iter().map(ColumnDef::to_sql).collect();
            s.push_str(&format!("\nPARTITIONED BY ({})", p.join(", ")));
        }
        s.push_str("\nROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'");
        s.push_str("\nSTORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'");
        s.push_str("\nOUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'");
        s.push_str(&format!(
            "\nLOCATION {}",
            string_literal(&Self::manifest_location(&self.delta_location))
        ));
        s
    }
}

/// `MSCK REPAIR TABLE t` (register partitions found in storage).
pub fn repair_table(relation: &RelationName) -> String {
    format!("MSCK REPAIR TABLE {relation}")
}

/// `REFRESH TABLE t` (invalidate Spark's cached metadata and files of a table).
pub fn refresh_table(relation: &RelationName) -> String {
    format!("REFRESH TABLE {relation}")
}

/// `GENERATE symlink_format_manifest FOR TABLE delta.`<location>``: the manifest Athena and Presto read a Delta table
/// through (Delta Lake's SQL; the path is a quoted identifier, as Delta's path tables are named).
///
/// ```
/// assert_eq!(
///     glue_sql::ddl::generate_symlink_manifest("s3://lake/sales/orders"),
///     "GENERATE symlink_format_manifest FOR TABLE delta.`s3://lake/sales/orders`"
/// );
/// ```
pub fn generate_symlink_manifest(delta_location: &str) -> String {
    format!(
        "GENERATE symlink_format_manifest FOR TABLE delta.{}",
        crate::quote_ident(delta_location)
    )
}

/// `DESCRIBE TABLE t`.
pub fn describe_table(relation: &RelationName) -> String {
    format!("DESCRIBE TABLE {relation}")
}

/// `DESCRIBE TABLE EXTENDED t` (columns, then the table's type, provider and location).
pub fn describe_table_extended(relation: &RelationName) -> String {
    format!("DESCRIBE TABLE EXTENDED {relation}")
}

/// `ALTER TABLE a RENAME TO b`.
pub fn rename_table(from: &RelationName, to: &RelationName) -> String {
    format!("ALTER TABLE {from} RENAME TO {to}")
}

/// `SHOW TABLES IN s` (tables and views of a schema, with the session's temporary views).
pub fn show_tables(schema: &Ident) -> String {
    format!("SHOW TABLES IN {schema}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel() -> RelationName {
        RelationName::new("s", "t").unwrap()
    }

    #[test]
    fn catalog_statements_quote_their_names() {
        let odd = RelationName::new("s", "we`ird").unwrap();
        assert_eq!(
            rename_table(&rel(), &odd),
            "ALTER TABLE `s`.`t` RENAME TO `s`.`we``ird`"
        );
        assert_eq!(describe_table_extended(&odd), "DESCRIBE TABLE EXTENDED `s`.`we``ird`");
        assert_eq!(show_tables(&Ident::new("my db").unwrap()), "SHOW TABLES IN `my db`");
    }

    #[test]
    fn create_table_clause_order() {
        let sql = CreateTable::as_query(rel(), "select 1 as id -- trailing comment\n;".into())
            .or_replace(true)
            .using("delta")
            .partitioned_by(["dt"])
            .unwrap()
            .clustered_by(vec![Ident::new("id").unwrap()], 8)
            .properties([("k'".to_string(), "v".to_string())])
            .location("s3://b/s/t")
            .comment("it's")
            .to_sql();
        assert_eq!(
            sql,
            "CREATE OR REPLACE TABLE `s`.`t`\nUSING delta\nPARTITIONED BY (`dt`)\n\
             CLUSTERED BY (`id`) INTO 8 BUCKETS\nTBLPROPERTIES ('k\\'' = 'v')\nLOCATION 's3://b/s/t'\n\
             COMMENT 'it\\'s'\nAS\nselect 1 as id -- trailing comment"
        );
    }

    #[test]
    fn drops() {
        assert_eq!(
            Drop::table(rel()).purge(true).to_sql(),
            "DROP TABLE IF EXISTS `s`.`t` PURGE"
        );
        assert_eq!(Drop::view(rel()).purge(true).to_sql(), "DROP VIEW IF EXISTS `s`.`t`");
    }

    #[test]
    fn expire() {
        let e = ExpireSnapshots {
            catalog: Some(Ident::new("glue_catalog").unwrap()),
            table: RelationName::in_catalog(Some("glue_catalog"), "s", "t").unwrap(),
            older_than: "2026-01-01 00:00:00".into(),
            retain_last: 1,
        };
        assert_eq!(
            e.to_sql(),
            "CALL `glue_catalog`.system.expire_snapshots(table => '`glue_catalog`.`s`.`t`', \
             older_than => TIMESTAMP '2026-01-01 00:00:00', retain_last => 1)"
        );
    }
}
