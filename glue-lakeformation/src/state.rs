//! What Lake Formation holds for a table now, as the reconcile reads it.

use std::collections::{BTreeMap, BTreeSet};

use glue_materialize::lakeformation::FilterColumns;

/// LF-tags assigned to one resource: key → value (Lake Formation keeps one value per key and resource). Lower case.
pub type Tags = BTreeMap<String, String>;

/// A data-cell filter as Lake Formation holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentFilter {
    /// Its row filter expression; `None`: every row (`AllRowsWildcard`).
    pub row_filter: Option<String>,
    /// Its columns (names lower case and sorted).
    pub columns: FilterColumns,
    /// Its version, sent back with an update so a concurrent change is detected instead of overwritten.
    pub version_id: Option<String>,
}

/// What one principal holds on one data-cell filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `DataLakePrincipalIdentifier` (an IAM ARN, a SAML or Identity Center principal…).
    pub principal: String,
    /// Its permissions (`SELECT`, …).
    pub permissions: BTreeSet<String>,
    /// Those it may grant on.
    pub grantable: BTreeSet<String>,
}

/// The Lake Formation state of a table, read for the parts of the config that are enabled (the rest is `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// Tags assigned to the database itself (read when `tags_database` is set).
    pub database_tags: Option<Tags>,
    /// Tags assigned to the table itself (inherited ones are not its own and are left alone).
    pub table_tags: Option<Tags>,
    /// Tags assigned to each column itself.
    pub column_tags: BTreeMap<String, Tags>,
    /// The table's filters by name (read when data-cell filters are enabled).
    pub filters: Option<BTreeMap<String, CurrentFilter>>,
    /// Who holds what on each configured filter that exists.
    pub holders: BTreeMap<String, Vec<Holder>>,
}

/// Columns as compared: lower case, sorted, without duplicates; an empty exclusion is every column.
pub(crate) fn normal_columns(c: &FilterColumns) -> FilterColumns {
    let norm = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|c| c.to_lowercase())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    match c {
        FilterColumns::All => FilterColumns::All,
        FilterColumns::Only(v) if v.is_empty() => FilterColumns::All,
        FilterColumns::Only(v) => FilterColumns::Only(norm(v)),
        FilterColumns::Excluding(v) if v.is_empty() => FilterColumns::All,
        FilterColumns::Excluding(v) => FilterColumns::Excluding(norm(v)),
    }
}

/// A row filter as compared: trimmed; blank is every row.
pub(crate) fn normal_row_filter(r: Option<&str>) -> Option<String> {
    r.map(str::trim).filter(|r| !r.is_empty()).map(str::to_string)
}
