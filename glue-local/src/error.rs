//! The embedded engine's error, and its refusals: which construct `unsupported on the embedded engine: …` names.

use datafusion::error::DataFusionError;
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
    /// Another writer changed the table since this one read it, and committed first: this write published nothing.
    #[error("{0}")]
    Conflict(String),
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
            if let Some(construct) = refusal(&source) {
                Self::Unsupported(construct)
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

/// The construct a refusal of any layer names (sqlparser, DataFusion's planners, glue-rs's own rewrites), as it
/// follows `unsupported on the embedded engine: `; `None` when the error is not a refusal (a wrong column name, a
/// failure while running). DataFusion's and sqlparser's own words ("Expected: …", "Invalid function …", debug dumps
/// of the AST) are turned into the construct's name.
pub fn refusal(e: &DataFusionError) -> Option<String> {
    let message = e.strip_backtrace();
    let own = message.split("unsupported on the embedded engine: ").nth(1);
    if let Some(construct) = own {
        return Some(construct.to_string());
    }
    if !is_unsupported(e) && !refused_by_planner(&message) {
        return None;
    }
    Some(construct_name(&message))
}

/// Planner errors that mean "DataFusion cannot plan this Spark SQL" beyond those `spark::is_unsupported` knows.
fn refused_by_planner(m: &str) -> bool {
    [
        "Physical plan does not support",
        "Too many columns! The subquery should only return one column",
        "null_aware anti join only supports",
        "unnest() can only be applied to",
        "Unsupported Interval Expression",
        "INTERVAL expression cannot be",
        "not implemented",
        "Projections require unique expression names",
        "Inconsistent data type across values list",
        "Cannot access field at argument",
        "Invalid qualifier",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Readable names for DataFusion's and sqlparser's refusals, first match wins: (text the message contains, name).
const NAMES: [(&str, &str); 21] = [
    (
        "Dot access not supported",
        "`.field` of an expression that is no column (`named_struct(…).f`)",
    ),
    ("DistributeBy partitioning", "DISTRIBUTE BY"),
    (
        "date_part(Coercion",
        "EXTRACT / date_part of this argument type (an INTERVAL)",
    ),
    (
        "Cannot access field at argument",
        "`.field` of an array of structs (Spark's array of the field)",
    ),
    (
        "Invalid qualifier",
        "`x.*` where `x` is no table of the query (a struct's fields are not expanded)",
    ),
    (
        "Inconsistent data type across values list",
        "an inline table (VALUES) whose rows have nested values of \
                                                    different types",
    ),
    (
        "Projections require unique expression names",
        "a SELECT list with two columns of the same name (Spark allows \
                                                      it; name them apart with AS)",
    ),
    (
        "logical expression InSubquery",
        "an IN subquery in this position (only in WHERE, or correlated as DataFusion \
                                       cannot decorrelate it)",
    ),
    (
        "logical expression Exists",
        "an EXISTS subquery in this position (only in WHERE, or correlated as DataFusion \
                                   cannot decorrelate it)",
    ),
    (
        "logical expression OuterReferenceColumn",
        "a correlated subquery DataFusion cannot decorrelate",
    ),
    (
        "logical expression ScalarSubquery",
        "a scalar subquery in this position",
    ),
    (
        "The subquery should only return one column",
        "IN with a subquery of more than one column",
    ),
    (
        "null_aware anti join only supports",
        "NOT IN with a subquery of more than one column",
    ),
    (
        "unnest() can only be applied to",
        "explode of a map or of a value that is no array",
    ),
    (
        "COUNT DISTINCT with multiple arguments",
        "COUNT(DISTINCT …) of more than one expression",
    ),
    ("DistinctAvgAccumulator", "AVG(DISTINCT …) of this type"),
    ("ANY in LIKE expression", "LIKE ANY / LIKE ALL / LIKE SOME"),
    (
        "Unsupported Interval Expression",
        "this INTERVAL literal form (a `… TO …` qualifier)",
    ),
    ("INTERVAL expression cannot be", "this INTERVAL literal form"),
    ("Unsupported JOIN operator Semi", "SEMI JOIN"),
    ("Unsupported JOIN operator Anti", "ANTI JOIN"),
];

/// The construct named by a raw DataFusion or sqlparser message.
fn construct_name(m: &str) -> String {
    // sqlparser's errors reach here in Debug form (`ParserError(\"…\")`).
    let m = &m.replace('\\', "");
    if let Some((_, name)) = NAMES.iter().find(|(p, _)| m.contains(p)) {
        return (*name).to_string();
    }
    let m = m.split(" at Line: ").next().unwrap_or(m);
    let tail = |prefix: &str| m.split(prefix).nth(1).map(str::to_string);
    if let Some(node) = tail("Unsupported ast node ") {
        return ast_node(&node);
    }
    if let Some(f) = tail("Invalid function '") {
        return format!("the function `{}`", f.split('\'').next().unwrap_or_default());
    }
    if let Some(t) = tail("No infix parser for token Word(Word { value: \"") {
        return format!(
            "the operator `{}`",
            t.split('"').next().unwrap_or_default().to_uppercase()
        );
    }
    if let Some(t) = tail("Unsupported SQL type ") {
        return format!("the type {}", first_word(&t));
    }
    if let Some(found) = tail(", found: ") {
        return format!(
            "Spark SQL the embedded engine's parser does not read (at `{}`)",
            first_word(&found)
        );
    }
    let m = m
        .rsplit(['\n'])
        .next()
        .unwrap_or(m)
        .replace("This feature is not implemented: ", "")
        .replace("Error during planning: ", "")
        .replace("SQL error: ", "");
    // A debug dump of an AST or plan node is no name: keep what precedes it.
    let cut = if m.contains(" { ") {
        m.find(['(', '{']).unwrap_or(m.len())
    } else {
        m.len()
    };
    m[..cut].trim().chars().take(160).collect()
}

/// The Spark construct of an AST node DataFusion does not plan (`Pivot { … }` is PIVOT).
fn ast_node(node: &str) -> String {
    let name = node
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default();
    match name {
        "Pivot" => "PIVOT".into(),
        "Unpivot" => "UNPIVOT".into(),
        "MatchRecognize" => "MATCH_RECOGNIZE".into(),
        "Lambda" => "lambda functions (`x -> …`): DataFusion 53 has no lambda expressions".into(),
        other => format!("the construct {other}"),
    }
}

fn first_word(s: &str) -> &str {
    s.split([' ', '"', ')', ',']).find(|w| !w.is_empty()).unwrap_or(s)
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

/// What follows `unsupported on the embedded engine: ` for an error [`is_unsupported`] accepts: the construct named
/// by glue-rs's own refusals, else DataFusion's message.
pub fn unsupported_message(e: &DataFusionError) -> String {
    let m = e.strip_backtrace();
    m.split("unsupported on the embedded engine: ")
        .nth(1)
        .map(str::to_string)
        .unwrap_or(m)
}

/// True when an error means "DataFusion cannot read or plan this Spark SQL", not "this SQL is wrong".
pub fn is_unsupported(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::SQL(..) | DataFusionError::NotImplemented(_) => true,
        DataFusionError::Plan(m) => {
            m.starts_with("Invalid function")
                || m.contains("Unsupported")
                || m.contains("No function matches")
                || m.contains("expected zero argument")
                || m.contains("requires TypeSignature")
                || m.contains("does not support type")
                || m.starts_with("table function")
                || (m.starts_with("Function '") && m.contains(" expects "))
                || m.starts_with("Failed to coerce arguments")
                || m.contains("unsupported on the embedded engine")
                || m.contains("coercion failed")
        }
        // DataFusion's aggregates refuse an untyped NULL column (`VALUES (NULL), (NULL)`), which Spark types as void.
        DataFusionError::Execution(m) => {
            m.contains("not supported for Null") || m.contains("unsupported on the embedded engine")
        }
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => is_unsupported(inner),
        _ => false,
    }
}
