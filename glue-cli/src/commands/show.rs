//! `glue show`: a node's or an inline query's rows, as a table, JSON or CSV.

use std::collections::BTreeSet;

use arrow_array::RecordBatch;
use glue_project::dag::Dag;
use glue_project::node::ResourceType;
use glue_project::profile::Profile;
use serde_json::{Value, json};

use crate::args::{RunArgs, SelectArgs, ShowOutput};
use crate::commands::project::{Loaded, engine_of, invocation, settings, universe_select};
use crate::error::{CliError, Result};

pub(crate) async fn show_cmd(
    l: Loaded,
    sel: &SelectArgs,
    inline: Option<String>,
    limit: usize,
    output: ShowOutput,
) -> Result<i32> {
    let dag = Dag::new(&l.manifest.nodes)?;
    let engine = engine_of(&l)?;
    let selected = if inline.is_none() {
        universe_select(
            &l.manifest,
            &dag,
            sel,
            &[ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot],
        )?
    } else {
        BTreeSet::new()
    };
    let inv = invocation(
        l,
        Some(engine.clone()),
        settings(&RunArgs::default(), &Profile::placeholder()),
    );
    let sql = match inline {
        Some(sql) => {
            let inv2 = inv.clone();
            tokio::task::spawn_blocking(move || crate::commands::compile::compile_inline(&inv2, &sql))
                .await
                .map_err(|e| CliError::Engine {
                    context: "show".into(),
                    message: e.to_string(),
                })??
        }
        None => {
            let id = match selected.len() {
                1 => selected.into_iter().next().unwrap(),
                0 => {
                    return Err(CliError::Usage(
                        "show: --select matched no model (or pass --inline)".into(),
                    ));
                }
                n => return Err(CliError::Usage(format!("show: --select matched {n} nodes; select one"))),
            };
            let node = inv.manifest.nodes[&id].clone();
            if node.resource_type == ResourceType::Seed {
                format!(
                    "select * from {}",
                    glue_jinja::Relation::new(node.schema.clone(), node.alias.clone())
                )
            } else {
                let inv2 = inv.clone();
                tokio::task::spawn_blocking(move || inv2.compile(&node, false))
                    .await
                    .map_err(|e| CliError::Engine {
                        context: "show".into(),
                        message: e.to_string(),
                    })??
                    .sql
            }
        }
    };
    let q = format!("select * from (\n{sql}\n) dbt_show limit {limit}");
    let batches = engine.query(&q).await.map_err(|e| CliError::Engine {
        context: "show".into(),
        message: e.to_string(),
    })?;
    inv.reporter.raw(&crate::commands::show::format_rows(&batches, output));
    Ok(0)
}

/// Rows as a table, CSV or JSON.
pub fn format_rows(batches: &[RecordBatch], output: crate::args::ShowOutput) -> String {
    use crate::args::ShowOutput;
    let table = minijinja::Value::from_object(glue_jinja::objects::Table::from_batches(batches));
    let names: Vec<String> = table
        .get_attr("column_names")
        .ok()
        .and_then(|v| v.try_iter().ok().map(|i| i.map(|x| x.to_string()).collect()))
        .unwrap_or_default();
    let rows: Vec<Vec<minijinja::Value>> = table
        .try_iter()
        .map(|it| {
            it.map(|r| r.try_iter().map(|c| c.collect()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    let cell = |v: &minijinja::Value| if v.is_none() { "NULL".to_string() } else { v.to_string() };
    match output {
        ShowOutput::Json => {
            let list: Vec<Value> = rows
                .iter()
                .map(|r| {
                    Value::Object(
                        names
                            .iter()
                            .cloned()
                            .zip(r.iter().map(|v| serde_json::to_value(v).unwrap_or(Value::Null)))
                            .collect(),
                    )
                })
                .collect();
            serde_json::to_string_pretty(&json!({"show": list})).unwrap_or_default()
        }
        ShowOutput::Csv => {
            // RFC 4180 quoting. NULL is an empty field and an empty string a quoted one (`""`), as Spark's CSV
            // writer tells them apart; the text "NULL" stays the text "NULL".
            let field = |s: &str| {
                if s.is_empty() || s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_string()
                }
            };
            let mut out = names.iter().map(|n| field(n)).collect::<Vec<_>>().join(",");
            for r in &rows {
                out.push('\n');
                out.push_str(
                    &r.iter()
                        .map(|v| {
                            if v.is_none() {
                                String::new()
                            } else {
                                field(&v.to_string())
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                );
            }
            out
        }
        ShowOutput::Table => {
            let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
            for r in &rows {
                for (i, v) in r.iter().enumerate() {
                    widths[i] = widths[i].max(cell(v).chars().count());
                }
            }
            let line = |cells: Vec<String>| -> String {
                format!(
                    "| {} |",
                    cells
                        .iter()
                        .enumerate()
                        .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                        .collect::<Vec<_>>()
                        .join(" | ")
                )
            };
            let mut out = line(names.clone());
            out.push_str(&format!(
                "\n|{}|",
                widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+")
            ));
            for r in &rows {
                out.push('\n');
                out.push_str(&line(r.iter().map(cell).collect()));
            }
            out
        }
    }
}
