use std::fmt;

use thiserror::Error;

/// Which model an error is about: its name and, when known, the file it comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelRef {
    /// dbt node name.
    pub name: String,
    /// The model's file, relative to the project (when the caller knows it).
    pub path: Option<String>,
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: model `{}`", self.name),
            None => write!(f, "model `{}`", self.name),
        }
    }
}

/// What is wrong with one configuration field.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize)]
pub enum ConfigProblem {
    /// A value outside a closed set.
    #[error("invalid value `{value}`; allowed values: {}", .allowed.join(", "))]
    UnknownValue {
        /// The value given.
        value: String,
        /// The allowed values.
        allowed: Vec<&'static str>,
    },
    /// A value of the wrong YAML/JSON type.
    #[error("expected {expected}, got `{got}`")]
    WrongType {
        /// What was expected.
        expected: &'static str,
        /// The value given, as JSON.
        got: String,
    },
    /// `merge` on a format without MERGE.
    #[error(
        "the merge strategy needs a format with MERGE; file_format is `{format}`; allowed file formats for merge: {}",
        .allowed.join(", ")
    )]
    MergeNeedsLakehouseFormat {
        /// The configured format.
        format: &'static str,
        /// Formats with merge.
        allowed: Vec<&'static str>,
    },
    /// A required key is missing.
    #[error("is required {why}")]
    Required {
        /// When it is required.
        why: &'static str,
    },
    /// Two fields that exclude each other are both set.
    #[error("cannot be set together with `{other}`; use one or the other")]
    MutuallyExclusive {
        /// The other field.
        other: &'static str,
    },
    /// A field that needs another field.
    #[error("needs `{other}` to be set too")]
    Needs {
        /// The field it needs.
        other: &'static str,
    },
    /// `file_format: s3tables` without an Iceberg catalog namespace in the profile.
    #[error(
        "s3tables needs its Spark catalog: set `custom_iceberg_catalog_namespace` in the profile \
         (the catalog that points at the S3 Tables bucket); it is empty"
    )]
    S3TablesWithoutCatalog,
    /// A format this materialization cannot use.
    #[error("`{format}` cannot be used for a {materialization}; allowed file formats: {}", .allowed.join(", "))]
    FormatNotAllowed {
        /// The configured format.
        format: &'static str,
        /// The materialization.
        materialization: &'static str,
        /// The formats it supports.
        allowed: Vec<&'static str>,
    },
    /// The relation in the warehouse has another format than the configuration asks for.
    #[error(
        "the existing table {relation} is {existing}, the model is configured as {configured}; \
         run with --full-refresh to rebuild it as {configured}"
    )]
    ExistingFormatMismatch {
        /// The relation.
        relation: String,
        /// Its current format.
        existing: String,
        /// The configured format.
        configured: &'static str,
    },
    /// The existing relation cannot take this materialization.
    #[error("the existing relation {relation} is {existing}; {why}")]
    ExistingRelation {
        /// The relation.
        relation: String,
        /// What it is.
        existing: &'static str,
        /// What to do.
        why: &'static str,
    },
    /// A value that is well-typed but invalid.
    #[error("{0}")]
    Invalid(String),
}

/// Why no plan could be made for a model.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize)]
#[error("{model}: config `{field}`: {problem}")]
pub struct PlanError {
    /// The model.
    pub model: ModelRef,
    /// The configuration field at fault (`file_format`, `unique_key`, or a profile field such as `location`).
    pub field: String,
    /// What is wrong (boxed: errors stay small on the happy path).
    pub problem: Box<ConfigProblem>,
}

impl PlanError {
    /// A short stable name of the error kind (used in golden files and tests).
    pub fn kind(&self) -> &'static str {
        match &*self.problem {
            ConfigProblem::UnknownValue { .. } => "UnknownValue",
            ConfigProblem::WrongType { .. } => "WrongType",
            ConfigProblem::MergeNeedsLakehouseFormat { .. } => "MergeNeedsLakehouseFormat",
            ConfigProblem::Required { .. } => "Required",
            ConfigProblem::MutuallyExclusive { .. } => "MutuallyExclusive",
            ConfigProblem::Needs { .. } => "Needs",
            ConfigProblem::S3TablesWithoutCatalog => "S3TablesWithoutCatalog",
            ConfigProblem::FormatNotAllowed { .. } => "FormatNotAllowed",
            ConfigProblem::ExistingFormatMismatch { .. } => "ExistingFormatMismatch",
            ConfigProblem::ExistingRelation { .. } => "ExistingRelation",
            ConfigProblem::Invalid(_) => "Invalid",
        }
    }
}

/// A configuration error before the model is known (the caller adds the model with [`ConfigError::for_model`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("config `{field}`: {problem}")]
pub struct ConfigError {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub problem: ConfigProblem,
}

impl ConfigError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, problem: ConfigProblem) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }

    /// Attaches the model.
    pub fn for_model(self, model: &ModelRef) -> PlanError {
        PlanError {
            model: model.clone(),
            field: self.field,
            problem: Box::new(self.problem),
        }
    }
}

/// A step that cannot be rendered to Spark SQL with what the caller supplied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RenderError {
    /// A late-bound step needs columns the context does not hold.
    #[error("step {step} needs the {which} columns; describe the relation first")]
    NeedsColumns {
        /// The step kind.
        step: &'static str,
        /// "target" or "source".
        which: &'static str,
    },
    /// The schema change the step checks is not allowed.
    #[error(transparent)]
    SchemaChange(#[from] crate::schema::SchemaChangeError),
    /// A name could not be rendered.
    #[error(transparent)]
    Sql(#[from] glue_sql::SqlError),
    /// A seed table exists and the profile's `seed_mode` is `errorifexists`.
    #[error("seed table {0} exists and seed_mode is errorifexists")]
    SeedExists(String),
    /// A seed column type in `column_types` is not a Spark type.
    #[error("seed column `{column}`: {message}")]
    SeedColumnType {
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
}
