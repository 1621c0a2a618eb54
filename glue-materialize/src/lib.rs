//! # glue-materialize: model configuration, the strategy planner and the `Engine` trait
//!
//! Pure (no I/O). A model's merged dbt config becomes a typed [`ModelConfig`]; with the [`Existing`] relation and
//! the [`Target`] the planner makes a [`Plan`], an ordered list of typed [`Step`]s (create-table-as, insert-overwrite,
//! merge, drop, swap, expire-snapshots, Lake Formation, …). The renderer turns steps into Spark SQL through
//! `glue-sql`; engines (the embedded engine, Glue sessions, Spark Connect) run plans through the [`Engine`] trait.
//!
//! ```
//! use glue_materialize::{
//!     plan, render_step, Existing, Model, ModelConfig, PlanFlags, RenderContext, Rendered, StatementSetting, Target,
//! };
//!
//! let cfg = ModelConfig::from_json(&serde_json::json!({"materialized": "table", "partition_by": ["dt"]})).unwrap();
//! let model = Model::new("daily", "analytics", "select 1 as n, current_date() as dt", cfg);
//! let target = Target::new("analytics", Some("s3://lake/".into()));
//! let p = plan(&model, &Existing::Absent, &target, &PlanFlags::default()).unwrap();
//! let out = render_step(&p.steps[0], &RenderContext::default()).unwrap();
//! // Its standard location may hold files of an earlier version: the statement may write there, for itself alone.
//! assert_eq!(out, vec![Rendered::Scoped {
//!     sql: "CREATE TABLE `analytics`.`daily`\nUSING parquet\nPARTITIONED BY (`dt`)\n\
//!           LOCATION 's3://lake/analytics/daily'\nAS\nselect 1 as n, current_date() as dt".into(),
//!     settings: vec![StatementSetting::NonEmptyLocationCtas],
//! }]);
//! ```

mod choices;
pub mod config;
pub mod engine;
mod error;
mod fields;
pub mod lakeformation;
pub mod location;
pub mod microbatch;
mod model;
mod plan;
pub mod query_comment;
pub mod render;
pub mod schema;
pub mod staging;
pub mod step;
pub mod window;

pub use config::{FileFormat, IncrementalStrategy, Materialization, ModelConfig, OnSchemaChange};
pub use engine::{Capabilities, Engine, EngineError};
pub use error::{ConfigError, ConfigProblem, ModelRef, PlanError, RenderError};
pub use model::{ColumnDoc, Existing, ExistingTable, Model, PlanFlags, PythonModel, TableFormat, Target};
pub use plan::{Plan, STAGED_AT, STAGING_EXPOSED, SessionChoice, plan, plan_schema, table_location};
pub use query_comment::QueryComment;
pub use render::{RenderContext, Rendered, StatementSetting, render_plan, render_step};
pub use step::{Step, StepKind};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
