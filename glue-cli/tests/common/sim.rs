//! Helpers of the suites on the test world's Glue simulator (`tests/sim_*.rs`): unique names, the simulator's request
//! log as (operation, session id), a Glue client, and a [`Project`] on a Glue target of the simulator (its own schema
//! and bucket) that runs the real `glue` binary.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use glue_testkit::sim::{self, endpoint};

pub fn unique(prefix: &str) -> String {
    sim::unique(prefix, "")
}

/// The request log after `since`: (operation, session id).
pub fn log_since(since: u64) -> Vec<(String, Option<String>)> {
    sim::log(since)
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or_default().to_string(),
                e["session_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

pub fn created_sessions(log: &[(String, Option<String>)], prefix: &str) -> BTreeSet<String> {
    log.iter()
        .filter(|(op, id)| op == "CreateSession" && id.as_deref().is_some_and(|i| i.starts_with(prefix)))
        .filter_map(|(_, id)| id.clone())
        .collect()
}

pub fn count(log: &[(String, Option<String>)], operation: &str) -> usize {
    log.iter().filter(|(op, _)| op == operation).count()
}

pub async fn glue_client() -> aws_sdk_glue::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .load()
        .await;
    aws_sdk_glue::Client::new(&config)
}

pub async fn status(glue: &aws_sdk_glue::Client, id: &str) -> String {
    let s = glue.get_session().id(id).send().await.expect("GetSession");
    s.session
        .and_then(|s| s.status)
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// A project of `models` (name, SQL) on a Glue target of the simulator, with extra profile lines.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub schema: String,
}

impl Project {
    pub fn new(models: &[(&str, &str)], profile_extra: &str, threads: usize) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let schema = unique("it_cli_");
        let bucket = unique("glue-rs-it-");
        create_bucket(&bucket);
        std::fs::write(
            dir.path().join("dbt_project.yml"),
            "name: p\nversion: '1.0'\nprofile: p\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("models")).unwrap();
        for (name, sql) in models {
            std::fs::write(dir.path().join("models").join(format!("{name}.sql")), sql).unwrap();
        }
        std::fs::write(
            dir.path().join("profiles.yml"),
            format!(
                "p:\n  target: sim\n  outputs:\n    sim:\n      type: glue\n      role_arn: arn:aws:iam::123456789012:role/GlueInteractiveSessionRole\n      region: us-east-1\n      workers: 2\n      worker_type: G.1X\n      schema: {schema}\n      location: s3://{bucket}/warehouse\n      threads: {threads}\n{profile_extra}"
            ),
        )
        .unwrap();
        Project { dir, schema }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_glue"));
        c.args(args)
            .arg("--project-dir")
            .arg(self.path())
            .arg("--profiles-dir")
            .arg(self.path())
            .env("AWS_ENDPOINT_URL", endpoint());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("glue runs")
    }
}

/// Creates a bucket (on a thread of its own: callers may be inside a runtime).
pub fn create_bucket(bucket: &str) {
    let bucket = bucket.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(endpoint())
                .load()
                .await;
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config)
                    .force_path_style(true)
                    .build(),
            );
            s3.create_bucket().bucket(&bucket).send().await.expect("CreateBucket");
        });
    })
    .join()
    .expect("CreateBucket");
}

pub const ROLE_PREFIX: &str = "dbt-glue__GlueInteractiveSessionRole__";

/// `operation` calls on the sessions whose id starts with `prefix`.
pub fn count_on(log: &[(String, Option<String>)], operation: &str, prefix: &str) -> usize {
    log.iter()
        .filter(|(op, id)| op == operation && id.as_deref().is_some_and(|i| i.starts_with(prefix)))
        .count()
}
