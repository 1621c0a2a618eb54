//! The DynamoDB commit lock of Iceberg's Glue catalog, for Rust writers that share tables with Spark.
//!
//! Iceberg's `GlueCatalog` protects commits with Glue's `VersionId` by default; deployments that configure
//! `lock-impl=org.apache.iceberg.aws.dynamodb.DynamoDbLockManager` (with `lock.table=<name>`) serialize commits through
//! a DynamoDB table instead. This crate creates that table ([`ensure_lock_table`]) and takes the same lock
//! ([`LockClient`]), so a Rust writer and a Spark writer exclude each other.
//!
//! The protocol, from Iceberg's `DynamoDbLockManager` (apache/iceberg, module `aws`):
//!
//! - **Table**: partition key `entityId` (string), no sort key, no index, no TTL, on-demand billing
//!   (`PAY_PER_REQUEST`).
//! - **Item**: `entityId` (S, the lock's key: `<database>.<table>` for Glue tables, see [`glue_table_entity`]),
//!   `ownerId` (S, the holder: Iceberg uses the new metadata file's location), `version` (S, a fresh random UUID on every
//!   write), `leaseDurationMs` (N, how long the holder's lease lasts without a heartbeat).
//! - **Acquire**: read the item (consistent read). No item: `PutItem` if `attribute_not_exists(entityId)`. An item: the
//!   lock may be taken over only if its `version` stays the same for a whole `leaseDurationMs` (the holder stopped
//!   heartbeating): `PutItem` if `attribute_not_exists(entityId) OR (entityId = :eid AND version = :vid)` with the
//!   version seen. Iceberg sleeps one lease per attempt; this client polls every acquire interval and takes over once the
//!   same version has been seen for a lease, so a released lock is taken at once, with the same safety.
//! - **Heartbeat**: while held, every heartbeat interval, `PutItem` of the item with a new `version` if
//!   `entityId = :eid AND ownerId = :oid`. Iceberg only logs a failed heartbeat; here the guard is marked lost
//!   ([`LockGuard::is_lost`]) and stops.
//! - **Release**: `DeleteItem` if `entityId = :eid AND ownerId = :oid`.
//! - **Defaults** (Iceberg's catalog properties): heartbeat interval 3 s (`lock.heartbeat-interval-ms`), lease 15 s
//!   (`lock.heartbeat-timeout-ms`), acquire interval 5 s (`lock.acquire-interval-ms`), acquire timeout 180 s
//!   (`lock.acquire-timeout-ms`); see [`LockOptions`].
//!
//! Throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`, internal
//! errors) is retried within the acquire timeout, as Iceberg does.

mod client;
mod error;
mod protection;
mod table;

pub use client::{LockClient, LockGuard, LockOptions, glue_table_entity};
pub use error::LockError;
pub use protection::{CommitProtection, DYNAMODB_LOCK_MANAGER};
pub use table::{TableState, ensure_configured_lock_table, ensure_lock_table};

/// The attribute names of a lock item, as Iceberg writes them.
pub mod attributes {
    /// Partition key: the locked entity.
    pub const ENTITY_ID: &str = "entityId";
    /// The holder.
    pub const OWNER_ID: &str = "ownerId";
    /// A random UUID, new on every write (acquire and heartbeat).
    pub const VERSION: &str = "version";
    /// The holder's lease in milliseconds (a number).
    pub const LEASE_DURATION_MS: &str = "leaseDurationMs";
}

/// The lock table name Iceberg users configure by default in dbt-glue profiles (`iceberg_glue_commit_lock_table`).
pub const DEFAULT_LOCK_TABLE: &str = "myGlueLockTable";

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
