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
//! And what runs on it:
//!
//! - [`Clients`]: the AWS clients from the SDK's credential chain (SSO, credential_process, …), the profile's
//!   region and retries, optionally the session role through STS.
//! - [`LivySession`]: one session opened by the reference's reuse rules, statements with a GetStatement back-off
//!   that starts at 25 ms, cancel and stop.
//! - [`request`]: the small Python runner defined once per session and the base64 requests it runs (results as
//!   Arrow IPC), split into pieces when larger than Glue's 68,000-character `Code` limit.
//! - [`Catalog`]: GetTables listings, format detection, the one-UpdateTable atomic table replace.
//! - [`LivyEngine`]: the remote `glue_materialize::Engine` over Livy statements on a pool of sessions (one per thread).
//!
//! And over Spark Connect:
//!
//! - [`ConnectSession`]: a Glue 5.1 `SPARK_CONNECT` session (GetSessionEndpoint, the token refreshed under the same
//!   Spark session id) or any `sc://` server; SQL and Arrow plans through the official client's async core.
//! - [`ConnectEngine`]: the remote `Engine` over one Spark Connect session ([`ConnectTarget`]: Glue or a server with
//!   its [`SparkConnectProfile`]).

mod catalog;
mod client;
mod connect;
mod connect_engine;
mod connect_profile;
mod create;
mod database;
mod error;
mod lake_formats;
mod lf;
mod livy;
mod livy_engine;
mod livy_steps;
mod locations;
mod profile;
mod profile_values;
mod report;
pub mod request;
mod seed;
mod steps;

pub use catalog::{Catalog, existing_of, switches_done};
pub use client::Clients;
pub use connect::{ConnectSession, ConnectStats};
pub use connect_engine::{ConnectEngine, ConnectTarget};
pub use connect_profile::{SPARK_CONNECT_PROFILE_KEYS, SparkConnectProfile};
pub use create::{CreateSessionSpec, session_id};
pub use error::{ProfileError, SessionError};
pub use lake_formats::{FormatRoute, lakehouse_formats};
pub use livy::{LivySession, Origin, Stats, session_status};
pub use livy_engine::LivyEngine;
pub use profile::{
    CATALOG_ID_CONF, DatalakeFormat, GLUE_PROFILE_KEYS, GlueProfile, GlueVersion, ProfileOrigin, RetryMode,
    SESSION_OPTIONS, SessionType, WorkerType,
};
pub use report::RunReport;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
