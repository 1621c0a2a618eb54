#![recursion_limit = "256"]
//! # glue-cli: the `glue` command
//!
//! Runs dbt projects written for dbt-glue. The project is loaded as a typed graph by [`glue_project`] (project,
//! profile, nodes, DAG, selection), its Jinja rendered by [`glue_jinja`]; here each node is prepared ([`prepare`]:
//! its state, compiled SQL, typed model and plan from `glue-materialize`) and run on an `Engine` ([`run`], [`unit`](mod@unit)),
//! dbt's artifacts are written ([`artifacts`]) and the run reported ([`report`]).

pub mod args;
pub mod artifacts;
pub mod commands;
pub mod engines;
pub mod error;
pub mod invocation;
#[cfg(test)]
mod no_panic;
pub mod prepare;
pub mod report;
pub mod results;
pub mod run;
pub mod unit;

pub use error::{CliError, Result};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
