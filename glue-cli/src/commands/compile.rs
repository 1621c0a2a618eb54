//! `glue compile`: nodes (or `--inline` SQL) rendered in execute mode, written under `target/compiled`.

use std::collections::BTreeMap;
use std::sync::Arc;

use glue_jinja::{Mode, NodeCtx};
use glue_project::dag::Dag;
use glue_project::node::ResourceType;
use glue_project::profile::{EngineChoice, Profile};
use serde_json::json;

use crate::args::{CompileOutput, RunArgs, SelectArgs};
use crate::commands::project::{Loaded, invocation, settings, universe_select, write_manifest};
use crate::engines::open_engine;
use crate::error::{CliError, Result};
use crate::invocation::Invocation;
use crate::report::Reporter;

/// Prints one compiled node as `--output` says: dbt's text (a run line, then the SQL) or one JSON object.
pub(crate) fn print_compiled(reporter: &Reporter, output: CompileOutput, name: &str, sql: &str) {
    match output {
        CompileOutput::Text => {
            reporter.line("CompiledNode", &format!("Compiled node '{name}' is:"));
            reporter.raw(sql);
        }
        CompileOutput::Json => reporter.raw(&json!({"node": name, "compiled": sql}).to_string()),
    }
}

pub(crate) async fn compile_cmd(
    l: Loaded,
    sel: &SelectArgs,
    inline: Option<String>,
    output: CompileOutput,
) -> Result<i32> {
    let dag = Dag::new(&l.manifest.nodes)?;
    let threads = l.profile.threads;
    let engine = match &l.profile.engine {
        EngineChoice::Local { .. } => Some(open_engine(&l.profile)?),
        _ => None,
    };
    let selected = universe_select(
        &l.manifest,
        &dag,
        sel,
        &[ResourceType::Model, ResourceType::Snapshot, ResourceType::Test],
    )?;
    let single = sel.select.len() == 1 && selected.len() == 1;
    let order = dag.order(&selected)?;
    let inv = invocation(
        l,
        engine.clone(),
        settings(&RunArgs::default(), &Profile::placeholder()),
    );
    if let Some(sql) = inline {
        let inv2 = inv.clone();
        let out = tokio::task::spawn_blocking(move || crate::commands::compile::compile_inline(&inv2, &sql))
            .await
            .map_err(|e| CliError::Engine {
                context: "compile".into(),
                message: e.to_string(),
            })??;
        print_compiled(&inv.reporter, output, "inline_query", &out);
        return Ok(0);
    }
    // Each node's state as a run finds it ([`Invocation::state`]: the catalog listed once per schema); nodes then
    // compile on `threads` blocking workers (compilation has no ordering constraints: ephemeral models are inlined
    // per node).
    // A catalog that cannot be listed compiles every model as a first build (as before), with one warning.
    let mut incremental = std::collections::HashSet::new();
    let mut unlisted = false;
    for id in &order {
        if inv.manifest.nodes[id].resource_type == ResourceType::Test {
            continue;
        }
        match inv.state(id, engine.as_ref()).await {
            Ok(state) if state.is_incremental => {
                incremental.insert(id.clone());
            }
            Ok(_) => {}
            Err(e) if !unlisted => {
                unlisted = true;
                inv.reporter
                    .warn(&format!("{e}; compiled as first builds (is_incremental() false)"));
            }
            Err(_) => {}
        }
    }
    let incremental = Arc::new(incremental);
    let workers = threads.max(1).min(order.len().max(1));
    let chunk = order.len().div_ceil(workers).max(1);
    let mut set = tokio::task::JoinSet::new();
    for part in order.chunks(chunk) {
        let part = part.to_vec();
        let inv2 = inv.clone();
        let incremental = incremental.clone();
        set.spawn_blocking(move || {
            part.into_iter()
                .map(|id| {
                    let node = &inv2.manifest.nodes[&id];
                    let is_incr = incremental.contains(&id);
                    let r = if node.resource_type == ResourceType::Test {
                        inv2.test_sql(node)
                    } else {
                        inv2.compile(node, is_incr).map(|c| c.sql)
                    };
                    Ok((id, r))
                })
                .collect::<Result<Vec<_>>>()
        });
    }
    let mut outcomes = BTreeMap::new();
    while let Some(r) = set.join_next().await {
        let r = r.map_err(|e| CliError::Engine {
            context: "compile".into(),
            message: e.to_string(),
        })??;
        outcomes.extend(r);
    }
    let mut failed = false;
    // Files are written from one thread: parallel creation in the same directories only contends on the
    // file system's directory locks.
    for (id, r) in outcomes {
        match r {
            Ok(sql) => {
                let node = &inv.manifest.nodes[&id];
                crate::artifacts::write_file(
                    &crate::artifacts::target_path(&inv.target_dir.join("compiled"), node),
                    &glue_project::redact::scrub(&sql),
                )?;
                inv.compiled.lock().unwrap().insert(id.clone(), sql.clone());
                if single || output == CompileOutput::Json {
                    print_compiled(&inv.reporter, output, &node.name, &sql);
                }
            }
            Err(e) => {
                failed = true;
                inv.reporter.error(&e.to_string());
            }
        }
    }
    write_manifest(&inv)?;
    if !single {
        inv.reporter.line(
            "Compiled",
            &format!(
                "Compiled {} nodes into {}",
                order.len(),
                inv.target_dir.join("compiled").display()
            ),
        );
    }
    Ok(if failed { 1 } else { 0 })
}

/// Compiles inline SQL (with the project's macros) on a blocking thread.
pub fn compile_inline(inv: &Invocation, sql: &str) -> Result<String> {
    let m = &inv.manifest;
    let ctx = NodeCtx::project(m.shared.clone(), Mode::Execute, m.project.name.clone());
    m.jinja.render("--inline", sql, &ctx).map_err(|e| {
        CliError::Project(glue_project::ProjectError::Jinja {
            at: glue_project::Location {
                file: "--inline".into(),
                line: e.line,
            },
            what: "inline SQL".into(),
            message: e.message,
        })
    })
}
