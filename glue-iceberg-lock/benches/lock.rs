//! `cargo bench -p glue-iceberg-lock`, against the test world's DynamoDB (`cargo xtask bench lock` starts it and passes
//! `GLUE_SIM_ENDPOINT`): acquire+release latency per cycle, uncontended, beside one GetItem round trip measured in the
//! same run (the floor: a cycle is GetItem + PutItem + DeleteItem), and cycles per second with 4 clients contending.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use glue_iceberg_lock::{LockClient, LockOptions, ensure_lock_table};

fn main() {
    let endpoint = std::env::var("GLUE_SIM_ENDPOINT")
        .expect("GLUE_SIM_ENDPOINT is not set: run `cargo xtask bench lock` (it starts the test world)");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .load()
            .await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = format!("glue-rs-lock-bench-{}", std::process::id());
        ensure_lock_table(&client, &table, Duration::from_secs(30))
            .await
            .expect("lock table");
        let options = LockOptions::default()
            .lease(Duration::from_secs(5))
            .heartbeat_interval(Duration::from_secs(1))
            .acquire_interval(Duration::from_millis(10))
            .acquire_timeout(Duration::from_secs(120));
        let cycles = 200;

        let started = Instant::now();
        for _ in 0..cycles {
            client
                .get_item()
                .table_name(&table)
                .key("entityId", AttributeValue::S("bench.floor".into()))
                .consistent_read(true)
                .send()
                .await
                .expect("GetItem");
        }
        let get_item = started.elapsed() / cycles;

        let locks = LockClient::new(client.clone(), &table, options.clone());
        let started = Instant::now();
        for i in 0..cycles {
            let guard = locks
                .acquire("bench.solo", &format!("owner-{i}"))
                .await
                .expect("acquire");
            guard.release().await.expect("release");
        }
        let cycle = started.elapsed() / cycles;

        let clients = 4;
        let per_client = 50;
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let locks = LockClient::new(client.clone(), &table, options.clone());
                tokio::spawn(async move {
                    for i in 0..per_client {
                        let guard = locks
                            .acquire("bench.contended", &format!("c{c}-{i}"))
                            .await
                            .expect("acquire");
                        guard.release().await.expect("release");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("client");
        }
        let contended = started.elapsed();
        let total = (clients * per_client) as f64;
        println!(
            "GetItem round trip (floor):       {:>8.2} ms",
            get_item.as_secs_f64() * 1e3
        );
        println!(
            "acquire+release, uncontended:     {:>8.2} ms  ({:.1}× one GetItem)",
            cycle.as_secs_f64() * 1e3,
            cycle.as_secs_f64() / get_item.as_secs_f64()
        );
        println!(
            "{clients} clients contending:           {:>8.1} cycles/s ({total} cycles in {:.2} s)",
            total / contended.as_secs_f64(),
            contended.as_secs_f64()
        );
        client
            .delete_table()
            .table_name(&table)
            .send()
            .await
            .expect("DeleteTable");
    });
}
