//! Executing nodes: compile (Jinja, execute mode), plan (glue-materialize), execute (an `Engine`), tests, and the
//! scheduler that runs up to `--threads` nodes at once and skips the descendants of failures.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use glue_materialize::{Engine, Existing, Model, ModelConfig, PlanFlags, Target, plan};
use minijinja::Value as JValue;
use regex::Regex;
use serde_json::{Map, Value};

use crate::error::CliError;
use crate::report::{Reporter, dotted};
use glue_jinja::{Mode, NodeCtx, Relation, Resolver};
use glue_project::load::Manifest;
use glue_project::node::{Attached, Node, ResourceType};

/// A node's outcome, as `run_results.json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Built.
    Success,
    /// Failed to build (or a test errored).
    Error,
    /// Not run because an upstream node failed.
    Skipped,
    /// Test passed.
    Pass,
    /// Test failed.
    Fail,
    /// Test warned.
    Warn,
}

impl Status {
    /// dbt's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
        }
    }

    /// Whether descendants may run.
    pub fn ok(self) -> bool {
        matches!(self, Self::Success | Self::Pass | Self::Warn)
    }
}

/// One node's result.
#[derive(Debug, Clone)]
pub struct NodeResult {
    /// Its id.
    pub unique_id: String,
    /// Status.
    pub status: Status,
    /// Message (error text, `OK`, `INSERT 4`…).
    pub message: String,
    /// Seconds.
    pub execution_time: f64,
    /// Compiled SQL.
    pub compiled_code: Option<String>,
    /// Test failures.
    pub failures: Option<u64>,
    /// Rows affected.
    pub rows_affected: Option<u64>,
    /// Relation built.
    pub relation_name: Option<String>,
    /// Start and end (RFC 3339).
    pub timing: (String, String),
    /// The worker that ran it.
    pub thread_id: String,
}

/// Run-wide settings.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// `--full-refresh`.
    pub full_refresh: bool,
    /// Threads.
    pub threads: usize,
    /// `--empty`: models read no rows from refs and sources.
    pub empty: bool,
    /// Whether tests stop the run on failure (`--fail-fast`).
    pub fail_fast: bool,
    /// `--store-failures`.
    pub store_failures: bool,
    /// Sessions of their own for models and groups (Glue Interactive Sessions targets).
    pub sessions: Option<SessionRules>,
}

/// dbt-glue's per-model and group sessions: which models run on a session of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRules {
    /// `enable_session_per_model`: every model gets its own session.
    pub per_model: bool,
}

impl SessionRules {
    /// The session a node's plan runs on, by the reference's rules: `meta.group_session_id` names a session shared by
    /// its group; profile options in `meta` with a truthy value (`worker_type`, `workers`, `conf`, …: see
    /// `glue_session::SESSION_OPTIONS`) give the node a session of its own with them, as `enable_session_per_model`
    /// does for every node; otherwise the shared sessions (None).
    pub fn choice(&self, unique_id: &str, meta: &Map<String, Value>) -> Option<glue_materialize::SessionChoice> {
        let truthy = |v: &Value| match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        };
        let overrides: BTreeMap<String, Value> = meta
            .iter()
            .filter(|(k, v)| glue_session::SESSION_OPTIONS.contains(&k.as_str()) && truthy(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = match meta.get("group_session_id").filter(|v| truthy(v)) {
            Some(Value::String(group)) => group.clone(),
            Some(other) => other.to_string(),
            None if self.per_model || !overrides.is_empty() => unique_id.to_string(),
            None => return None,
        };
        Some(glue_materialize::SessionChoice { key, overrides })
    }
}

impl Default for RunSettings {
    /// One thread, nothing forced: what commands that do not run nodes use.
    fn default() -> Self {
        Self {
            full_refresh: false,
            threads: 1,
            empty: false,
            fail_fast: false,
            store_failures: false,
            sessions: None,
        }
    }
}

/// Everything a run needs.
pub struct Invocation {
    /// The project.
    pub manifest: Manifest,
    /// The planner's target.
    pub target: Target,
    /// The engine (none for compile-only commands on remote targets).
    pub engine: Option<Arc<dyn Engine>>,
    /// Settings.
    pub settings: RunSettings,
    /// Output.
    pub reporter: Arc<Reporter>,
    /// `target/` directory.
    pub target_dir: PathBuf,
    /// Compiled SQL per node (filled as nodes compile).
    pub compiled: Mutex<HashMap<String, String>>,
    /// The resolver installed in the Jinja state.
    pub resolver: Arc<ManifestResolver>,
    /// Relations per schema, listed once per run (each node asks about its own relation once, before building it).
    pub listings: Mutex<HashMap<String, Arc<Vec<glue_materialize::engine::RelationInfo>>>>,
    /// The staging-exposure warning (`glue_materialize::STAGING_EXPOSED`) was shown.
    pub staging_warned: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invocation").field("manifest", &self.manifest).finish()
    }
}

/// (schema, alias, database, materialized) of a node that builds a relation.
type Built = (String, String, Option<String>, String);

/// Resolves `ref` / `source` to relations of the manifest (ephemeral models become CTE names).
#[derive(Debug, Clone)]
pub struct ManifestResolver {
    by_name: HashMap<(String, String), Built>,
    any: HashMap<String, Built>,
    sources: HashMap<(String, String), (String, String, Option<String>)>,
    root: String,
    /// Unit test fixtures: ref/source name → rendered subquery.
    pub overrides: HashMap<String, String>,
    /// `--empty`.
    pub empty: bool,
}

impl ManifestResolver {
    /// From a manifest.
    pub fn new(m: &Manifest, empty: bool) -> Self {
        let mut by_name = HashMap::new();
        let mut any = HashMap::new();
        let mut sources = HashMap::new();
        for n in m.nodes.values() {
            if n.resource_type.builds_relation() {
                let v = (
                    n.schema.clone(),
                    n.alias.clone(),
                    n.database.clone(),
                    n.materialized().to_string(),
                );
                by_name.insert((n.package.clone(), n.name.clone()), v.clone());
                any.entry(n.name.clone()).or_insert(v);
            }
            if let Some(s) = &n.source {
                sources.insert(
                    (s.source_name.clone(), n.name.clone()),
                    (n.schema.clone(), n.alias.clone(), n.database.clone()),
                );
            }
        }
        Self {
            by_name,
            any,
            sources,
            root: m.project.name.clone(),
            overrides: HashMap::new(),
            empty,
        }
    }

    fn emptied(&self, mut r: Relation) -> Relation {
        if self.empty && r.cte.is_none() {
            r.rendered = Some(format!(
                "(select * from {} where false limit 0) _dbt_empty",
                r.render_sql()
            ));
        }
        r
    }
}

impl Resolver for ManifestResolver {
    fn resolve_ref(&self, from: &str, package: Option<&str>, name: &str) -> Result<Relation, String> {
        if let Some(sub) = self.overrides.get(&format!("ref:{name}")) {
            let mut r = Relation::new("", name);
            r.rendered = Some(sub.clone());
            return Ok(r);
        }
        let found = match package {
            Some(p) => self.by_name.get(&(p.to_string(), name.to_string())),
            None => self
                .by_name
                .get(&(from.to_string(), name.to_string()))
                .or_else(|| self.by_name.get(&(self.root.clone(), name.to_string())))
                .or_else(|| self.any.get(name)),
        };
        let (schema, alias, db, mat) =
            found.ok_or_else(|| format!("ref('{name}'): no such model, seed or snapshot"))?;
        let mut r = Relation::new(schema.clone(), alias.clone());
        r.database = db.clone();
        if mat == "ephemeral" {
            r.cte = Some(format!("__dbt__cte__{name}"));
        }
        r.kind = Some(if mat == "view" { "view" } else { "table" }.into());
        Ok(self.emptied(r))
    }

    fn resolve_source(&self, source: &str, table: &str) -> Result<Relation, String> {
        if let Some(sub) = self.overrides.get(&format!("source:{source}.{table}")) {
            let mut r = Relation::new("", table);
            r.rendered = Some(sub.clone());
            return Ok(r);
        }
        let (schema, ident, db) = self
            .sources
            .get(&(source.to_string(), table.to_string()))
            .ok_or_else(|| format!("source('{source}', '{table}'): no such source table"))?;
        let mut r = Relation::new(schema.clone(), ident.clone());
        r.database = db.clone();
        Ok(self.emptied(r))
    }
}

static WITH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?is)^\s*with\s").unwrap());

/// dbt's CTE injection: `with __dbt__cte__a as (...)` before the model's SQL (merged into its own `with`).
pub fn inject_ctes(sql: &str, ctes: &[(String, String)]) -> String {
    if ctes.is_empty() {
        return sql.to_string();
    }
    let list = ctes
        .iter()
        .map(|(name, body)| format!("{name} as (\n{body}\n)"))
        .collect::<Vec<_>>()
        .join(", ");
    match WITH.find(sql) {
        Some(m) => format!("with {list}, {}", &sql[m.end()..]),
        None => format!("with {list}\n{sql}"),
    }
}

fn rfc3339_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// What compiling a node produced.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The SQL.
    pub sql: String,
    /// Config after execute-mode rendering (hooks rendered).
    pub config: Map<String, Value>,
}

impl Invocation {
    /// An invocation: installs the engine and a resolver (with `--empty` applied) into the Jinja state.
    pub fn new(
        manifest: Manifest,
        target: Target,
        engine: Option<Arc<dyn Engine>>,
        settings: RunSettings,
        reporter: Arc<Reporter>,
    ) -> Arc<Self> {
        let target_dir = manifest.project.root.join(&manifest.project.target_path);
        *manifest.shared.engine.write().unwrap() = engine.clone();
        let resolver = Arc::new(ManifestResolver::new(&manifest, settings.empty));
        *manifest.shared.resolver.write().unwrap() = Some(resolver.clone());
        Arc::new(Self {
            manifest,
            target,
            engine,
            settings,
            reporter,
            target_dir,
            compiled: Mutex::new(HashMap::new()),
            resolver,
            listings: Mutex::new(HashMap::new()),
            staging_warned: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn node(&self, id: &str) -> &Node {
        &self.manifest.nodes[id]
    }

    /// Refuses, before anything runs, two nodes of the project whose tables would live at the same location or one
    /// inside the other (two models with one alias under `root_location`, a `custom_location` inside another
    /// model's): building one would write into, or empty, the other's files.
    pub fn check_locations(&self) -> Result<(), CliError> {
        let mut located: Vec<(String, &Node)> = Vec::new();
        for node in self.manifest.nodes.values() {
            let kind = match node.resource_type {
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => node.resource_type,
                _ => continue,
            };
            if !node.enabled() {
                continue;
            }
            let mut config = node.config.clone();
            match kind {
                ResourceType::Seed => {
                    config.insert("materialized".into(), Value::String("seed".into()));
                }
                ResourceType::Snapshot => {
                    config.insert("materialized".into(), Value::String("snapshot".into()));
                }
                _ => {}
            }
            // A config the planner refuses is reported when the node runs.
            let Ok(cfg) = ModelConfig::from_json(&Value::Object(config)) else {
                continue;
            };
            let mut model = Model::new(node.name.clone(), node.schema.clone(), "", cfg);
            model.alias = node.alias.clone();
            if let Some(l) = glue_materialize::table_location(&model, &self.target) {
                located.push((location_key(&l), node));
            }
        }
        located.sort_by(|a, b| a.0.cmp(&b.0));
        // Sorted with a trailing `/`, a location's nested ones follow it: keep the chain of enclosing ones.
        let mut enclosing: Vec<&(String, &Node)> = Vec::new();
        for entry in &located {
            while enclosing.last().is_some_and(|top| !entry.0.starts_with(&top.0)) {
                enclosing.pop();
            }
            if let Some((outer, other)) = enclosing.last().map(|e| (&e.0, e.1)) {
                let (path, node) = (&entry.0, entry.1);
                let how = if outer == path {
                    "the same location as"
                } else {
                    "a location inside that of"
                };
                return Err(CliError::project(
                    &node.file,
                    None,
                    format!(
                        "{} `{}` would store its table at {}, {how} {} `{}` ({}): building one would write into, or \
                         empty, the other's files. Give one of them a location of its own (`custom_location`, or a \
                         different alias)",
                        node.resource_type.as_str(),
                        node.name,
                        path.trim_end_matches('/'),
                        other.resource_type.as_str(),
                        other.name,
                        other.file.display()
                    ),
                ));
            }
            enclosing.push(entry);
        }
        Ok(())
    }

    /// The node context for execute-mode rendering.
    pub fn ctx(&self, node: &Node, is_incremental: bool) -> Arc<NodeCtx> {
        glue_project::load::node_context(&self.manifest.shared, Mode::Execute, node, is_incremental)
    }

    /// Compiles a model, snapshot or singular test (execute mode) with its ephemeral CTEs. Call on a blocking thread.
    pub fn compile(&self, node: &Node, is_incremental: bool) -> Result<Compiled, CliError> {
        self.compile_with(node, is_incremental, None)
    }

    /// [`Invocation::compile`] with a resolver for this node only (unit test fixtures).
    pub fn compile_with(
        &self,
        node: &Node,
        is_incremental: bool,
        resolver: Option<Arc<dyn Resolver>>,
    ) -> Result<Compiled, CliError> {
        if node.language == "python" {
            // dbt compiles a Python model to itself: no Jinja.
            return Ok(Compiled {
                sql: node.raw_code.clone(),
                config: node.config.clone(),
            });
        }
        let ctx = self.ctx(node, is_incremental);
        if let Some(r) = resolver {
            let _ = ctx.resolver_override.set(r);
        }
        let sql = self
            .manifest
            .jinja
            .render(&node.file.display().to_string(), &node.raw_code, &ctx)
            .map_err(|e| node.jinja_error(e))?;
        let mut ctes = Vec::new();
        let mut seen = BTreeSet::new();
        self.ephemeral_ctes(node, &mut ctes, &mut seen)?;
        let mut config = node.config.clone();
        for hook in ["pre-hook", "post-hook"] {
            if let Some(v) = config.get(hook).cloned() {
                let list = match v {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                let mut out = Vec::new();
                for h in list {
                    let text = match &h {
                        Value::String(s) => s.clone(),
                        Value::Object(m) => m.get("sql").and_then(Value::as_str).unwrap_or("").to_string(),
                        _ => continue,
                    };
                    let r = self
                        .manifest
                        .jinja
                        .render(&format!("{} ({hook})", node.file.display()), &text, &ctx)
                        .map_err(|e| node.jinja_error(e))?;
                    out.push(Value::String(r));
                }
                config.insert(hook.into(), Value::Array(out));
            }
        }
        let sql = inject_ctes(&sql, &ctes);
        self.compiled
            .lock()
            .unwrap()
            .insert(node.unique_id.clone(), sql.clone());
        Ok(Compiled { sql, config })
    }

    fn ephemeral_ctes(
        &self,
        node: &Node,
        out: &mut Vec<(String, String)>,
        seen: &mut BTreeSet<String>,
    ) -> Result<(), CliError> {
        for d in &node.depends_on {
            let Some(dep) = self.manifest.nodes.get(d) else {
                continue;
            };
            if dep.resource_type != ResourceType::Model || dep.materialized() != "ephemeral" || !seen.insert(d.clone())
            {
                continue;
            }
            self.ephemeral_ctes(dep, out, seen)?;
            let ctx = self.ctx(dep, false);
            let sql = self
                .manifest
                .jinja
                .render(&dep.file.display().to_string(), &dep.raw_code, &ctx)
                .map_err(|e| dep.jinja_error(e))?;
            out.push((format!("__dbt__cte__{}", dep.name), sql.trim().to_string()));
        }
        Ok(())
    }

    /// What exists under the node's name. Each schema is listed once per run: every node asks about its own
    /// relation once, before building it, so a listing taken at the first question stays true for the questions
    /// that follow (listing per node made a run quadratic in the number of models).
    pub(crate) async fn existing(&self, engine: &Arc<dyn Engine>, node: &Node) -> Result<Existing, CliError> {
        let key = node.schema.to_lowercase();
        let cached = self.listings.lock().unwrap().get(&key).cloned();
        let list = match cached {
            Some(l) => l,
            None => {
                let l = Arc::new(
                    engine
                        .list_relations(&node.schema)
                        .await
                        .map_err(|e| CliError::Engine {
                            context: format!("listing schema {}", node.schema),
                            message: crate::commands::plain_words(&e.to_string()),
                        })?,
                );
                self.listings.lock().unwrap().insert(key, l.clone());
                l
            }
        };
        Ok(list
            .iter()
            .find(|r| r.name.identifier.as_str().eq_ignore_ascii_case(&node.alias))
            .map(|r| r.existing.clone())
            .unwrap_or(Existing::Absent))
    }

    fn write_target_file(&self, kind: &str, node: &Node, text: &str) {
        let p = target_path(&self.target_dir.join(kind), node);
        if let Some(d) = p.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        // Compiled and run SQL may hold a secret a model reads (`env_var('DBT_ENV_SECRET_…')`): masked as dbt does.
        let _ = crate::artifacts::write_atomically(&p, glue_project::redact::scrub(text).as_bytes());
    }

    /// Builds a model, seed or snapshot.
    async fn build(self: &Arc<Self>, id: &str) -> Result<(String, Option<u64>, Option<String>), CliError> {
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

    /// The tables and views a node reads: its refs and sources as the catalog names them (ephemeral models, which
    /// are CTEs, and relations that do not resolve are left out).
    pub(crate) fn reads(&self, node: &Node) -> Vec<glue_sql::RelationName> {
        let refs = node
            .refs
            .iter()
            .filter_map(|(pkg, name)| self.resolver.resolve_ref(&node.package, pkg.as_deref(), name).ok());
        let sources = node
            .sources
            .iter()
            .filter_map(|(source, table)| self.resolver.resolve_source(source, table).ok());
        let mut out: Vec<glue_sql::RelationName> = refs
            .chain(sources)
            .filter(|r| r.cte.is_none() && r.rendered.is_none())
            .filter_map(|r| glue_sql::RelationName::new(r.schema.clone()?, r.identifier.clone()).ok())
            .collect();
        out.sort_by_key(|r| r.to_string());
        out.dedup();
        out
    }

    /// A Python model's code and what its `dbt` object answers: each ref and source as the relation it resolves to,
    /// `this`, `is_incremental` and the config.
    pub(crate) fn python_model(
        &self,
        node: &Node,
        is_incremental: bool,
    ) -> Result<glue_materialize::PythonModel, CliError> {
        let err = |m: String| CliError::project(&node.file, None, format!("model `{}`: {m}", node.name));
        let mut refs = serde_json::Map::new();
        for (package, name) in &node.refs {
            let r = self
                .resolver
                .resolve_ref(&node.package, package.as_deref(), name)
                .map_err(err)?;
            let key = match package {
                Some(p) => format!("{p}.{name}"),
                None => name.clone(),
            };
            refs.insert(key, Value::String(r.render_sql()));
        }
        let mut sources = serde_json::Map::new();
        for (source, table) in &node.sources {
            let r = self.resolver.resolve_source(source, table).map_err(err)?;
            sources.insert(format!("{source}.{table}"), Value::String(r.render_sql()));
        }
        let this = glue_jinja::objects::Relation::new(node.schema.clone(), node.alias.clone()).render_sql();
        let context = serde_json::json!({
            "refs": refs, "sources": sources, "this": this, "is_incremental": is_incremental, "config": node.config,
        });
        Ok(glue_materialize::PythonModel {
            code: node.raw_code.clone(),
            view: glue_sql::Ident::new(format!("{}__dbt_python", node.alias)).map_err(|e| err(e.to_string()))?,
            context: context.to_string(),
        })
    }

    /// The SQL of a data test (before the failure-count wrapper).
    pub fn test_sql(&self, node: &Node) -> Result<String, CliError> {
        let Some(t) = &node.test else {
            return Ok(self.compile(node, false)?.sql);
        };
        let ctx = self.ctx(node, false);
        let jinja = &self.manifest.jinja;
        let resolver = self
            .manifest
            .shared
            .resolver
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| CliError::Engine {
                context: "tests".into(),
                message: "the project is not resolved".into(),
            })?;
        let relation = match &t.attached {
            Attached::Ref(p, m) => resolver.resolve_ref(&node.package, p.as_deref(), m),
            Attached::Source(s, tb) => resolver.resolve_source(s, tb),
        }
        .map_err(|m| CliError::project(&node.file, Some(node.line), m))?;
        let model = jinja
            .call_macro("get_where_subquery", vec![relation.into_value()], BTreeMap::new(), &ctx)
            .map_err(|e| node.jinja_error(e))?;
        let mut kwargs = BTreeMap::new();
        kwargs.insert("model".to_string(), model);
        static REF_ARG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*(ref|source)\s*\(.*\)\s*$").unwrap());
        for (k, v) in &t.kwargs {
            let val = match v {
                Value::String(s) if REF_ARG.is_match(s) => jinja.eval(s, &ctx).map_err(|e| node.jinja_error(e))?,
                other => JValue::from_serialize(other),
            };
            kwargs.insert(k.clone(), val);
        }
        let macro_name = format!("test_{}", t.name);
        if let Some(ns) = &t.namespace
            && jinja.macros().in_package(ns, &macro_name).is_none()
        {
            return Err(CliError::project(
                &node.file,
                Some(node.line),
                format!("no test `{}` in package `{ns}`", t.name),
            ));
        }
        let out = jinja
            .call_macro(&macro_name, vec![], kwargs, &ctx)
            .map_err(|e| node.jinja_error(e))?;
        Ok(out.to_string())
    }

    fn test_wrapper(&self, node: &Node, main_sql: &str) -> Result<String, CliError> {
        let ctx = self.ctx(node, false);
        let s = |k: &str, d: &str| -> String {
            node.config
                .get(k)
                .and_then(|v| v.as_str().map(str::to_string).or_else(|| Some(v.to_string())))
                .unwrap_or_else(|| d.to_string())
        };
        let limit = node
            .config
            .get("limit")
            .filter(|v| !v.is_null())
            .map(JValue::from_serialize)
            .unwrap_or(JValue::from(()));
        self.manifest
            .jinja
            .call_macro(
                "get_test_sql",
                vec![
                    JValue::from(main_sql),
                    JValue::from(s("fail_calc", "count(*)")),
                    JValue::from(s("warn_if", "!= 0")),
                    JValue::from(s("error_if", "!= 0")),
                    limit,
                ],
                BTreeMap::new(),
                &ctx,
            )
            .map(|v| v.to_string())
            .map_err(|e| node.jinja_error(e).into())
    }

    /// Runs a data test: (status, failures, message, compiled SQL).
    async fn test(self: &Arc<Self>, id: &str) -> Result<(Status, u64, String, String), CliError> {
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

    async fn store_failures(&self, engine: &Arc<dyn Engine>, node: &Node, sql: &str) -> Result<(), CliError> {
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

/// A location as compared: `s3a://`/`s3n://` as `s3://`, with one trailing `/`.
fn location_key(location: &str) -> String {
    let l = location.trim().trim_end_matches('/');
    let l = match l.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("s3a") || scheme.eq_ignore_ascii_case("s3n") => {
            format!("s3://{rest}")
        }
        _ => l.to_string(),
    };
    format!("{l}/")
}

/// Whether `contract: {enforced: true}` applies.
pub fn contract_enforced(node: &Node) -> bool {
    node.config
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .is_some_and(|e| e.as_bool() == Some(true) || e.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")))
}

/// A declared type in the spelling `DESCRIBE` uses (`integer` → `int`, `long` → `bigint`, `text` → `string` …).
fn normalize_type(t: &str) -> String {
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
async fn check_contract(engine: &Arc<dyn Engine>, node: &Node, sql: &str) -> Result<(), CliError> {
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

/// Where a node's compiled or run SQL goes under `target/<kind>/`, as dbt places it: the node's file, a generic
/// test under its YAML file (`models/schema.yml/<test>.sql`), a snapshot by its name.
pub fn target_path(base: &Path, node: &Node) -> PathBuf {
    let p = base.join(&node.package).join(&node.file);
    if node.test.is_some() {
        p.join(format!("{}.sql", node.name))
    } else if node.resource_type == ResourceType::Snapshot {
        p.with_file_name(format!("{}.sql", node.name))
    } else {
        p
    }
}

/// dbt's description of a node in run lines: `sql view model schema.name`.
pub fn describe(node: &Node) -> String {
    match node.resource_type {
        ResourceType::Model => format!("sql {} model {}", node.materialized(), node.relation_display()),
        ResourceType::Seed => format!("seed file {}", node.relation_display()),
        ResourceType::Snapshot => format!("snapshot {}", node.relation_display()),
        ResourceType::Test => format!("test {}", node.name),
        ResourceType::UnitTest => format!("unit_test {}", node.name),
        ResourceType::Source => format!("source {}", node.name),
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

/// Writes a file under `target/`, creating directories.
pub fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| CliError::io(d, e))?;
    }
    crate::artifacts::write_atomically(path, text.as_bytes()).map_err(|e| CliError::io(path, e))
}

#[cfg(test)]
mod session_rules {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn meta_decides_the_session_as_dbt_glue_does() {
        let rules = SessionRules { per_model: false };
        assert_eq!(rules.choice("model.p.a", &meta(json!({"owner": "bi"}))), None);
        let own = rules
            .choice(
                "model.p.a",
                &meta(json!({"worker_type": "G.2X", "workers": 0, "conf": ""})),
            )
            .unwrap();
        assert_eq!(own.key, "model.p.a");
        assert_eq!(
            own.overrides.keys().collect::<Vec<_>>(),
            ["worker_type"],
            "falsy values override nothing"
        );
        let group = rules
            .choice("model.p.a", &meta(json!({"group_session_id": "nightly", "workers": 8})))
            .unwrap();
        assert_eq!(group.key, "nightly");
        assert_eq!(group.overrides["workers"], json!(8));
        let every = SessionRules { per_model: true };
        assert_eq!(every.choice("model.p.a", &Map::new()).unwrap().key, "model.p.a");
        assert_eq!(
            every
                .choice("model.p.a", &meta(json!({"location": "s3://x"})))
                .unwrap()
                .overrides,
            BTreeMap::new(),
            "options the planner depends on stay the target's"
        );
    }
}
