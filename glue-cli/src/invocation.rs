//! One invocation of a node-running command: the loaded project, the target, the engine and the settings; refs and
//! sources resolved to relations; nodes compiled in execute mode (ephemeral models inlined as CTEs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use glue_jinja::{Mode, NodeCtx, Relation, Resolver};
use glue_materialize::{Engine, Existing, Model, ModelConfig, Target};
use glue_project::load::Manifest;
use glue_project::node::{Attached, Node, ResourceType};
use minijinja::Value as JValue;
use regex::Regex;
use serde_json::{Map, Value};

use crate::artifacts::target_path;
use crate::error::{CliError, Result};
use crate::report::Reporter;

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

/// How `ref()` names a node that builds a relation.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    schema: String,
    alias: String,
    database: Option<String>,
    materialized: String,
    /// The Spark catalog of an Iceberg or S3 Tables table ([`glue_jinja::Relation::catalog`]).
    catalog: Option<String>,
}

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
                let v = Built {
                    schema: n.schema.clone(),
                    alias: n.alias.clone(),
                    database: n.database.clone(),
                    materialized: n.materialized().to_string(),
                    catalog: glue_jinja::objects::lakehouse_catalog(&n.config, &m.shared.target),
                };
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

    pub(crate) fn emptied(&self, mut r: Relation) -> Relation {
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
        let b = found.ok_or_else(|| format!("ref('{name}'): no such model, seed or snapshot"))?;
        let mut r = Relation::new(b.schema.clone(), b.alias.clone());
        r.database = b.database.clone();
        r.catalog = b.catalog.clone();
        if b.materialized == "ephemeral" {
            r.cte = Some(format!("__dbt__cte__{name}"));
        }
        r.kind = Some(if b.materialized == "view" { "view" } else { "table" }.into());
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

pub(crate) static WITH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?is)^\s*with\s").unwrap());

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

pub(crate) fn rfc3339_now() -> String {
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

    pub(crate) fn node(&self, id: &str) -> &Node {
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
        let target = &self.manifest.shared.target;
        let sql = glue_jinja::objects::collapse_doubled_catalog(sql, target);
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
                    out.push(Value::String(glue_jinja::objects::collapse_doubled_catalog(r, target)));
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

    pub(crate) fn ephemeral_ctes(
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
        let list = self.listing(engine, &node.schema).await?;
        let mut existing = list
            .iter()
            .find(|r| r.name.identifier.as_str().eq_ignore_ascii_case(&node.alias))
            .map(|r| r.existing.clone())
            .unwrap_or(Existing::Absent);
        // Tables named after the model (`<alias>_…`, and `<schema>__<alias>_…` in a temp_schema of their own): the
        // planner finds among them the staging and temporary tables other runs of the model left.
        if let Existing::Table(t) = &mut existing {
            let named = |list: &[glue_materialize::engine::RelationInfo], prefix: String| -> Vec<String> {
                list.iter()
                    .map(|r| r.name.identifier.as_str())
                    .filter(|n| n.to_ascii_lowercase().starts_with(&prefix))
                    .map(str::to_string)
                    .collect()
            };
            t.siblings = named(&list, format!("{}_", node.alias.to_ascii_lowercase()));
            if let Some(scratch) = self
                .target
                .temp_schema
                .as_deref()
                .filter(|s| !s.eq_ignore_ascii_case(&node.schema))
            {
                // Best effort: a scratch schema that cannot be listed only leaves other runs' leftovers for later.
                if let Ok(scratch_list) = self.listing(engine, scratch).await {
                    let ours = glue_materialize::staging::in_temp_schema(&node.schema, &node.alias);
                    t.temp_siblings = named(&scratch_list, format!("{}_", ours.to_ascii_lowercase()));
                }
            }
        }
        Ok(existing)
    }

    /// The relations of `schema`, listed once per run (see [`Invocation::existing`]).
    async fn listing(
        &self,
        engine: &Arc<dyn Engine>,
        schema: &str,
    ) -> Result<Arc<Vec<glue_materialize::engine::RelationInfo>>, CliError> {
        let key = schema.to_lowercase();
        if let Some(l) = self.listings.lock().unwrap().get(&key).cloned() {
            return Ok(l);
        }
        let l = Arc::new(engine.list_relations(schema).await.map_err(|e| CliError::Engine {
            context: format!("listing schema {schema}"),
            message: crate::error::plain_words(&e.to_string()),
        })?);
        self.listings.lock().unwrap().insert(key, l.clone());
        Ok(l)
    }

    pub(crate) fn write_target_file(&self, kind: &str, node: &Node, text: &str) {
        let p = target_path(&self.target_dir.join(kind), node);
        if let Some(d) = p.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        // Compiled and run SQL may hold a secret a model reads (`env_var('DBT_ENV_SECRET_…')`): masked as dbt does.
        let _ = crate::artifacts::write_atomically(&p, glue_project::redact::scrub(text).as_bytes());
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

    pub(crate) fn test_wrapper(&self, node: &Node, main_sql: &str) -> Result<String, CliError> {
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
}

/// A location as compared ([`glue_materialize::location::normalized`]), with one trailing `/`.
pub(crate) fn location_key(location: &str) -> String {
    format!("{}/", glue_materialize::location::normalized(location))
}

#[cfg(test)]
mod session_rules {
    use super::*;
    use serde_json::json;

    pub(crate) fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    pub(crate) fn meta_decides_the_session_as_dbt_glue_does() {
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
