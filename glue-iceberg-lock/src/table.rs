//! The lock table: created on demand with exactly the schema Iceberg's `DynamoDbLockManager` creates.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableDescription, TableStatus,
};

use crate::attributes::ENTITY_ID;
use crate::client::sdk_message;
use crate::error::LockError;

/// What [`ensure_lock_table`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableState {
    /// The table existed with the right schema.
    Existing,
    /// The table was created (on-demand billing) and is ACTIVE.
    Created,
}

/// Makes sure the lock table `name` exists with Iceberg's schema and is ACTIVE, creating it if absent.
///
/// `DescribeTable`; absent: `CreateTable` (partition key `entityId` of type S, no sort key, `PAY_PER_REQUEST`), then
/// `DescribeTable` until ACTIVE, at most `wait`. A concurrent creator is not an error. A table with another key schema
/// is [`LockError::WrongSchema`] (Iceberg would use it and fail at the first lock).
pub async fn ensure_lock_table(client: &Client, name: &str, wait: Duration) -> Result<TableState, LockError> {
    let state = match describe(client, name).await? {
        Some(table) => {
            check_schema(name, &table)?;
            TableState::Existing
        }
        None => {
            let created = client
                .create_table()
                .table_name(name)
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(ENTITY_ID)
                        .key_type(KeyType::Hash)
                        .build()
                        .map_err(build_error(name))?,
                )
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(ENTITY_ID)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .map_err(build_error(name))?,
                )
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await;
            match created {
                Ok(_) => TableState::Created,
                // Another process created it between our DescribeTable and CreateTable.
                Err(e) if e.code() == Some("ResourceInUseException") => TableState::Existing,
                Err(e) => return Err(dynamo("CreateTable", name, &e)),
            }
        }
    };
    let started = Instant::now();
    loop {
        let table = describe(client, name).await?;
        let status = table.as_ref().and_then(|t| t.table_status().cloned());
        if status == Some(TableStatus::Active) {
            if let Some(table) = &table {
                check_schema(name, table)?;
            }
            return Ok(state);
        }
        if started.elapsed() >= wait {
            return Err(LockError::NotActive {
                table: name.to_string(),
                status: status
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "absent".into()),
                waited: wait,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Ensures the lock table only when `protection` is Iceberg's DynamoDB lock (the user's `lock-impl`); with Glue's
/// VersionId (or another lock manager) nothing is called and nothing is created.
pub async fn ensure_configured_lock_table(
    client: &Client,
    protection: &crate::CommitProtection,
    wait: Duration,
) -> Result<Option<TableState>, LockError> {
    match protection.lock_table() {
        Some(table) => ensure_lock_table(client, table, wait).await.map(Some),
        None => Ok(None),
    }
}

async fn describe(client: &Client, name: &str) -> Result<Option<TableDescription>, LockError> {
    match client.describe_table().table_name(name).send().await {
        Ok(out) => Ok(out.table),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(dynamo("DescribeTable", name, &e)),
    }
}

fn check_schema(name: &str, table: &TableDescription) -> Result<(), LockError> {
    let keys: Vec<(String, String)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string()))
        .collect();
    let entity_type = table
        .attribute_definitions()
        .iter()
        .find(|a| a.attribute_name() == ENTITY_ID)
        .map(|a| a.attribute_type().as_str().to_string());
    if keys == [(ENTITY_ID.to_string(), "HASH".to_string())] && entity_type.as_deref() == Some("S") {
        return Ok(());
    }
    let found = keys
        .iter()
        .map(|(name, kind)| {
            let ty = table
                .attribute_definitions()
                .iter()
                .find(|a| a.attribute_name() == name)
                .map(|a| a.attribute_type().as_str())
                .unwrap_or("?");
            format!("{name} {kind} ({ty})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(LockError::WrongSchema {
        table: name.to_string(),
        found,
    })
}

fn dynamo<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    table: &str,
    err: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> LockError {
    LockError::DynamoDb {
        operation,
        table: table.to_string(),
        message: sdk_message(err),
    }
}

fn build_error(table: &str) -> impl Fn(aws_sdk_dynamodb::error::BuildError) -> LockError + '_ {
    move |e| LockError::DynamoDb {
        operation: "CreateTable",
        table: table.to_string(),
        message: e.to_string(),
    }
}
