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
