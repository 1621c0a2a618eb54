//! # glue-project: a dbt project as a typed graph
//!
//! What the `glue` command knows before anything runs: `dbt_project.yml` and its packages, `profiles.yml`, the YAML
//! properties, every node (models, seeds, snapshots, tests, sources, unit tests) with its layered config, rendered
//! at parse time with dbt's Jinja ([`glue_jinja`]), the DAG and node selection.
//!
//! - [`project`]: `dbt_project.yml` (paths, vars, hooks, `+config` trees).
//! - [`profile`]: `profiles.yml`: the target, its engine and its outputs.
//! - [`load`]: loading the project into a [`load::Manifest`].
//! - [`node`]: a node and what is attached to it.
//! - [`dag`]: the dependency graph and its orders.
//! - [`select`]: `--select`, `--exclude`, selectors and state.
//! - [`python`]: what a Python model declares (`dbt.ref`, `dbt.source`, `dbt.config`).
//! - [`yaml`]: YAML files read with their file in errors.
//! - [`redact`]: secrets masked in everything shown or written.
//! - [`error`]: [`ProjectError`], naming file and line.

pub mod dag;
pub mod error;
pub mod load;
pub mod node;
pub mod profile;
pub mod project;
pub mod python;
pub mod query_comment;
pub mod redact;
pub mod select;
pub mod yaml;

pub use error::{Location, ProjectError, Result};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
