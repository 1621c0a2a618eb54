//! `glue run-operation`: one macro called with its arguments.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use glue_jinja::{Mode, NodeCtx};
use glue_project::load::Manifest;
use glue_project::profile::Profile;
use serde_json::Value;

use crate::commands::project::invocation_for;
use crate::engines::local_engine;
use crate::error::{CliError, Result};
use crate::report::Reporter;

/// `glue run-operation`.
pub async fn run_operation(
    manifest: Manifest,
    profile: Profile,
    reporter: Arc<Reporter>,
    name: &str,
    args: Option<&str>,
) -> Result<i32> {
    let engine = local_engine(&profile)?;
    let inv = invocation_for(manifest, &profile, reporter.clone(), engine);
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
