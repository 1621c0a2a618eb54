//! Errors of the lock table and the lock client.

use std::time::Duration;

/// What can go wrong with the lock table or a lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The table exists with another key schema than Iceberg's lock manager needs.
    #[error(
        "DynamoDB table {table} is not an Iceberg lock table: it needs the partition key `entityId` (string) and no sort \
         key, found {found}"
    )]
    WrongSchema {
        /// The table.
        table: String,
        /// Its key schema, as found.
        found: String,
    },
    /// The table did not become ACTIVE in time.
    #[error("DynamoDB table {table} is {status}, not ACTIVE, after {waited:?}")]
    NotActive {
        /// The table.
        table: String,
        /// Its last status.
        status: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The lock was held by someone else for the whole acquire timeout.
    #[error("could not acquire the lock on {entity} in {timeout:?} (held by {holder}) in DynamoDB table {table}")]
    Timeout {
        /// The locked entity.
        entity: String,
        /// The last holder seen.
        holder: String,
        /// The acquire timeout.
        timeout: Duration,
        /// The lock table.
        table: String,
    },
    /// Release of a lock this owner does not hold (its lease was taken over, or it was released already).
    #[error("the lock on {entity} is not held by {owner} any more (table {table})")]
    NotHeld {
        /// The locked entity.
        entity: String,
        /// The owner that tried to release.
        owner: String,
        /// The lock table.
        table: String,
    },
    /// A DynamoDB call failed (after retries for throttling).
    #[error("DynamoDB {operation} on table {table}: {message}")]
    DynamoDb {
        /// The operation.
        operation: &'static str,
        /// The table.
        table: String,
        /// The SDK's error, with its code.
        message: String,
    },
}
