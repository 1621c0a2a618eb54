//! Runs queries on the embedded engine and writes each outcome as a JSON line:
//! `{"id": …, "status": "ok"|"unsupported"|"error", "message": …, "types": [spark type, …], "rows": [[cell, …], …]}`
//! where a cell is the value as Arrow displays it, or null, and a type is the Spark name of the column's Arrow type
//! (`glue_local::types::spark_field_type`: an ANSI interval's is in the field's metadata). `xtask/oracle/semantics.py` and `xtask/oracle/catalogue.py` compare these with Spark's
//! answers. Each query runs in a task of its own with a 20-second limit: a panic or a hang is that query's error.
//!
//! `cargo run -p glue-local --example run_queries -- <queries.jsonl> <out.jsonl> [--no-refusals]` (queries:
//! `{"id": …, "sql": …}`; lines without `sql` are skipped). `--no-refusals` runs the functions listed in
//! `spark-functions.tsv` too, to measure them.

use std::io::{BufRead, Write};

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use glue_local::LocalEngine;
use serde_json::{Value, json};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = (&args[1], &args[2]);
    if args.iter().any(|a| a == "--no-refusals") {
        glue_local::spark_functions::set_refusing(false);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = std::sync::Arc::new(LocalEngine::open(dir.path(), "default").expect("engine"));
    let mut out = std::fs::File::create(output).expect("output file");
    let opts = FormatOptions::default().with_null("\u{0}NULL");
    for line in std::io::BufReader::new(std::fs::File::open(input).expect("queries")).lines() {
        let line = line.expect("line");
        if line.trim().is_empty() {
            continue;
        }
        let q: Value = serde_json::from_str(&line).expect("query json");
        let Some(sql) = q["sql"].as_str().map(str::to_string) else {
            continue;
        };
        let e = engine.clone();
        let task = tokio::spawn(async move {
            match e.sql(&sql).await {
                Ok(df) => {
                    let types: Result<Vec<String>, String> = df
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| glue_local::types::spark_field_type(f).map_err(|e| e.to_string()))
                        .collect();
                    match (types, df.collect().await) {
                        (Ok(t), Ok(b)) => Ok((t, b)),
                        (Err(m), _) => Err((false, m)),
                        // The optimizer and the physical planner refuse some queries only when they run.
                        (_, Err(e)) => match glue_local::refusal(&e) {
                            Some(construct) => Err((true, construct)),
                            None => Err((false, e.to_string())),
                        },
                    }
                }
                Err(glue_local::LocalError::Unsupported(m)) => Err((true, m)),
                Err(e) => Err((false, e.to_string())),
            }
        });
        let result = match tokio::time::timeout(std::time::Duration::from_secs(20), task).await {
            Ok(Ok(r)) => r,
            Ok(Err(join)) => Err((false, format!("panic: {join}"))),
            Err(_) => Err((false, "no answer within 20 s".to_string())),
        };
        let record = match result {
            Ok((types, batches)) => {
                let mut rows = Vec::new();
                for b in &batches {
                    let fmts: Vec<ArrayFormatter> = b
                        .columns()
                        .iter()
                        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("formatter"))
                        .collect();
                    for r in 0..b.num_rows() {
                        let cells: Vec<Value> = fmts
                            .iter()
                            .map(|f| {
                                let s = f.value(r).to_string();
                                if s == "\u{0}NULL" {
                                    Value::Null
                                } else {
                                    Value::String(s)
                                }
                            })
                            .collect();
                        rows.push(Value::Array(cells));
                    }
                }
                json!({"id": q["id"], "status": "ok", "types": types, "rows": rows})
            }
            Err((true, m)) => {
                json!({"id": q["id"], "status": "unsupported", "message": format!("unsupported on the embedded engine: {m}")})
            }
            Err((false, m)) => json!({"id": q["id"], "status": "error", "message": m}),
        };
        writeln!(out, "{record}").expect("write");
    }
}
