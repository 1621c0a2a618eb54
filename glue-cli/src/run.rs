//! Running nodes: a model, seed or snapshot built from its plan ([`crate::prepare`]), a data test and its failures,
//! a unit test ([`crate::unit`]), each with its result, and the whole selection on `threads` workers in DAG order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use glue_materialize::{Engine, Existing, Model, ModelConfig, PlanFlags, plan};
use glue_project::node::{Node, ResourceType};
use minijinja::Value as JValue;
use serde_json::{Map, Value};

use crate::error::{CliError, Result};
use crate::invocation::{Invocation, rfc3339_now};
use crate::prepare::render_plan_text;
use crate::report::{describe, dotted};
use crate::results::{NodeResult, Status};

impl Invocation {
    /// Builds a model, seed or snapshot.
    pub(crate) async fn build(self: &Arc<Self>, id: &str) -> Result<(String, Option<u64>, Option<String>), CliError> {
        let node = self.node(id).clone();
        let engine = self.engine.clone().ok_or_else(|| CliError::Engine {
            context: format!("{} `{}`", node.resource_type.as_str(), node.name),
            message: "no engine is configured for this target".into(),
        })?;
        let python = node.language == "python";
        if python
            && !engine
                .capabilities()
                .steps
                .contains(&glue_materialize::StepKind::RunPython)
        {
            return Err(CliError::project(
                &node.file,
                None,
                format!(
                    "model `{}` is a Python model; {} runs SQL only (run it on a Glue session target)",
                    node.name,
                    engine.capabilities().engine
                ),
            ));
        }
        let state = self.state(id, Some(&engine)).await?;
        let compiled = self.compiled(id, &state).await?;
        if node.resource_type != ResourceType::Seed {
            self.write_target_file("compiled", &node, &compiled.sql);
        }
        if node.resource_type == ResourceType::Model && contract_enforced(&node) {
            check_contract(&engine, &node, &compiled.sql).await?;
        }
        let (_, p) = self.plan_of(id, &state, &compiled)?;
        for w in &p.warnings {
            if w == glue_materialize::STAGING_EXPOSED {
                // The same for every model: once per run.
                if !self.staging_warned.swap(true, std::sync::atomic::Ordering::AcqRel) {
                    self.reporter.warn(w);
                }
                continue;
            }
            self.reporter.warn(&format!("{}: {w}", node.name));
        }
        let rendered = render_plan_text(&p);
        self.write_target_file("run", &node, &rendered);
        engine.capabilities().check(&p).map_err(|e| CliError::Engine {
            context: format!("{} `{}`", node.resource_type.as_str(), node.name),
            message: e.to_string(),
        })?;
        let outcome = engine.execute(&p).await.map_err(|e| CliError::Engine {
            context: format!(
                "{} `{}` ({})",
                node.resource_type.as_str(),
                node.name,
                node.file.display()
            ),
            message: e.to_string(),
        })?;
        for w in &outcome.warnings {
            self.reporter.warn(&format!("{}: {w}", node.name));
        }
        let msg = match node.resource_type {
            ResourceType::Seed => match outcome.rows_affected {
                Some(n) => format!("INSERT {n}"),
                None => "OK".into(),
            },
            _ => "OK".into(),
        };
        Ok((msg, outcome.rows_affected, Some(compiled.sql)))
    }

    /// Runs a data test: (status, failures, message, compiled SQL).
    pub(crate) async fn test(self: &Arc<Self>, id: &str) -> Result<(Status, u64, String, String), CliError> {
        let node = self.node(id).clone();
        let engine = self.engine.clone().ok_or_else(|| CliError::Engine {
            context: format!("test `{}`", node.name),
            message: "no engine is configured for this target".into(),
        })?;
        let me = self.clone();
        let id2 = id.to_string();
        let (main_sql, wrapped) = tokio::task::spawn_blocking(move || {
            let node = me.node(&id2).clone();
            let main = me.test_sql(&node)?;
            let wrapped = me.test_wrapper(&node, &main)?;
            Ok::<_, CliError>((main, wrapped))
        })
        .await
        .map_err(|e| CliError::Engine {
            context: "test".into(),
            message: e.to_string(),
        })??;
        self.compiled
            .lock()
            .unwrap()
            .insert(node.unique_id.clone(), main_sql.clone());
        self.write_target_file("compiled", &node, &main_sql);
        self.write_target_file("run", &node, &wrapped);
        let batches = engine.query(&wrapped).await.map_err(|e| CliError::Engine {
            context: format!("test `{}` ({})", node.name, node.file.display()),
            message: e.to_string(),
        })?;
        let table = glue_jinja::objects::Table::from_batches(&batches);
        let first = JValue::from_object(table).get_item_by_index(0).unwrap_or_default();
        let num = |i: usize| -> u64 {
            let v = first.get_item_by_index(i).unwrap_or_default();
            v.as_i64()
                .map(|n| n as u64)
                .or_else(|| v.to_string().parse::<f64>().ok().map(|f| f as u64))
                .unwrap_or(0)
        };
        let truth = |i: usize| first.get_item_by_index(i).map(|v| v.is_true()).unwrap_or(false);
        let failures = num(0);
        let (should_warn, should_error) = (truth(1), truth(2));
        let severity = node
            .config
            .get("severity")
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_ascii_lowercase();
        let store = match node.config.get("store_failures") {
            Some(Value::Bool(b)) => *b,
            _ => self.settings.store_failures,
        };
        if store {
            self.store_failures(&engine, &node, &main_sql).await?;
        }
        let status = if severity == "error" && should_error {
            Status::Fail
        } else if should_warn {
            Status::Warn
        } else {
            Status::Pass
        };
        let msg = match status {
            Status::Pass => "PASS".to_string(),
            _ => format!(
                "Got {failures} result{}, configured to {} if {}",
                if failures == 1 { "" } else { "s" },
                if status == Status::Fail { "fail" } else { "warn" },
                node.config
                    .get(if status == Status::Fail { "error_if" } else { "warn_if" })
                    .and_then(Value::as_str)
                    .unwrap_or("!= 0")
            ),
        };
        Ok((status, failures, msg, main_sql))
    }

    pub(crate) async fn store_failures(
        &self,
        engine: &Arc<dyn Engine>,
        node: &Node,
        sql: &str,
    ) -> Result<(), CliError> {
        let mut cfg = Map::new();
        cfg.insert("materialized".into(), Value::String("table".into()));
        let cfg = ModelConfig::from_json(&Value::Object(cfg)).map_err(|e| CliError::Engine {
            context: "store_failures".into(),
            message: e.to_string(),
        })?;
        let mut model = Model::new(node.name.clone(), node.schema.clone(), sql.to_string(), cfg);
        model.alias = node
            .config
            .get("alias")
            .and_then(Value::as_str)
            .unwrap_or(&node.name)
            .to_string();
        let existing = engine
            .list_relations(&node.schema)
            .await
            .ok()
            .and_then(|l| {
                l.into_iter()
                    .find(|r| r.name.identifier.as_str().eq_ignore_ascii_case(&model.alias))
            })
            .map(|r| r.existing)
            .unwrap_or(Existing::Absent);
        let flags = PlanFlags {
            full_refresh: true,
            invocation_id: self.manifest.shared.invocation_id.clone(),
        };
        let p = plan(&model, &existing, &self.target, &flags).map_err(|e| CliError::Plan(e.to_string()))?;
        engine.execute(&p).await.map_err(|e| CliError::Engine {
            context: format!("storing failures of test `{}`", node.name),
            message: e.to_string(),
        })?;
        Ok(())
    }

    /// Runs one node and reports it.
    pub async fn run_one(self: &Arc<Self>, id: &str, index: usize, total: usize) -> NodeResult {
        let node = self.node(id).clone();
        let started = rfc3339_now();
        let t0 = Instant::now();
        let desc = describe(&node);
        self.reporter.line(
            "NodeStart",
            &dotted(&format!("{index} of {total} START {desc}"), "[RUN]"),
        );
        let (status, message, failures, rows, compiled) = match node.resource_type {
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => match self.build(id).await {
                Ok((msg, rows, sql)) => (Status::Success, msg, None, rows, sql),
                Err(e) => (Status::Error, e.to_string(), None, None, None),
            },
            ResourceType::Test => match self.test(id).await {
                Ok((s, f, m, sql)) => (s, m, Some(f), None, Some(sql)),
                Err(e) => (Status::Error, e.to_string(), None, None, None),
            },
            ResourceType::UnitTest => match crate::unit::run(self, id).await {
                Ok((s, m, sql)) => (s, m, None, None, Some(sql)),
                Err(e) => (Status::Error, e.to_string(), None, None, None),
            },
            ResourceType::Source => (Status::Success, "OK".into(), None, None, None),
        };
        let secs = t0.elapsed().as_secs_f64();
        let tag = match status {
            Status::Success => format!("[{} in {secs:.2}s]", message.lines().next().unwrap_or("OK")),
            Status::Pass => format!("[PASS in {secs:.2}s]"),
            Status::Warn => format!("[WARN {} in {secs:.2}s]", failures.unwrap_or(0)),
            Status::Fail => format!("[FAIL {} in {secs:.2}s]", failures.unwrap_or(0)),
            Status::Error => format!("[ERROR in {secs:.2}s]"),
            Status::Skipped => "[SKIP]".into(),
        };
        let verb = match (status, node.resource_type) {
            (Status::Success, ResourceType::Seed) => format!("OK loaded {desc}"),
            (Status::Success, ResourceType::Snapshot) => format!("OK snapshotted {desc}"),
            (Status::Success, _) => format!("OK created {desc}"),
            (Status::Error, _) => format!("ERROR creating {desc}"),
            (Status::Pass, _) => format!("PASS {}", node.name),
            (Status::Warn, _) => format!("WARN {} {}", failures.unwrap_or(0), node.name),
            (Status::Fail, _) => format!("FAIL {} {}", failures.unwrap_or(0), node.name),
            (Status::Skipped, _) => format!("SKIP {desc}"),
        };
        let level = if status.ok() { "info" } else { "error" };
        self.reporter.event(
            level,
            "NodeFinished",
            &dotted(&format!("{index} of {total} {verb}"), &tag),
            serde_json::json!({"unique_id": id, "status": status.as_str(), "execution_time": secs}),
        );
        self.reporter.tick(&node.name);
        NodeResult {
            unique_id: id.to_string(),
            status,
            message,
            execution_time: secs,
            compiled_code: compiled,
            failures,
            rows_affected: rows,
            relation_name: node.resource_type.builds_relation().then(|| node.relation_display()),
            timing: (started, rfc3339_now()),
            thread_id: format!("Thread-{}", index % self.settings.threads.max(1) + 1),
        }
    }

    /// Runs `order` (topologically sorted ids) with up to `threads` at once; a failed node skips its descendants
    /// within the selection (through `parents`).
    pub async fn run_all(
        self: &Arc<Self>,
        order: Vec<String>,
        parents: HashMap<String, Vec<String>>,
    ) -> Vec<NodeResult> {
        let total = order.len();
        self.reporter.start_progress(total as u64);
        let mut results: BTreeMap<String, NodeResult> = BTreeMap::new();
        let mut pending: Vec<String> = order.clone();
        let mut running = tokio::task::JoinSet::new();
        let mut index = 0usize;
        let mut done: HashMap<String, bool> = HashMap::new();
        let mut stop = false;
        loop {
            // Start every ready node.
            let mut i = 0;
            while i < pending.len() && running.len() < self.settings.threads.max(1) {
                let id = &pending[i];
                let ps = parents.get(id).cloned().unwrap_or_default();
                if ps.iter().any(|p| !done.contains_key(p)) {
                    i += 1;
                    continue;
                }
                let id = pending.remove(i);
                index += 1;
                if stop || ps.iter().any(|p| done.get(p) == Some(&false)) {
                    let node = self.node(&id);
                    let desc = describe(node);
                    self.reporter.line(
                        "NodeSkipped",
                        &dotted(&format!("{index} of {total} SKIP {desc}"), "[SKIP]"),
                    );
                    self.reporter.tick(&node.name);
                    let now = rfc3339_now();
                    done.insert(id.clone(), false);
                    results.insert(
                        id.clone(),
                        NodeResult {
                            unique_id: id.clone(),
                            status: Status::Skipped,
                            message: "skipped: an upstream node failed".into(),
                            execution_time: 0.0,
                            compiled_code: None,
                            failures: None,
                            rows_affected: None,
                            relation_name: None,
                            timing: (now.clone(), now),
                            thread_id: "main".into(),
                        },
                    );
                    i = 0;
                    continue;
                }
                let me = self.clone();
                let n = index;
                running.spawn(async move { me.run_one(&id, n, total).await });
            }
            let Some(r) = running.join_next().await else { break };
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    self.reporter.error(&format!("a worker failed: {e}"));
                    continue;
                }
            };
            let ok = r.status.ok();
            if !ok && self.settings.fail_fast {
                stop = true;
            }
            done.insert(r.unique_id.clone(), ok);
            results.insert(r.unique_id.clone(), r);
        }
        self.reporter.finish_progress();
        order.into_iter().filter_map(|id| results.remove(&id)).collect()
    }
}

/// Whether `contract: {enforced: true}` applies.
pub fn contract_enforced(node: &Node) -> bool {
    node.config
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .is_some_and(|e| e.as_bool() == Some(true) || e.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")))
}

/// A declared type in the spelling `DESCRIBE` uses (`integer` → `int`, `long` → `bigint`, `text` → `string` …).
pub(crate) fn normalize_type(t: &str) -> String {
    let t: String = t.to_ascii_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
    match t.as_str() {
        "integer" => "int".into(),
        "long" => "bigint".into(),
        "short" => "smallint".into(),
        "byte" => "tinyint".into(),
        "real" => "float".into(),
        "text" => "string".into(),
        "bool" => "boolean".into(),
        "decimal" | "numeric" | "dec" => "decimal(10,0)".into(),
        "timestamp_ltz" => "timestamp".into(),
        other if other.starts_with("varchar(") || other.starts_with("char(") => "string".into(),
        other if other.starts_with("numeric(") || other.starts_with("dec(") => {
            format!("decimal({}", other.split_once('(').map(|(_, r)| r).unwrap_or(""))
        }
        other => other.into(),
    }
}

/// dbt's enforced model contract: the query's columns must be exactly the documented ones, with their `data_type`s.
/// Checked before anything is written, with dbt's table of mismatches.
pub(crate) async fn check_contract(engine: &Arc<dyn Engine>, node: &Node, sql: &str) -> Result<(), CliError> {
    let undeclared: Vec<&str> = node
        .columns
        .iter()
        .filter(|c| c.data_type.is_none())
        .map(|c| c.name.as_str())
        .collect();
    if node.columns.is_empty() || !undeclared.is_empty() {
        return Err(CliError::Plan(format!(
            "{}: model `{}` has an enforced contract, so every column needs a `data_type` in its YAML{}",
            node.file.display(),
            node.name,
            if undeclared.is_empty() {
                String::new()
            } else {
                format!(" (missing: {})", undeclared.join(", "))
            }
        )));
    }
    let schema = engine.query_schema(sql).await.map_err(|e| CliError::Engine {
        context: format!(
            "model `{}` ({}): reading its columns for the contract",
            node.name,
            node.file.display()
        ),
        message: e.to_string(),
    })?;
    let actual: Vec<(String, String)> = schema
        .fields()
        .iter()
        .map(|f| {
            let t = glue_local::types::spark_type(f.data_type()).unwrap_or_else(|_| f.data_type().to_string());
            (f.name().clone(), t)
        })
        .collect();
    let mut rows = Vec::new();
    for c in &node.columns {
        let want = normalize_type(c.data_type.as_deref().unwrap_or(""));
        match actual.iter().find(|(n, _)| n.eq_ignore_ascii_case(&c.name)) {
            None => rows.push((c.name.clone(), String::new(), want, "missing in definition")),
            Some((_, got)) if normalize_type(got) != want => {
                rows.push((c.name.clone(), got.clone(), want, "data type mismatch"))
            }
            Some(_) => {}
        }
    }
    for (n, t) in &actual {
        if !node.columns.iter().any(|c| c.name.eq_ignore_ascii_case(n)) {
            rows.push((n.clone(), t.clone(), String::new(), "missing in contract"));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "{}: model `{}` has an enforced contract that failed; make the name, data_type and number of columns in the \
         contract match the model's query:\n  | column_name | definition_type | contract_type | mismatch_reason |",
        node.file.display(),
        node.name
    );
    for (n, got, want, why) in rows {
        msg.push_str(&format!("\n  | {n} | {got} | {want} | {why} |"));
    }
    Err(CliError::Plan(msg))
}
