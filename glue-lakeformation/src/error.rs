//! Errors of the Lake Formation reconcile.

/// A failed read or change of Lake Formation state.
#[derive(Debug, thiserror::Error)]
pub enum LfError {
    /// `lf_tags_config` names a tag key, or a value of a key, that Lake Formation does not have. Checked before
    /// anything is changed.
    #[error(
        "LF-tag `{key}`{} does not exist in Lake Formation (catalog {catalog_id}); lf_tags_config sets it on {on}. \
         Create it first (aws lakeformation {}), or fix the config",
        .value.as_ref().map(|v| format!(" has no value `{v}`: the value")).unwrap_or_default(),
        if .value.is_some() { "update-lf-tag --tag-values-to-add" } else { "create-lf-tag" }
    )]
    UnknownTag {
        /// The tag key.
        key: String,
        /// The value the key lacks (None: the key itself does not exist).
        value: Option<String>,
        /// Where it was to be set (`the database sales`, `table sales.orders`, `columns [a, b] of sales.orders`).
        on: String,
        /// The catalog.
        catalog_id: String,
    },
    /// A Lake Formation or STS call failed (after the SDK's retries of throttling and transient errors).
    #[error("Lake Formation {operation} on {resource}: {message}")]
    Api {
        /// The operation (`AddLFTagsToResource`, …).
        operation: &'static str,
        /// What it was about.
        resource: String,
        /// The service's error (code and message).
        message: String,
    },
    /// A call succeeded but reported entries it could not apply.
    #[error("Lake Formation {operation} on {resource} failed for: {}", .failures.join("; "))]
    Failures {
        /// The operation.
        operation: &'static str,
        /// What it was about.
        resource: String,
        /// One line per failed entry: what, error code and message.
        failures: Vec<String>,
    },
}

impl LfError {
    pub(crate) fn api<E, R>(
        operation: &'static str,
        resource: impl ToString,
        e: aws_sdk_lakeformation::error::SdkError<E, R>,
    ) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        LfError::Api {
            operation,
            resource: resource.to_string(),
            message: aws_sdk_lakeformation::error::DisplayErrorContext(&e).to_string(),
        }
    }
}
