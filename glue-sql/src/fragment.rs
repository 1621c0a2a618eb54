use std::fmt;

/// User-written SQL: a model body, a hook, an incremental predicate, a row filter.
///
/// It is inserted verbatim (it is code the user owns), always as a whole: in statement builders a fragment is a
/// query, an expression or a statement, never a place for names or values (those are [`crate::Ident`] and
/// [`crate::string_literal`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SqlFragment(String);

impl SqlFragment {
    /// Wraps user SQL.
    pub fn new(sql: impl Into<String>) -> Self {
        Self(sql.into())
    }

    /// The SQL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text without surrounding whitespace and trailing semicolons, as it is embedded into a statement.
    pub fn trimmed(&self) -> &str {
        self.0.trim().trim_end_matches(';').trim_end()
    }

    /// True when the fragment holds nothing but whitespace or semicolons.
    pub fn is_blank(&self) -> bool {
        self.trimmed().is_empty()
    }
}

impl From<&str> for SqlFragment {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for SqlFragment {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for SqlFragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.trimmed())
    }
}
