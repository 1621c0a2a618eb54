//! What glue-rs's test files share (a dev-dependency of the workspace's crates, never published):
//! - [`sim`]: the client of the test world's Glue simulator (`cargo xtask up`): its endpoint and storage root from the
//!   environment `cargo xtask it` passes, the admin API (`/_sim/...`: request log, faults, timings, holds), unique
//!   names, and a guard that undoes the global faults and timings a test set;
//! - [`matrix`] (feature `matrix`): the planner's scenario matrix (materialization × format × existing relation ×
//!   full refresh × partitioned × unique_key × on_schema_change × strategy), enumerated once for glue-materialize's
//!   golden matrix and glue-local's golden plans.
//!
//! A missing simulator fails the test that needs it (a panic naming the variable or the endpoint): nothing skips.

#[cfg(feature = "matrix")]
pub mod matrix;
pub mod sim;
