//! The CLI's error type: a project's problems ([`ProjectError`], naming file and line), and what running adds.

use std::path::PathBuf;

use glue_project::ProjectError;
use thiserror::Error;

/// Everything that can stop a `glue` command.
#[derive(Debug, Error)]
pub enum CliError {
    /// The project, its profile, its Jinja or a selection (the message names the file and line).
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A model's configuration or plan is invalid (the message names the file, model and field).
    #[error("{0}")]
    Plan(String),
    /// Command-line usage.
    #[error("{0}")]
    Usage(String),
    /// The engine failed outside a node (opening the warehouse, on-run-start hooks…).
    #[error("{context}: {message}")]
    Engine {
        /// What was being done.
        context: String,
        /// The engine's message.
        message: String,
    },
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ProjectError::io(path, source).into()
    }

    /// A project error at a file (and line).
    pub fn project(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        ProjectError::project(file, line, message).into()
    }
}

/// Result alias for the CLI.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// What an AWS failure means, in plain words.
pub fn plain_words(error: &str) -> String {
    let hint = if error.contains("loading credentials") || error.contains("no credentials") {
        "no AWS credentials were found: set AWS_PROFILE (and run `aws sso login` for SSO profiles), or export \
         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
    } else if error.contains("AccessDenied") || error.contains("not authorized") {
        "the credentials are not allowed to do this: compare the role's policy with `glue iam-policy`"
    } else if error.contains("ExpiredToken") || error.contains("expired") {
        "the credentials have expired: refresh them (`aws sso login`, a new session token)"
    } else if error.contains("dispatch failure") || error.contains("connect") {
        "AWS could not be reached: check the region, the network and any AWS_ENDPOINT_URL"
    } else if error.contains("EntityNotFound") {
        "the Glue database or session does not exist (a run creates the database)"
    } else {
        return error.to_string();
    };
    format!("{hint}\n  ({error})")
}
