//! From a node to its plan: the one path `glue run`, `build`, `seed`, `snapshot`, `plan` and `compile` share.
//!
//! [`Invocation::state`] reads what exists under the node's name and decides `is_incremental`;
//! [`Invocation::compiled`] renders the node for that state; [`Invocation::plan_of`] makes the typed model and asks
//! the planner for its steps. [`Invocation::prepare`] is the three in a row. A run calls them one by one because it
//! writes the compiled SQL and checks a model's contract between the second and the third; `glue plan` calls
//! `prepare`, so what it prints is what a run would send, step for step.

use std::sync::Arc;

use glue_materialize::{Engine, Existing, Model, ModelConfig, Plan, PlanFlags, plan};
use serde_json::Value;

use crate::error::CliError;
use crate::invocation::{Compiled, Invocation};
use glue_project::node::{Node, ResourceType};

/// What exists under a node's name, and what that makes of the run.
#[derive(Debug, Clone)]
pub struct NodeState {
    /// The relation under the node's name today.
    pub existing: Existing,
    /// `--full-refresh`, or the node's own `full_refresh` config.
    pub full_refresh: bool,
    /// An incremental model whose table exists and is not fully refreshed.
    pub is_incremental: bool,
}

/// A node made ready to run: its state, its compiled SQL, its typed model and the plan a run executes.
#[derive(Debug)]
pub struct Prepared {
    /// What exists and whether the run is incremental.
    pub state: NodeState,
    /// The compiled SQL and the execute-mode config.
    pub compiled: Compiled,
    /// The typed model the plan was made from.
    pub model: Model,
    /// The steps.
    pub plan: Plan,
}

impl Invocation {
    /// Compiles, types and plans a node that builds a relation. `catalog` is where existing relations are read
    /// (the run's engine; for `glue plan` on a Glue target, the Glue Data Catalog without a session); with none,
    /// nothing exists.
    pub async fn prepare(self: &Arc<Self>, id: &str, catalog: Option<&Arc<dyn Engine>>) -> Result<Prepared, CliError> {
        let state = self.state(id, catalog).await?;
        let compiled = self.compiled(id, &state).await?;
        let (model, plan) = self.plan_of(id, &state, &compiled)?;
        Ok(Prepared {
            state,
            compiled,
            model,
            plan,
        })
    }

    /// What exists under the node's name (each schema listed once per invocation) and whether the run is
    /// incremental.
    pub async fn state(&self, id: &str, catalog: Option<&Arc<dyn Engine>>) -> Result<NodeState, CliError> {
        let node = &self.manifest.nodes[id];
        let existing = match catalog {
            Some(engine) => self.existing(engine, node).await?,
            None => Existing::Absent,
        };
        let full_refresh = match node.config.get("full_refresh") {
            Some(Value::Bool(b)) => *b,
            _ => self.settings.full_refresh,
        };
        let is_incremental =
            node.materialized() == "incremental" && matches!(existing, Existing::Table(_)) && !full_refresh;
        Ok(NodeState {
            existing,
            full_refresh,
            is_incremental,
        })
    }

    /// The node's SQL for its state: none for a seed, the code itself for a Python model, else the Jinja rendered
    /// in execute mode (on a blocking thread: Jinja may run queries).
    pub async fn compiled(self: &Arc<Self>, id: &str, state: &NodeState) -> Result<Compiled, CliError> {
        let node = &self.manifest.nodes[id];
        if node.resource_type == ResourceType::Seed || node.language == "python" {
            return Ok(Compiled {
                sql: if node.language == "python" {
                    node.raw_code.clone()
                } else {
                    String::new()
                },
                config: node.config.clone(),
            });
        }
        let me = self.clone();
        let id = id.to_string();
        let is_incremental = state.is_incremental;
        tokio::task::spawn_blocking(move || me.compile(&me.manifest.nodes[&id], is_incremental))
            .await
            .map_err(|e| CliError::Engine {
                context: "compiling".into(),
                message: e.to_string(),
            })?
    }

    /// The typed model of a compiled node and its plan: the refs and sources it reads and the session it runs on
    /// come with it.
    pub fn plan_of(&self, id: &str, state: &NodeState, compiled: &Compiled) -> Result<(Model, Plan), CliError> {
        let node = &self.manifest.nodes[id];
        let model = self.model_of(node, state, compiled)?;
        let flags = PlanFlags {
            full_refresh: state.full_refresh,
            invocation_id: self.manifest.shared.invocation_id.clone(),
        };
        let mut p = plan(&model, &state.existing, &self.target, &flags).map_err(|e| CliError::Plan(e.to_string()))?;
        p.reads = self.reads(node);
        // dbt's query comment, rendered for this node: on every statement sent for it.
        p.query_comment =
            glue_project::query_comment::render(&self.manifest, node, crate::artifacts::DBT_COMPAT_VERSION)?;
        p.session = self.settings.sessions.as_ref().and_then(|rules| {
            let meta = node
                .config
                .get("meta")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            rules.choice(&node.unique_id, &meta)
        });
        Ok((model, p))
    }

    /// The planner's model of a node: its typed config (seeds and snapshots by their resource type), SQL or Python
    /// code, alias, file, description and column docs (which `persist_docs` writes), seed file.
    fn model_of(&self, node: &Node, state: &NodeState, compiled: &Compiled) -> Result<Model, CliError> {
        let model_ref = glue_materialize::ModelRef {
            name: node.name.clone(),
            path: Some(node.file.display().to_string()),
        };
        // The config typed at load is carried; its hooks are the one part rendered again in execute mode.
        // Every enabled node that builds a relation had its config typed and checked at load.
        let typed = node.model_config.as_ref().ok_or_else(|| {
            CliError::Plan(format!(
                "{} `{}` has no typed config",
                node.resource_type.as_str(),
                node.name
            ))
        })?;
        let cfg = if node.resource_type == ResourceType::Seed || node.language == "python" {
            // Nothing of a seed's or a Python model's config is rendered at run time: the typed config is the config.
            typed.clone()
        } else {
            let hooks: serde_json::Map<String, Value> = compiled
                .config
                .iter()
                .filter(|(k, _)| ["pre-hook", "post-hook"].contains(&glue_jinja::normalize_key(k).as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let rendered = ModelConfig::from_json_for(&model_ref, &Value::Object(hooks))
                .map_err(|e| CliError::Plan(e.to_string()))?;
            ModelConfig {
                pre_hook: rendered.pre_hook,
                post_hook: rendered.post_hook,
                ..typed.clone()
            }
        };
        let mut model = Model::new(node.name.clone(), node.schema.clone(), compiled.sql.clone(), cfg);
        if node.language == "python" {
            let py = self.python_model(node, state.is_incremental)?;
            model.sql = glue_sql::SqlFragment::new(format!("SELECT * FROM {}", py.view));
            model.python = Some(py);
        }
        model.alias = node.alias.clone();
        model.path = Some(node.file.display().to_string());
        model.description = (!node.description.is_empty()).then(|| node.description.clone());
        model.columns = node
            .columns
            .iter()
            .map(|c| glue_materialize::ColumnDoc {
                name: c.name.clone(),
                description: (!c.description.is_empty()).then(|| c.description.clone()),
            })
            .collect();
        model.seed_path = node.seed_path.as_ref().map(|p| p.display().to_string());
        Ok(model)
    }
}

/// The plan as text: each step rendered to Spark SQL (or described, for non-SQL actions).
pub fn render_plan_text(p: &glue_materialize::Plan) -> String {
    let ctx = glue_materialize::RenderContext::default();
    let mut out = String::new();
    for (step, r) in p.steps.iter().zip(glue_materialize::render_plan(p, &ctx)) {
        out.push_str(&format!("-- {step}\n"));
        match r {
            Ok(list) => {
                for x in list {
                    match x {
                        glue_materialize::Rendered::Sql(s) => out.push_str(&format!("{s};\n")),
                        glue_materialize::Rendered::Scoped { sql, settings } => {
                            for s in settings {
                                out.push_str(&format!("-- with {s} for this statement only\n"));
                            }
                            out.push_str(&format!("{sql};\n"))
                        }
                        glue_materialize::Rendered::Native { action, detail } => {
                            out.push_str(&format!("-- [{action}]\n"));
                            for l in detail.lines() {
                                out.push_str(&format!("--   {l}\n"));
                            }
                        }
                    }
                }
            }
            Err(e) => out.push_str(&format!("-- (rendered by the engine at run time: {e})\n")),
        }
        out.push('\n');
    }
    out
}
