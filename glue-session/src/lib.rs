//! # glue-session: AWS Glue Interactive Sessions for glue-rs
//!
//! This first part holds what a session is made from, with no I/O:
//!
//! - [`GlueProfile`]: every Glue option of a dbt-glue `profiles.yml` output, typed and checked for shape (a malformed
//!   value is a [`ProfileError`] naming the field; a worker type or Glue version glue-rs does not know is a warning, so
//!   new AWS offerings work).
//! - [`session_id`]: the reference adapter's session id rules (base, per-model or group suffix, role and uuid).
//! - [`CreateSessionSpec`]: the CreateSession request (DefaultArguments in the reference's order and merging, plus the
//!   session-wide Spark settings glue-rs relies on), turned into an `aws-sdk-glue` request by
//!   [`CreateSessionSpec::request`].
//!
//! Statements (Livy), the Glue Data Catalog calls and the remote `Engine` come next (issue 6).

mod create;
mod error;
mod profile;

pub use create::{CreateSessionSpec, session_id};
pub use error::ProfileError;
pub use profile::{DatalakeFormat, GlueProfile, GlueVersion, RetryMode, SessionType, WorkerType};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
