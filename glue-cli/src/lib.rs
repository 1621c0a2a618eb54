#![recursion_limit = "256"]
//! # glue-cli: the `glue` command
//!
//! Runs dbt projects written for dbt-glue: loads the project ([`project`], [`profile`], [`loader`]), renders Jinja
//! with dbt's context ([`jinja`]), builds the DAG and selects nodes ([`dag`], [`select`]), plans each model with
//! `glue-materialize` and runs it on an `Engine` ([`run`], [`unit`]), and writes dbt's artifacts ([`artifacts`]).

pub mod artifacts;
pub mod cli;
pub mod commands;
pub mod dag;
pub mod error;
pub mod loader;
#[cfg(test)]
mod no_panic;
pub mod node;
pub mod prepare;
pub mod profile;
pub mod project;
pub mod python;
pub mod redact;
pub mod report;
pub mod run;
pub mod select;
pub mod unit;
pub mod yaml;

pub use error::{CliError, Result};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
