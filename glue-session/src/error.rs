//! Errors of the Glue profile.

/// A profile value that is malformed: names the field (the caller adds the file and the target).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct ProfileError {
    /// The profile field.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ProfileError {
    pub(crate) fn new(field: &str, message: impl Into<String>) -> Self {
        ProfileError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}
