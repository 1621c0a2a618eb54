//! The table a reconcile works on.

use std::fmt;

/// A Glue table in a Data Catalog, named as Lake Formation names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    /// The Data Catalog (an account id; another account's for a cross-account catalog).
    pub catalog_id: String,
    /// The Glue database, lower case, without a Spark catalog prefix.
    pub database: String,
    /// The Glue table, lower case.
    pub table: String,
}

impl TableRef {
    /// A table of `catalog_id`. A Spark catalog prefix on the database (`glue_catalog.analytics`, as Iceberg models
    /// render their schema) is stripped: Glue database names have no dots. Names are lower-cased, as Glue stores them.
    pub fn new(catalog_id: impl Into<String>, database: &str, table: &str) -> Self {
        let database = database.rsplit('.').next().unwrap_or(database);
        TableRef {
            catalog_id: catalog_id.into(),
            database: unquote(database).to_lowercase(),
            table: unquote(table).to_lowercase(),
        }
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('`').and_then(|s| s.strip_suffix('`')).unwrap_or(s)
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} (catalog {})", self.database, self.table, self.catalog_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_prefixes_and_case_are_dropped() {
        let t = TableRef::new("123456789012", "glue_catalog.Analytics", "`Customers`");
        assert_eq!((t.database.as_str(), t.table.as_str()), ("analytics", "customers"));
        assert_eq!(t.to_string(), "analytics.customers (catalog 123456789012)");
    }
}
