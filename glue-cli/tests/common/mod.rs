//! Helpers: run the real `glue` binary in a project directory. [`sim`]: the helpers of the suites on the test
//! world's Glue simulator (`tests/sim_*.rs`).

#![allow(dead_code)]

pub mod sim;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Output of one `glue` run.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `glue <args>` with `--project-dir dir` appended where the command takes it.
pub fn glue(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_glue"))
        .args(args)
        .arg("--project-dir")
        .arg(dir)
        .env_remove("DBT_PROFILES_DIR")
        .env("NO_COLOR", "1")
        // Never real AWS: a Glue target reaches a closed local port, with credentials that mean nothing.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run glue");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// Writes `files` (path, text) under a new temporary project, with a local-engine profile unless one is given.
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let has = |f: &str| files.iter().any(|(p, _)| *p == f);
    if !has("dbt_project.yml") {
        write(dir.path(), "dbt_project.yml", "name: proj\nprofile: proj\n");
    }
    if !has("profiles.yml") {
        write(
            dir.path(),
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      schema: s\n",
        );
    }
    for (p, text) in files {
        write(dir.path(), p, text);
    }
    dir
}

pub fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    for e in walk(from) {
        let rel = e.strip_prefix(from).unwrap();
        if rel.components().any(|c| c.as_os_str() == "target") {
            continue;
        }
        let dest = to.join(rel);
        if e.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&e, &dest).unwrap();
        }
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}

/// `glue show --inline <sql> --output json` rows.
pub fn rows(dir: &Path, sql: &str) -> Vec<serde_json::Value> {
    let out = glue(
        dir,
        &["show", "--inline", sql, "--limit", "1000", "--output", "json", "-q"],
    );
    assert_eq!(out.code, 0, "show failed: {}", out.all());
    let v: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    v["show"].as_array().unwrap().clone()
}

/// stdout as CSV (nothing but CSV): its header and records, every record of the header's width.
pub fn csv_of(stdout: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(stdout.as_bytes());
    let header = reader
        .headers()
        .unwrap_or_else(|e| panic!("stdout is not CSV ({e}):\n{stdout}"))
        .iter()
        .map(str::to_string)
        .collect();
    let records = reader
        .records()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("stdout is not CSV ({e}):\n{stdout}"))
                .iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    (header, records)
}

/// stdout as one JSON document `{"show": [...]}` of `show --output json` (nothing before or after it, no other
/// key): its rows, sorted by `id`.
pub fn show_rows_of(stdout: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "only `show`: {v}");
    let mut rows = v["show"]
        .as_array()
        .unwrap_or_else(|| panic!("no `show` list: {v}"))
        .clone();
    rows.sort_by_key(|r| r["id"].as_i64());
    rows
}

/// stdout then stderr of a finished process.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Rounds of the race tests (two `glue run` processes rebuilding one table at once): `GLUE_RS_RACE_ROUNDS`, 3 by
/// default (`cargo xtask it --long` sets 20).
pub fn race_rounds() -> usize {
    std::env::var("GLUE_RS_RACE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
}

/// Checks one round of a race test: two runs, `a…` writing 2 rows and `b…` 3 rows each tagged with its name, rebuilt
/// one table at once. At least one run succeeded, a run that failed says another run won, and the table (`rows` of
/// `select tag, count(*) as n … group by tag`) holds one run's rows whole. Returns how many runs failed.
pub fn check_race_round(round: usize, runs: [(&str, &Output); 2], rows: &[serde_json::Value]) -> usize {
    let [(a, oa), (b, ob)] = runs;
    assert!(
        oa.status.success() || ob.status.success(),
        "round {round}: both runs failed:\n{}\n{}",
        text(oa),
        text(ob)
    );
    let mut failed = 0;
    for (name, o) in runs {
        if !o.status.success() {
            failed += 1;
            assert!(
                text(o).contains("another run"),
                "round {round}: run {name} failed unclearly:\n{}",
                text(o)
            );
        }
    }
    assert_eq!(rows.len(), 1, "round {round}: rows of more than one run: {rows:?}");
    let tag = rows[0]["tag"].as_str().unwrap();
    assert!(tag == a || tag == b, "round {round}: {tag}");
    let expected = if tag.starts_with('a') { 2 } else { 3 };
    assert_eq!(
        rows[0]["n"].as_i64(),
        Some(expected),
        "round {round}: the table holds run {tag}'s rows whole"
    );
    failed
}

/// `glue plan`'s output as (unique id → the plan's text).
pub fn planned(stdout: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("-- ===== ") {
            if let Some((id, text)) = current.take() {
                out.insert(id, text);
            }
            let id = rest.split_whitespace().next().unwrap().to_string();
            current = Some((id, String::new()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    if let Some((id, text)) = current {
        out.insert(id, text);
    }
    out
}

/// The plan text the last build wrote for each node it built (from `target/run/`, placed as dbt places it), by
/// unique id.
pub fn executed(dir: &Path) -> BTreeMap<String, String> {
    let read = |file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("target").join(file)).unwrap()).unwrap()
    };
    let (manifest, results) = (read("manifest.json"), read("run_results.json"));
    let mut out = BTreeMap::new();
    for result in results["results"].as_array().unwrap() {
        let id = result["unique_id"].as_str().unwrap();
        let node = &manifest["nodes"][id];
        // Unit tests are not under `nodes`; tests build nothing.
        let Some(kind) = node["resource_type"]
            .as_str()
            .filter(|k| ["model", "seed", "snapshot"].contains(k))
        else {
            continue;
        };
        let mut path = dir
            .join("target/run")
            .join(node["package_name"].as_str().unwrap())
            .join(node["original_file_path"].as_str().unwrap());
        if kind == "snapshot" {
            path = path.with_file_name(format!("{}.sql", node["name"].as_str().unwrap()));
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{id}: {}: {e}", path.display()));
        out.insert(id.to_string(), text);
    }
    out
}

/// A plan's text with the invocation's id (which names a table's new version, `<table>__v<id>`) as a placeholder:
/// the one part of a plan that differs from one invocation to the next by design.
pub fn without_invocation_id(text: &str) -> String {
    static ID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap()
    });
    // The run's staging and temporary relations are named after it too (`<alias>__dbt_swap_<run tag>`,
    // `<alias>_tmp__run_<run tag>`).
    static TAG: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new("(__dbt_swap_|__run_)[0-9a-z]{1,12}\\b").unwrap());
    let text = ID.replace_all(text.trim_end(), "<invocation-id>");
    TAG.replace_all(&text, "${1}<run>").into_owned()
}
