use std::fmt;

use crate::{Ident, SqlError, string_literal};

/// A relation name as Spark resolves it: `[catalog.]schema.identifier`, or a bare identifier for a temporary view.
///
/// Glue has no database level above the schema (dbt's `database` is always the schema), so a name has at most a
/// catalog (the Iceberg / S3 Tables Spark catalog, `glue_catalog` by default), a schema (the Glue database) and an
/// identifier. Every part renders backtick-quoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct RelationName {
    /// Spark catalog (Iceberg / S3 Tables), rendered first when present.
    pub catalog: Option<Ident>,
    /// Schema (Glue database); absent only for temporary views.
    pub schema: Option<Ident>,
    /// Table or view name.
    pub identifier: Ident,
}

impl RelationName {
    /// `schema.identifier`.
    pub fn new(schema: impl Into<String>, identifier: impl Into<String>) -> Result<Self, SqlError> {
        Ok(Self {
            catalog: None,
            schema: Some(Ident::named(schema, "schema")?),
            identifier: Ident::named(identifier, "identifier")?,
        })
    }

    /// A temporary view: the identifier alone, never qualified.
    pub fn temp_view(identifier: impl Into<String>) -> Result<Self, SqlError> {
        Ok(Self {
            catalog: None,
            schema: None,
            identifier: Ident::named(identifier, "identifier")?,
        })
    }

    /// `catalog.schema.identifier` with dbt-glue's catalog-prefix rule: with a catalog, a schema that already starts
    /// with `<catalog>.` is not prefixed twice (the prefix is stripped from the schema and kept as the catalog).
    /// Without a catalog (an empty `custom_iceberg_catalog_namespace`) the name is `schema.identifier`.
    ///
    /// ```
    /// use glue_sql::RelationName;
    /// let a = RelationName::in_catalog(Some("glue_catalog"), "sales", "orders").unwrap();
    /// let b = RelationName::in_catalog(Some("glue_catalog"), "glue_catalog.sales", "orders").unwrap();
    /// assert_eq!(a, b);
    /// assert_eq!(a.to_string(), "`glue_catalog`.`sales`.`orders`");
    /// ```
    pub fn in_catalog(
        catalog: Option<&str>,
        schema: impl Into<String>,
        identifier: impl Into<String>,
    ) -> Result<Self, SqlError> {
        let schema = schema.into();
        let catalog = catalog.filter(|c| !c.is_empty());
        let schema = match catalog {
            Some(c) => strip_catalog_prefix(&schema, c).to_string(),
            None => schema,
        };
        Ok(Self {
            catalog: catalog.map(|c| Ident::named(c, "catalog")).transpose()?,
            schema: Some(Ident::named(schema, "schema")?),
            identifier: Ident::named(identifier, "identifier")?,
        })
    }

    /// The same name with another identifier (e.g. a staging or temporary relation beside the target).
    pub fn with_identifier(&self, identifier: impl Into<String>) -> Result<Self, SqlError> {
        Ok(Self {
            identifier: Ident::named(identifier, "identifier")?,
            ..self.clone()
        })
    }

    /// The same name in another schema (e.g. the profile's `temp_schema`).
    pub fn with_schema(&self, schema: impl Into<String>) -> Result<Self, SqlError> {
        Ok(Self {
            schema: Some(Ident::named(schema, "schema")?),
            ..self.clone()
        })
    }

    /// The name without its catalog, as the Glue Data Catalog and Lake Formation APIs want it.
    pub fn without_catalog(&self) -> Self {
        Self {
            catalog: None,
            ..self.clone()
        }
    }

    /// True for a temporary view name (no schema).
    pub fn is_temporary(&self) -> bool {
        self.schema.is_none()
    }

    /// The schema name, unquoted (empty for a temporary view).
    pub fn schema_str(&self) -> &str {
        self.schema.as_ref().map(Ident::as_str).unwrap_or("")
    }

    /// The name as a string literal, for procedures that take a table name as an argument (Iceberg `CALL`).
    pub fn as_string_literal(&self) -> String {
        string_literal(&self.to_string())
    }

    /// Parses a dotted, optionally backtick-quoted name of one to three parts (`t`, `s.t`, `c.s.t`).
    pub fn parse(text: &str) -> Result<Self, SqlError> {
        let parts = split_name(text)?;
        let mut parts = parts.into_iter().map(Ident::new).collect::<Result<Vec<_>, _>>()?;
        let bad = |reason| SqlError::InvalidRelation {
            name: text.to_string(),
            reason,
        };
        let identifier = parts.pop().ok_or_else(|| bad("empty name"))?;
        let schema = parts.pop();
        let catalog = parts.pop();
        if !parts.is_empty() {
            return Err(bad("more than three parts"));
        }
        Ok(Self {
            catalog,
            schema,
            identifier,
        })
    }
}

/// Strips a leading `<catalog>.` (case-insensitive) from a schema name.
pub(crate) fn strip_catalog_prefix<'a>(schema: &'a str, catalog: &str) -> &'a str {
    let n = catalog.len();
    if schema.len() > n
        && schema.as_bytes()[n] == b'.'
        && schema.is_char_boundary(n)
        && schema[..n].eq_ignore_ascii_case(catalog)
    {
        &schema[n + 1..]
    } else {
        schema
    }
}

fn split_name(text: &str) -> Result<Vec<String>, SqlError> {
    let bad = |reason| SqlError::InvalidRelation {
        name: text.to_string(),
        reason,
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted_part = false;
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                quoted_part = true;
                loop {
                    match chars.next() {
                        Some('`') if chars.peek() == Some(&'`') => {
                            chars.next();
                            cur.push('`');
                        }
                        Some('`') => break,
                        Some(c) => cur.push(c),
                        None => return Err(bad("unterminated backtick")),
                    }
                }
            }
            '.' => {
                if cur.is_empty() && !quoted_part {
                    return Err(bad("empty part"));
                }
                parts.push(std::mem::take(&mut cur));
                quoted_part = false;
            }
            c => cur.push(c),
        }
    }
    if cur.is_empty() && !quoted_part {
        return Err(bad("empty part"));
    }
    parts.push(cur);
    Ok(parts)
}

impl fmt::Display for RelationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.catalog {
            write!(f, "{c}.")?;
        }
        if let Some(s) = &self.schema {
            write!(f, "{s}.")?;
        }
        write!(f, "{}", self.identifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parts() {
        assert_eq!(RelationName::new("s", "t").unwrap().to_string(), "`s`.`t`");
        assert_eq!(RelationName::temp_view("t_tmp").unwrap().to_string(), "`t_tmp`");
        let r = RelationName::in_catalog(None, "s", "t").unwrap();
        assert_eq!(r.to_string(), "`s`.`t`");
        let r = RelationName::in_catalog(Some(""), "s", "t").unwrap();
        assert_eq!(r.catalog, None);
    }

    #[test]
    fn catalog_prefix_rule() {
        let r = RelationName::in_catalog(Some("glue_catalog"), "GLUE_CATALOG.s", "t").unwrap();
        assert_eq!(r.to_string(), "`glue_catalog`.`s`.`t`");
        let r = RelationName::in_catalog(Some("glue_catalog"), "glue_catalogx", "t").unwrap();
        assert_eq!(r.to_string(), "`glue_catalog`.`glue_catalogx`.`t`");
        assert_eq!(r.without_catalog().to_string(), "`glue_catalogx`.`t`");
    }

    #[test]
    fn parse_round_trips() {
        for name in ["a", "s.t", "c.s.t", "`a.b`.`c``d`"] {
            let r = RelationName::parse(name).unwrap();
            assert_eq!(RelationName::parse(&r.to_string()).unwrap(), r);
        }
        assert_eq!(RelationName::parse("`a.b`.t").unwrap().schema_str(), "a.b");
        assert!(RelationName::parse("a..b").is_err());
        assert!(RelationName::parse("a.b.c.d").is_err());
        assert!(RelationName::parse("`a").is_err());
    }
}
