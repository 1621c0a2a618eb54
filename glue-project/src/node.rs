//! The nodes of a project: models, seeds, snapshots, tests, sources, unit tests.

use std::path::PathBuf;

use serde_json::{Map, Value};

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// A SQL (or Python) model.
    Model,
    /// A CSV seed.
    Seed,
    /// A snapshot.
    Snapshot,
    /// A data test (generic or singular).
    Test,
    /// A source table.
    Source,
    /// A unit test.
    UnitTest,
}

impl ResourceType {
    /// dbt's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Seed => "seed",
            Self::Snapshot => "snapshot",
            Self::Test => "test",
            Self::Source => "source",
            Self::UnitTest => "unit_test",
        }
    }

    /// Parses dbt's name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "model" => Self::Model,
            "seed" => Self::Seed,
            "snapshot" => Self::Snapshot,
            "test" | "data_test" => Self::Test,
            "source" => Self::Source,
            "unit_test" => Self::UnitTest,
            _ => return None,
        })
    }

    /// Whether running the node builds a relation.
    pub fn builds_relation(self) -> bool {
        matches!(self, Self::Model | Self::Seed | Self::Snapshot)
    }
}

/// A documented column.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `data_type` (contracts, unit test fixtures).
    pub data_type: Option<String>,
    /// `meta`.
    pub meta: Map<String, Value>,
}

/// How a test names the relation it tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// `ref(name)` in a package (or the test's own).
    Ref(Option<String>, String),
    /// `source(source, table)`.
    Source(String, String),
}

/// A generic test instance.
#[derive(Debug, Clone, PartialEq)]
pub struct TestInfo {
    /// The test's name (`not_null`, `accepted_values`, a custom one).
    pub name: String,
    /// `package.test` namespace, when given.
    pub namespace: Option<String>,
    /// The arguments (without `model`).
    pub kwargs: Map<String, Value>,
    /// `column_name`.
    pub column_name: Option<String>,
    /// What the test is attached to.
    pub attached: Attached,
}

/// A unit test: inputs as fixtures, expected rows.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitTestInfo {
    /// The model under test.
    pub model: String,
    /// `given`: (input expression like `ref('x')`, rows).
    pub given: Vec<(String, Vec<Map<String, Value>>)>,
    /// `expect` rows.
    pub expect: Vec<Map<String, Value>>,
    /// `overrides.macros` (e.g. is_incremental).
    pub macro_overrides: Map<String, Value>,
    /// `overrides.vars`.
    pub var_overrides: Map<String, Value>,
}

/// A source table's own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The source's name.
    pub source_name: String,
    /// The table's identifier.
    pub identifier: String,
    /// The source description.
    pub source_description: String,
    /// `loaded_at_field`.
    pub loaded_at_field: Option<String>,
    /// `freshness`.
    pub freshness: Option<Value>,
    /// `schema` as written (before Jinja), for `state:modified.relation`.
    pub unrendered_schema: Option<String>,
    /// `database` as written.
    pub unrendered_database: Option<String>,
}

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// `model.pkg.name`, …
    pub unique_id: String,
    /// The typed config of a node that builds a relation (seeds and snapshots typed by their resource type),
    /// parsed once at load, when the project's configs are checked; the runner renders its hooks and carries the rest.
    pub model_config: Option<glue_materialize::ModelConfig>,
    /// What it is.
    pub resource_type: ResourceType,
    /// Its package.
    pub package: String,
    /// Its name.
    pub name: String,
    /// The package root.
    pub root: PathBuf,
    /// The file, relative to the package root.
    pub file: PathBuf,
    /// The path relative to its resource folder (`staging/stg_orders.sql`).
    pub path: String,
    /// Fully qualified name.
    pub fqn: Vec<String>,
    /// Raw code (SQL with Jinja).
    pub raw_code: String,
    /// `sql` or `python`.
    pub language: String,
    /// Merged config.
    pub config: Map<String, Value>,
    /// The config as written (project tree, YAML, `config()` calls), for `state:modified` comparisons.
    pub unrendered: Map<String, Value>,
    /// Description.
    pub description: String,
    /// Documented columns.
    pub columns: Vec<ColumnInfo>,
    /// Where its properties came from (`models/schema.yml`).
    pub patch_path: Option<String>,
    /// `ref` calls.
    pub refs: Vec<(Option<String>, String)>,
    /// `source` calls.
    pub sources: Vec<(String, String)>,
    /// Resolved dependencies (unique ids).
    pub depends_on: Vec<String>,
    /// Schema (after generate_schema_name).
    pub schema: String,
    /// Alias / identifier.
    pub alias: String,
    /// Database (Glue catalog), when set.
    pub database: Option<String>,
    /// Generic test details.
    pub test: Option<TestInfo>,
    /// Source details.
    pub source: Option<SourceInfo>,
    /// Unit test details.
    pub unit: Option<UnitTestInfo>,
    /// Seeds: the CSV file (absolute).
    pub seed_path: Option<PathBuf>,
    /// The line in `file` where the node starts (snapshots, YAML entries).
    pub line: usize,
    /// Checksum of the raw code (and seed contents), for `state:modified`.
    pub checksum: String,
}

impl Node {
    /// `config.materialized` (dbt's default `view` for models).
    pub fn materialized(&self) -> &str {
        self.config
            .get("materialized")
            .and_then(Value::as_str)
            .unwrap_or(match self.resource_type {
                ResourceType::Seed => "seed",
                ResourceType::Snapshot => "snapshot",
                ResourceType::Test | ResourceType::UnitTest => "test",
                _ => "view",
            })
    }

    /// Tags from config.
    pub fn tags(&self) -> Vec<String> {
        match self.config.get("tags") {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    /// `schema.alias` for messages.
    pub fn relation_display(&self) -> String {
        format!("{}.{}", self.schema, self.alias)
    }

    /// The node's file for messages, relative to the project when it is in the root package.
    pub fn file_display(&self) -> String {
        self.file.display().to_string()
    }

    /// A Jinja failure while rendering this node, at the file and line where it happened: a line in the node's
    /// own file is shifted by where the node starts in it (snapshot blocks, YAML entries); a line in a macro file
    /// is that file's.
    pub fn jinja_error(&self, e: glue_jinja::RenderError) -> crate::error::ProjectError {
        let file = e
            .file
            .clone()
            .filter(|f| !f.starts_with('<'))
            .map(PathBuf::from)
            .unwrap_or_else(|| self.file.clone());
        let line = if file == self.file {
            e.line.map(|l| l + self.line.saturating_sub(1))
        } else {
            e.line
        };
        crate::error::ProjectError::Jinja {
            at: crate::error::Location { file, line },
            what: format!("{} `{}`", self.resource_type.as_str(), self.name),
            message: e.message,
        }
    }

    /// Whether the node is enabled.
    pub fn enabled(&self) -> bool {
        !matches!(self.config.get("enabled"), Some(Value::Bool(false)))
            && !matches!(self.config.get("enabled"), Some(Value::String(s)) if s.eq_ignore_ascii_case("false"))
    }
}
