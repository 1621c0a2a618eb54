use glue_materialize::EngineError;
use thiserror::Error;

/// An error of the embedded engine.
#[derive(Debug, Error)]
pub enum LocalError {
    /// Something the embedded engine cannot run faithfully.
    #[error("unsupported on the embedded engine: {0}")]
    Unsupported(String),
    /// The catalog file cannot be read.
    #[error("the warehouse catalog {path} is unreadable: {reason}")]
    CorruptCatalog {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A relation that should exist does not.
    #[error("relation {0} not found")]
    NotFound(String),
    /// A query or plan error from DataFusion.
    #[error("{context}: {source}")]
    DataFusion {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// A Delta Lake error.
    #[error("{context}: {source}")]
    Delta {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: deltalake::DeltaTableError,
    },
    /// A file-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A schema change the configuration does not allow.
    #[error(transparent)]
    SchemaChange(#[from] glue_materialize::schema::SchemaChangeError),
    /// Bad input data (a seed that does not parse, a type that cannot be mapped).
    #[error("{0}")]
    Data(String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl LocalError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A DataFusion error in `context`; one that means "the engine cannot run this Spark SQL" (from the optimizer or
    /// the physical planner, before any row is written) is [`LocalError::Unsupported`].
    pub(crate) fn df(context: impl Into<String>) -> impl FnOnce(datafusion::error::DataFusionError) -> Self {
        let context = context.into();
        move |source| {
            if crate::spark::is_unsupported(&source) {
                Self::Unsupported(crate::spark::unsupported_message(&source))
            } else {
                Self::DataFusion { context, source }
            }
        }
    }

    pub(crate) fn delta(context: impl Into<String>) -> impl FnOnce(deltalake::DeltaTableError) -> Self {
        let context = context.into();
        move |source| Self::Delta { context, source }
    }
}

impl From<LocalError> for EngineError {
    fn from(e: LocalError) -> Self {
        match e {
            LocalError::Unsupported(construct) => EngineError::Unsupported {
                engine: "the embedded engine",
                construct,
            },
            LocalError::DataFusion { context, source } => EngineError::Sql {
                error_class: None,
                message: format!("{context}: {source}"),
            },
            other => EngineError::Other {
                context: "embedded engine".into(),
                source: Box::new(other),
            },
        }
    }
}
