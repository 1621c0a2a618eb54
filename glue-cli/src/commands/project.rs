//! What a command starts from: the project and its profile loaded, the engine of its target, the nodes selected,
//! the invocation made.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use glue_jinja::LogLevel;
use glue_materialize::Engine;
use glue_project::dag::Dag;
use glue_project::load::{LoadOptions, Manifest};
use glue_project::node::ResourceType;
use glue_project::profile::{self, EngineChoice, Profile};
use glue_project::project::Project;
use glue_project::select::{self, Universe};
use serde_json::{Map, Value, json};

use crate::args::{ProjectArgs, RunArgs, SelectArgs};
use crate::engines::{Remote, Sessions, open_engine, start_remote};
use crate::error::{CliError, Result};
use crate::invocation::{Invocation, ManifestResolver, RunSettings};
use crate::report::Reporter;

pub(crate) fn project_dir(p: &ProjectArgs) -> PathBuf {
    p.project_dir.clone().unwrap_or_else(|| PathBuf::from("."))
}

pub(crate) fn parse_vars(text: Option<&str>) -> Result<Map<String, Value>> {
    let Some(t) = text else { return Ok(Map::new()) };
    match glue_project::yaml::parse(Path::new("--vars"), t)? {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(CliError::Usage(format!("--vars must be a YAML mapping, got `{other}`"))),
    }
}

/// A small Jinja for profiles.yml values: `env_var`, `var`.
pub(crate) fn profile_renderer(vars: Map<String, Value>) -> impl Fn(&str) -> std::result::Result<String, String> {
    move |s: &str| {
        let mut env = minijinja::Environment::new();
        env.add_function("env_var", |name: String, default: Option<minijinja::Value>| {
            glue_jinja::context_env_var(&name, default)
        });
        let vars = vars.clone();
        env.add_function(
            "var",
            move |name: String, default: Option<minijinja::Value>| match vars.get(&name) {
                Some(v) => Ok(minijinja::Value::from_serialize(v)),
                None => default.ok_or_else(|| {
                    minijinja::Error::new(minijinja::ErrorKind::UndefinedError, format!("var `{name}` is not set"))
                }),
            },
        );
        env.render_str(s, ())
            .map_err(|e| glue_jinja::RenderError::from_minijinja(&e).message)
    }
}

/// Keys of an output never shown to Jinja or logs.
pub(crate) fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["token", "secret", "password", "session_token", "access_key"]
        .iter()
        .any(|s| k.contains(s))
}

pub(crate) fn target_value(p: &Profile) -> Value {
    let mut m = Map::new();
    for (k, v) in &p.output {
        if !is_secret_key(k) {
            m.insert(k.clone(), v.clone());
        }
    }
    m.insert("name".into(), json!(p.target_name));
    m.insert("target_name".into(), json!(p.target_name));
    m.insert("profile_name".into(), json!(p.name));
    m.insert("schema".into(), json!(p.target.schema));
    m.entry("database").or_insert(Value::Null);
    m.insert("type".into(), json!("glue"));
    m.insert("threads".into(), json!(p.threads));
    // The catalog Iceberg relations are named in (`this`, `ref()`), as the planner names them.
    m.insert(
        "custom_iceberg_catalog_namespace".into(),
        json!(p.target.iceberg_catalog.clone().unwrap_or_default()),
    );
    Value::Object(m)
}

/// A loaded project with its profile.
pub(crate) struct Loaded {
    pub(crate) manifest: Manifest,
    pub(crate) profile: Profile,
    pub(crate) reporter: Arc<Reporter>,
    /// The remote engine of a Glue or Spark Connect target, its session already requested (commands that run SQL).
    pub(crate) remote: Option<Remote>,
}

pub(crate) fn load(args: &ProjectArgs, reporter: &Arc<Reporter>, flags: Value) -> Result<Loaded> {
    load_with(args, reporter, flags, Sessions::Never)
}

pub(crate) fn load_with(
    args: &ProjectArgs,
    reporter: &Arc<Reporter>,
    flags: Value,
    sessions: Sessions,
) -> Result<Loaded> {
    let dir = project_dir(args);
    let proj = Project::load(&dir)?;
    let cli_vars = parse_vars(args.vars.as_deref())?;
    let profile_name = proj.profile.clone().unwrap_or_else(|| proj.name.clone());
    let dirs = profile::profiles_dirs(args.profiles_dir.as_deref(), &dir);
    let renderer = profile_renderer(cli_vars.clone());
    let mut profile = profile::load(&dirs, &profile_name, args.target.as_deref(), &dir, &renderer)?;
    crate::engines::align_target(&mut profile);
    for w in profile.unknown_keys(crate::engines::ENGINE_PROFILE_KEYS) {
        reporter.warn(&w);
    }
    let remote = match sessions {
        Sessions::Start => start_remote(&profile)?,
        Sessions::Never => None,
    };
    let r2 = reporter.clone();
    let opts = LoadOptions {
        log: Arc::new(move |level, msg| match level {
            LogLevel::Info => r2.line("JinjaLogInfo", msg),
            LogLevel::Warn => r2.warn(msg),
            LogLevel::Debug => r2.debug(msg),
        }),
        cli_vars,
        target: target_value(&profile),
        invocation_id: uuid::Uuid::new_v4().to_string(),
        flags,
    };
    let manifest = match glue_project::load::load(&dir, &opts) {
        Ok(m) => m,
        Err(e) => {
            // A parse error stops the session requested for this run.
            if let Some(g) = remote {
                tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(g.finish()));
            }
            return Err(e.into());
        }
    };
    for w in &manifest.warnings {
        reporter.warn(w);
    }
    let resolver: Arc<dyn glue_jinja::Resolver> = Arc::new(ManifestResolver::new(&manifest, false));
    *manifest.shared.resolver.write().unwrap() = Some(resolver);
    // `graph` holds every node; it is only built when some template mentions it (most projects never do, and on
    // thousands of nodes it is the largest allocation of a run).
    let uses_graph = manifest.nodes.values().any(|n| {
        n.raw_code.contains("graph")
            || ["pre-hook", "post-hook"]
                .iter()
                .any(|h| n.config.get(*h).is_some_and(|v| v.to_string().contains("graph")))
    }) || manifest.macro_files.iter().any(|f| f.source.contains("graph"))
        || manifest
            .project
            .on_run_start
            .iter()
            .chain(&manifest.project.on_run_end)
            .any(|h| h.contains("graph"));
    if uses_graph {
        let graph = json!({
            "nodes": manifest.nodes.values().filter(|n| n.resource_type != ResourceType::Source).map(|n| (n.unique_id.clone(), glue_project::load::node_value(n))).collect::<Map<_, _>>(),
            "sources": manifest.nodes.values().filter(|n| n.resource_type == ResourceType::Source).map(|n| (n.unique_id.clone(), glue_project::load::node_value(n))).collect::<Map<_, _>>(),
        });
        *manifest.shared.graph.write().unwrap() = minijinja::Value::from_serialize(&graph);
    }
    Ok(Loaded {
        manifest,
        profile,
        reporter: reporter.clone(),
        remote,
    })
}

/// When the target's Spark conf selects Iceberg's DynamoDB lock manager, its lock table exists before the first model
/// runs (created with Iceberg's schema when missing; one DescribeTable when present), as dbt-glue does at run start.
pub(crate) async fn ensure_commit_lock_table(l: &Loaded) -> Result<()> {
    let Some(g) = &l.remote else { return Ok(()) };
    let Some(protection) = crate::engines::commit_protection(&l.profile)? else {
        return Ok(());
    };
    let Some(table) = protection.lock_table() else {
        return Ok(());
    };
    let Some(clients) = g.clients().await else {
        return Ok(());
    };
    let client = aws_sdk_dynamodb::Client::new(&clients.config);
    let state = glue_iceberg_lock::ensure_configured_lock_table(&client, &protection, Duration::from_secs(120))
        .await
        .map_err(|e| CliError::Engine {
            context: format!("the Iceberg commit lock table `{table}`"),
            message: crate::error::plain_words(&e.to_string()),
        })?;
    l.reporter
        .debug(&format!("Iceberg commit lock table `{table}`: {state:?}"));
    Ok(())
}

/// The engine of a loaded project: its Glue session engine, or the profile's engine.
pub(crate) fn engine_of(l: &Loaded) -> Result<Arc<dyn Engine>> {
    match &l.remote {
        Some(g) => Ok(g.engine()),
        None => open_engine(&l.profile),
    }
}

pub(crate) fn universe_select(
    m: &Manifest,
    dag: &Dag,
    sel: &SelectArgs,
    types: &[ResourceType],
) -> Result<BTreeSet<String>> {
    let state = match &sel.state {
        Some(dir) => {
            let p = dir.join("manifest.json");
            let text = std::fs::read_to_string(&p).map_err(|e| CliError::io(&p, e))?;
            Some(
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| CliError::project(&p, None, format!("not a manifest: {e}")))?,
            )
        }
        None => None,
    };
    let u = Universe {
        nodes: &m.nodes,
        dag,
        state: state.as_ref(),
    };
    let selectors_file = m.project.root.join("selectors.yml");
    let selectors = if selectors_file.exists() {
        glue_project::yaml::read(&selectors_file)?
    } else {
        Value::Null
    };
    let mut chosen = if let Some(name) = &sel.selector {
        select::named(&u, name, &selectors)?
    } else if !sel.select.is_empty() {
        select::expression(&u, &sel.select)?
    } else if let Some(d) = select::default_selector(&selectors) {
        select::named(&u, &d, &selectors)?
    } else {
        m.nodes.keys().cloned().collect()
    };
    if !sel.exclude.is_empty() {
        for id in select::expression(&u, &sel.exclude)? {
            chosen.remove(&id);
        }
    }
    // Tests attached to selected nodes come along (dbt's eager indirect selection).
    if types.contains(&ResourceType::Test) && !sel.select.is_empty() {
        let excluded = if sel.exclude.is_empty() {
            BTreeSet::new()
        } else {
            select::expression(&u, &sel.exclude)?
        };
        let extra: Vec<String> = m
            .nodes
            .values()
            .filter(|n| matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest))
            .filter(|n| n.depends_on.iter().any(|d| chosen.contains(d)) && !excluded.contains(&n.unique_id))
            .map(|n| n.unique_id.clone())
            .collect();
        chosen.extend(extra);
    }
    Ok(chosen
        .into_iter()
        .filter(|id| m.nodes.get(id).is_some_and(|n| types.contains(&n.resource_type)))
        .collect())
}

/// Ephemeral models are never run or compiled on their own (they are inlined as CTEs).
pub(crate) fn without_ephemeral(m: &Manifest, ids: BTreeSet<String>) -> BTreeSet<String> {
    ids.into_iter()
        .filter(|id| !(m.nodes[id].resource_type == ResourceType::Model && m.nodes[id].materialized() == "ephemeral"))
        .collect()
}

pub(crate) fn settings(run: &RunArgs, profile: &Profile) -> RunSettings {
    RunSettings {
        full_refresh: run.full_refresh,
        threads: run.threads.unwrap_or(profile.threads).max(1),
        empty: run.empty,
        fail_fast: run.fail_fast,
        store_failures: run.store_failures,
        sessions: matches!(profile.engine, EngineChoice::GlueSession).then(|| crate::invocation::SessionRules {
            per_model: crate::engines::glue_profile(profile)
                .map(|g| g.enable_session_per_model)
                .unwrap_or(false),
        }),
    }
}

pub(crate) fn invocation(l: Loaded, engine: Option<Arc<dyn Engine>>, settings: RunSettings) -> Arc<Invocation> {
    Invocation::new(l.manifest, l.profile.target.clone(), engine, settings, l.reporter)
}

pub(crate) fn invocation_for(
    manifest: Manifest,
    profile: &Profile,
    reporter: Arc<Reporter>,
    engine: Option<Arc<dyn Engine>>,
) -> Arc<Invocation> {
    Invocation::new(
        manifest,
        profile.target.clone(),
        engine,
        RunSettings::default(),
        reporter,
    )
}

pub(crate) fn write_manifest(inv: &Invocation) -> Result<()> {
    let compiled = inv.compiled.lock().unwrap().clone();
    crate::artifacts::write_manifest_file(&inv.manifest, &compiled, &inv.target_dir.join("manifest.json"))
}
