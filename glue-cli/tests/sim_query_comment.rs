//! dbt's `query-comment` on a Glue target of the test world's simulator: each RunStatement a model's run sends is
//! Python code (a call of the session's glue-rs runner) that starts with the comment as a Python comment line, and
//! every SQL statement inside the call starts with the SQL comment, both naming the node; `query-comment: ''` sends
//! neither.
//!
//! Run by `cargo xtask it` (feature `it`). Run with `--test-threads 1`.

mod common;

use std::collections::BTreeSet;

use base64::Engine as _;
use glue_testkit::sim::last_seq;

use common::sim::{Project, glue_client, log_since};
use common::text;

const DEFAULT: &str =
    r#"{"app": "dbt", "dbt_version": "1.11.0", "profile_name": "p", "target_name": "sim", "node_id": "model.p.m"}"#;

/// The code of every statement run on the sessions the run used since `since`, in order per session.
async fn codes_since(since: u64) -> Vec<String> {
    let sessions: BTreeSet<String> = log_since(since)
        .into_iter()
        .filter(|(op, _)| op == "RunStatement")
        .filter_map(|(_, id)| id)
        .collect();
    assert!(!sessions.is_empty(), "the run sent no statement");
    let glue = glue_client().await;
    let mut out = Vec::new();
    for id in sessions {
        let list = glue
            .list_statements()
            .session_id(&id)
            .send()
            .await
            .expect("ListStatements");
        for s in list.statements() {
            out.push(s.code().unwrap_or_default().to_string());
        }
    }
    out
}

/// Whether `code` is a request to the runner (not the runner's definition).
fn is_request(code: &str) -> bool {
    !code.contains("def _gluers_run(")
        && code
            .lines()
            .any(|l| l.starts_with("_gluers_run(") || l.starts_with("_gluers_put("))
}

/// The SQL of the runner's requests among `codes` (the base64 JSON of `_gluers_run("…")` calls).
fn request_sql(codes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for code in codes.iter().filter(|c| is_request(c)) {
        let Some(start) = code.find("_gluers_run(\"") else {
            continue;
        };
        let rest = &code[start + "_gluers_run(\"".len()..];
        let payload = &rest[..rest.find('"').unwrap()];
        let json: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(payload)
                .unwrap_or_else(|e| panic!("{e}: {code}")),
        )
        .unwrap();
        for op in json["ops"].as_array().unwrap() {
            if let Some(sql) = op["sql"].as_str() {
                out.push(sql.to_string());
            }
        }
    }
    out
}

fn project(query_comment: &str) -> Project {
    let p = Project::new(
        &[(
            "m",
            "{{ config(materialized='table', pre_hook='select 1') }}\nselect 1 as id",
        )],
        "",
        1,
    );
    std::fs::write(
        p.path().join("dbt_project.yml"),
        format!("name: p\nversion: '1.0'\nprofile: p\n{query_comment}"),
    )
    .unwrap();
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn every_statement_of_a_model_carries_dbt_default_comment_naming_the_node() {
    let p = project("");
    let since = last_seq();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let codes = codes_since(since).await;
    let requests: Vec<&String> = codes.iter().filter(|c| is_request(c)).collect();
    assert!(!requests.is_empty(), "{codes:?}");
    for code in &requests {
        assert!(code.starts_with(&format!("# {DEFAULT}\n_gluers_run(")), "{code}");
    }
    let sql = request_sql(&codes);
    // The model's database, the hook and the CTAS at least.
    assert!(sql.len() >= 2, "{sql:?}");
    for s in &sql {
        assert!(s.starts_with(&format!("/* {DEFAULT} */\n")), "{s}");
    }
    assert!(sql.iter().any(|s| s.ends_with("\nselect 1")), "{sql:?}");
    // `target/run/` shows the statements as sent.
    let ran = std::fs::read_to_string(p.path().join("target/run/p/models/m.sql")).unwrap();
    assert!(ran.contains(&format!("/* {DEFAULT} */\nselect 1;")), "{ran}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_query_comment_sends_none() {
    let p = project("query-comment: ''\n");
    let since = last_seq();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let codes = codes_since(since).await;
    assert!(codes.iter().any(|c| c.starts_with("_gluers_run(")), "{codes:?}");
    for code in codes.iter().filter(|c| is_request(c)) {
        assert!(!code.contains("node_id") && !code.starts_with('#'), "{code}");
    }
    let sql = request_sql(&codes);
    assert!(!sql.is_empty());
    for s in &sql {
        assert!(!s.contains("/*"), "{s}");
    }
}
