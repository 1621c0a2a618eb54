//! The lock table and the lock client against the test world's DynamoDB (moto behind the Glue simulator), through the
//! real SDK. Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT`, AWS credentials and
//! `GLUE_RS_PYTHON` (a Python with boto3, for the Iceberg-protocol harness). A missing endpoint fails: nothing skips.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use glue_iceberg_lock::{
    CommitProtection, DYNAMODB_LOCK_MANAGER, LockClient, LockError, LockOptions, TableState,
    ensure_configured_lock_table, ensure_lock_table,
};
use glue_testkit::sim;

async fn dynamodb() -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(sim::endpoint())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

fn unique(prefix: &str) -> String {
    sim::unique(prefix, "-")
}

fn fast() -> LockOptions {
    LockOptions::default()
        .lease(Duration::from_millis(2_000))
        .heartbeat_interval(Duration::from_millis(300))
        .acquire_interval(Duration::from_millis(25))
        .acquire_timeout(Duration::from_secs(180))
}

/// For many clients on one entity: a lease long enough that a loaded simulator (every DynamoDB request goes through
/// one lock there) never delays a heartbeat past it, which would be a legitimate takeover.
fn contended() -> LockOptions {
    fast()
        .lease(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1))
        .acquire_interval(Duration::from_millis(40))
}

async fn lock_table(client: &aws_sdk_dynamodb::Client) -> String {
    let table = unique("glue-rs-lock");
    assert_eq!(
        ensure_lock_table(client, &table, Duration::from_secs(30))
            .await
            .unwrap(),
        TableState::Created
    );
    table
}

#[tokio::test]
async fn lock_table_is_created_on_demand_idempotently_and_its_schema_checked() {
    let client = dynamodb().await;
    let table = lock_table(&client).await;
    assert_eq!(
        ensure_lock_table(&client, &table, Duration::from_secs(30))
            .await
            .unwrap(),
        TableState::Existing
    );
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<_> = described
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(keys, [("entityId", "HASH")]);
    let billing = described
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .map(|b| b.as_str());
    assert_eq!(billing, Some("PAY_PER_REQUEST"));

    let wrong = unique("not-a-lock-table");
    client
        .create_table()
        .table_name(&wrong)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let err = ensure_lock_table(&client, &wrong, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(err, LockError::WrongSchema { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&wrong) && text.contains("id HASH (N)") && text.contains("`entityId`"),
        "{text}"
    );
}

/// `clients` × `cycles` acquire/release on one entity; each holder checks nobody else holds it while it does.
async fn contend(table: &str, clients: usize, cycles: usize, options: LockOptions) -> usize {
    let client = dynamodb().await;
    let holders = Arc::new(AtomicUsize::new(0));
    let entries = Arc::new(AtomicUsize::new(0));
    let entity = unique("db.table");
    let mut tasks = vec![];
    for c in 0..clients {
        let locks = LockClient::new(client.clone(), table, options.clone());
        let (holders, entries, entity) = (holders.clone(), entries.clone(), entity.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..cycles {
                let owner = format!("client-{c}-cycle-{i}");
                let guard = locks
                    .acquire(&entity, &owner)
                    .await
                    .unwrap_or_else(|e| panic!("{owner}: {e}"));
                assert_eq!(
                    holders.fetch_add(1, Ordering::SeqCst),
                    0,
                    "{owner} entered while another held the lock"
                );
                entries.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
                assert!(!guard.is_lost());
                assert_eq!(holders.fetch_sub(1, Ordering::SeqCst), 1);
                guard.release().await.unwrap_or_else(|e| panic!("{owner}: {e}"));
            }
        }));
    }
    for task in tasks {
        task.await.expect("a client failed");
    }
    entries.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_a_hundred_cycles_each_never_overlap() {
    let client = dynamodb().await;
    let table = lock_table(&client).await;
    assert_eq!(contend(&table, 8, 100, contended()).await, 800);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contention_holds_with_throttled_dynamodb() {
    let client = dynamodb().await;
    let table = lock_table(&client).await;
    sim::set_faults(
        r#"{"throttle": {"dynamodb:GetItem": 0.2, "dynamodb:PutItem": 0.2, "dynamodb:DeleteItem": 0.2}, "seed": 5}"#,
    );
    let entered = contend(&table, 4, 25, contended()).await;
    sim::clear_faults();
    assert_eq!(entered, 100);
}

#[tokio::test]
async fn a_dead_holder_loses_the_lock_after_its_lease_a_live_one_keeps_it() {
    let client = dynamodb().await;
    let table = lock_table(&client).await;
    // A holder that died: its item, as Iceberg writes it, and no heartbeat.
    let entity = unique("db.dead");
    client
        .put_item()
        .table_name(&table)
        .item("entityId", AttributeValue::S(entity.clone()))
        .item(
            "ownerId",
            AttributeValue::S("s3://lake/db/t/metadata/00007-dead.metadata.json".into()),
        )
        .item(
            "version",
            AttributeValue::S("9f1c0a4e-dead-4bee-8000-000000000000".into()),
        )
        .item("leaseDurationMs", AttributeValue::N("1500".into()))
        .send()
        .await
        .unwrap();
    let locks = LockClient::new(client.clone(), &table, fast());
    let started = Instant::now();
    let guard = locks.acquire(&entity, "rust-writer").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "taken over before the lease ended"
    );
    let item = client
        .get_item()
        .table_name(&table)
        .key("entityId", AttributeValue::S(entity.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["ownerId"].as_s().unwrap(), "rust-writer");

    // A live holder (heartbeating) keeps it: a waiter times out with an error naming the holder.
    let impatient = LockClient::new(
        client.clone(),
        &table,
        fast().acquire_timeout(Duration::from_millis(4_500)),
    );
    let err = impatient.acquire(&entity, "impatient").await.unwrap_err();
    assert!(matches!(err, LockError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("held by rust-writer"), "{err}");
    assert!(!guard.is_lost());
    guard.release().await.unwrap();
    // Released: the next writer gets it at once.
    let started = Instant::now();
    locks.acquire(&entity, "next").await.unwrap().release().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn releasing_a_lock_taken_over_is_an_error_and_the_guard_knows_it_is_lost() {
    let client = dynamodb().await;
    let table = lock_table(&client).await;
    let entity = unique("db.stolen");
    let locks = LockClient::new(
        client.clone(),
        &table,
        fast().heartbeat_interval(Duration::from_millis(200)),
    );
    let guard = locks.acquire(&entity, "first").await.unwrap();
    // Someone (wrongly) overwrites the item: the holder's next heartbeat finds it and marks the guard lost.
    client
        .put_item()
        .table_name(&table)
        .item("entityId", AttributeValue::S(entity.clone()))
        .item("ownerId", AttributeValue::S("intruder".into()))
        .item("version", AttributeValue::S("v".into()))
        .item("leaseDurationMs", AttributeValue::N("2000".into()))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(guard.is_lost());
    let err = guard.release().await.unwrap_err();
    assert!(matches!(err, LockError::NotHeld { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn iceberg_protocol_clients_and_rust_clients_exclude_each_other() {
    let client = dynamodb().await;
    let table = lock_table(&client).await;
    let entity = unique("db.shared");
    let log = std::env::temp_dir().join(unique("glue-rs-lock-log"));
    std::fs::write(&log, "").unwrap();
    let python = std::env::var("GLUE_RS_PYTHON").expect("GLUE_RS_PYTHON (a Python with boto3) is not set");
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/iceberg_protocol.py");
    // Two processes speaking Iceberg's protocol (as its Java lock manager does), two Rust clients, one entity.
    let mut children: Vec<std::process::Child> = (0..2)
        .map(|p| {
            std::process::Command::new(&python)
                .args([
                    harness,
                    &sim::endpoint(),
                    &table,
                    &entity,
                    &format!("iceberg-{p}"),
                    "12",
                ])
                .arg(&log)
                .spawn()
                .expect("starts the Iceberg-protocol harness")
        })
        .collect();
    let mut tasks = vec![];
    for c in 0..2 {
        let locks = LockClient::new(client.clone(), &table, fast());
        let (entity, log) = (entity.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let owner = format!("rust-{c}");
                let guard = locks
                    .acquire(&entity, &owner)
                    .await
                    .unwrap_or_else(|e| panic!("{owner} cycle {i}: {e}"));
                append(&log, &format!("enter {owner}\n"));
                tokio::time::sleep(Duration::from_millis(20)).await;
                append(&log, &format!("exit {owner}\n"));
                guard.release().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.expect("a Rust client failed");
    }
    for child in &mut children {
        assert!(child.wait().unwrap().success(), "an Iceberg-protocol client failed");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let mut holder: Option<&str> = None;
    let (mut rust, mut iceberg) = (0, 0);
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("enter", who)) => {
                assert!(
                    holder.is_none(),
                    "{who} entered while {holder:?} held the lock:\n{text}"
                );
                holder = Some(who);
                if who.starts_with("rust") {
                    rust += 1
                } else {
                    iceberg += 1
                }
            }
            Some(("exit", who)) => {
                assert_eq!(holder, Some(who), "exit of a non-holder:\n{text}");
                holder = None;
            }
            _ => panic!("bad log line {line:?}"),
        }
    }
    assert_eq!((rust, iceberg), (50, 24));
    let _ = std::fs::remove_file(&log);
}

fn append(path: &std::path::Path, line: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(line.as_bytes()).unwrap();
}

#[tokio::test]
async fn the_table_is_created_only_when_the_conf_selects_the_lock_manager() {
    let client = dynamodb().await;
    let name = unique("profile-lock-table");
    let exists = |client: aws_sdk_dynamodb::Client, name: String| async move {
        client.describe_table().table_name(name).send().await.is_ok()
    };
    let not_configured = CommitProtection::from_spark_conf(
        [("spark.sql.catalog.glue_catalog.warehouse", "s3://w")],
        "glue_catalog",
        Some(&name),
    );
    let done = ensure_configured_lock_table(&client, &not_configured, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done, None);
    assert!(
        !exists(client.clone(), name.clone()).await,
        "no lock manager configured, yet a table was created"
    );

    let configured = CommitProtection::from_spark_conf(
        [
            ("spark.sql.catalog.glue_catalog.lock-impl", DYNAMODB_LOCK_MANAGER),
            ("spark.sql.catalog.glue_catalog.lock.table", name.as_str()),
        ],
        "glue_catalog",
        None,
    );
    let done = ensure_configured_lock_table(&client, &configured, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done, Some(TableState::Created));
    assert!(exists(client.clone(), name.clone()).await);
}
