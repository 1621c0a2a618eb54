//! The lock client: acquire with heartbeat, release, takeover of a dead holder's lease (see the crate docs).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::task::JoinHandle;

use crate::attributes::{ENTITY_ID, LEASE_DURATION_MS, OWNER_ID, VERSION};
use crate::error::LockError;

/// Timings of the lock, with Iceberg's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockOptions {
    /// How long a holder's lease lasts without a heartbeat (`lock.heartbeat-timeout-ms`, 15 s); written into the item.
    pub lease: Duration,
    /// How often a holder renews its lease (`lock.heartbeat-interval-ms`, 3 s).
    pub heartbeat_interval: Duration,
    /// How often a waiter looks at the lock (`lock.acquire-interval-ms`, 5 s).
    pub acquire_interval: Duration,
    /// How long `acquire` tries before [`LockError::Timeout`] (`lock.acquire-timeout-ms`, 180 s).
    pub acquire_timeout: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            lease: Duration::from_millis(15_000),
            heartbeat_interval: Duration::from_millis(3_000),
            acquire_interval: Duration::from_millis(5_000),
            acquire_timeout: Duration::from_millis(180_000),
        }
    }
}

impl LockOptions {
    /// Sets the lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
    /// Sets the heartbeat interval.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }
    /// Sets the acquire interval.
    pub fn acquire_interval(mut self, interval: Duration) -> Self {
        self.acquire_interval = interval;
        self
    }
    /// Sets the acquire timeout.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}

/// The entity id Iceberg's Glue catalog locks for a table: `<database>.<table>`.
pub fn glue_table_entity(database: &str, table: &str) -> String {
    format!("{database}.{table}")
}

/// Takes locks in one lock table.
#[derive(Clone, Debug)]
pub struct LockClient {
    client: Client,
    table: String,
    options: LockOptions,
}

/// A held lock: renewed in the background until released (explicitly, or on drop).
#[derive(Debug)]
pub struct LockGuard {
    client: Client,
    table: String,
    entity: String,
    owner: String,
    lost: Arc<AtomicBool>,
    heartbeat: Option<JoinHandle<()>>,
}

enum Failure {
    /// The condition of a conditional write did not hold.
    Condition,
    /// Throttling or a transient server error: try again.
    Retry(String),
    /// Anything else.
    Fatal(String),
}

impl LockClient {
    /// A client of the lock table `table`.
    pub fn new(client: Client, table: impl Into<String>, options: LockOptions) -> Self {
        LockClient {
            client,
            table: table.into(),
            options,
        }
    }

    /// The options in force.
    pub fn options(&self) -> &LockOptions {
        &self.options
    }

    /// Acquires the lock on `entity` for `owner`, waiting up to the acquire timeout.
    pub async fn acquire(&self, entity: &str, owner: &str) -> Result<LockGuard, LockError> {
        let started = Instant::now();
        // The version we watch and since when: a version unchanged for a whole lease belongs to a dead holder.
        let mut watching: Option<(String, Instant)> = None;
        let mut holder = String::from("nobody");
        loop {
            match self.read(entity).await {
                Ok(None) => match self.put(entity, owner, None).await {
                    Ok(()) => return Ok(self.guard(entity, owner)),
                    Err(Failure::Fatal(message)) => return Err(self.dynamo("PutItem", message)),
                    Err(Failure::Condition | Failure::Retry(_)) => {}
                },
                Ok(Some(item)) => {
                    holder = item.owner.clone();
                    match &watching {
                        Some((version, since)) if *version == item.version && since.elapsed() >= item.lease => {
                            match self.put(entity, owner, Some(&item.version)).await {
                                Ok(()) => {
                                    tracing::warn!(entity, owner, dead = %item.owner, "took over an expired lock lease");
                                    return Ok(self.guard(entity, owner));
                                }
                                Err(Failure::Fatal(message)) => return Err(self.dynamo("PutItem", message)),
                                Err(Failure::Condition | Failure::Retry(_)) => watching = None,
                            }
                        }
                        Some((version, _)) if *version == item.version => {}
                        _ => watching = Some((item.version.clone(), Instant::now())),
                    }
                }
                Err(Failure::Fatal(message)) => return Err(self.dynamo("GetItem", message)),
                Err(Failure::Condition | Failure::Retry(_)) => {}
            }
            if started.elapsed() >= self.options.acquire_timeout {
                return Err(LockError::Timeout {
                    entity: entity.to_string(),
                    holder,
                    timeout: self.options.acquire_timeout,
                    table: self.table.clone(),
                });
            }
            tokio::time::sleep(jitter(self.options.acquire_interval)).await;
        }
    }

    fn guard(&self, entity: &str, owner: &str) -> LockGuard {
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = tokio::spawn(heartbeat(
            self.clone(),
            entity.to_string(),
            owner.to_string(),
            lost.clone(),
        ));
        LockGuard {
            client: self.client.clone(),
            table: self.table.clone(),
            entity: entity.to_string(),
            owner: owner.to_string(),
            lost,
            heartbeat: Some(heartbeat),
        }
    }

    async fn read(&self, entity: &str) -> Result<Option<Item>, Failure> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ENTITY_ID, AttributeValue::S(entity.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out.item.map(|item| Item::from(&item)))
    }

    /// Writes the item with a fresh version: if absent, or (takeover) if its version is still `seen`.
    async fn put(&self, entity: &str, owner: &str, seen: Option<&str>) -> Result<(), Failure> {
        let mut request = self.item_put(entity, owner);
        request = match seen {
            None => request.condition_expression("attribute_not_exists(entityId)"),
            Some(version) => request
                .condition_expression("attribute_not_exists(entityId) OR (entityId = :eid AND version = :vid)")
                .expression_attribute_values(":eid", AttributeValue::S(entity.to_string()))
                .expression_attribute_values(":vid", AttributeValue::S(version.to_string())),
        };
        request.send().await.map(|_| ()).map_err(|e| classify(&e))
    }

    /// Renews the lease of a held lock: a new version, if the item is still this owner's.
    async fn renew(&self, entity: &str, owner: &str) -> Result<(), Failure> {
        self.item_put(entity, owner)
            .condition_expression("entityId = :eid AND ownerId = :oid")
            .expression_attribute_values(":eid", AttributeValue::S(entity.to_string()))
            .expression_attribute_values(":oid", AttributeValue::S(owner.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }

    fn item_put(
        &self,
        entity: &str,
        owner: &str,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(ENTITY_ID, AttributeValue::S(entity.to_string()))
            .item(OWNER_ID, AttributeValue::S(owner.to_string()))
            .item(VERSION, AttributeValue::S(uuid::Uuid::new_v4().to_string()))
            .item(
                LEASE_DURATION_MS,
                AttributeValue::N(self.options.lease.as_millis().to_string()),
            )
    }

    fn dynamo(&self, operation: &'static str, message: String) -> LockError {
        LockError::DynamoDb {
            operation,
            table: self.table.clone(),
            message,
        }
    }
}

async fn heartbeat(client: LockClient, entity: String, owner: String, lost: Arc<AtomicBool>) {
    loop {
        tokio::time::sleep(client.options.heartbeat_interval).await;
        match client.renew(&entity, &owner).await {
            Ok(()) => {}
            Err(Failure::Condition) => {
                tracing::error!(entity, owner, "lock lost: its lease was taken over; stop writing");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // The next beat tries again; the lease is several beats long.
            Err(Failure::Retry(message) | Failure::Fatal(message)) => {
                tracing::warn!(entity, owner, %message, "lock heartbeat failed");
            }
        }
    }
}

impl LockGuard {
    /// The locked entity.
    pub fn entity_id(&self) -> &str {
        &self.entity
    }

    /// The owner holding it.
    pub fn owner_id(&self) -> &str {
        &self.owner
    }

    /// True once a heartbeat found the lock taken over: whatever the holder writes now is unprotected.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Releases the lock: stops the heartbeat, then deletes the item if it is still this owner's.
    pub async fn release(mut self) -> Result<(), LockError> {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
        release(&self.client, &self.table, &self.entity, &self.owner).await
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
            // Not released explicitly: release in the background if a runtime is there (else the lease expires).
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let (client, table, entity, owner) = (
                    self.client.clone(),
                    self.table.clone(),
                    self.entity.clone(),
                    self.owner.clone(),
                );
                runtime.spawn(async move {
                    if let Err(e) = release(&client, &table, &entity, &owner).await {
                        tracing::warn!(%e, "releasing a dropped lock guard");
                    }
                });
            }
        }
    }
}

async fn release(client: &Client, table: &str, entity: &str, owner: &str) -> Result<(), LockError> {
    let mut attempt = 0;
    loop {
        let result = client
            .delete_item()
            .table_name(table)
            .key(ENTITY_ID, AttributeValue::S(entity.to_string()))
            .condition_expression("entityId = :eid AND ownerId = :oid")
            .expression_attribute_values(":eid", AttributeValue::S(entity.to_string()))
            .expression_attribute_values(":oid", AttributeValue::S(owner.to_string()))
            .send()
            .await;
        match result.map_err(|e| classify(&e)) {
            Ok(_) => return Ok(()),
            Err(Failure::Condition) => {
                return Err(LockError::NotHeld {
                    entity: entity.to_string(),
                    owner: owner.to_string(),
                    table: table.to_string(),
                });
            }
            Err(Failure::Retry(_)) if attempt < 8 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
            }
            Err(Failure::Retry(message) | Failure::Fatal(message)) => {
                return Err(LockError::DynamoDb {
                    operation: "DeleteItem",
                    table: table.to_string(),
                    message,
                });
            }
        }
    }
}

/// A lock item as read.
struct Item {
    owner: String,
    version: String,
    lease: Duration,
}

impl From<&HashMap<String, AttributeValue>> for Item {
    fn from(item: &HashMap<String, AttributeValue>) -> Self {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let lease = item
            .get(LEASE_DURATION_MS)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(15_000);
        Item {
            owner: text(OWNER_ID),
            version: text(VERSION),
            lease: Duration::from_millis(lease),
        }
    }
}

const RETRYABLE: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "TransactionConflictException",
];

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> Failure {
    match err.code() {
        Some("ConditionalCheckFailedException") => Failure::Condition,
        Some(code) if RETRYABLE.contains(&code) => Failure::Retry(sdk_message(err)),
        _ => Failure::Fatal(sdk_message(err)),
    }
}

/// An SDK error with its code and message (never credentials: the SDK's errors carry none).
pub(crate) fn sdk_message<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => DisplayErrorContext(err).to_string(),
    }
}

/// `interval` plus up to 10% (as Iceberg's retries), so waiters do not move in step.
fn jitter(interval: Duration) -> Duration {
    let extra = interval.as_micros() as u64 / 10;
    if extra == 0 {
        return interval;
    }
    let noise = uuid::Uuid::new_v4().as_u128() as u64 % extra;
    interval + Duration::from_micros(noise)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_icebergs() {
        let o = LockOptions::default();
        assert_eq!(
            (o.lease, o.heartbeat_interval, o.acquire_interval, o.acquire_timeout),
            (
                Duration::from_secs(15),
                Duration::from_secs(3),
                Duration::from_secs(5),
                Duration::from_secs(180)
            )
        );
        assert_eq!(glue_table_entity("db", "t"), "db.t");
    }

    #[test]
    fn jitter_adds_at_most_a_tenth() {
        for _ in 0..1000 {
            let j = jitter(Duration::from_millis(100));
            assert!(
                j >= Duration::from_millis(100) && j < Duration::from_millis(110),
                "{j:?}"
            );
        }
    }

    #[test]
    fn an_item_without_a_lease_gets_icebergs_default() {
        let mut item = HashMap::new();
        item.insert(OWNER_ID.to_string(), AttributeValue::S("o".into()));
        item.insert(VERSION.to_string(), AttributeValue::S("v".into()));
        let parsed = Item::from(&item);
        assert_eq!(
            (parsed.owner.as_str(), parsed.version.as_str(), parsed.lease),
            ("o", "v", Duration::from_secs(15))
        );
        item.insert(LEASE_DURATION_MS.to_string(), AttributeValue::N("1500".into()));
        assert_eq!(Item::from(&item).lease, Duration::from_millis(1500));
    }
}
