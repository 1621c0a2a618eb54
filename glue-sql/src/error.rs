use thiserror::Error;

/// An error building SQL: a name or value that cannot be rendered safely.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SqlError {
    /// An identifier was empty.
    #[error("empty identifier{}", context_suffix(.context))]
    EmptyIdentifier {
        /// What the identifier was for (e.g. "schema", "partition column").
        context: &'static str,
    },
    /// A name Spark SQL cannot carry (it holds `${`, which Spark's variable substitution rewrites).
    #[error("identifier `{name}`{} holds `${{`, which Spark's variable substitution rewrites; rename it", context_suffix(.context))]
    Unrepresentable {
        /// The name.
        name: String,
        /// What the identifier was for.
        context: &'static str,
    },
    /// A data type string is not a Spark type.
    #[error("invalid Spark data type `{0}`")]
    InvalidType(String),
    /// A relation name could not be parsed.
    #[error("invalid relation name `{name}`: {reason}")]
    InvalidRelation {
        /// The text given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A statement builder was given an inconsistent combination.
    #[error("invalid statement: {0}")]
    InvalidStatement(&'static str),
}

fn context_suffix(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!(" ({context})")
    }
}
