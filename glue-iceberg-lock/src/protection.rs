//! Which commit protection an Iceberg catalog of a Glue session uses, decided from the session's Spark settings.
//!
//! glue-rs never adds `lock-impl` itself (that would make every Iceberg user depend on DynamoDB permissions): the
//! DynamoDB lock is in force only when the user's Spark conf selects Iceberg's `DynamoDbLockManager`.

/// Iceberg's DynamoDB lock manager class.
pub const DYNAMODB_LOCK_MANAGER: &str = "org.apache.iceberg.aws.dynamodb.DynamoDbLockManager";

/// The commit protection of an Iceberg catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitProtection {
    /// Glue's optimistic `VersionId` on UpdateTable (Iceberg's default since 2022).
    GlueVersionId,
    /// Iceberg's DynamoDB lock manager with this lock table.
    DynamoDbLock {
        /// The lock table.
        table: String,
        /// True when the table name comes from the profile because the conf has no `lock.table` (Spark's catalog
        /// then fails to start: Iceberg requires `lock.table`).
        table_from_profile: bool,
    },
    /// Another lock manager class (glue-rs does not take part in it).
    Other {
        /// Its class.
        class: String,
    },
}

impl CommitProtection {
    /// Decides from Spark settings `(key, value)` (e.g. a profile's `conf`), the Iceberg catalog name
    /// (`custom_iceberg_catalog_namespace`, default `glue_catalog`) and the profile's `iceberg_glue_commit_lock_table`.
    pub fn from_spark_conf<'a>(
        conf: impl IntoIterator<Item = (&'a str, &'a str)>,
        catalog: &str,
        profile_lock_table: Option<&str>,
    ) -> CommitProtection {
        let prefix = format!("spark.sql.catalog.{catalog}.");
        let mut lock_impl = None;
        let mut lock_table = None;
        for (key, value) in conf {
            match key.strip_prefix(&prefix) {
                Some("lock-impl") => lock_impl = Some(value.to_string()),
                Some("lock.table") => lock_table = Some(value.to_string()),
                _ => {}
            }
        }
        match lock_impl {
            None => CommitProtection::GlueVersionId,
            Some(class) if class == DYNAMODB_LOCK_MANAGER => match lock_table {
                Some(table) => CommitProtection::DynamoDbLock {
                    table,
                    table_from_profile: false,
                },
                None => CommitProtection::DynamoDbLock {
                    table: profile_lock_table.unwrap_or(crate::DEFAULT_LOCK_TABLE).to_string(),
                    table_from_profile: true,
                },
            },
            Some(class) => CommitProtection::Other { class },
        }
    }

    /// One line for `glue debug`.
    pub fn describe(&self) -> String {
        match self {
            CommitProtection::GlueVersionId => {
                "Glue VersionId (Iceberg's default optimistic concurrency; no DynamoDB lock configured)".into()
            }
            CommitProtection::DynamoDbLock {
                table,
                table_from_profile: false,
            } => format!("DynamoDB lock table `{table}` (lock-impl={DYNAMODB_LOCK_MANAGER}); created on demand"),
            CommitProtection::DynamoDbLock { table, .. } => format!(
                "DynamoDB lock table `{table}` (lock-impl={DYNAMODB_LOCK_MANAGER}, table from \
                 iceberg_glue_commit_lock_table: add `lock.table={table}` to the catalog's conf, Iceberg requires it)"
            ),
            CommitProtection::Other { class } => format!("custom lock manager {class} (glue-rs does not take part)"),
        }
    }

    /// The lock table glue-rs must ensure before Iceberg commits, if any.
    pub fn lock_table(&self) -> Option<&str> {
        match self {
            CommitProtection::DynamoDbLock { table, .. } => Some(table),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_dynamodb_lock_manager_selects_the_lock() {
        let none: [(&str, &str); 1] = [("spark.sql.catalog.glue_catalog.catalog-impl", "x")];
        assert_eq!(
            CommitProtection::from_spark_conf(none, "glue_catalog", Some("t")),
            CommitProtection::GlueVersionId
        );
        let conf = [
            ("spark.sql.catalog.glue_catalog.lock-impl", DYNAMODB_LOCK_MANAGER),
            ("spark.sql.catalog.glue_catalog.lock.table", "locks"),
        ];
        let p = CommitProtection::from_spark_conf(conf, "glue_catalog", Some("other"));
        assert_eq!(p.lock_table(), Some("locks"));
        // Another catalog's lock does not count.
        assert_eq!(
            CommitProtection::from_spark_conf(conf, "ice", None),
            CommitProtection::GlueVersionId
        );
        let no_table = [("spark.sql.catalog.glue_catalog.lock-impl", DYNAMODB_LOCK_MANAGER)];
        let p = CommitProtection::from_spark_conf(no_table, "glue_catalog", None);
        assert_eq!(p.lock_table(), Some("myGlueLockTable"));
        assert!(p.describe().contains("add `lock.table=myGlueLockTable`"));
        let other = [("spark.sql.catalog.glue_catalog.lock-impl", "com.example.Lock")];
        assert!(matches!(
            CommitProtection::from_spark_conf(other, "glue_catalog", None),
            CommitProtection::Other { .. }
        ));
    }
}
