//! `glue run`, `build`, `seed`, `snapshot`, `test` and `retry`: hooks, the selected nodes run, the summary.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use glue_jinja::{Mode, NodeCtx};
use glue_project::dag::Dag;
use glue_project::load::Manifest;
use glue_project::node::ResourceType;
use serde_json::{Map, Value, json};

use crate::args::{Command, RunArgs, SelectArgs};
use crate::commands::project::{
    Loaded, engine_of, ensure_commit_lock_table, invocation, settings, universe_select, without_ephemeral,
    write_manifest,
};
use crate::error::{CliError, Result};
use crate::invocation::Invocation;
use crate::report::Reporter;
use crate::results::{NodeResult, Status};

/// Which command ran (for run_results args and retry).
pub(crate) fn which(c: &Command) -> &'static str {
    match c {
        Command::Run { .. } => "run",
        Command::Build { .. } => "build",
        Command::Seed { .. } => "seed",
        Command::Snapshot { .. } => "snapshot",
        Command::Test { .. } => "test",
        _ => "other",
    }
}

pub(crate) fn types_for(which: &str) -> Vec<ResourceType> {
    match which {
        "run" => vec![ResourceType::Model],
        "seed" => vec![ResourceType::Seed],
        "snapshot" => vec![ResourceType::Snapshot],
        "test" => vec![ResourceType::Test, ResourceType::UnitTest],
        _ => vec![
            ResourceType::Model,
            ResourceType::Seed,
            ResourceType::Snapshot,
            ResourceType::Test,
            ResourceType::UnitTest,
        ],
    }
}

pub(crate) fn run_hooks(
    inv: &Arc<Invocation>,
    hooks: &[String],
    phase: &str,
    results: Option<&[NodeResult]>,
) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let engine = inv.engine.clone().ok_or_else(|| CliError::Engine {
        context: phase.into(),
        message: "no engine".into(),
    })?;
    let m = &inv.manifest;
    let mut extra = Map::new();
    if let Some(rs) = results {
        extra.insert(
            "results".into(),
            Value::Array(rs.iter().map(|r| json!({"status": r.status.as_str(), "message": r.message, "node": {"unique_id": r.unique_id}, "execution_time": r.execution_time, "failures": r.failures})).collect()),
        );
        let schemas: BTreeSet<String> = m
            .nodes
            .values()
            .filter(|n| n.resource_type.builds_relation())
            .map(|n| n.schema.clone())
            .collect();
        extra.insert("schemas".into(), json!(schemas));
    }
    let handle = tokio::runtime::Handle::current();
    for (i, h) in hooks.iter().enumerate() {
        let ctx = NodeCtx::project(m.shared.clone(), Mode::Execute, m.project.name.clone()).with_extra(extra.clone());
        let jinja = m.jinja.clone();
        let h2 = h.clone();
        let name = format!("dbt_project.yml ({phase} {})", i + 1);
        let sql = tokio::task::block_in_place(|| jinja.render(&name, &h2, &ctx)).map_err(|e| {
            CliError::Project(glue_project::ProjectError::Jinja {
                at: glue_project::Location {
                    file: m.project.root.join("dbt_project.yml"),
                    line: None,
                },
                what: format!("{phase} hook {}", i + 1),
                message: e.message,
            })
        })?;
        if sql.trim().is_empty() {
            continue;
        }
        let e2 = engine.clone();
        handle
            .block_on(async move { e2.query(&sql).await })
            .map_err(|e| CliError::Engine {
                context: format!("{phase} hook {}", i + 1),
                message: e.to_string(),
            })?;
        inv.reporter.line(
            "HookFinished",
            &format!("{phase} hook {} of {}: OK", i + 1, hooks.len()),
        );
    }
    Ok(())
}

pub(crate) fn summary(reporter: &Reporter, m: &Manifest, results: &[NodeResult], elapsed: f64) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in results {
        let n = &m.nodes[&r.unique_id];
        let key = match n.resource_type {
            ResourceType::Model => format!("{} model", n.materialized()),
            ResourceType::Test => "data test".into(),
            ResourceType::UnitTest => "unit test".into(),
            other => other.as_str().to_string(),
        };
        *counts.entry(key).or_default() += 1;
    }
    let mut parts: Vec<String> = counts
        .into_iter()
        .map(|(k, v)| format!("{v} {k}{}", if v == 1 { "" } else { "s" }))
        .collect();
    parts.sort();
    reporter.line("", "");
    reporter.line(
        "FinishedRunningStats",
        &format!(
            "Finished running {} in {elapsed:.2}s.",
            if parts.is_empty() {
                "nothing".to_string()
            } else {
                parts.join(", ")
            }
        ),
    );
    let (mut pass, mut warn, mut error, mut skip) = (0, 0, 0, 0);
    for r in results {
        match r.status {
            Status::Success | Status::Pass => pass += 1,
            Status::Warn => warn += 1,
            Status::Error | Status::Fail => error += 1,
            Status::Skipped => skip += 1,
        }
    }
    reporter.line("", "");
    if error == 0 {
        reporter.line(
            "EndOfRunSummary",
            if warn == 0 {
                "Completed successfully"
            } else {
                "Completed with warnings"
            },
        );
    } else {
        reporter.error(&format!(
            "Completed with {error} error{}:",
            if error == 1 { "" } else { "s" }
        ));
        for r in results
            .iter()
            .filter(|r| matches!(r.status, Status::Error | Status::Fail))
        {
            let n = &m.nodes[&r.unique_id];
            reporter.error(&format!(
                "  {} {} ({}):\n    {}",
                if r.status == Status::Fail {
                    "Failure in"
                } else {
                    "Error in"
                },
                crate::report::describe(n),
                n.file.display(),
                r.message.replace('\n', "\n    ")
            ));
        }
    }
    reporter.line("", "");
    reporter.line(
        "StatsLine",
        &format!(
            "Done. PASS={pass} WARN={warn} ERROR={error} SKIP={skip} TOTAL={}",
            results.len()
        ),
    );
}

pub(crate) async fn run_nodes(
    cmd_name: &str,
    l: Loaded,
    sel: &SelectArgs,
    run: &RunArgs,
    only: Option<BTreeSet<String>>,
) -> Result<i32> {
    let t0 = Instant::now();
    let mut dag = Dag::new(&l.manifest.nodes)?;
    let types = types_for(cmd_name);
    let selected = match only {
        Some(ids) => ids,
        None => without_ephemeral(&l.manifest, universe_select(&l.manifest, &dag, sel, &types)?),
    };
    let engine = engine_of(&l)?;
    ensure_commit_lock_table(&l).await?;
    let settings = settings(run, &l.profile);
    let reporter = l.reporter.clone();
    let counts = {
        let mut c: HashMap<&str, usize> = HashMap::new();
        for n in l.manifest.nodes.values() {
            *c.entry(n.resource_type.as_str()).or_default() += 1;
        }
        let mut v: Vec<String> = c
            .into_iter()
            .map(|(k, n)| format!("{n} {k}{}", if n == 1 { "" } else { "s" }))
            .collect();
        v.sort();
        v.join(", ")
    };
    reporter.line(
        "MainReportVersion",
        &format!("Running with glue {}", env!("CARGO_PKG_VERSION")),
    );
    reporter.line("FoundStats", &format!("Found {counts}"));
    let inv = invocation(l, Some(engine), settings);
    // build: a model's tests run before its children; unit tests before their model.
    if cmd_name == "build" {
        let tests: Vec<(String, Vec<String>)> = inv
            .manifest
            .nodes
            .values()
            .filter(|n| matches!(n.resource_type, ResourceType::Test))
            .map(|n| (n.unique_id.clone(), n.depends_on.clone()))
            .collect();
        for (t, parents) in tests {
            for p in parents {
                for c in dag.children(&p) {
                    if c != t
                        && inv
                            .manifest
                            .nodes
                            .get(&c)
                            .is_some_and(|n| !matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest))
                    {
                        dag.add_edge(&t, &c);
                    }
                }
            }
        }
        let units: Vec<(String, String)> = inv
            .manifest
            .nodes
            .values()
            .filter(|n| n.resource_type == ResourceType::UnitTest)
            .filter_map(|n| n.depends_on.first().map(|m| (n.unique_id.clone(), m.clone())))
            .collect();
        let mut dag2 = dag.clone();
        for (u, m) in units {
            // The unit test runs after the model's parents, before the model.
            for p in dag.parents(&m) {
                dag2.add_edge(&p, &u);
            }
            dag2.add_edge(&u, &m);
        }
        dag = dag2;
    }
    let order = if cmd_name == "build" {
        dag.order(&selected)?
    } else {
        // Unit tests do not wait for their model to be built.
        let mut d = dag.clone();
        let _ = &mut d;
        d.order(&selected)?
    };
    // Scheduling parents: selected parents, looking through sources to what builds them.
    let parents: HashMap<String, Vec<String>> = order
        .iter()
        .map(|id| {
            let mut ps = Vec::new();
            if !(cmd_name != "build" && inv.manifest.nodes[id].resource_type == ResourceType::UnitTest) {
                let mut stack = dag.parents(id);
                while let Some(p) = stack.pop() {
                    if selected.contains(&p) {
                        ps.push(p);
                    } else if inv.manifest.nodes.get(&p).is_some_and(|n| {
                        n.resource_type == ResourceType::Source
                            || (n.resource_type == ResourceType::Model && n.materialized() == "ephemeral")
                    }) {
                        stack.extend(dag.parents(&p));
                    }
                }
            }
            (id.clone(), ps)
        })
        .collect();
    inv.check_locations()?;
    let inv2 = inv.clone();
    tokio::task::spawn_blocking(move || {
        run_hooks(&inv2, &inv2.manifest.project.on_run_start.clone(), "on-run-start", None)
    })
    .await
    .map_err(|e| CliError::Engine {
        context: "on-run-start".into(),
        message: e.to_string(),
    })??;
    reporter.line("", "");
    let results = inv.run_all(order, parents).await;
    let inv2 = inv.clone();
    let results2 = results.clone();
    let end_hooks = tokio::task::spawn_blocking(move || {
        run_hooks(
            &inv2,
            &inv2.manifest.project.on_run_end.clone(),
            "on-run-end",
            Some(&results2),
        )
    })
    .await
    .map_err(|e| CliError::Engine {
        context: "on-run-end".into(),
        message: e.to_string(),
    })?;
    let elapsed = t0.elapsed().as_secs_f64();
    summary(&reporter, &inv.manifest, &results, elapsed);
    write_manifest(&inv)?;
    // The command line holds `--vars`: masked as log text is.
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let args = json!({"which": cmd_name, "select": sel.select, "exclude": sel.exclude, "full_refresh": run.full_refresh, "invocation_command": glue_project::redact::redact(&command)});
    let mut rr = crate::artifacts::run_results_json(&inv.manifest.shared.invocation_id, &results, elapsed, args);
    glue_project::redact::scrub_json(&mut rr);
    crate::artifacts::write_file(
        &inv.target_dir.join("run_results.json"),
        &serde_json::to_string_pretty(&rr).unwrap_or_default(),
    )?;
    end_hooks?;
    Ok(if results.iter().all(|r| r.status.ok()) { 0 } else { 1 })
}

/// `glue retry`: the nodes that failed or were skipped in the last run's `run_results.json`, with its command.
pub(crate) async fn retry_cmd(l: Loaded, run: &RunArgs, reporter: &Reporter) -> Result<i32> {
    let path = l
        .manifest
        .project
        .root
        .join(&l.manifest.project.target_path)
        .join("run_results.json");
    let text = std::fs::read_to_string(&path).map_err(|e| CliError::io(&path, e))?;
    let prev: Value = serde_json::from_str(&text).map_err(|e| CliError::project(&path, None, e.to_string()))?;
    let which = prev
        .pointer("/args/which")
        .and_then(Value::as_str)
        .unwrap_or("build")
        .to_string();
    let ids: BTreeSet<String> = prev["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(
                r["status"].as_str(),
                Some("error" | "fail" | "skipped" | "runtime error")
            )
        })
        .filter_map(|r| r["unique_id"].as_str().map(str::to_string))
        .filter(|id| l.manifest.nodes.contains_key(id))
        .collect();
    if ids.is_empty() {
        reporter.line("Retry", "Nothing to retry: the last run had no failures.");
        return Ok(0);
    }
    run_nodes(&which, l, &SelectArgs::default(), run, Some(ids)).await
}
