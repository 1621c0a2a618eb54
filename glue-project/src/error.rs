//! The project's error type: every variant names the file (and line when known) the problem is in.

use std::path::PathBuf;

use thiserror::Error;

/// A location in a project file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, relative to the project when possible.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// Everything that can be wrong in a project, its profile, its Jinja or a selection.
#[derive(Debug, Error)]
pub enum ProjectError {
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A YAML file is malformed.
    #[error("{}: invalid YAML: {message}", .path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A project file holds something glue cannot accept (unknown key value, missing field, duplicate name…).
    #[error("{at}: {message}")]
    Project {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A Jinja template failed to parse or render.
    #[error("{at}: {what}: {message}")]
    Jinja {
        /// Where.
        at: Location,
        /// The node or macro being rendered.
        what: String,
        /// minijinja's message.
        message: String,
    },
    /// `profiles.yml` problems.
    #[error("{}: {message}", .path.display())]
    Profile {
        /// The profiles file (or the directory searched).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The DAG has a cycle or a dangling reference.
    #[error("{0}")]
    Graph(String),
    /// A `--select` / `--exclude` expression or selector is invalid.
    #[error("invalid selection `{expr}`: {message}")]
    Selection {
        /// The expression.
        expr: String,
        /// What is wrong.
        message: String,
    },
    /// A model's configuration is invalid (the message names the file, model and field).
    #[error("{0}")]
    Config(String),
}

impl ProjectError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A project error at a file (and line).
    pub fn project(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Self::Project {
            at: Location {
                file: file.into(),
                line,
            },
            message: message.into(),
        }
    }
}

/// Result alias for loading a project.
pub type Result<T, E = ProjectError> = std::result::Result<T, E>;
