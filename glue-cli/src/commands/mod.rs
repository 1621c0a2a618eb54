//! The commands, one file each (as delta-rs has one file per operation); [`run`] dispatches the parsed command line.

pub(crate) mod clean;
pub(crate) mod compile;
pub(crate) mod debug;
pub(crate) mod deps;
pub(crate) mod docs;
pub(crate) mod freshness;
pub(crate) mod iam_policy;
pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod project;
pub(crate) mod run;
pub(crate) mod run_operation;
pub(crate) mod show;

use std::sync::Arc;

use glue_project::dag::Dag;
use glue_project::node::ResourceType;
use glue_project::profile::Profile;
use glue_project::project::Project;
use serde_json::json;

use crate::args::{Cli, Command, LsOutput, RunArgs, flags_value};
use crate::commands::compile::compile_cmd;
use crate::commands::project::{invocation, load, load_with, project_dir, settings, universe_select, write_manifest};
use crate::commands::run::{retry_cmd, run_nodes, which};
use crate::commands::show::show_cmd;
use crate::engines::{Sessions, with_sessions};
use crate::error::{CliError, Result};
use crate::report::Reporter;

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    // Before anything is printed: the environment's secrets are masked in every output from here on.
    glue_project::redact::add_env_secrets();
    let reporter = Arc::new(Reporter::new(cli.log_format, cli.quiet).with_stdout(cli.command.stdout()));
    match dispatch(cli.command, &reporter).await {
        Ok(code) => code,
        Err(e) => {
            reporter.finish_progress();
            reporter.error(&format!("Error: {e}"));
            2
        }
    }
}

pub(crate) async fn dispatch(cmd: Command, reporter: &Arc<Reporter>) -> Result<i32> {
    let name = which(&cmd);
    match cmd {
        Command::Run { project, select, run }
        | Command::Build { project, select, run }
        | Command::Seed { project, select, run }
        | Command::Snapshot { project, select, run }
        | Command::Test { project, select, run } => {
            let l = load_with(&project, reporter, flags_value(Some(&run)), Sessions::Start)?;
            let remote = l.remote.clone();
            with_sessions(remote, reporter, run_nodes(name, l, &select, &run, None)).await
        }
        Command::Retry { project, run } => {
            let l = load_with(&project, reporter, flags_value(Some(&run)), Sessions::Start)?;
            let remote = l.remote.clone();
            with_sessions(remote, reporter, retry_cmd(l, &run, reporter)).await
        }
        Command::Compile {
            project,
            select,
            inline,
            output,
        } => {
            let l = load(&project, reporter, flags_value(None))?;
            compile_cmd(l, &select, inline, output).await
        }
        Command::Plan {
            project,
            select,
            full_refresh,
        } => {
            let l = load(&project, reporter, flags_value(None))?;
            crate::commands::plan::plan(l.manifest, l.profile, l.reporter, &select, full_refresh).await
        }
        Command::Show {
            project,
            select,
            inline,
            limit,
            output,
        } => {
            let l = load_with(&project, reporter, flags_value(None), Sessions::Start)?;
            let remote = l.remote.clone();
            with_sessions(remote, reporter, show_cmd(l, &select, inline, limit, output)).await
        }
        Command::Ls {
            project,
            select,
            resource_type,
            output,
        } => {
            let l = load(&project, reporter, flags_value(None))?;
            let dag = Dag::new(&l.manifest.nodes)?;
            let types: Vec<ResourceType> = if resource_type.is_empty() {
                vec![
                    ResourceType::Model,
                    ResourceType::Seed,
                    ResourceType::Snapshot,
                    ResourceType::Test,
                    ResourceType::Source,
                    ResourceType::UnitTest,
                ]
            } else {
                resource_type
                    .iter()
                    .map(|t| {
                        ResourceType::parse(t).ok_or_else(|| CliError::Usage(format!("unknown resource type `{t}`")))
                    })
                    .collect::<Result<_>>()?
            };
            let mut sel = select.clone();
            let ids = {
                let chosen = universe_select(&l.manifest, &dag, &sel, &types)?;
                sel.select.clear();
                chosen
            };
            for id in ids {
                let n = &l.manifest.nodes[&id];
                let line = match output {
                    LsOutput::Name => n.name.clone(),
                    LsOutput::Path => n.file.display().to_string(),
                    LsOutput::Json => json!({"name": n.name, "resource_type": n.resource_type.as_str(), "package_name": n.package, "original_file_path": n.file.display().to_string(), "unique_id": n.unique_id, "alias": n.alias, "config": n.config, "tags": n.tags(), "depends_on": {"nodes": n.depends_on}}).to_string(),
                    LsOutput::Selector => match &n.source {
                        Some(s) => format!("source:{}.{}.{}", n.package, s.source_name, n.name),
                        None if n.resource_type == ResourceType::UnitTest => format!("unit_test:{}", n.fqn.join(".")),
                        None => n.fqn.join("."),
                    },
                };
                reporter.raw(&line);
            }
            Ok(0)
        }
        Command::Parse { project } => {
            let l = load(&project, reporter, flags_value(None))?;
            Dag::new(&l.manifest.nodes)?;
            let inv = invocation(l, None, settings(&RunArgs::default(), &Profile::placeholder()));
            write_manifest(&inv)?;
            reporter.line(
                "Parse",
                &format!(
                    "Parsed {} nodes; wrote {}",
                    inv.manifest.nodes.len(),
                    inv.target_dir.join("manifest.json").display()
                ),
            );
            Ok(0)
        }
        Command::RunOperation { name, args, project } => {
            let l = load(&project, reporter, flags_value(None))?;
            crate::commands::run_operation::run_operation(l.manifest, l.profile, l.reporter, &name, args.as_deref())
                .await
        }
        Command::Source { project, select, .. } => {
            let l = load(&project, reporter, flags_value(None))?;
            crate::commands::freshness::freshness(l.manifest, l.profile, l.reporter, &select).await
        }
        Command::Docs {
            project, no_compile, ..
        } => {
            let l = load(&project, reporter, flags_value(None))?;
            crate::commands::docs::docs_generate(l.manifest, l.profile, l.reporter, no_compile).await
        }
        Command::Debug { project } => crate::commands::debug::debug(&project, reporter).await,
        Command::IamPolicy { project } => crate::commands::iam_policy::iam_policy(&project, reporter),
        Command::Clean { project } => {
            let dir = project_dir(&project);
            let proj = Project::load(&dir)?;
            crate::commands::clean::clean(&proj, reporter)
        }
        Command::Deps { project } => {
            let dir = project_dir(&project);
            let proj = Project::load(&dir)?;
            crate::commands::deps::deps(&proj, reporter)
        }
        Command::Init { name } => crate::commands::init::init(&name, reporter),
    }
}
