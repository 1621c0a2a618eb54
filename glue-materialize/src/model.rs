//! The planner's inputs besides the configuration: the compiled model, the target (profile) and the relation that
//! already exists in the warehouse.

use std::collections::BTreeSet;

use glue_sql::types::ColumnDef;
use glue_sql::{Ident, SqlFragment};

use crate::config::{FileFormat, ModelConfig, SeedMode};
use crate::error::ModelRef;

/// A documented column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnDoc {
    /// Column name.
    pub name: String,
    /// Description (persisted as a comment with `persist_docs.columns`).
    pub description: Option<String>,
}

/// A compiled dbt node the planner builds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Model {
    /// dbt node name.
    pub name: String,
    /// The model's file (for errors).
    pub path: Option<String>,
    /// Schema (Glue database), after `generate_schema_name`.
    pub schema: String,
    /// Identifier, after `generate_alias_name`.
    pub alias: String,
    /// The compiled SELECT (empty for seeds).
    pub sql: SqlFragment,
    /// The model description.
    pub description: Option<String>,
    /// Documented columns.
    pub columns: Vec<ColumnDoc>,
    /// The typed configuration.
    pub config: ModelConfig,
    /// Seeds: the CSV file.
    pub seed_path: Option<String>,
    /// Python models: the code and the view its DataFrame becomes (`sql` then reads that view).
    pub python: Option<PythonModel>,
}

/// A Python model (`models/*.py`): `def model(dbt, spark)` returning a DataFrame.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PythonModel {
    /// The source.
    pub code: String,
    /// The temporary view its DataFrame is registered as.
    pub view: Ident,
    /// What `dbt` answers inside the model, as JSON (`refs`, `sources`, `this`, `is_incremental`, `config`).
    pub context: String,
}

impl Model {
    /// A model named `name` in `schema`, alias = name.
    pub fn new(
        name: impl Into<String>,
        schema: impl Into<String>,
        sql: impl Into<SqlFragment>,
        config: ModelConfig,
    ) -> Self {
        let name = name.into();
        Self {
            alias: name.clone(),
            name,
            path: None,
            schema: schema.into(),
            sql: sql.into(),
            description: None,
            columns: Vec::new(),
            config,
            seed_path: None,
            python: None,
        }
    }

    /// The reference used in errors.
    pub fn model_ref(&self) -> ModelRef {
        ModelRef {
            name: self.name.clone(),
            path: self.path.clone(),
        }
    }
}

/// The profile settings the planner needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// Default schema.
    pub schema: String,
    /// `location`: root of table locations (`<location>/<schema>/<table>`).
    pub location: Option<String>,
    /// `root_location`: tables at `<location>/<table>`.
    pub root_location: bool,
    /// `temp_schema`: schema of physical temp tables.
    pub temp_schema: Option<String>,
    /// `custom_iceberg_catalog_namespace` (default `glue_catalog`; `None` when set empty).
    pub iceberg_catalog: Option<String>,
    /// `datalake_formats` enabled in the session.
    pub datalake_formats: BTreeSet<FileFormat>,
    /// Catalog id (cross-account Glue catalog), passed on to catalog and Lake Formation steps.
    pub catalog_id: Option<String>,
    /// Profile `delta_athena_prefix`.
    pub delta_athena_prefix: Option<String>,
    /// `seed_format` (default parquet).
    pub seed_format: FileFormat,
    /// `seed_mode` (default overwrite).
    pub seed_mode: SeedMode,
    /// `enable_spark_seed_casting`.
    pub enable_spark_seed_casting: bool,
    /// The engine's temporary views read Iceberg tables (Spark Connect servers), so Iceberg temp relations are views
    /// as with the model config `use_iceberg_temp_views`. Glue sessions keep dbt-glue's scratch tables.
    pub iceberg_temp_views: bool,
}

impl Target {
    /// A target with dbt-glue's defaults.
    pub fn new(schema: impl Into<String>, location: Option<String>) -> Self {
        Self {
            schema: schema.into(),
            location,
            root_location: false,
            temp_schema: None,
            iceberg_catalog: Some("glue_catalog".into()),
            datalake_formats: BTreeSet::new(),
            catalog_id: None,
            delta_athena_prefix: None,
            seed_format: FileFormat::Parquet,
            seed_mode: SeedMode::Overwrite,
            enable_spark_seed_casting: false,
            iceberg_temp_views: false,
        }
    }
}

/// The format of a table found in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum TableFormat {
    /// A known format.
    Known(FileFormat),
    /// A provider glue-rs does not know (the text as the catalog holds it).
    Other(String),
}

/// A table that exists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExistingTable {
    /// Its format.
    pub format: TableFormat,
    /// Its location.
    pub location: Option<String>,
    /// Its columns (when the caller described it).
    pub columns: Vec<ColumnDef>,
    /// Its partition columns.
    pub partition_columns: Vec<String>,
    /// The catalog entry's version as read (Glue's `VersionId`), when the catalog has one: a rebuild publishes its
    /// result only if the entry is still at this version (another run that replaced it since wins, this one fails).
    pub version: Option<String>,
    /// The other tables of the table's schema whose names begin with `<alias>_`, as listed with it (callers that
    /// list the schema fill this; empty otherwise). Among them the planner finds the staging and temporary tables
    /// other runs of the model left (see [`crate::staging`]): a rebuild removes those staging tables once it has
    /// published, an incremental run those temporary tables once it has written.
    pub siblings: Vec<String>,
    /// The tables of the target's `temp_schema` (when the profile sets one other than the model's schema) whose names
    /// begin with `<schema>__<alias>_` ([`crate::staging::in_temp_schema`]), listed like
    /// [`siblings`](Self::siblings): where the scratch tables other runs of the model left there are.
    pub temp_siblings: Vec<String>,
}

impl ExistingTable {
    /// A table of a known format, without details.
    pub fn of(format: FileFormat) -> Self {
        Self {
            format: TableFormat::Known(format),
            location: None,
            columns: Vec::new(),
            partition_columns: Vec::new(),
            version: None,
            siblings: Vec::new(),
            temp_siblings: Vec::new(),
        }
    }

    /// The format when known.
    pub fn known_format(&self) -> Option<FileFormat> {
        match self.format {
            TableFormat::Known(f) => Some(f),
            TableFormat::Other(_) => None,
        }
    }

    /// Describes the format for messages.
    pub fn format_name(&self) -> String {
        let name = match &self.format {
            TableFormat::Known(f) => f.to_string(),
            TableFormat::Other(p) => format!("`{p}`"),
        };
        let article = if name.trim_start_matches('`').starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name} table")
    }
}

/// What the warehouse holds under the model's name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Existing {
    /// Nothing.
    Absent,
    /// A view.
    View,
    /// A table.
    Table(ExistingTable),
}

/// Run-wide inputs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanFlags {
    /// `--full-refresh`.
    pub full_refresh: bool,
    /// The run's invocation id (names versioned locations of rebuilt tables).
    pub invocation_id: String,
}

impl Default for PlanFlags {
    fn default() -> Self {
        Self {
            full_refresh: false,
            invocation_id: "00000000".into(),
        }
    }
}
