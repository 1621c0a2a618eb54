//! The commands that are not node runs: plan, run-operation, source freshness, docs generate, debug, clean, deps, init.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use glue_materialize::{Engine, Existing};
use serde_json::{Map, Value, json};

use crate::cli::{ProjectArgs, SelectArgs};
use crate::error::{CliError, Result};
use crate::report::Reporter;
use crate::run::{Invocation, RunSettings};
use glue_jinja::{Mode, NodeCtx};
use glue_project::dag::Dag;
use glue_project::load::Manifest;
use glue_project::node::ResourceType;
use glue_project::profile::{EngineChoice, Profile};
use glue_project::project::Project;

fn invocation(
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

/// The embedded engine when the target uses it; remote targets get none (these commands never start a session).
fn local_engine(profile: &Profile) -> Result<Option<Arc<dyn Engine>>> {
    match &profile.engine {
        EngineChoice::Local { .. } => crate::cli::open_engine(profile).map(Some),
        _ => Ok(None),
    }
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

/// Rows as a table, CSV or JSON.
pub fn format_rows(batches: &[RecordBatch], output: crate::cli::ShowOutput) -> String {
    use crate::cli::ShowOutput;
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

/// `glue plan`: each selected node's steps as Spark SQL, prepared as a run prepares them ([`Invocation::prepare`]):
/// the same selection (`--select`, `--exclude`, `--selector`, `--state`), the same state of each relation, the same
/// typed model (docs and Python included). On the embedded engine the relations are read from its catalog; on a Glue
/// target from the Glue Data Catalog (no session is started); a Spark Connect server is planned as if nothing
/// existed.
pub async fn plan(
    manifest: Manifest,
    profile: Profile,
    reporter: Arc<Reporter>,
    sel: &SelectArgs,
    full_refresh: bool,
) -> Result<i32> {
    let dag = Dag::new(&manifest.nodes)?;
    let selected = crate::cli::universe_select(
        &manifest,
        &dag,
        sel,
        &[ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot],
    )?;
    let ids = dag.order(&crate::cli::without_ephemeral(&manifest, selected))?;
    let local = local_engine(&profile)?;
    let catalog = match (&local, &profile.engine) {
        (Some(e), _) => Some(e.clone()),
        // The engine of a Glue target reads the catalog through the Glue API; nothing here sends a statement, so
        // no session is created.
        (None, EngineChoice::GlueSession) => {
            let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
            Some(crate::cli::Remote::for_glue(glue_profile(&profile)?, profile.threads, now).engine())
        }
        (None, _) => {
            reporter.line(
                "Plan",
                "-- Spark Connect target: planned against an empty catalog (no session is started)",
            );
            None
        }
    };
    let settings = RunSettings {
        full_refresh,
        ..RunSettings::default()
    };
    let inv = Invocation::new(manifest, profile.target.clone(), local, settings, reporter.clone());
    let lake_formation = tokio::sync::OnceCell::new();
    let mut failed = false;
    for id in ids {
        let node = &inv.manifest.nodes[&id];
        match inv.prepare(&id, catalog.as_ref()).await {
            Ok(prepared) => {
                reporter.raw(&format!(
                    "-- ===== {} ({}) =====",
                    node.unique_id,
                    crate::run::describe(node)
                ));
                reporter.raw(&crate::run::render_plan_text(&prepared.plan));
                for step in &prepared.plan.steps {
                    if let glue_materialize::Step::LakeFormation { .. } = step {
                        let lf = lake_formation.get_or_init(|| plan_lake_formation(&profile)).await;
                        reporter.raw(&lake_formation_diff(lf.as_ref(), step).await);
                    }
                }
            }
            Err(e) => {
                failed = true;
                reporter.error(&e.to_string());
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// Lake Formation of a Glue Data Catalog target, for `glue plan` (only reads; no session is started). None on the
/// embedded engine or a Spark Connect server on its own catalog; an error when the profile is malformed.
async fn plan_lake_formation(
    profile: &Profile,
) -> Option<std::result::Result<glue_lakeformation::LakeFormation, String>> {
    let glue = match &profile.engine {
        EngineChoice::Local { .. } => return None,
        EngineChoice::SparkConnect { .. } => match spark_connect_profile(profile) {
            Ok(p) => p.glue_catalog?,
            Err(e) => return Some(Err(e.to_string())),
        },
        EngineChoice::GlueSession => match glue_profile(profile) {
            Ok(p) => p,
            Err(e) => return Some(Err(e.to_string())),
        },
    };
    let clients = glue_session::Clients::load(&glue).await;
    Some(Ok(glue_lakeformation::LakeFormation::new(
        &clients.config,
        glue.catalog_id.clone(),
    )))
}

/// The Lake Formation diff of a plan's `LakeFormation` step as SQL comments: what a run would change now.
async fn lake_formation_diff(
    lf: Option<&std::result::Result<glue_lakeformation::LakeFormation, String>>,
    step: &glue_materialize::Step,
) -> String {
    let glue_materialize::Step::LakeFormation {
        database,
        table,
        tags,
        grants,
        ..
    } = step
    else {
        return String::new();
    };
    let text = match lf {
        None => "not applied on this target (no Glue Data Catalog)".to_string(),
        Some(Err(e)) => format!("cannot be read: {e}"),
        Some(Ok(lf)) => match lf.table(database, table).await {
            Err(e) => format!("cannot be read: {e}"),
            Ok(t) => match lf.plan(&t, tags.as_ref(), grants.as_ref()).await {
                Ok(diff) => diff.to_string(),
                // The table is not built yet: everything in the config is to be added.
                Err(e) if e.to_string().contains("EntityNotFoundException") => {
                    let empty = glue_lakeformation::Current::default();
                    let diff = glue_lakeformation::Diff::compute(&t, tags.as_ref(), grants.as_ref(), &empty);
                    format!("{diff}\n(the table does not exist yet)")
                }
                Err(e) => format!("cannot be read: {e}"),
            },
        },
    };
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = if i == 0 && !line.starts_with("lake formation") {
            format!("lake formation {database}.{table}: {line}")
        } else {
            line.to_string()
        };
        out.push_str(&format!("-- {line}\n"));
    }
    out
}

/// `glue run-operation`.
pub async fn run_operation(
    manifest: Manifest,
    profile: Profile,
    reporter: Arc<Reporter>,
    name: &str,
    args: Option<&str>,
) -> Result<i32> {
    let engine = local_engine(&profile)?;
    let inv = invocation(manifest, &profile, reporter.clone(), engine);
    let kwargs: BTreeMap<String, minijinja::Value> = match args {
        Some(a) => match glue_project::yaml::parse(Path::new("--args"), a)? {
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| (k, minijinja::Value::from_serialize(v)))
                .collect(),
            Value::Null => BTreeMap::new(),
            other => return Err(CliError::Usage(format!("--args must be a YAML mapping, got `{other}`"))),
        },
        None => BTreeMap::new(),
    };
    let name = name.to_string();
    let inv2 = inv.clone();
    let out = tokio::task::spawn_blocking(move || {
        let m = &inv2.manifest;
        let ctx = NodeCtx::project(m.shared.clone(), Mode::Execute, m.project.name.clone());
        m.jinja.call_macro(&name, vec![], kwargs, &ctx).map_err(|e| {
            CliError::Project(glue_project::ProjectError::Jinja {
                at: glue_project::Location {
                    file: e.file.clone().unwrap_or_default().into(),
                    line: e.line,
                },
                what: format!("macro `{name}`"),
                message: e.message,
            })
        })
    })
    .await
    .map_err(|e| CliError::Engine {
        context: "run-operation".into(),
        message: e.to_string(),
    })??;
    let text = out.to_string();
    if !text.trim().is_empty() {
        reporter.debug(text.trim());
    }
    Ok(0)
}

/// `glue source freshness`: `max(loaded_at_field)` per source table against its `freshness` thresholds;
/// writes `target/sources.json`.
pub async fn freshness(manifest: Manifest, profile: Profile, reporter: Arc<Reporter>, sel: &SelectArgs) -> Result<i32> {
    let engine = local_engine(&profile)?.ok_or_else(|| CliError::Engine {
        context: "source freshness".into(),
        message: "needs an engine; this build has the embedded engine only".into(),
    })?;
    let dag = Dag::new(&manifest.nodes)?;
    let u = glue_project::select::Universe {
        nodes: &manifest.nodes,
        dag: &dag,
        state: None,
    };
    let chosen: Vec<String> = if sel.select.is_empty() {
        manifest.nodes.keys().cloned().collect()
    } else {
        glue_project::select::expression(&u, &sel.select)?.into_iter().collect()
    };
    let mut results = Vec::new();
    let mut worst = 0;
    for id in chosen {
        let n = &manifest.nodes[&id];
        let Some(s) = &n.source else { continue };
        let (Some(field), Some(fresh)) = (&s.loaded_at_field, &s.freshness) else {
            continue;
        };
        if fresh.is_null() {
            continue;
        }
        let rel = glue_jinja::Relation::new(n.schema.clone(), n.alias.clone());
        let mut q = format!("select max({field}) as max_loaded_at from {rel}");
        if let Some(f) = fresh.get("filter").and_then(Value::as_str) {
            q.push_str(&format!(" where {f}"));
        }
        let limit = |k: &str| -> Option<f64> {
            let w = fresh.get(k)?;
            let count = w.get("count")?.as_f64()?;
            let secs = match w.get("period")?.as_str()? {
                "minute" => 60.0,
                "hour" => 3600.0,
                "day" => 86400.0,
                _ => return None,
            };
            Some(count * secs)
        };
        let (status, detail) = match engine.query(&q).await {
            Ok(b) => {
                let t = minijinja::Value::from_object(glue_jinja::objects::Table::from_batches(&b));
                let max = t
                    .get_item_by_index(0)
                    .and_then(|r| r.get_item_by_index(0))
                    .unwrap_or_default();
                let text = max.to_string();
                let parsed = chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f").or_else(|_| {
                    chrono::NaiveDateTime::parse_from_str(&format!("{text} 00:00:00"), "%Y-%m-%d %H:%M:%S")
                });
                match parsed {
                    Ok(t) if !max.is_none() => {
                        let age = (chrono::Utc::now().naive_utc() - t).num_milliseconds() as f64 / 1000.0;
                        let status = if limit("error_after").is_some_and(|l| age > l) {
                            "error"
                        } else if limit("warn_after").is_some_and(|l| age > l) {
                            "warn"
                        } else {
                            "pass"
                        };
                        (status, format!("max_loaded_at {text}, {age:.0}s old"))
                    }
                    _ => ("runtime error", format!("no usable max({field}): `{text}`")),
                }
            }
            Err(e) => ("runtime error", e.to_string()),
        };
        if status == "runtime error" {
            reporter.error(&format!("freshness of {}.{}: {detail}", s.source_name, n.name));
        }
        worst = worst.max(match status {
            "pass" => 0,
            "warn" => 0,
            _ => 1,
        });
        reporter.line(
            "SourceFreshness",
            &crate::report::dotted(
                &format!("freshness of {}.{}", s.source_name, n.name),
                &format!("[{}]", status.to_uppercase()),
            ),
        );
        results.push(json!({"unique_id": id, "status": status}));
        let _ = detail;
    }
    let mut out = json!({"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/sources/v3.json", "dbt_version": crate::artifacts::DBT_COMPAT_VERSION, "generated_at": chrono::Utc::now().to_rfc3339(), "invocation_id": manifest.shared.invocation_id, "env": crate::artifacts::custom_env()}, "results": results, "elapsed_time": 0.0});
    glue_project::redact::scrub_json(&mut out);
    crate::run::write_file(
        &manifest
            .project
            .root
            .join(&manifest.project.target_path)
            .join("sources.json"),
        &serde_json::to_string_pretty(&out).unwrap_or_default(),
    )?;
    Ok(worst)
}

/// `glue docs generate`: manifest.json and catalog.json (columns of every built relation).
pub async fn docs_generate(
    manifest: Manifest,
    profile: Profile,
    reporter: Arc<Reporter>,
    no_compile: bool,
) -> Result<i32> {
    let engine = local_engine(&profile)?;
    let target_dir = manifest.project.root.join(&manifest.project.target_path);
    let mut nodes = Map::new();
    let mut sources = Map::new();
    if let Some(e) = &engine {
        for n in manifest.nodes.values() {
            if !(n.resource_type.builds_relation() || n.resource_type == ResourceType::Source)
                || n.materialized() == "ephemeral"
            {
                continue;
            }
            let Ok(name) = glue_sql::RelationName::new(n.schema.clone(), n.alias.clone()) else {
                continue;
            };
            let Ok(cols) = e.describe(&name).await else { continue };
            let kind = e
                .list_relations(&n.schema)
                .await
                .ok()
                .and_then(|l| {
                    l.into_iter()
                        .find(|r| r.name.identifier.as_str().eq_ignore_ascii_case(&n.alias))
                })
                .map(|r| {
                    if matches!(r.existing, Existing::View) {
                        "view"
                    } else {
                        "table"
                    }
                })
                .unwrap_or("table");
            let columns: Map<String, Value> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.as_str().to_string(), json!({"type": c.data_type.to_string(), "index": i + 1, "name": c.name.as_str(), "comment": Value::Null})))
                .collect();
            let entry = json!({"metadata": {"type": kind, "schema": n.schema, "name": n.alias, "database": n.database, "comment": Value::Null, "owner": Value::Null}, "columns": columns, "stats": {"has_stats": {"id": "has_stats", "label": "Has Stats?", "value": false, "include": false, "description": "Indicates whether there are statistics for this table"}}, "unique_id": n.unique_id});
            if n.resource_type == ResourceType::Source {
                sources.insert(n.unique_id.clone(), entry);
            } else {
                nodes.insert(n.unique_id.clone(), entry);
            }
        }
    }
    let mut catalog = json!({"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json", "dbt_version": crate::artifacts::DBT_COMPAT_VERSION, "generated_at": chrono::Utc::now().to_rfc3339(), "invocation_id": manifest.shared.invocation_id, "env": crate::artifacts::custom_env()}, "nodes": nodes, "sources": sources, "errors": Value::Null});
    glue_project::redact::scrub_json(&mut catalog);
    let inv = invocation(manifest, &profile, reporter.clone(), engine);
    if !no_compile {
        crate::artifacts::write_manifest_file(&inv.manifest, &Default::default(), &target_dir.join("manifest.json"))?;
    }
    crate::run::write_file(
        &target_dir.join("catalog.json"),
        &serde_json::to_string_pretty(&catalog).unwrap_or_default(),
    )?;
    reporter.line(
        "CatalogWritten",
        &format!("Catalog written to {}", target_dir.join("catalog.json").display()),
    );
    Ok(0)
}

/// `glue debug`.
pub async fn debug(args: &ProjectArgs, reporter: &Arc<Reporter>) -> Result<i32> {
    let (proj, dir, profile) = project_and_profile(args)?;
    reporter.line("Debug", &format!("project `{}` at {}: OK", proj.name, dir.display()));
    reporter.line(
        "Debug",
        &format!(
            "profile `{}`, target `{}` ({}): OK",
            profile.name,
            profile.target_name,
            profile.path.display()
        ),
    );
    reporter.line(
        "Debug",
        &format!(
            "engine: {}, schema: {}, threads: {}",
            profile.engine.name(),
            profile.target.schema,
            profile.threads
        ),
    );
    if let Some(protection) = commit_protection(&profile)? {
        reporter.line(
            "Debug",
            &format!("Iceberg commit protection: {}", protection.describe()),
        );
    }
    match &profile.engine {
        EngineChoice::Local { .. } => {
            let e = local_engine(&profile)?.expect("a local engine");
            if let Err(err) = e.query("select 1 as ok").await {
                reporter.error(&format!("connection: {err}"));
                return Ok(1);
            }
            reporter.line("Debug", "connection: OK (select 1)");
        }
        EngineChoice::GlueSession => {
            if !debug_glue(&profile, reporter).await {
                return Ok(1);
            }
        }
        EngineChoice::SparkConnect { .. } => {
            let p = spark_connect_profile(&profile)?;
            let engine = glue_session::ConnectEngine::new(glue_session::ConnectTarget::Server(p), String::new());
            let ok = engine.query("select 1 as ok").await;
            engine.finish().await;
            if let Err(err) = ok {
                reporter.error(&format!("Spark Connect: {err}"));
                return Ok(1);
            }
            reporter.line("Debug", "Spark Connect: OK (select 1)");
        }
    }
    reporter.line("Debug", "All checks passed!");
    Ok(0)
}

/// What an AWS failure means, in plain words.
pub fn plain_words(error: &str) -> String {
    let hint = if error.contains("loading credentials") || error.contains("no credentials") {
        "no AWS credentials were found: set AWS_PROFILE (and run `aws sso login` for SSO profiles), or export \
         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
    } else if error.contains("AccessDenied") || error.contains("not authorized") {
        "the credentials are not allowed to do this: compare the role's policy with `glue iam-policy`"
    } else if error.contains("ExpiredToken") || error.contains("expired") {
        "the credentials have expired: refresh them (`aws sso login`, a new session token)"
    } else if error.contains("dispatch failure") || error.contains("connect") {
        "AWS could not be reached: check the region, the network and any AWS_ENDPOINT_URL"
    } else if error.contains("EntityNotFound") {
        "the Glue database or session does not exist (a run creates the database)"
    } else {
        return error.to_string();
    };
    format!("{hint}\n  ({error})")
}

/// `glue debug` on a Glue target: the catalog (credentials, region, database access), then a session and `select 1`.
async fn debug_glue(profile: &Profile, reporter: &Arc<Reporter>) -> bool {
    let glue = match glue_profile(profile) {
        Ok(g) => g,
        Err(e) => {
            reporter.error(&format!("profile: {e}"));
            return false;
        }
    };
    let region = glue.region.clone().unwrap_or_else(|| "the SDK's default".into());
    let role = glue
        .role_arn
        .clone()
        .unwrap_or_else(|| "none (role_arn is missing)".into());
    reporter.line("Debug", &format!("region: {region}, session role: {role}"));
    let spark_connect = glue.session_type == glue_session::SessionType::SparkConnect;
    let remote = crate::cli::Remote::for_glue(glue, 1, String::new());
    let engine = remote.engine();
    let ok = match engine.list_relations(&profile.target.schema).await {
        Ok(r) => {
            reporter.line(
                "Debug",
                &format!(
                    "Glue Data Catalog: OK ({} relation(s) in `{}`)",
                    r.len(),
                    profile.target.schema
                ),
            );
            reporter.line(
                "Debug",
                if spark_connect {
                    "starting (or finding) a Glue Spark Connect session …"
                } else {
                    "starting (or finding) a Glue session …"
                },
            );
            match engine.query("select 1 as ok").await {
                Ok(_) => {
                    reporter.line("Debug", "Glue session: OK (select 1)");
                    true
                }
                Err(e) => {
                    reporter.error(&format!("Glue session: {}", plain_words(&e.to_string())));
                    false
                }
            }
        }
        Err(e) => {
            reporter.error(&format!("Glue Data Catalog: {}", plain_words(&e.to_string())));
            false
        }
    };
    let r = remote.finish().await;
    if let Some((id, origin)) = r.sessions.first() {
        reporter.line(
            "Debug",
            &format!("session `{id}` ({origin:?}); {:.1} DPU-seconds", r.dpu_seconds),
        );
    }
    ok
}

/// The project and the selected profile target (rendered), for commands that need no manifest.
fn project_and_profile(args: &ProjectArgs) -> Result<(Project, std::path::PathBuf, Profile)> {
    let dir = args.project_dir.clone().unwrap_or_else(|| ".".into());
    let proj = Project::load(&dir)?;
    let dirs = glue_project::profile::profiles_dirs(args.profiles_dir.as_deref(), &dir);
    let render = |s: &str| -> std::result::Result<String, String> {
        let mut env = minijinja::Environment::new();
        env.add_function("env_var", |n: String, d: Option<minijinja::Value>| {
            glue_jinja::context_env_var(&n, d)
        });
        env.render_str(s, ()).map_err(|e| e.to_string())
    };
    let profile = glue_project::profile::load(
        &dirs,
        proj.profile.as_deref().unwrap_or(&proj.name),
        args.target.as_deref(),
        &dir,
        &render,
    )?;
    Ok((proj, dir, profile))
}

/// The Iceberg commit protection of a Glue or Spark Connect target (None on the embedded engine), decided from the
/// Glue options as glue-session reads them (a malformed option is an error naming the file, target and field).
/// glue-rs never selects the DynamoDB lock itself: only the user's `lock-impl` does.
pub fn commit_protection(profile: &Profile) -> Result<Option<glue_iceberg_lock::CommitProtection>> {
    if profile.engine != EngineChoice::GlueSession {
        return Ok(None);
    }
    let glue = glue_profile(profile)?;
    Ok(Some(glue_iceberg_lock::CommitProtection::from_spark_conf(
        glue.conf.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        glue.iceberg_catalog.as_deref().unwrap_or(""),
        Some(&glue.iceberg_glue_commit_lock_table),
    )))
}

/// The Glue options of a target, typed; a malformed value names the profiles file, the target and the field.
pub fn glue_profile(profile: &Profile) -> Result<glue_session::GlueProfile> {
    glue_session::GlueProfile::from_output(&profile.output)
        .map(|(glue, _)| glue)
        .map_err(|e| glue_project::profile::field_err(&profile.path, &profile.target_name, &e.field, e.message).into())
}

/// The options of a `method: spark_connect` target; a malformed value names the profiles file, the target and the
/// field.
pub fn spark_connect_profile(profile: &Profile) -> Result<glue_session::SparkConnectProfile> {
    glue_session::SparkConnectProfile::from_output(&profile.output)
        .map_err(|e| glue_project::profile::field_err(&profile.path, &profile.target_name, &e.field, e.message).into())
}

/// `glue iam-policy`: the IAM policy the profile's target needs, as JSON (the DynamoDB lock table's statement only when
/// the Spark conf selects Iceberg's DynamoDB lock manager).
pub fn iam_policy(args: &ProjectArgs, reporter: &Reporter) -> Result<i32> {
    let (_, _, profile) = project_and_profile(args)?;
    if matches!(profile.engine, EngineChoice::Local { .. }) {
        return Err(CliError::Usage(format!(
            "iam-policy: target `{}` runs on the embedded engine and needs no AWS permissions",
            profile.target_name
        )));
    }
    let text = |k: &str| profile.output.get(k).and_then(Value::as_str).unwrap_or("");
    let region = if text("region").is_empty() { "*" } else { text("region") };
    let role = text("role_arn");
    // arn:aws:iam::<account>:role/<name>
    let account = role.split(':').nth(4).filter(|a| !a.is_empty()).unwrap_or("*");
    let schema = &profile.target.schema;
    let mut statements = vec![
        json!({
            "Sid": "GlueInteractiveSessions",
            "Effect": "Allow",
            "Action": ["glue:CreateSession", "glue:GetSession", "glue:ListSessions", "glue:StopSession",
                       "glue:DeleteSession", "glue:RunStatement", "glue:GetStatement", "glue:ListStatements",
                       "glue:CancelStatement", "glue:GetSessionEndpoint"],
            "Resource": format!("arn:aws:glue:{region}:{account}:session/*"),
        }),
        json!({
            "Sid": "GlueDataCatalog",
            "Effect": "Allow",
            "Action": ["glue:GetDatabase", "glue:GetDatabases", "glue:CreateDatabase", "glue:GetTable",
                       "glue:GetTables", "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable",
                       "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchDeletePartition"],
            "Resource": [format!("arn:aws:glue:{region}:{account}:catalog"),
                         format!("arn:aws:glue:{region}:{account}:database/{schema}"),
                         format!("arn:aws:glue:{region}:{account}:table/{schema}/*")],
        }),
    ];
    // Lake Formation: the database grants on a new database and the reconcile of lf_tags_config / lf_grants (Lake
    // Formation has no resource-level IAM permissions; what may be tagged or granted is Lake Formation's own).
    statements.push(json!({
        "Sid": "LakeFormation",
        "Effect": "Allow",
        "Action": ["lakeformation:GetDataAccess", "lakeformation:BatchGrantPermissions",
                   "lakeformation:BatchRevokePermissions", "lakeformation:ListPermissions",
                   "lakeformation:ListLFTags", "lakeformation:GetResourceLFTags",
                   "lakeformation:AddLFTagsToResource", "lakeformation:RemoveLFTagsFromResource",
                   "lakeformation:ListDataCellsFilter", "lakeformation:CreateDataCellsFilter",
                   "lakeformation:UpdateDataCellsFilter", "lakeformation:DeleteDataCellsFilter"],
        "Resource": "*",
    }));
    if !role.is_empty() {
        statements.push(json!({
            "Sid": "PassSessionRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role,
            "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
        }));
    }
    if let Some(rest) = text("location").strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        let objects = if prefix.is_empty() {
            format!("arn:aws:s3:::{bucket}/*")
        } else {
            format!("arn:aws:s3:::{bucket}/{prefix}/*")
        };
        statements.push(json!({
            "Sid": "Location",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": [format!("arn:aws:s3:::{bucket}"), objects],
        }));
    }
    if let Some(table) = commit_protection(&profile)?
        .as_ref()
        .and_then(|p| p.lock_table().map(str::to_string))
    {
        statements.push(json!({
            "Sid": "IcebergCommitLockTable",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeTable", "dynamodb:CreateTable", "dynamodb:GetItem", "dynamodb:PutItem",
                       "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "Resource": format!("arn:aws:dynamodb:{region}:{account}:table/{table}"),
        }));
    }
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    reporter.raw(&serde_json::to_string_pretty(&policy).unwrap_or_default());
    Ok(0)
}

/// `glue clean`: removes the clean-targets inside the project.
pub fn clean(proj: &Project, reporter: &Reporter) -> Result<i32> {
    let root = proj.root.canonicalize().map_err(|e| CliError::io(&proj.root, e))?;
    for t in &proj.clean_targets {
        let p = root.join(t);
        if !p.exists() {
            continue;
        }
        let c = p.canonicalize().map_err(|e| CliError::io(&p, e))?;
        if !c.starts_with(&root) || c == root {
            return Err(CliError::project(
                root.join("dbt_project.yml"),
                None,
                format!("clean-target `{t}` is outside the project; refusing to delete it"),
            ));
        }
        std::fs::remove_dir_all(&c).map_err(|e| CliError::io(&c, e))?;
        reporter.line("Clean", &format!("Cleaned {t}/"));
    }
    Ok(0)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for e in walkdir::WalkDir::new(from).into_iter() {
        let e = e.map_err(|e| CliError::Usage(e.to_string()))?;
        let rel = e.path().strip_prefix(from).unwrap_or(e.path());
        if rel.components().any(|c| c.as_os_str() == ".git") {
            continue;
        }
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).map_err(|er| CliError::io(&dest, er))?;
        } else {
            std::fs::copy(e.path(), &dest).map_err(|er| CliError::io(&dest, er))?;
        }
    }
    Ok(())
}

/// Runs git; a failure names what was being done (from `file`) and git's message.
fn git(file: &Path, args: &[&str], what: &str) -> Result<()> {
    let out = std::process::Command::new("git")
        .args(args)
        .output()
        .map_err(|e| CliError::io("git", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CliError::project(
            file,
            None,
            format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        ))
    }
}

/// `glue deps`: installs `local:` and `git:` packages of packages.yml / dependencies.yml into `dbt_packages/`.
pub fn deps(proj: &Project, reporter: &Reporter) -> Result<i32> {
    let file = ["packages.yml", "dependencies.yml"]
        .iter()
        .map(|f| proj.root.join(f))
        .find(|p| p.exists());
    let Some(file) = file else {
        reporter.line("Deps", "No packages.yml; nothing to install.");
        return Ok(0);
    };
    let v = glue_project::yaml::read(&file)?;
    let install = proj.root.join(&proj.packages_install_path);
    std::fs::create_dir_all(&install).map_err(|e| CliError::io(&install, e))?;
    for (i, p) in v
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let staging = install.join(format!(".glue_deps_{i}"));
        let _ = std::fs::remove_dir_all(&staging);
        let src_dir = if let Some(local) = p.get("local").and_then(Value::as_str) {
            let src = proj.local_package_dir(&file, local)?;
            copy_dir(&src, &staging)?;
            staging.clone()
        } else if let Some(url) = p.get("git").and_then(Value::as_str) {
            let rev = p
                .get("revision")
                .map(|r| r.as_str().map(str::to_string).unwrap_or_else(|| r.to_string()));
            // A revision is never an option to git (`git checkout` has no `--` before revisions: after it they are
            // paths); git's own names never begin with `-`.
            if let Some(rev) = rev
                .as_deref()
                .filter(|r| r.trim_start().starts_with('-') || r.is_empty())
            {
                return Err(CliError::project(
                    &file,
                    None,
                    format!("package `{url}`: revision `{rev}` is not a git revision (it must not begin with `-`)"),
                ));
            }
            // `--` first: a URL beginning with `-` is a repository to git, never an option.
            git(
                &file,
                &["clone", "--quiet", "--", url, &staging.display().to_string()],
                &format!("git clone {url}"),
            )?;
            if let Some(rev) = rev {
                let dir = staging.display().to_string();
                git(
                    &file,
                    &["-C", &dir, "checkout", "--quiet", &rev, "--"],
                    &format!("git checkout {rev} of {url}"),
                )?;
            }
            match p.get("subdirectory").and_then(Value::as_str) {
                Some(sub) => {
                    let dir = staging.join(sub);
                    let inside = match (dir.canonicalize(), staging.canonicalize()) {
                        (Ok(d), Ok(s)) => d.starts_with(s),
                        _ => false,
                    };
                    if !inside {
                        return Err(CliError::project(
                            &file,
                            None,
                            format!("package `{url}`: subdirectory `{sub}` is not a directory inside the repository"),
                        ));
                    }
                    dir
                }
                None => staging.clone(),
            }
        } else {
            return Err(CliError::project(
                &file,
                None,
                format!(
                    "package entry `{p}`: glue installs `local:` and `git:` packages (hub packages need the network)"
                ),
            ));
        };
        let pkg = Project::load(&src_dir)?;
        let dest = install.join(&pkg.name);
        let _ = std::fs::remove_dir_all(&dest);
        if src_dir == staging {
            std::fs::rename(&staging, &dest).map_err(|e| CliError::io(&dest, e))?;
        } else {
            copy_dir(&src_dir, &dest)?;
            let _ = std::fs::remove_dir_all(&staging);
        }
        reporter.line(
            "DepsInstall",
            &format!("Installed package {} into {}", pkg.name, dest.display()),
        );
    }
    Ok(0)
}

/// `glue init <name>`: a project that runs on the embedded engine.
pub fn init(name: &str, reporter: &Reporter) -> Result<i32> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(CliError::Usage(format!(
            "project name `{name}` must be letters, digits and underscores"
        )));
    }
    let root = Path::new(name);
    if root.exists() {
        return Err(CliError::Usage(format!("{name} already exists")));
    }
    let files = [
        ("dbt_project.yml", format!("name: {name}\nversion: '1.0.0'\nprofile: {name}\n\nmodels:\n  {name}:\n    +materialized: view\n")),
        ("profiles.yml", format!("{name}:\n  target: local\n  outputs:\n    local:\n      type: glue\n      engine: local\n      warehouse: warehouse\n      schema: {name}\n      threads: 4\n")),
        ("models/my_first_model.sql", "select 1 as id, 'hello' as greeting\n".to_string()),
        ("models/schema.yml", "version: 2\nmodels:\n  - name: my_first_model\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n".to_string()),
    ];
    for (f, text) in files {
        crate::run::write_file(&root.join(f), &text)?;
    }
    reporter.line(
        "Init",
        &format!("Created {name}/. Run `glue build --project-dir {name}`."),
    );
    Ok(0)
}
