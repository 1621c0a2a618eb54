//! Machine-readable output is pure: `show --output csv|json`, every `ls --output`, `compile --output json` and
//! `iam-policy` write only their data to stdout (read back here with real CSV and JSON parsers); warnings, Jinja `log` lines, run lines and errors
//! go to stderr.

mod common;

use std::collections::BTreeSet;

use common::{Out, csv_of, glue, project, show_rows_of};
use serde_json::{Value, json};

/// A project whose loading prints human lines: a profile warning (unknown key), a config warning (unknown key) and a
/// Jinja `log(…, info=True)` line, rendered when the project is parsed and when the model is compiled.
fn noisy_project() -> tempfile::TempDir {
    project(&[
        (
            "profiles.yml",
            "proj:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      \
             schema: s\n      colour: blue\n",
        ),
        (
            "models/m.sql",
            "{{ config(materialized='view', flavour='mint') }}\n{{ log('note from m', info=True) }}\n\
             select 1 as id, 'a,b' as name union all select 2, 'say \"hi\"'",
        ),
        ("models/n.sql", "select id from {{ ref('m') }}"),
    ])
}

/// The human lines `noisy_project` prints, which must reach stderr (not vanish) when stdout holds data.
fn assert_human_lines_on_stderr(out: &Out) {
    for line in ["unknown key `colour`", "unknown config key `flavour`", "note from m"] {
        assert!(out.stderr.contains(line), "`{line}` is not on stderr:\n{}", out.all());
        assert!(!out.stdout.contains(line), "`{line}` is on stdout:\n{}", out.stdout);
    }
}

fn sorted(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.sort();
    rows
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

/// stdout as one JSON document (nothing before or after it).
fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"))
}

#[test]
fn show_output_csv_writes_only_the_rows_to_stdout() {
    let p = noisy_project();
    let out = glue(p.path(), &["show", "--select", "m", "--output", "csv"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let (header, records) = csv_of(&out.stdout);
    assert_eq!(header, ["id", "name"], "{}", out.stdout);
    assert_eq!(
        sorted(records),
        strings(&[&["1", "a,b"], &["2", "say \"hi\""]]),
        "{}",
        out.stdout
    );
    assert_human_lines_on_stderr(&out);
}

#[test]
fn show_output_json_writes_only_the_rows_to_stdout() {
    let p = noisy_project();
    let out = glue(p.path(), &["show", "--select", "m", "--output", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        show_rows_of(&out.stdout),
        vec![json!({"id": 1, "name": "a,b"}), json!({"id": 2, "name": "say \"hi\""})]
    );
    assert_human_lines_on_stderr(&out);
}

#[test]
fn show_inline_csv_with_json_logs_keeps_the_log_objects_on_stderr() {
    let p = noisy_project();
    let out = glue(
        p.path(),
        &[
            "--log-format",
            "json",
            "show",
            "--inline",
            "{{ log('inline note', info=True) }}select 10 as id union all select 20",
            "--output",
            "csv",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let (header, records) = csv_of(&out.stdout);
    assert_eq!(header, ["id"], "{}", out.stdout);
    assert_eq!(sorted(records), strings(&[&["10"], &["20"]]), "{}", out.stdout);
    // Every stderr line is one JSON log object; the inline SQL's log line is among them.
    let logs: Vec<Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: `{l}`\n{}", out.stderr)))
        .collect();
    assert!(logs.iter().any(|l| l["info"]["msg"] == "inline note"), "{}", out.stderr);
    assert_human_lines_on_stderr(&out);
}

#[test]
fn ls_output_json_writes_only_nodes_to_stdout() {
    let p = noisy_project();
    let out = glue(p.path(), &["ls", "--output", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let nodes: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON node ({e}): `{l}`\n{}", out.stdout)))
        .collect();
    let got: BTreeSet<(String, String, String, String)> = nodes
        .iter()
        .map(|n| {
            (
                n["unique_id"].as_str().unwrap_or_default().to_string(),
                n["resource_type"].as_str().unwrap_or_default().to_string(),
                n["name"].as_str().unwrap_or_default().to_string(),
                n["depends_on"]["nodes"].to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String, String)> = [
        ("model.proj.m", "model", "m", "[]"),
        ("model.proj.n", "model", "n", "[\"model.proj.m\"]"),
    ]
    .iter()
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
    .collect();
    assert_eq!(got, want, "{}", out.stdout);
    assert_eq!(nodes.len(), 2, "{}", out.stdout);
    assert_human_lines_on_stderr(&out);
}

#[test]
fn errors_of_machine_readable_commands_leave_stdout_empty() {
    let p = noisy_project();
    for args in [
        &["show", "--select", "nothing_here", "--output", "json"][..],
        &["show", "--select", "nothing_here", "--output", "csv"][..],
        &["ls", "--select", "bad:method", "--output", "json"][..],
        &["iam-policy"][..],
    ] {
        let out = glue(p.path(), args);
        assert_ne!(out.code, 0, "{args:?}: {}", out.all());
        assert_eq!(out.stdout, "", "{args:?}: stdout must stay empty");
        assert!(out.stderr.contains("Error: "), "{args:?}: {}", out.all());
    }
}

#[test]
fn iam_policy_writes_only_the_policy_to_stdout() {
    let p = project(&[(
        "profiles.yml",
        "proj:\n  target: glue\n  outputs:\n    glue:\n      type: glue\n      \
         role_arn: arn:aws:iam::123456789012:role/GlueInteractiveSessionRole\n      region: eu-west-1\n      \
         schema: s\n      location: s3://bucket/warehouse\n",
    )]);
    let out = glue(p.path(), &["iam-policy"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let policy = json_of(&out.stdout);
    assert_eq!(policy["Version"], "2012-10-17", "{policy}");
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap_or_else(|| panic!("{policy}"))
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert_eq!(
        sids,
        [
            "GlueInteractiveSessions",
            "GlueDataCatalog",
            "LakeFormation",
            "PassSessionRole",
            "Location"
        ]
    );
}

#[test]
fn show_output_csv_tells_null_from_an_empty_string_and_from_the_text_null() {
    let p = noisy_project();
    let out = glue(
        p.path(),
        &[
            "show",
            "--inline",
            "select 1 as id, cast(null as string) as v union all select 2, '' union all select 3, 'NULL'",
            "--output",
            "csv",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.remove(0), "id,v", "{}", out.stdout);
    lines.sort();
    assert_eq!(lines, ["1,", "2,\"\"", "3,NULL"], "{}", out.stdout);
}

#[test]
fn ls_name_and_path_write_only_nodes_to_stdout() {
    let p = noisy_project();
    for (format, want) in [("name", ["m", "n"]), ("path", ["models/m.sql", "models/n.sql"])] {
        let out = glue(p.path(), &["ls", "--output", format]);
        assert_eq!(out.code, 0, "{}", out.all());
        let mut got: Vec<&str> = out.stdout.lines().collect();
        got.sort();
        assert_eq!(got, want, "{format}: {}", out.stdout);
        assert_human_lines_on_stderr(&out);
    }
}

#[test]
fn compile_output_json_writes_only_compiled_nodes_to_stdout() {
    let p = noisy_project();
    // One selected node: one object, as dbt prints it (`dbt compile --output json`).
    let out = glue(p.path(), &["compile", "--select", "n", "--output", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = json_of(&out.stdout);
    assert_eq!(v["node"], "n", "{v}");
    let sql = v["compiled"].as_str().unwrap_or_else(|| panic!("no compiled SQL: {v}"));
    assert!(sql.starts_with("select id from ") && sql.contains('m'), "{sql}");
    assert_human_lines_on_stderr(&out);
    // The whole project: one object per line, every node.
    let out = glue(p.path(), &["compile", "--output", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let names: BTreeSet<String> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): `{l}`")))
        .map(|v| v["node"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["m".to_string(), "n".to_string()]),
        "{}",
        out.stdout
    );
    // --inline: dbt's `inline_query`.
    let out = glue(
        p.path(),
        &[
            "compile",
            "--inline",
            "select * from {{ ref('m') }}",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let v = json_of(&out.stdout);
    assert_eq!(v["node"], "inline_query", "{v}");
    assert!(
        v["compiled"].as_str().is_some_and(|c| c.starts_with("select * from ")),
        "{v}"
    );
    assert!(!out.stdout.contains("note from m"), "{}", out.stdout);
}
