//! Runs queries on the embedded engine and writes each outcome as a JSON line:
//! `{"id": …, "status": "ok"|"unsupported"|"error", "message": …, "rows": [[cell, …], …]}` where a cell is the
//! value as Arrow displays it, or null. `tools/spark/semantics.py` compares these with Spark's answers.
//!
//! `cargo run -p glue-local --example run_queries -- <queries.jsonl> <out.jsonl>` (queries: `{"id": …, "sql": …}`).

use std::io::{BufRead, Write};

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use glue_local::LocalEngine;
use serde_json::{Value, json};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = (&args[1], &args[2]);
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = LocalEngine::open(dir.path(), "default").expect("engine");
    let mut out = std::fs::File::create(output).expect("output file");
    let opts = FormatOptions::default().with_null("\u{0}NULL");
    for line in std::io::BufReader::new(std::fs::File::open(input).expect("queries")).lines() {
        let line = line.expect("line");
        if line.trim().is_empty() {
            continue;
        }
        let q: Value = serde_json::from_str(&line).expect("query json");
        let sql = q["sql"].as_str().expect("sql");
        let result = match engine.sql(sql).await {
            Ok(df) => df.collect().await.map_err(|e| (false, e.to_string())),
            Err(glue_local::LocalError::Unsupported(m)) => Err((true, m)),
            Err(e) => Err((false, e.to_string())),
        };
        let record = match result {
            Ok(batches) => {
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
                json!({"id": q["id"], "status": "ok", "rows": rows})
            }
            Err((true, m)) => {
                json!({"id": q["id"], "status": "unsupported", "message": format!("unsupported on the embedded engine: {m}")})
            }
            Err((false, m)) => json!({"id": q["id"], "status": "error", "message": m}),
        };
        writeln!(out, "{record}").expect("write");
    }
}
