//! Lake Formation for glue-rs: make a Glue table's LF-tags and data-cell filters equal to a dbt model's
//! `lf_tags_config` and `lf_grants`, exactly and safely.
//!
//! A reconcile has two halves, so what it will do can be shown before it is done (`glue plan`):
//! 1. [`LakeFormation::plan`] reads the current state (tags of the database, the table and its columns; the table's
//!    filters; who may read through each filter), every list followed to its last page, and computes a typed
//!    [`Diff`] with the pure [`Diff::compute`].
//! 2. [`LakeFormation::apply`] checks that every tag to add exists in Lake Formation (else [`LfError::UnknownTag`],
//!    before anything is written), then applies the diff with as few calls as Lake Formation allows, checking every
//!    `Failures` entry. Applying a diff computed again afterwards is empty: a second reconcile only reads.
//!
//! [`LakeFormation::grant_database_access`] gives a role the reference's grants on a database glue-rs created.
//!
//! ```no_run
//! # async fn demo() -> Result<(), glue_lakeformation::LfError> {
//! use glue_lakeformation::LakeFormation;
//! use glue_materialize::lakeformation::LfTagsConfig;
//!
//! let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let lf = LakeFormation::new(&config, None); // the caller's account (STS GetCallerIdentity)
//! let tags = LfTagsConfig::from_config(&serde_json::json!({
//!     "enabled": true, "tags_table": {"domain": "sales"}, "tags_columns": {"level": {"pii": ["email"]}}
//! }))
//! .expect("a valid config");
//! let table = lf.table("analytics", "customers").await?;
//! let diff = lf.plan(&table, Some(&tags), None).await?;
//! println!("{diff}");
//! lf.apply(&diff).await?;
//! # Ok(()) }
//! ```

mod apply;
mod client;
pub mod diff;
mod error;
pub mod state;
mod table;

pub use client::{Calls, LakeFormation};
pub use diff::{Diff, FilterChange, FilterSpec, GrantChange, TagAction, TagChange, TagResource};
pub use error::LfError;
pub use state::Current;
pub use table::TableRef;

/// The configuration types (`lf_tags_config`, `lf_grants`), parsed from dbt config by `glue-materialize`.
pub use glue_materialize::lakeformation::{CellFilter, DataCellFilters, FilterColumns, LfGrants, LfTagsConfig};

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
