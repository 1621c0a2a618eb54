//! What the `glue` binary prints on Glue targets of the test world's simulator: `--output csv|json` writes only data
//! on stdout (Livy and Spark Connect sessions), every human line on stderr; trace logs hold no credential.
//!
//! Run by `cargo xtask it` (feature `it`), which passes `GLUE_SIM_ENDPOINT` and AWS credentials; a missing endpoint
//! fails. Run with `--test-threads 1`.

mod common;

use std::process::Output;

use glue_testkit::sim::last_seq;
use serde_json::Value;

use common::sim::{Project, count, log_since};
use common::text;

#[test]
fn no_credential_appears_in_trace_logs() {
    let p = Project::new(&[("one", "{{ config(materialized='table') }}\nselect 1 as id")], "", 1);
    let (key, secret, token) = (
        "AKIAGLUERSFAKEKEY123",
        "gluersFakeSecretKey/abc123",
        "GLUERSFAKESESSIONTOKENzz9",
    );
    let out = p
        .command(&["run"])
        .env("GLUE_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", token)
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("aws_smithy_runtime"), "the SDK's trace logs were captured");
    for s in [key, secret, token] {
        assert!(!all.contains(s), "`{s}` appears in the logs");
    }
}

/// A model whose compilation prints human lines: a config warning (unknown key) and a Jinja `log(…, info=True)`
/// line; its rows hold a comma and double quotes, which CSV must quote.
const NOISY_MODEL: (&str, &str) = (
    "m",
    "{{ config(materialized='view', flavour='mint') }}\n{{ log('note from m', info=True) }}\n\
     select 1 as id, 'a,b' as name union all select 2, 'say \"hi\"'",
);

/// stdout and stderr of a run.
fn streams(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each of `lines` is on stderr and not on stdout.
fn assert_on_stderr_only(out: &Output, lines: &[&str]) {
    let (stdout, stderr) = streams(out);
    for line in lines {
        assert!(stderr.contains(line), "`{line}` is not on stderr:\n{}", text(out));
        assert!(!stdout.contains(line), "`{line}` is on stdout:\n{stdout}");
    }
}

/// `show --select m --output csv`, then `--output json`, of `NOISY_MODEL` on `p`: each run succeeds, stdout parses
/// as CSV / JSON and holds exactly the model's rows, and each of `human` is on stderr only.
fn assert_show_writes_only_rows(p: &Project, human: &[&str]) {
    let out = p.run(&["show", "--select", "m", "--output", "csv"]);
    assert!(out.status.success(), "{}", text(&out));
    let (header, mut records) = common::csv_of(&streams(&out).0);
    records.sort();
    assert_eq!(header, ["id", "name"], "{}", text(&out));
    assert_eq!(records, [["1", "a,b"], ["2", "say \"hi\""]], "{}", text(&out));
    assert_on_stderr_only(&out, human);

    let out = p.run(&["show", "--select", "m", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        common::show_rows_of(&streams(&out).0),
        [
            serde_json::json!({"id": 1, "name": "a,b"}),
            serde_json::json!({"id": 2, "name": "say \"hi\""}),
        ],
        "{}",
        text(&out)
    );
    assert_on_stderr_only(&out, human);
}

/// `show --output csv|json` and `ls --output json` on Glue sessions (Livy): stdout holds only the data, read back
/// with a CSV and a JSON parser; the Glue traffic line, the warning, the Jinja `log` line and errors are on stderr.
#[test]
fn machine_readable_output_on_glue_sessions_is_only_data() {
    let p = Project::new(&[NOISY_MODEL], "", 1);
    let human = [
        "Glue: 1 session(s) (1 created, 0 reused)",
        "unknown config key `flavour`",
        "note from m",
    ];

    assert_show_writes_only_rows(&p, &human);

    // A failing query: the error and the traffic line on stderr, nothing on stdout.
    let out = p.run(&[
        "show",
        "--inline",
        "select * from no_such_table_here",
        "--output",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(streams(&out).0, "", "stdout must stay empty: {}", text(&out));
    assert_on_stderr_only(&out, &["Error: ", "Glue: 1 session(s)"]);

    // `ls` starts no session: its nodes, one JSON object per line.
    let since = last_seq();
    let out = p.run(&["ls", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let (stdout, _) = streams(&out);
    let ids: Vec<String> = stdout
        .lines()
        .map(|l| {
            let node: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON node ({e}): `{l}`"));
            node["unique_id"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(ids, ["model.p.m"], "{stdout}");
    assert_on_stderr_only(&out, &["unknown config key `flavour`", "note from m"]);
    assert_eq!(count(&log_since(since), "CreateSession"), 0, "ls creates no session");

    // `compile --output json` (no session either): one `{"node", "compiled"}` object.
    let since = last_seq();
    let out = p.run(&["compile", "--select", "m", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let (stdout, _) = streams(&out);
    let node: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"));
    assert_eq!(node["node"], "m", "{stdout}");
    assert!(
        node["compiled"].as_str().is_some_and(|c| c.contains("'a,b'")),
        "{stdout}"
    );
    assert_on_stderr_only(&out, &["unknown config key `flavour`", "note from m"]);
    assert_eq!(
        count(&log_since(since), "CreateSession"),
        0,
        "compile creates no session"
    );
}

/// The same on a Glue Spark Connect session: its traffic line goes to stderr.
#[test]
fn machine_readable_output_on_a_glue_spark_connect_session_is_only_data() {
    let p = Project::new(
        &[NOISY_MODEL],
        "      session_type: spark_connect\n      glue_version: '5.1'\n",
        1,
    );
    let human = [
        "Glue Spark Connect: 1 session(s) (1 created, 0 reused)",
        "unknown config key `flavour`",
        "note from m",
    ];

    assert_show_writes_only_rows(&p, &human);
}
