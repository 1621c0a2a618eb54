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

/// A failure talking to Glue or running a statement.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// An AWS call failed (after the SDK's retries).
    #[error("{operation}: {message}")]
    Aws {
        /// The operation (`CreateSession`, `GetTables`, …).
        operation: &'static str,
        /// The error code when AWS gave one (`AccessDeniedException`, …).
        code: Option<String>,
        /// What AWS said.
        message: String,
    },
    /// The session did not become READY in time.
    #[error(
        "Glue session `{id}` was still {status} after {waited_s} s (profile `session_provisioning_timeout_in_seconds`)"
    )]
    NotReady {
        /// Session id.
        id: String,
        /// Its last status.
        status: String,
        /// Seconds waited.
        waited_s: u64,
    },
    /// The session failed to start.
    #[error("Glue session `{id}` failed to start ({status}): {reason}")]
    StartFailed {
        /// Session id.
        id: String,
        /// Its status.
        status: String,
        /// Glue's error message.
        reason: String,
    },
    /// The session ended while in use (timed out, stopped); the work can be retried on a new session.
    #[error("Glue session `{id}` is {status}; it ended while in use")]
    SessionLost {
        /// Session id.
        id: String,
        /// Its status.
        status: String,
    },
    /// Another run rebuilt the same table at the same time and published first: this run published nothing.
    #[error("{0}")]
    Conflict(String),
    /// A statement failed in Spark or in the runner.
    #[error("{}{message}", .error_class.as_deref().map(|c| format!("[{c}] ")).unwrap_or_default())]
    Statement {
        /// Spark's error class when known.
        error_class: Option<String>,
        /// The exception's type.
        name: String,
        /// The message.
        message: String,
    },
    /// A statement ran longer than the profile's `query_timeout_in_minutes`; it was cancelled.
    #[error("statement {statement} on session `{id}` ran longer than {limit_s} s and was cancelled")]
    StatementTimeout {
        /// Session id.
        id: String,
        /// Statement id.
        statement: i32,
        /// The limit in seconds.
        limit_s: u64,
    },
    /// The run was interrupted (Ctrl-C) and the statement cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The session answered something glue-rs did not expect.
    #[error("unexpected answer from the session: {0}")]
    Protocol(String),
}

impl SessionError {
    /// An AWS SDK error, with its code and message (never the request, which may carry secrets).
    pub(crate) fn aws<E>(operation: &'static str, err: aws_sdk_glue::error::SdkError<E>) -> Self
    where
        E: aws_sdk_glue::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_glue::error::ProvideErrorMetadata;
        let code = err.code().map(str::to_string);
        let message = match (err.code(), err.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            _ => aws_sdk_glue::error::DisplayErrorContext(&err).to_string(),
        };
        SessionError::Aws {
            operation,
            code,
            message,
        }
    }

    /// The AWS error code, if this is an AWS error.
    pub fn code(&self) -> Option<&str> {
        match self {
            SessionError::Aws { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// A session failure as the `Engine` trait's error: a failed statement keeps Spark's error class and message.
pub(crate) fn engine_error(e: SessionError) -> glue_materialize::EngineError {
    match e {
        SessionError::Statement {
            error_class, message, ..
        } => glue_materialize::EngineError::Sql { error_class, message },
        other => glue_materialize::EngineError::Other {
            context: "Glue".into(),
            source: Box::new(other),
        },
    }
}
