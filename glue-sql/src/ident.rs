use std::fmt;

use crate::SqlError;

/// Quotes `name` as a Spark identifier: wrapped in backticks, embedded backticks doubled.
///
/// Spark's lexer reads `` `a``b` `` as the identifier ``a`b``; every other character (quotes, backslashes,
/// newlines, unicode) is taken literally inside backticks.
///
/// ```
/// assert_eq!(glue_sql::quote_ident("my`col"), "`my``col`");
/// ```
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        if c == '`' {
            out.push('`');
        }
        out.push(c);
    }
    out.push('`');
    out
}

/// Quotes `name` only when Spark needs it: a name of ASCII letters, digits and underscores that does not start with a
/// digit and is not a reserved word (one a table or column alias cannot be) stays bare (as dbt-spark renders relations); anything else is [`quote_ident`]ed.
///
/// ```
/// assert_eq!(glue_sql::quote_ident_if_needed("orders_2024"), "orders_2024");
/// assert_eq!(glue_sql::quote_ident_if_needed("select"), "`select`");
/// assert_eq!(glue_sql::quote_ident_if_needed("my table"), "`my table`");
/// ```
pub fn quote_ident_if_needed(name: &str) -> std::borrow::Cow<'_, str> {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain && !is_reserved(name) {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(quote_ident(name))
    }
}

fn is_reserved(name: &str) -> bool {
    use sqlparser::keywords::{
        ALL_KEYWORDS, ALL_KEYWORDS_INDEX, RESERVED_FOR_COLUMN_ALIAS, RESERVED_FOR_IDENTIFIER, RESERVED_FOR_TABLE_ALIAS,
    };
    let upper = name.to_ascii_uppercase();
    ALL_KEYWORDS.binary_search(&upper.as_str()).is_ok_and(|i| {
        let k = ALL_KEYWORDS_INDEX[i];
        RESERVED_FOR_TABLE_ALIAS.contains(&k)
            || RESERVED_FOR_COLUMN_ALIAS.contains(&k)
            || RESERVED_FOR_IDENTIFIER.contains(&k)
    })
}

/// A non-empty identifier (database, table, column, catalog). Renders quoted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ident(String);

impl Ident {
    /// Makes an identifier; fails on an empty name or one holding `${` (see [`Ident::named`]).
    pub fn new(name: impl Into<String>) -> Result<Self, SqlError> {
        Self::named(name, "")
    }

    /// Makes an identifier, naming what it is for in the error.
    ///
    /// Refused: the empty name, and names holding `${`, which Spark's variable substitution
    /// (`spark.sql.variable.substitute`, on by default) rewrites even inside backticks, so no quoting can carry them.
    pub fn named(name: impl Into<String>, context: &'static str) -> Result<Self, SqlError> {
        let name = name.into();
        if name.is_empty() {
            return Err(SqlError::EmptyIdentifier { context });
        }
        if name.contains("${") {
            return Err(SqlError::Unrepresentable { name, context });
        }
        Ok(Self(name))
    }

    /// The name as written, unquoted.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name quoted for Spark SQL.
    pub fn quoted(&self) -> String {
        quote_ident(&self.0)
    }

    /// Case-insensitive comparison, as Spark resolves identifiers (`spark.sql.caseSensitive=false`).
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other) || self.0.to_lowercase() == other.to_lowercase()
    }
}

impl TryFrom<String> for Ident {
    type Error = SqlError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for Ident {
    type Error = SqlError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Ident> for String {
    fn from(value: Ident) -> Self {
        value.0
    }
}

impl fmt::Display for Ident {
    /// Writes the quoted form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

/// Makes a list of identifiers from names, naming the list in the error.
pub(crate) fn idents<I, S>(names: I, context: &'static str) -> Result<Vec<Ident>, SqlError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    names.into_iter().map(|n| Ident::named(n, context)).collect()
}

/// Joins quoted identifiers with `, `.
pub(crate) fn join_idents(idents: &[Ident]) -> String {
    let mut out = String::new();
    for (i, id) in idents.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&id.quoted());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_doubles_backticks() {
        assert_eq!(quote_ident("a"), "`a`");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(quote_ident("``"), "``````");
        assert_eq!(quote_ident("it's \"x\"\n"), "`it's \"x\"\n`");
    }

    #[test]
    fn empty_is_refused() {
        assert_eq!(
            Ident::named("", "schema"),
            Err(SqlError::EmptyIdentifier { context: "schema" })
        );
        assert!(matches!(Ident::new("a${b}"), Err(SqlError::Unrepresentable { .. })));
        assert!(Ident::new("a$ {b}").is_ok());
    }
}
