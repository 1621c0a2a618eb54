//! Whose credentials the `glue` binary's calls carry on the test world's simulator, read from the access key id of each
//! request in the simulator's log: `aws_profile` names the profile of the AWS credentials file whose keys every call
//! uses (ahead of the environment's, as boto3's `Session(profile_name=…)` does); with
//! `use_interactive_session_role_for_api_calls` the catalog calls run as the session role (STS AssumeRole) while the
//! session calls stay the caller's, as dbt-glue scopes it.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials (access key
//! `testing`); a missing endpoint fails. Run with `--test-threads 1`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use glue_testkit::sim::{self, last_seq};

use common::sim::{Project, unique};
use common::text;

/// The access key ids of the calls after `since`, by `service:operation`, for the calls of session ids starting
/// with `prefix` or carrying no session id.
fn keys_by_operation(since: u64, prefix: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in sim::log(since) {
        if e["session_id"].as_str().is_some_and(|s| !s.starts_with(prefix)) {
            continue;
        }
        let op = format!(
            "{}:{}",
            e["service"].as_str().unwrap_or_default(),
            e["operation"].as_str().unwrap_or_default()
        );
        if let Some(k) = e["access_key"].as_str() {
            out.entry(op).or_default().insert(k.to_string());
        }
    }
    out
}

#[test]
fn aws_profile_names_the_credentials_every_call_carries() {
    let id = unique("sim-cred-profile-");
    let key = format!("AKID{}", unique("").to_uppercase().replace(['-', '_'], ""));
    let p = Project::new(
        &[("m", "{{ config(materialized='table') }}\nselect 1 as id")],
        &format!("      aws_profile: analytics\n      glue_session_id: {id}\n"),
        1,
    );
    let credentials = p.path().join("aws-credentials");
    std::fs::write(
        &credentials,
        format!("[analytics]\naws_access_key_id = {key}\naws_secret_access_key = secret-of-analytics\n"),
    )
    .unwrap();
    let since = last_seq();
    let out = p
        .command(&["run"])
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .output()
        .expect("glue runs");
    assert!(out.status.success(), "{}", text(&out));
    let keys = keys_by_operation(since, &id);
    for op in ["glue:CreateSession", "glue:RunStatement", "glue:GetTables"] {
        assert_eq!(
            keys.get(op).cloned().unwrap_or_default(),
            BTreeSet::from([key.clone()]),
            "{op}: the named profile's key, not the environment's `testing` ({keys:?})"
        );
    }
    assert!(!text(&out).contains("secret-of-analytics"));
}

#[test]
fn the_session_role_is_assumed_for_catalog_calls_only() {
    let id = unique("sim-cred-role-");
    let p = Project::new(
        &[("m", "{{ config(materialized='table') }}\nselect 1 as id")],
        &format!("      use_interactive_session_role_for_api_calls: true\n      glue_session_id: {id}\n"),
        1,
    );
    let since = last_seq();
    let out = p.run(&["run"]);
    assert!(out.status.success(), "{}", text(&out));
    let keys = keys_by_operation(since, &id);
    let one = |op: &str| -> String {
        let k = keys.get(op).cloned().unwrap_or_default();
        assert_eq!(k.len(), 1, "{op}: one identity ({keys:?})");
        k.into_iter().next().unwrap()
    };
    assert!(keys.contains_key("sts:AssumeRole"), "the role is assumed: {keys:?}");
    // The caller creates the session and runs its statements (passing the role to Glue is the caller's right).
    assert_eq!(one("glue:CreateSession"), "testing");
    assert_eq!(one("glue:RunStatement"), "testing");
    // The catalog calls carry the assumed role's temporary key.
    let catalog = one("glue:GetTables");
    assert_ne!(catalog, "testing", "catalog calls run as the session role");
    assert_eq!(one("glue:CreateDatabase"), catalog);
}
