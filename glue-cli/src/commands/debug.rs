//! `glue debug`: the project, the profile and the target's connection checked.

use std::sync::Arc;

use glue_materialize::Engine;
use glue_project::profile::{EngineChoice, Profile};
use glue_project::project::Project;

use crate::args::ProjectArgs;
use crate::engines::{commit_protection, glue_profile, local_engine, spark_connect_profile};
use crate::error::{Result, plain_words};
use crate::report::Reporter;

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

/// `glue debug` on a Glue target: the catalog (credentials, region, database access), then a session and `select 1`.
pub(crate) async fn debug_glue(profile: &Profile, reporter: &Arc<Reporter>) -> bool {
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
    let remote = crate::engines::Remote::for_glue(glue, 1, String::new());
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
pub(crate) fn project_and_profile(args: &ProjectArgs) -> Result<(Project, std::path::PathBuf, Profile)> {
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
