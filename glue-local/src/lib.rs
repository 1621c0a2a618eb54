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

// At the bottom: the error and its refusals, Arrow types as Spark names them.
mod error;
pub mod types;

// The warehouse: its catalog, the table formats, and the crash points of their writes.
pub mod catalog;
mod delta;
pub mod failpoint;
pub mod iceberg;
mod nullable;
mod plain;

// Spark's functions where DataFusion's answer otherwise: Java datetime patterns, UDFs, the functions refused.
pub mod datetime;
pub mod functions;
pub mod spark_functions;

// Spark SQL on DataFusion: the statement rewrites, the plan rules and checks, physical-plan corrections.
pub mod constructs;
pub mod generators;
pub mod physical;
pub mod spark;

// On top: the DataFusion session, and the engine that runs glue-materialize plans in it.
mod engine;
pub mod session;

pub use engine::{FORMATS, LocalEngine};
pub use error::{LocalError, refusal};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
