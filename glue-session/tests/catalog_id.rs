//! The reference page's cross-account recipe, `conf: spark.hadoop.hive.metastore.glue.catalogid=<account>`: Spark in
//! the session reads that account's Data Catalog, and so do glue-rs's own catalog calls (their `CatalogId`), which a
//! local stand-in for Glue records here.

use std::sync::{Arc, Mutex};

use glue_session::{Catalog, Clients, GlueProfile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONF_KEY: &str = "spark.hadoop.hive.metastore.glue.catalogid";

fn profile(output: serde_json::Value) -> Result<GlueProfile, glue_session::ProfileError> {
    GlueProfile::from_output(output.as_object().unwrap()).map(|(p, _)| p)
}

#[test]
fn the_conf_key_selects_the_catalog_of_glue_rs_calls() {
    let p = profile(serde_json::json!({
        "conf": format!("hive.metastore.client.factory.class=x --conf {CONF_KEY}=111122223333")
    }))
    .unwrap();
    assert_eq!(p.catalog_id.as_deref(), Some("111122223333"));
    // The setting still goes to the session, for Spark.
    assert!(p.conf.iter().any(|(k, v)| k == CONF_KEY && v == "111122223333"));
}

#[test]
fn catalog_id_and_the_conf_key_must_agree() {
    let same = profile(serde_json::json!({
        "catalog_id": "111122223333", "conf": format!("{CONF_KEY}=111122223333")
    }))
    .unwrap();
    assert_eq!(same.catalog_id.as_deref(), Some("111122223333"));
    let e = profile(serde_json::json!({
        "catalog_id": "111122223333", "conf": format!("{CONF_KEY}=444455556666")
    }))
    .unwrap_err();
    assert_eq!(e.field, "catalog_id");
    assert!(
        e.message.contains("111122223333") && e.message.contains("444455556666") && e.message.contains(CONF_KEY),
        "{}",
        e.message
    );
}

#[test]
fn a_conf_catalog_id_that_is_no_account_id_is_refused() {
    let e = profile(serde_json::json!({"conf": format!("{CONF_KEY}=<TARGET-AWS-ACCOUNT-ID-B>")})).unwrap_err();
    assert_eq!(e.field, "conf");
    assert!(e.message.contains(CONF_KEY), "{}", e.message);
}

/// A stand-in for Glue's JSON API on a local port: answers `{}` to everything, records (X-Amz-Target, body).
async fn stand_in() -> (String, Arc<Mutex<Vec<(String, serde_json::Value)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                            })
                            .unwrap_or_default()
                    };
                    let len: usize = header("content-length").parse().unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or_default();
                    record.lock().unwrap().push((header("x-amz-target"), body));
                    buf.drain(..head_end + len);
                    let answer =
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}";
                    if sock.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn every_catalog_call_carries_the_conf_catalog_id() {
    let (url, seen) = stand_in().await;
    let p = profile(serde_json::json!({"conf": format!("{CONF_KEY}=111122223333")})).unwrap();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&url)
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .load()
        .await;
    let clients = Clients {
        glue: aws_sdk_glue::Client::new(&config),
        sessions: aws_sdk_glue::Client::new(&config),
        s3: aws_sdk_s3::Client::new(&config),
        config,
    };
    let catalog = Catalog::new(clients, p.catalog_id.clone());
    catalog.list("analytics").await.unwrap();
    catalog
        .get(&glue_sql::RelationName::new("analytics", "orders").unwrap())
        .await
        .unwrap();
    catalog.create_database("analytics", None).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let ops: Vec<&str> = seen
        .iter()
        .map(|(t, _)| t.rsplit('.').next().unwrap_or_default())
        .collect();
    assert_eq!(ops, ["GetTables", "GetTable", "CreateDatabase"]);
    for (target, body) in &seen {
        assert_eq!(body["CatalogId"], "111122223333", "{target}: {body}");
    }
}
