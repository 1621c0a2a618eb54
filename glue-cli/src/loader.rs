//! Loads a project into a [`Manifest`]: files, YAML properties, config trees, parse-time Jinja (refs, sources,
//! `config()`), names through `generate_schema_name` / `generate_alias_name`, generic tests, and dependencies.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::{CliError, Result};
use crate::node::{Attached, ColumnInfo, Node, ResourceType, SourceInfo, TestInfo, UnitTestInfo};
use crate::project::{Project, tree_layers};
use crate::yaml;
use glue_jinja::pycompat::{native_value, py_hashable_repr};
use glue_jinja::{Jinja, MacroFile, Mode, NodeCtx, Relation, Shared};
use glue_jinja::{merge_layer, normalize_key};

/// The loaded project: every node by unique id, plus what rendering needs.
pub struct Manifest {
    /// The root project.
    pub project: Project,
    /// Installed packages.
    pub packages: Vec<Project>,
    /// Nodes (models, seeds, snapshots, tests, sources, unit tests) by unique id.
    pub nodes: BTreeMap<String, Node>,
    /// Disabled nodes by unique id.
    pub disabled: BTreeMap<String, Node>,
    /// The Jinja environment.
    pub jinja: Arc<Jinja>,
    /// Shared render state.
    pub shared: Arc<Shared>,
    /// Warnings collected while loading.
    pub warnings: Vec<String>,
    /// Macro files (for the manifest).
    pub macro_files: Vec<MacroFile>,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest").field("nodes", &self.nodes.len()).finish()
    }
}

/// Config keys glue knows: dbt's own and every key of the dbt-glue reference. Others warn.
pub const KNOWN_CONFIG_KEYS: &[&str] = &[
    // dbt
    "enabled",
    "tags",
    "meta",
    "materialized",
    "schema",
    "alias",
    "database",
    "docs",
    "contract",
    "grants",
    "group",
    "access",
    "quoting",
    "persist_docs",
    "pre-hook",
    "post-hook",
    "full_refresh",
    "on_schema_change",
    "unique_key",
    "incremental_strategy",
    "sql_header",
    "column_types",
    "quote_columns",
    "delimiter",
    "packages",
    "event_time",
    "batch_size",
    "lookback",
    "begin",
    "concurrent_batches",
    "on_configuration_change",
    "incremental_predicates",
    "predicates",
    "labels",
    // tests
    "severity",
    "warn_if",
    "error_if",
    "fail_calc",
    "where",
    "limit",
    "store_failures",
    "store_failures_as",
    // snapshots
    "strategy",
    "updated_at",
    "check_cols",
    "target_schema",
    "target_database",
    "invalidate_hard_deletes",
    "hard_deletes",
    "dbt_valid_to_current",
    "snapshot_meta_column_names",
    // dbt-glue
    "file_format",
    "partition_by",
    "clustered_by",
    "buckets",
    "custom_location",
    "table_properties",
    "hudi_options",
    "merge_update_columns",
    "merge_exclude_columns",
    "iceberg_expire_snapshots",
    "add_iceberg_timestamp",
    "purge_dropped_iceberg_data",
    "use_iceberg_temp_views",
    "custom_temp_suffix",
    "substitute_variables",
    "delta_athena_prefix",
    "write_options",
    "lf_tags_config",
    "lf_grants",
    "lf_inherited_tags",
    "meta_columns",
    "location_root",
];

/// Where `log()`, `print()` and Jinja warnings go.
pub type LogSink = glue_jinja::LogFn;

/// Options of the load.
#[derive(Clone)]
pub struct LoadOptions {
    /// Where Jinja's `log` / `print` / warnings go.
    pub log: LogSink,
    /// `--vars` (already parsed).
    pub cli_vars: Map<String, Value>,
    /// The target (as Jinja sees it; no secrets).
    pub target: Value,
    /// invocation id.
    pub invocation_id: String,
    /// `flags` for Jinja.
    pub flags: Value,
}

static SNAPSHOT_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)\{%-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}(.*?)\{%-?\s*endsnapshot\s*-?%\}").unwrap()
});

fn files_under(root: &Path, dirs: &[String], exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        let base = root.join(d);
        if !base.is_dir() {
            continue;
        }
        for e in walkdir::WalkDir::new(&base).sort_by_file_name().into_iter().flatten() {
            if e.file_type().is_file()
                && e.path()
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| exts.contains(&x))
            {
                out.push(e.path().to_path_buf());
            }
        }
    }
    out
}

/// Where a resource file sits: its path under the resource folder (`staging/stg_orders.sql`) and the directories
/// of its fqn (`["staging"]`).
fn placement(root: &Path, dirs: &[String], f: &Path) -> (PathBuf, Vec<String>) {
    let base = dirs
        .iter()
        .map(|d| root.join(d))
        .find(|d| f.starts_with(d))
        .unwrap_or_default();
    let path = rel(&base, f);
    let folders = path
        .parent()
        .into_iter()
        .flat_map(|d| d.iter().map(|c| c.to_string_lossy().into_owned()))
        .collect();
    (path, folders)
}

fn rel(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).map_err(|e| CliError::io(p, e))
}

fn checksum(text: &str) -> String {
    format!("{:x}", md5::compute(text.as_bytes()))
}

/// dbt's file checksum: sha256 of the contents without surrounding whitespace.
fn sha256_of(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// YAML properties of one node (`models:` / `seeds:` / `snapshots:` entries).
#[derive(Debug, Clone, Default)]
struct Patch {
    file: PathBuf,
    line: usize,
    description: String,
    columns: Vec<ColumnInfo>,
    config: Map<String, Value>,
    tests: Vec<(Option<String>, Value)>,
}

fn columns_of(
    file: &Path,
    entry: &Map<String, Value>,
    tests: &mut Vec<(Option<String>, Value)>,
) -> Result<Vec<ColumnInfo>> {
    let mut cols = Vec::new();
    if let Some(Value::Array(list)) = entry.get("columns") {
        for c in list {
            let name = yaml::string(file, "columns.name", c.get("name"))?
                .ok_or_else(|| CliError::project(file, None, "every column needs a `name`"))?;
            for key in ["data_tests", "tests"] {
                if let Some(Value::Array(t)) = c.get(key) {
                    for t in t {
                        tests.push((Some(name.clone()), t.clone()));
                    }
                }
            }
            cols.push(ColumnInfo {
                description: yaml::string(file, "description", c.get("description"))?.unwrap_or_default(),
                data_type: yaml::string(file, "data_type", c.get("data_type"))?,
                meta: c.get("meta").and_then(Value::as_object).cloned().unwrap_or_default(),
                name,
            });
        }
    }
    Ok(cols)
}

type SourceTable = (PathBuf, usize, String, Map<String, Value>, Map<String, Value>);

/// Everything the YAML files declare.
#[derive(Default)]
struct Properties {
    patches: HashMap<(ResourceType, String, String), Patch>,
    /// (file, line, package, the source entry, the table entry).
    sources: Vec<SourceTable>,
    yaml_snapshots: Vec<(PathBuf, usize, Map<String, Value>)>,
    unit_tests: Vec<(PathBuf, usize, Map<String, Value>)>,
}

fn read_properties(project_root: &Path, pkg: &Project, props: &mut Properties) -> Result<()> {
    let dirs: Vec<String> = pkg
        .model_paths
        .iter()
        .chain(&pkg.seed_paths)
        .chain(&pkg.snapshot_paths)
        .chain(&pkg.macro_paths)
        .chain(&pkg.analysis_paths)
        .chain(&pkg.test_paths)
        .cloned()
        .collect();
    for f in files_under(&pkg.root, &dirs, &["yml", "yaml"]) {
        let text = read(&f)?;
        let shown = rel(project_root, &f);
        let v = yaml::parse(&shown, &text)?;
        let Value::Object(m) = v else { continue };
        let mut cursor = 0;
        for (key, rt) in [
            ("models", ResourceType::Model),
            ("seeds", ResourceType::Seed),
            ("snapshots", ResourceType::Snapshot),
        ] {
            let Some(list) = m.get(key) else { continue };
            let Value::Array(list) = list else {
                return Err(CliError::project(
                    &shown,
                    yaml::line_of(&text, key, 0),
                    format!("`{key}:` must be a list"),
                ));
            };
            for entry in list {
                let Value::Object(entry) = entry else {
                    return Err(CliError::project(
                        &shown,
                        None,
                        format!("entries of `{key}:` must be mappings"),
                    ));
                };
                let name = yaml::string(&shown, "name", entry.get("name"))?.ok_or_else(|| {
                    CliError::project(
                        &shown,
                        yaml::line_of(&text, key, 0),
                        format!("an entry of `{key}:` has no `name`"),
                    )
                })?;
                let line = yaml::line_of(&text, "name", cursor).unwrap_or(1);
                cursor = line;
                if rt == ResourceType::Snapshot && entry.contains_key("relation") {
                    props.yaml_snapshots.push((shown.clone(), line, entry.clone()));
                    continue;
                }
                let mut tests = Vec::new();
                for k in ["data_tests", "tests"] {
                    if let Some(Value::Array(t)) = entry.get(k) {
                        tests.extend(t.iter().map(|t| (None, t.clone())));
                    }
                }
                let columns = columns_of(&shown, entry, &mut tests)?;
                let mut config = yaml::mapping(&shown, "config", entry.get("config"))?
                    .cloned()
                    .unwrap_or_default();
                // Legacy top-level keys dbt still accepts on seeds / models.
                for legacy in ["docs"] {
                    if let Some(v) = entry.get(legacy) {
                        config.insert(legacy.into(), v.clone());
                    }
                }
                let patch = Patch {
                    file: shown.clone(),
                    line,
                    description: yaml::string(&shown, "description", entry.get("description"))?.unwrap_or_default(),
                    columns,
                    config,
                    tests,
                };
                let k = (rt, pkg.name.clone(), name.clone());
                if let Some(prev) = props.patches.get(&k) {
                    return Err(CliError::project(
                        &shown,
                        Some(line),
                        format!(
                            "{} `{name}` is described twice: here and in {}:{}",
                            rt.as_str(),
                            prev.file.display(),
                            prev.line
                        ),
                    ));
                }
                props.patches.insert(k, patch);
            }
        }
        if let Some(Value::Array(list)) = m.get("sources") {
            let mut cur = 0;
            for s in list {
                let Value::Object(s) = s else { continue };
                let line = yaml::line_of(&text, "name", cur).unwrap_or(1);
                cur = line;
                for t in s.get("tables").and_then(Value::as_array).into_iter().flatten() {
                    if let Value::Object(t) = t {
                        props
                            .sources
                            .push((shown.clone(), line, pkg.name.clone(), s.clone(), t.clone()));
                    }
                }
            }
        }
        if let Some(Value::Array(list)) = m.get("unit_tests") {
            let mut cur = 0;
            for u in list {
                let Value::Object(u) = u else { continue };
                let line = yaml::line_of(&text, "name", cur).unwrap_or(1);
                cur = line;
                props.unit_tests.push((shown.clone(), line, u.clone()));
            }
        }
    }
    Ok(())
}

/// The vars each package sees: its own project's, then the root project's (global and scoped), then `--vars`.
fn package_vars(root: &Project, packages: &[Project], cli: &Map<String, Value>) -> HashMap<String, Map<String, Value>> {
    let all_names: Vec<&str> = std::iter::once(root.name.as_str())
        .chain(packages.iter().map(|p| p.name.as_str()))
        .collect();
    let scoped = |p: &Project, for_pkg: &str| -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in &p.vars {
            if !(all_names.contains(&k.as_str()) && v.is_object()) {
                out.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Object(m)) = p.vars.get(for_pkg) {
            out.extend(m.clone());
        }
        out
    };
    let mut out = HashMap::new();
    for p in std::iter::once(root).chain(packages) {
        let mut vars = if p.name == root.name {
            Map::new()
        } else {
            scoped(p, &p.name)
        };
        vars.extend(scoped(root, &p.name));
        vars.extend(cli.clone());
        out.insert(p.name.clone(), vars);
    }
    out
}

fn config_layers(
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

fn node_json(n: &Node) -> Value {
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
    let mut this = Relation::new(node.schema.clone(), node.alias.clone());
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

fn warn_unknown_keys(node: &Node, config: &Map<String, Value>, warnings: &mut Vec<String>) {
    for k in config.keys() {
        let k = normalize_key(k);
        if !KNOWN_CONFIG_KEYS.contains(&k.as_str()) {
            warnings.push(format!(
                "{}: {} `{}`: unknown config key `{k}` (ignored)",
                node.file_display(),
                node.resource_type.as_str(),
                node.name
            ));
        }
    }
}

fn string_config(cfg: &Map<String, Value>, key: &str) -> Option<String> {
    match cfg.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

struct Loader {
    jinja: Arc<Jinja>,
    shared: Arc<Shared>,
    warnings: Vec<String>,
}

impl Loader {
    fn ctx(&self, node: &Node, mode: Mode) -> Arc<NodeCtx> {
        node_context(&self.shared, mode, node, false)
    }

    /// Renders the node in parse mode: records refs, sources and `config()` calls.
    fn parse_render(&self, node: &mut Node) -> Result<()> {
        if node.language == "python" {
            // dbt reads a Python model's refs, sources and config without running it (no Jinja either).
            let d = crate::python::declared(&node.raw_code).map_err(|(line, msg)| {
                CliError::project(&node.file, Some(line), format!("model `{}`: {msg}", node.name))
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
    fn builtin_naming(&self, package: &str, name: &str) -> bool {
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

    fn name_node(&self, node: &mut Node) -> Result<()> {
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
                return Err(CliError::project(
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
            return Err(CliError::project(
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
fn render_project_configs(jinja: &Jinja, shared: &Arc<Shared>, p: &mut Project) -> Result<()> {
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

fn render_tree(jinja: &Jinja, ctx: &Arc<NodeCtx>, file: &Path, at: &str, v: &mut Value) -> Result<()> {
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
            let out = jinja.render_str(s, ctx).map_err(|e| CliError::Jinja {
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

/// Loads the project at `dir`.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Manifest> {
    let mut project = Project::load(dir)?;
    let mut packages = project.packages()?;
    let mut warnings = project.warnings.clone();

    // Macros.
    let mut macro_files = Vec::new();
    for p in std::iter::once(&project).chain(&packages) {
        let mut generic_dirs: Vec<String> = p.test_paths.iter().map(|t| format!("{t}/generic")).collect();
        generic_dirs.extend(p.macro_paths.iter().cloned());
        for f in files_under(&p.root, &generic_dirs, &["sql", "jinja"]) {
            let shown = rel(&project.root, &f);
            macro_files.push(MacroFile {
                package: p.name.clone(),
                name: shown.display().to_string(),
                source: read(&f)?,
            });
        }
    }
    let dispatch = project.dispatch.clone();
    let jinja = Jinja::new(&project.name, macro_files.clone(), dispatch).map_err(|e| CliError::Jinja {
        at: crate::error::Location {
            file: PathBuf::from(e.file.clone().unwrap_or_default()),
            line: e.line,
        },
        what: "macros".into(),
        message: e.message,
    })?;
    let jinja = Arc::new(jinja);
    let shared = Arc::new(Shared {
        macros: jinja.macros().clone(),
        root_package: project.name.clone(),
        target: minijinja::Value::from_serialize(&opts.target),
        vars: package_vars(&project, &packages, &opts.cli_vars),
        invocation_id: opts.invocation_id.clone(),
        run_started_at: chrono::Utc::now(),
        flags: minijinja::Value::from_serialize(&opts.flags),
        // While parsing, `graph` is empty (as in dbt, it is filled for execution).
        graph: std::sync::RwLock::new(minijinja::Value::from_serialize(
            serde_json::json!({"nodes": {}, "sources": {}, "exposures": {}, "metrics": {}, "macros": {}}),
        )),
        resolver: std::sync::RwLock::new(None),
        engine: std::sync::RwLock::new(None),
        handle: tokio::runtime::Handle::try_current().ok(),
        log: opts.log.clone(),
    });
    for p in std::iter::once(&mut project).chain(&mut packages) {
        render_project_configs(&jinja, &shared, p)?;
    }
    let all: Vec<&Project> = std::iter::once(&project).chain(&packages).collect();
    let mut loader = Loader {
        jinja: jinja.clone(),
        shared: shared.clone(),
        warnings: Vec::new(),
    };

    let mut props = Properties::default();
    for p in &all {
        read_properties(&project.root, p, &mut props)?;
    }

    let mut nodes: Vec<Node> = Vec::new();
    for p in &all {
        let shown_root = |f: &Path| rel(&project.root, f);
        // Models.
        for f in files_under(&p.root, &p.model_paths, &["sql", "py"]) {
            let (path, folders) = placement(&p.root, &p.model_paths, &f);
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut fqn = vec![p.name.clone()];
            fqn.extend(folders);
            fqn.push(name.clone());
            let raw = read(&f)?;
            let language = if f.extension().is_some_and(|e| e == "py") {
                "python"
            } else {
                "sql"
            };
            nodes.push(new_node(
                ResourceType::Model,
                p,
                name,
                shown_root(&f),
                path.display().to_string(),
                fqn,
                raw,
                language,
            ));
        }
        // Seeds.
        for f in files_under(&p.root, &p.seed_paths, &["csv"]) {
            let (path, folders) = placement(&p.root, &p.seed_paths, &f);
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut fqn = vec![p.name.clone()];
            fqn.extend(folders);
            fqn.push(name.clone());
            let mut n = new_node(
                ResourceType::Seed,
                p,
                name,
                shown_root(&f),
                path.display().to_string(),
                fqn,
                String::new(),
                "sql",
            );
            n.checksum = sha256_of(&read(&f)?);
            n.seed_path = Some(f.clone());
            nodes.push(n);
        }
        // Snapshots ({% snapshot %} blocks).
        for f in files_under(&p.root, &p.snapshot_paths, &["sql"]) {
            let text = read(&f)?;
            let (path, folders) = placement(&p.root, &p.snapshot_paths, &f);
            for cap in SNAPSHOT_BLOCK.captures_iter(&text) {
                let name = cap[1].to_string();
                let body = cap.get(2).unwrap();
                let line = text[..body.start()].matches('\n').count() + 1;
                let mut fqn = vec![p.name.clone()];
                fqn.extend(folders.iter().cloned());
                fqn.push(f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string());
                fqn.push(name.clone());
                let mut n = new_node(
                    ResourceType::Snapshot,
                    p,
                    name.clone(),
                    shown_root(&f),
                    path.display().to_string(),
                    fqn,
                    body.as_str().to_string(),
                    "sql",
                );
                n.line = line;
                n.checksum = sha256_of(&text);
                nodes.push(n);
            }
        }
        // Singular tests.
        for f in files_under(&p.root, &p.test_paths, &["sql"]) {
            if p.test_paths
                .iter()
                .any(|t| f.starts_with(p.root.join(t).join("generic")))
            {
                continue;
            }
            let (path, folders) = placement(&p.root, &p.test_paths, &f);
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut fqn = vec![p.name.clone()];
            fqn.extend(folders);
            fqn.push(name.clone());
            let raw = read(&f)?;
            nodes.push(new_node(
                ResourceType::Test,
                p,
                name,
                shown_root(&f),
                path.display().to_string(),
                fqn,
                raw,
                "sql",
            ));
        }
    }
    // YAML-defined snapshots.
    for (file, line, entry) in &props.yaml_snapshots {
        let p = all
            .iter()
            .find(|p| project.root.join(file).starts_with(&p.root))
            .copied()
            .unwrap_or(&project);
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let relation = yaml::string(file, "relation", entry.get("relation"))?.unwrap_or_default();
        let raw = format!("select * from {{{{ {relation} }}}}");
        let fqn = vec![p.name.clone(), name.clone()];
        let mut n = new_node(
            ResourceType::Snapshot,
            p,
            name,
            file.clone(),
            file.display().to_string(),
            fqn,
            raw,
            "sql",
        );
        n.line = *line;
        n.config = yaml::mapping(file, "config", entry.get("config"))?
            .cloned()
            .unwrap_or_default();
        n.description = entry
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        nodes.push(n);
    }

    // Duplicate names.
    let mut seen: HashMap<(String, String), &Node> = HashMap::new();
    for n in &nodes {
        if !n.resource_type.builds_relation() {
            continue;
        }
        if let Some(prev) = seen.insert((n.package.clone(), n.name.clone()), n) {
            return Err(CliError::project(
                &n.file,
                None,
                format!(
                    "two resources are named `{}`: {} and {} (names must be unique within a package)",
                    n.name,
                    prev.file.display(),
                    n.file.display()
                ),
            ));
        }
    }

    // Config: project tree, then YAML properties, then config() in the file.
    let owner = |pkg: &str| all.iter().find(|p| p.name == pkg).copied().unwrap_or(&project);
    let mut finished = Vec::with_capacity(nodes.len());
    let mut generic_tests = Vec::new();
    for mut n in nodes {
        let tree: fn(&Project) -> &Value = match n.resource_type {
            ResourceType::Model => |p| &p.models,
            ResourceType::Seed => |p| &p.seeds,
            ResourceType::Snapshot => |p| &p.snapshots,
            _ => |p| &p.tests,
        };
        let mut cfg = config_layers(owner(&n.package), &project, tree, &n.fqn);
        let yaml_cfg = std::mem::take(&mut n.config);
        if let Some(patch) = props
            .patches
            .remove(&(n.resource_type, n.package.clone(), n.name.clone()))
        {
            merge_layer(&mut cfg, &patch.config);
            n.description = patch.description;
            n.columns = patch.columns;
            n.patch_path = Some(format!("{}://{}", n.package, patch.file.display()));
            for (col, t) in patch.tests {
                generic_tests.push((
                    n.package.clone(),
                    patch.file.clone(),
                    patch.line,
                    Attached::Ref(None, n.name.clone()),
                    col,
                    t,
                ));
            }
        }
        merge_layer(&mut cfg, &yaml_cfg);
        n.unrendered = cfg.clone();
        n.config = cfg;
        n.schema = opts
            .target
            .get("schema")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        n.alias = n.name.clone();
        loader.parse_render(&mut n)?;
        if n.language == "python" {
            n.config.entry("materialized").or_insert(Value::String("table".into()));
        }
        if n.resource_type.builds_relation() {
            loader.name_node(&mut n)?;
        } else {
            n.schema = format!("{}_dbt_test__audit", n.schema);
        }
        if n.checksum.is_empty() {
            n.checksum = sha256_of(&n.raw_code);
        }
        warn_unknown_keys(&n, &n.config, &mut loader.warnings);
        if n.resource_type.builds_relation() && n.enabled() {
            // Every key of the reference is checked now, so `compile` and `plan` report bad values too.
            let mut cfg = n.config.clone();
            match n.resource_type {
                ResourceType::Seed => {
                    cfg.insert("materialized".into(), Value::String("seed".into()));
                }
                ResourceType::Snapshot => {
                    cfg.insert("materialized".into(), Value::String("snapshot".into()));
                }
                _ => {}
            }
            let r = glue_materialize::ModelRef {
                name: n.name.clone(),
                path: Some(n.file.display().to_string()),
            };
            glue_materialize::ModelConfig::from_json_for(&r, &Value::Object(cfg))
                .map_err(|e| CliError::Plan(e.to_string()))?;
        }
        finished.push(n);
    }
    for ((rt, pkg, name), patch) in props.patches {
        let other = finished
            .iter()
            .find(|n| n.package == pkg && n.name == name && n.resource_type.builds_relation());
        loader.warnings.push(match other {
            Some(n) => format!(
                "{}:{}: `{name}` is a {}, described under `{}s:`; its tests apply, its other properties do not",
                patch.file.display(),
                patch.line,
                n.resource_type.as_str(),
                rt.as_str()
            ),
            None => format!(
                "{}:{}: properties for {} `{name}` of package `{pkg}`, which does not exist",
                patch.file.display(),
                patch.line,
                rt.as_str()
            ),
        });
        // As dbt does, the tests are generated anyway: they reach the relation through ref().
        for (col, t) in patch.tests {
            generic_tests.push((
                pkg.clone(),
                patch.file.clone(),
                patch.line,
                Attached::Ref(None, name.clone()),
                col,
                t,
            ));
        }
    }

    // Sources.
    for (file, line, pkg, src, table) in &props.sources {
        let p = owner(pkg);
        let source_name = yaml::string(file, "sources.name", src.get("name"))?
            .ok_or_else(|| CliError::project(file, Some(*line), "every source needs a `name`"))?;
        let table_name = yaml::string(file, "tables.name", table.get("name"))?.ok_or_else(|| {
            CliError::project(
                file,
                Some(*line),
                format!("a table of source `{source_name}` has no `name`"),
            )
        })?;
        let render = |v: Option<String>| -> Result<Option<String>> {
            match v {
                Some(s) if s.contains("{{") => {
                    let ctx = NodeCtx::project(shared.clone(), Mode::Parse, pkg.clone());
                    jinja.render_str(&s, &ctx).map(Some).map_err(|e| CliError::Jinja {
                        at: crate::error::Location {
                            file: file.clone(),
                            line: Some(*line),
                        },
                        what: format!("source `{source_name}`"),
                        message: e.message,
                    })
                }
                other => Ok(other),
            }
        };
        let unrendered_schema = yaml::string(file, "schema", src.get("schema"))?;
        let unrendered_database = yaml::string(file, "database", src.get("database"))?;
        let schema = render(unrendered_schema.clone())?.unwrap_or_else(|| source_name.clone());
        let database = render(unrendered_database.clone())?;
        let identifier =
            render(yaml::string(file, "identifier", table.get("identifier"))?)?.unwrap_or_else(|| table_name.clone());
        let mut n = new_node(
            ResourceType::Source,
            p,
            table_name.clone(),
            file.clone(),
            file.display().to_string(),
            vec![p.name.clone(), source_name.clone(), table_name.clone()],
            String::new(),
            "sql",
        );
        n.unique_id = format!("source.{}.{}.{}", p.name, source_name, table_name);
        n.schema = schema;
        n.alias = identifier.clone();
        n.database = database;
        n.line = *line;
        n.description = yaml::string(file, "description", table.get("description"))?.unwrap_or_default();
        let mut tests = Vec::new();
        n.columns = columns_of(file, table, &mut tests)?;
        for k in ["data_tests", "tests"] {
            if let Some(Value::Array(t)) = table.get(k) {
                tests.extend(t.iter().map(|t| (None, t.clone())));
            }
        }
        for (col, t) in tests {
            generic_tests.push((
                pkg.clone(),
                file.clone(),
                *line,
                Attached::Source(source_name.clone(), table_name.clone()),
                col,
                t,
            ));
        }
        n.source = Some(SourceInfo {
            source_name,
            identifier,
            source_description: yaml::string(file, "description", src.get("description"))?.unwrap_or_default(),
            loaded_at_field: yaml::string(
                file,
                "loaded_at_field",
                table.get("loaded_at_field").or(src.get("loaded_at_field")),
            )?,
            freshness: table.get("freshness").or(src.get("freshness")).cloned(),
            unrendered_schema,
            unrendered_database,
        });
        let mut cfg = Map::new();
        merge_layer(
            &mut cfg,
            src.get("config").and_then(Value::as_object).unwrap_or(&Map::new()),
        );
        merge_layer(
            &mut cfg,
            table.get("config").and_then(Value::as_object).unwrap_or(&Map::new()),
        );
        n.config = cfg;
        finished.push(n);
    }

    // Generic tests.
    for (pkg, file, line, attached, column, t) in generic_tests {
        let n = generic_test(&project, owner(&pkg), &file, line, attached, column, &t, &mut loader)?;
        finished.push(n);
    }

    // Unit tests.
    for (file, line, u) in &props.unit_tests {
        let p = all
            .iter()
            .find(|p| project.root.join(file).starts_with(&p.root))
            .copied()
            .unwrap_or(&project);
        finished.push(unit_test(p, file, *line, u)?);
    }

    // Index, disable, resolve dependencies.
    let mut by_id = BTreeMap::new();
    let mut disabled = BTreeMap::new();
    for n in finished {
        if n.enabled() {
            by_id.insert(n.unique_id.clone(), n);
        } else {
            disabled.insert(n.unique_id.clone(), n);
        }
    }
    resolve_dependencies(&project, &mut by_id, &mut disabled, &mut warnings)?;
    warnings.extend(loader.warnings);
    Ok(Manifest {
        project,
        packages,
        nodes: by_id,
        disabled,
        jinja,
        shared,
        warnings,
        macro_files,
    })
}

#[allow(clippy::too_many_arguments)]
fn new_node(
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

/// Keys of a test entry that are configs, not arguments.
const TEST_CONFIG_KEYS: &[&str] = &[
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "alias",
    "schema",
    "database",
];

static REF_ARG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*(ref|source)\s*\(.*\)\s*$").unwrap());
static CLEAN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^0-9a-zA-Z_]+").unwrap());

#[allow(clippy::too_many_arguments)]
fn generic_test(
    root: &Project,
    p: &Project,
    file: &Path,
    line: usize,
    attached: Attached,
    column: Option<String>,
    t: &Value,
    loader: &mut Loader,
) -> Result<Node> {
    let (test_name, mut args) = match t {
        Value::String(s) => (s.clone(), Map::new()),
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().unwrap();
            (k.clone(), v.as_object().cloned().unwrap_or_default())
        }
        Value::Object(m) => match m.get("test_name").and_then(Value::as_str) {
            Some(n) => (n.to_string(), m.clone()),
            None => {
                return Err(CliError::project(
                    file,
                    Some(line),
                    format!("cannot read test `{t}`: one key, the test name, is expected"),
                ));
            }
        },
        other => {
            return Err(CliError::project(
                file,
                Some(line),
                format!("cannot read test `{other}`"),
            ));
        }
    };
    args.remove("test_name");
    let mut config = args
        .remove("config")
        .and_then(|c| c.as_object().cloned())
        .unwrap_or_default();
    for k in TEST_CONFIG_KEYS {
        if let Some(v) = args.remove(*k) {
            config.insert(k.to_string(), v);
        }
    }
    let custom_name = args.remove("name").and_then(|v| v.as_str().map(str::to_string));
    args.remove("description");
    if let Some(Value::Object(a)) = args.remove("arguments") {
        args.extend(a);
    }
    if let Some(c) = &column {
        args.insert("column_name".into(), Value::String(c.clone()));
    }
    let (namespace, short) = match test_name.split_once('.') {
        Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
        None => (None, test_name.clone()),
    };
    let macro_name = format!("test_{short}");
    let exists = match &namespace {
        Some(ns) => loader.jinja.macros().in_package(ns, &macro_name).is_some(),
        None => loader.jinja.macros().exists(&macro_name),
    };
    if !exists {
        return Err(CliError::project(
            file,
            Some(line),
            format!("unknown generic test `{test_name}` (no `{{% test {short}(...) %}}` block defines it)"),
        ));
    }
    let target_name = match &attached {
        Attached::Ref(_, m) => m.clone(),
        Attached::Source(s, t) => format!("{s}_{t}"),
    };
    let mut flat = Vec::new();
    let mut keys: Vec<&String> = args.keys().collect();
    keys.sort();
    for k in keys {
        match &args[k] {
            Value::Object(m) => flat.extend(m.values().map(value_str)),
            Value::Array(a) => flat.extend(a.iter().map(value_str)),
            v => flat.push(value_str(v)),
        }
    }
    let clean: Vec<String> = flat.iter().map(|a| CLEAN.replace_all(a, "_").into_owned()).collect();
    let ident = match &namespace {
        Some(ns) => format!("{ns}_{short}"),
        None => short.clone(),
    };
    let prefix = if matches!(attached, Attached::Source(..)) {
        "source_"
    } else {
        ""
    };
    let full = format!("{prefix}{ident}_{target_name}_{}", clean.join("__"));
    let name = match custom_name {
        Some(n) => n,
        None if full.len() >= 64 => format!(
            "{}_{}",
            &format!("{prefix}{ident}")[..(prefix.len() + ident.len()).min(30)],
            checksum(&full)
        ),
        None => full,
    };
    // dbt's test id: md5(name + repr(hashable test metadata)), last 10 hex digits, so ids match dbt's manifest.
    let mut hash_kwargs = args.clone();
    let model_expr = match &attached {
        Attached::Ref(Some(pk), m) => format!("ref('{pk}', '{m}')"),
        Attached::Ref(None, m) => format!("ref('{m}')"),
        Attached::Source(s, t) => format!("source('{s}', '{t}')"),
    };
    hash_kwargs.insert(
        "model".into(),
        Value::String(format!("{{{{ get_where_subquery({model_expr}) }}}}")),
    );
    let metadata = serde_json::json!({"namespace": namespace, "name": short, "kwargs": hash_kwargs});
    let digest = checksum(&format!("{name}{}", py_hashable_repr(&metadata)));
    let hash = &digest[digest.len() - 10..];
    let fqn = vec![p.name.clone(), name.clone()];
    // dbt's raw code of a generic test: the macro call, then the test's own config as a config() call.
    let config_call: Vec<String> = config
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}=\"{}\"", s.replace('"', "\\\"")),
            Value::Bool(b) => format!("{k}={}", if *b { "True" } else { "False" }),
            Value::Null => format!("{k}=None"),
            other => format!("{k}={other}"),
        })
        .collect();
    let raw = if config_call.is_empty() {
        format!("{{{{ test_{short}(**_dbt_generic_test_kwargs) }}}}")
    } else {
        format!(
            "{{{{ test_{short}(**_dbt_generic_test_kwargs) }}}}{{{{ config({}) }}}}",
            config_call.join(",")
        )
    };
    let mut n = new_node(
        ResourceType::Test,
        p,
        name.clone(),
        file.to_path_buf(),
        file.display().to_string(),
        fqn.clone(),
        raw,
        "sql",
    );
    n.unique_id = format!("test.{}.{}.{}", p.name, name, hash);
    n.line = line;
    let mut cfg = config_layers(p, root, |p| &p.tests, &fqn);
    n.unrendered = cfg.clone();
    merge_layer(&mut n.unrendered, &config);
    merge_layer(&mut cfg, &config);
    n.config = cfg;
    n.schema = format!(
        "{}_dbt_test__audit",
        loader
            .shared
            .target
            .get_attr("schema")
            .ok()
            .map(|v| v.to_string())
            .unwrap_or_default()
    );
    // Refs in arguments (`to: ref('customers')`) are dependencies.
    for v in args.values() {
        if let Value::String(s) = v
            && REF_ARG.is_match(s)
        {
            let ctx = NodeCtx::project(loader.shared.clone(), Mode::Parse, p.name.clone());
            loader.jinja.eval(s, &ctx).map_err(|e| CliError::Jinja {
                at: crate::error::Location {
                    file: file.to_path_buf(),
                    line: Some(line),
                },
                what: format!("test `{name}`"),
                message: e.message,
            })?;
            n.refs.extend(ctx.refs.lock().unwrap().drain(..));
            n.sources.extend(ctx.sources.lock().unwrap().drain(..));
        }
    }
    match &attached {
        Attached::Ref(pk, m) => n.refs.insert(0, (pk.clone(), m.clone())),
        Attached::Source(s, t) => n.sources.insert(0, (s.clone(), t.clone())),
    }
    n.test = Some(TestInfo {
        name: short,
        namespace,
        kwargs: args,
        column_name: column,
        attached,
    });
    Ok(n)
}

/// Python's `str()` of a YAML value (dbt builds test names from it).
fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// CSV fixture rows: the header names the columns; empty cells are NULL; values stay strings (the fixture SQL casts
/// them to the input's column types, as dbt does).
fn csv_rows(text: &str) -> std::result::Result<Vec<Map<String, Value>>, csv::Error> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim().as_bytes());
    let headers = r.headers()?.clone();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        out.push(
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| {
                    (
                        h.to_string(),
                        if v.is_empty() {
                            Value::Null
                        } else {
                            Value::String(v.to_string())
                        },
                    )
                })
                .collect(),
        );
    }
    Ok(out)
}

fn unit_test(p: &Project, file: &Path, line: usize, u: &Map<String, Value>) -> Result<Node> {
    let name = yaml::string(file, "unit_tests.name", u.get("name"))?
        .ok_or_else(|| CliError::project(file, Some(line), "a unit test has no `name`"))?;
    let model = yaml::string(file, "model", u.get("model"))?
        .ok_or_else(|| CliError::project(file, Some(line), format!("unit test `{name}` has no `model`")))?;
    let rows = |v: Option<&Value>, what: &str| -> Result<Vec<Map<String, Value>>> {
        let Some(v) = v else { return Ok(Vec::new()) };
        let fmt = v.get("format").and_then(Value::as_str).unwrap_or("dict");
        let fail = |msg: String| CliError::project(file, Some(line), format!("unit test `{name}`: {what} {msg}"));
        match fmt {
            "dict" => match v.get("rows") {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(r)) => Ok(r.iter().filter_map(|r| r.as_object().cloned()).collect()),
                Some(_) => Err(fail("rows must be a list of mappings".into())),
            },
            "csv" => {
                let text = match (v.get("rows"), v.get("fixture").and_then(Value::as_str)) {
                    (Some(Value::String(t)), _) => t.clone(),
                    (_, Some(fixture)) => {
                        let found = p
                            .test_paths
                            .iter()
                            .map(|t| p.root.join(t).join("fixtures").join(format!("{fixture}.csv")))
                            .find(|f| f.exists())
                            .ok_or_else(|| {
                                fail(format!("fixture `{fixture}`: no {fixture}.csv under tests/fixtures"))
                            })?;
                        read(&found)?
                    }
                    _ => return Err(fail("in csv format needs `rows:` (CSV text) or `fixture:`".into())),
                };
                csv_rows(&text).map_err(|e| fail(format!("CSV: {e}")))
            }
            other => Err(fail(format!("format `{other}` is not supported (use dict or csv)"))),
        }
    };
    let mut given = Vec::new();
    for g in u.get("given").and_then(Value::as_array).into_iter().flatten() {
        let input = yaml::string(file, "given.input", g.get("input"))?.ok_or_else(|| {
            CliError::project(
                file,
                Some(line),
                format!("unit test `{name}`: a `given` has no `input`"),
            )
        })?;
        given.push((input, rows(Some(g), "given")?));
    }
    let expect = rows(u.get("expect"), "expect")?;
    let overrides = u
        .get("overrides")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut n = new_node(
        ResourceType::UnitTest,
        p,
        name.clone(),
        file.to_path_buf(),
        file.display().to_string(),
        vec![p.name.clone(), model.clone(), name.clone()],
        String::new(),
        "sql",
    );
    n.unique_id = format!("unit_test.{}.{}.{}", p.name, model, name);
    n.line = line;
    n.refs.push((None, model.clone()));
    n.config = u.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
    n.unit = Some(UnitTestInfo {
        model,
        given,
        expect,
        macro_overrides: overrides
            .get("macros")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        var_overrides: overrides
            .get("vars")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    });
    Ok(n)
}

/// Resolves each node's refs and sources. A node depending on a missing one is an error, except a data test, which
/// dbt disables with a warning (a test of a model that does not exist does not run).
fn resolve_dependencies(
    project: &Project,
    nodes: &mut BTreeMap<String, Node>,
    disabled: &mut BTreeMap<String, Node>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut by_name: HashMap<(String, String), String> = HashMap::new();
    let mut any_pkg: HashMap<String, Vec<String>> = HashMap::new();
    let mut sources: HashMap<(String, String), String> = HashMap::new();
    for n in nodes.values() {
        if n.resource_type.builds_relation() {
            by_name.insert((n.package.clone(), n.name.clone()), n.unique_id.clone());
            any_pkg.entry(n.name.clone()).or_default().push(n.unique_id.clone());
        }
        if let Some(s) = &n.source {
            sources.insert((s.source_name.clone(), n.name.clone()), n.unique_id.clone());
        }
    }
    // A source naming a relation this project builds (a seed read back as a source) depends on the node that builds
    // it, so `glue build` orders them (dbt leaves them unordered).
    let mut builders: HashMap<(String, String), String> = HashMap::new();
    for n in nodes.values() {
        if n.resource_type.builds_relation() && n.materialized() != "ephemeral" {
            builders.insert((n.schema.to_lowercase(), n.alias.to_lowercase()), n.unique_id.clone());
        }
    }
    let ids: Vec<String> = nodes.keys().cloned().collect();
    for id in ids {
        let n = &nodes[&id];
        let mut deps = Vec::new();
        let mut missing = None;
        if n.resource_type == ResourceType::Source
            && let Some(b) = builders.get(&(n.schema.to_lowercase(), n.alias.to_lowercase()))
        {
            deps.push(b.clone());
        }
        for (pkg, name) in &n.refs {
            let found = match pkg {
                Some(p) => by_name.get(&(p.clone(), name.clone())).cloned(),
                None => by_name
                    .get(&(n.package.clone(), name.clone()))
                    .or_else(|| by_name.get(&(project.name.clone(), name.clone())))
                    .or_else(|| any_pkg.get(name).and_then(|v| v.first()))
                    .cloned(),
            };
            match found {
                Some(d) => deps.push(d),
                None => {
                    let why = if disabled.values().any(|d| &d.name == name) {
                        " (it is disabled)"
                    } else {
                        ""
                    };
                    missing = Some(format!(
                        "{} `{}` depends on `{}`{}, which was not found{why}",
                        n.resource_type.as_str(),
                        n.name,
                        name,
                        pkg.as_deref().map(|p| format!(" in package `{p}`")).unwrap_or_default()
                    ));
                    break;
                }
            }
        }
        for (s, t) in &n.sources {
            if missing.is_some() {
                break;
            }
            match sources.get(&(s.clone(), t.clone())) {
                Some(d) => deps.push(d.clone()),
                None => {
                    missing = Some(format!(
                        "{} `{}` depends on source `{s}.{t}`, which was not found",
                        n.resource_type.as_str(),
                        n.name
                    ));
                }
            }
        }
        if let Some(message) = missing {
            if n.resource_type != ResourceType::Test {
                return Err(CliError::project(&n.file, Some(n.line), message));
            }
            warnings.push(format!(
                "{} ({}:{}); the test is disabled",
                message,
                n.file.display(),
                n.line
            ));
            let n = nodes.remove(&id).unwrap();
            disabled.insert(id, n);
            continue;
        }
        deps.dedup();
        nodes.get_mut(&id).unwrap().depends_on = deps;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rendered_config_values_take_their_literal_types_and_strings_stay_whole() {
        assert_eq!(native_value("true".into()), json!(true));
        assert_eq!(native_value("42".into()), json!(42));
        assert_eq!(native_value("007".into()), json!("007"));
        assert_eq!(native_value("['a', True, None]".into()), json!(["a", true, null]));
        assert_eq!(
            native_value(r#"['TrueNorth', "it's", 'say "hi"']"#.into()),
            json!(["TrueNorth", "it's", "say \"hi\""])
        );
        assert_eq!(native_value("{'k': 'None of it'}".into()), json!({"k": "None of it"}));
        assert_eq!(native_value("[not, a, literal".into()), json!("[not, a, literal"));
    }
}
