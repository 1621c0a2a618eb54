//! Parsing one node: its Jinja rendered in parse mode (refs, sources and `config()` calls recorded), its config
//! layered, its schema, alias and database named by the project's macros; the project configs rendered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{ProjectError, Result};
use crate::node::{Node, ResourceType};
use crate::project::{Project, tree_layers};
use glue_jinja::pycompat::native_value;
use glue_jinja::{Jinja, Mode, NodeCtx, Relation, Shared, merge_layer};

pub(crate) fn config_layers(
    tree_owner: &Project,
    root: &Project,
    tree: fn(&Project) -> &Value,
    fqn: &[String],
) -> Map<String, Value> {
    let mut cfg = Map::new();
    for l in tree_layers(tree(tree_owner), fqn) {
        merge_layer(&mut cfg, &l);
    }
    if tree_owner.name != root.name {
        for l in tree_layers(tree(root), fqn) {
            merge_layer(&mut cfg, &l);
        }
    }
    cfg
}

pub(crate) fn node_json(n: &Node) -> Value {
    serde_json::json!({
        "unique_id": n.unique_id,
        "name": n.name,
        "resource_type": n.resource_type.as_str(),
        "package_name": n.package,
        "path": n.path,
        "original_file_path": n.file.display().to_string(),
        "fqn": n.fqn,
        "alias": n.alias,
        "schema": n.schema,
        "database": n.database,
        "config": Value::Object(n.config.clone()),
        "tags": n.tags(),
        "description": n.description,
        "raw_code": n.raw_code,
        "raw_sql": n.raw_code,
        "language": n.language,
        "columns": n.columns.iter().map(|c| (c.name.clone(), serde_json::json!({"name": c.name, "description": c.description, "data_type": c.data_type, "meta": c.meta}))).collect::<Map<_,_>>(),
        "refs": n.refs.iter().map(|(p, name)| serde_json::json!({"package": p, "name": name})).collect::<Vec<_>>(),
        "sources": n.sources.iter().map(|(s, t)| serde_json::json!([s, t])).collect::<Vec<_>>(),
        "depends_on": {"nodes": n.depends_on},
        "version": Value::Null,
    })
}

/// The rendering context of a node: `model` is the node, `this` its relation (a unit test's `this` fixture when set).
pub fn node_context(shared: &Arc<Shared>, mode: Mode, node: &Node, is_incremental: bool) -> Arc<NodeCtx> {
    let mut this =
        Relation::new(node.schema.clone(), node.alias.clone()).in_lakehouse_catalog(&node.config, &shared.target);
    this.database = node.database.clone();
    if let Some(Value::String(fixture)) = node.config.get("__unit_this") {
        this.rendered = Some(fixture.clone());
    }
    NodeCtx::new(
        shared.clone(),
        mode,
        node.package.clone(),
        node_json(node),
        Some(this),
        node.config.clone(),
        is_incremental,
    )
}

/// Public form of the node mapping (`model` in Jinja, `graph.nodes` entries).
pub fn node_value(n: &Node) -> Value {
    node_json(n)
}

pub(crate) fn string_config(cfg: &Map<String, Value>, key: &str) -> Option<String> {
    match cfg.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

pub(crate) struct Loader {
    pub(crate) jinja: Arc<Jinja>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) warnings: Vec<String>,
}

impl Loader {
    pub(crate) fn ctx(&self, node: &Node, mode: Mode) -> Arc<NodeCtx> {
        node_context(&self.shared, mode, node, false)
    }

    /// Renders the node in parse mode: records refs, sources and `config()` calls.
    pub(crate) fn parse_render(&self, node: &mut Node) -> Result<()> {
        if node.language == "python" {
            // dbt reads a Python model's refs, sources and config without running it (no Jinja either).
            let d = crate::python::declared(&node.raw_code).map_err(|(line, msg)| {
                ProjectError::project(&node.file, Some(line), format!("model `{}`: {msg}", node.name))
            })?;
            for (k, v) in d.config {
                node.config.insert(k.clone(), v.clone());
                node.unrendered.insert(k, v);
            }
            node.refs.extend(d.refs);
            node.sources.extend(d.sources);
            return Ok(());
        }
        if node.language != "sql" || node.raw_code.is_empty() {
            return Ok(());
        }
        let ctx = self.ctx(node, Mode::Parse);
        let name = node.file.display().to_string();
        self.jinja
            .render(&name, &node.raw_code, &ctx)
            .map_err(|e| node.jinja_error(e))?;
        node.config = ctx.config.lock().unwrap().clone();
        for call in ctx.config_calls.lock().unwrap().iter() {
            merge_layer(&mut node.unrendered, call);
        }
        node.refs.extend(ctx.refs.lock().unwrap().drain(..));
        node.sources.extend(ctx.sources.lock().unwrap().drain(..));
        Ok(())
    }

    /// schema / alias / database through the generate_* macros.
    /// Whether `name` and its `default__` implementation are glue's built-in ones (not overridden by the project or
    /// a package), so the result can be computed without rendering them.
    pub(crate) fn builtin_naming(&self, package: &str, name: &str) -> bool {
        let m = self.jinja.macros();
        let is_builtin = |n: &str| {
            m.resolve(package, n)
                .is_some_and(|(p, _)| p == glue_jinja::BUILTIN_PACKAGE)
        };
        ["glue__", "spark__"]
            .iter()
            .all(|pre| !m.exists(&format!("{pre}{name}")))
            && is_builtin(name)
            && is_builtin(&format!("default__{name}"))
    }

    pub(crate) fn name_node(&self, node: &mut Node) -> Result<()> {
        let target_schema = || {
            self.shared
                .target
                .get_attr("schema")
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        // dbt's default naming, computed directly when the project keeps glue's built-in macros (same results as
        // rendering them; rendering three macros per node dominated loading large projects).
        if self.builtin_naming(&node.package, "generate_schema_name")
            && self.builtin_naming(&node.package, "generate_alias_name")
            && self.builtin_naming(&node.package, "generate_database_name")
        {
            let snapshot_target = (node.resource_type == ResourceType::Snapshot)
                .then(|| string_config(&node.config, "target_schema"))
                .flatten();
            node.schema = match (snapshot_target, string_config(&node.config, "schema")) {
                (Some(s), _) => s,
                (None, Some(custom)) => format!("{}_{}", target_schema(), custom.trim()),
                (None, None) => target_schema(),
            };
            if let Some(alias) = string_config(&node.config, "alias").filter(|a| !a.trim().is_empty()) {
                node.alias = alias.trim().to_string();
            }
            node.database = string_config(&node.config, "database")
                .or(string_config(&node.config, "target_database"))
                .map(|d| d.trim().to_string())
                .or_else(|| {
                    self.shared
                        .target
                        .get_attr("database")
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                })
                .filter(|d| !d.is_empty());
            if node.schema.is_empty() {
                return Err(ProjectError::project(
                    &node.file,
                    None,
                    format!("{} `{}`: the schema is empty", node.resource_type.as_str(), node.name),
                ));
            }
            return Ok(());
        }
        let ctx = self.ctx(node, Mode::Parse);
        let node_v = minijinja::Value::from_serialize(node_json(node));
        let snapshot = node.clone();
        let node_ref = &snapshot;
        let call = |macro_name: &str, custom: Option<String>| -> Result<String> {
            let v = self
                .jinja
                .call_macro(
                    macro_name,
                    vec![minijinja::Value::from(custom), node_v.clone()],
                    BTreeMap::new(),
                    &ctx,
                )
                .map_err(|e| node_ref.jinja_error(e))?;
            Ok(v.to_string().trim().to_string())
        };
        let target_schema = (node.resource_type == ResourceType::Snapshot)
            .then(|| string_config(&node.config, "target_schema"))
            .flatten();
        node.schema = match target_schema {
            Some(s) => s,
            None => call("generate_schema_name", string_config(&node.config, "schema"))?,
        };
        node.alias = call("generate_alias_name", string_config(&node.config, "alias"))?;
        let db = call(
            "generate_database_name",
            string_config(&node.config, "database").or(string_config(&node.config, "target_database")),
        )?;
        node.database = (!db.is_empty() && db != "none" && db != "None").then_some(db);
        if node.schema.is_empty() {
            return Err(ProjectError::project(
                &node.file,
                None,
                format!(
                    "{} `{}`: generate_schema_name returned an empty schema",
                    node.resource_type.as_str(),
                    node.name
                ),
            ));
        }
        Ok(())
    }
}

/// Renders the Jinja in a project's config trees (`models:`, `seeds:`, `snapshots:`, `data_tests:`, `sources:`,
/// `unit_tests:` of `dbt_project.yml`) as dbt does when it parses: `+file_format: "{{ var('format', 'delta') }}"`,
/// `env_var()`, `target`. Hooks stay raw (they render when they run). A value that renders to a boolean, a number,
/// `none` or a list or mapping literal takes that type, as dbt's native rendering does.
pub(crate) fn render_project_configs(jinja: &Jinja, shared: &Arc<Shared>, p: &mut Project) -> Result<()> {
    let file = p.root.join("dbt_project.yml");
    let ctx = NodeCtx::project(shared.clone(), Mode::Parse, p.name.clone());
    for (key, tree) in [
        ("models", &mut p.models),
        ("seeds", &mut p.seeds),
        ("snapshots", &mut p.snapshots),
        ("data_tests", &mut p.tests),
        ("sources", &mut p.sources),
        ("unit_tests", &mut p.unit_tests),
    ] {
        render_tree(jinja, &ctx, &file, key, tree)?;
    }
    Ok(())
}

pub(crate) fn render_tree(jinja: &Jinja, ctx: &Arc<NodeCtx>, file: &Path, at: &str, v: &mut Value) -> Result<()> {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let hook = matches!(
                    k.trim_start_matches('+'),
                    "pre-hook" | "post-hook" | "pre_hook" | "post_hook"
                );
                if !hook {
                    render_tree(jinja, ctx, file, &format!("{at}.{k}"), child)?;
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                render_tree(jinja, ctx, file, &format!("{at}[{i}]"), child)?;
            }
        }
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            let out = jinja.render_str(s, ctx).map_err(|e| ProjectError::Jinja {
                at: crate::error::Location {
                    file: file.to_path_buf(),
                    line: None,
                },
                what: format!("config value `{at}`"),
                message: e.message,
            })?;
            *v = native_value(out);
        }
        _ => {}
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_node(
    rt: ResourceType,
    p: &Project,
    name: String,
    file: PathBuf,
    path: impl Into<String>,
    fqn: Vec<String>,
    raw: String,
    language: &str,
) -> Node {
    let path = path.into();
    Node {
        unique_id: format!("{}.{}.{}", rt.as_str(), p.name, name),
        model_config: None,
        resource_type: rt,
        package: p.name.clone(),
        root: p.root.clone(),
        file,
        path,
        fqn,
        checksum: String::new(),
        unrendered: Map::new(),
        raw_code: raw,
        language: language.into(),
        config: Map::new(),
        description: String::new(),
        columns: Vec::new(),
        patch_path: None,
        refs: Vec::new(),
        sources: Vec::new(),
        depends_on: Vec::new(),
        schema: String::new(),
        alias: name.clone(),
        database: None,
        test: None,
        source: None,
        unit: None,
        seed_path: None,
        line: 1,
        name,
    }
}
