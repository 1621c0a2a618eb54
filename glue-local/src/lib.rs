//! # glue-local: the embedded engine of glue-rs
//!
//! Runs `glue-materialize` plans on a local warehouse directory with no AWS account and no JVM: DataFusion (with
//! `datafusion-spark`'s functions and Spark's NULL ordering) for SQL, Parquet / CSV / JSON tables with Hive-style
//! partitions, Delta tables through `deltalake`, Iceberg tables through `iceberg` (iceberg-rust). A persistent catalog ([`catalog`]) holds databases, tables and views
//! across processes; every write becomes visible at once (a Delta commit, or a catalog switch to a new version
//! directory) and a crash leaves the previous table readable.
//!
//! What it does not run (Hudi, Python models, the file formats Spark has and it lacks) fails with
//! `unsupported on the embedded engine: …` before anything is written ([`LocalEngine`]'s `capabilities`).

pub mod catalog;
pub mod constructs;
pub mod datetime;
mod delta;
mod engine;
mod error;
pub mod failpoint;
pub mod functions;
pub mod generators;
pub mod iceberg;
mod nullable;
pub mod physical;
mod plain;
pub mod session;
pub mod spark;
pub mod spark_functions;
pub mod types;

pub use engine::{FORMATS, LocalEngine};
pub use error::{LocalError, refusal};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
