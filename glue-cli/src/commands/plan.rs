//! `glue plan`: each selected node's steps as Spark SQL, prepared as a run prepares them, with Lake Formation's diff.

use std::sync::Arc;

use glue_project::dag::Dag;
use glue_project::load::Manifest;
use glue_project::node::ResourceType;
use glue_project::profile::{EngineChoice, Profile};

use crate::args::SelectArgs;
use crate::engines::{glue_profile, local_engine, spark_connect_profile};
use crate::error::Result;
use crate::invocation::Invocation;
use crate::report::Reporter;

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
    let selected = crate::commands::project::universe_select(
        &manifest,
        &dag,
        sel,
        &[ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot],
    )?;
    let ids = dag.order(&crate::commands::project::without_ephemeral(&manifest, selected))?;
    let local = local_engine(&profile)?;
    let catalog = match (&local, &profile.engine) {
        (Some(e), _) => Some(e.clone()),
        // The engine of a Glue target reads the catalog through the Glue API; nothing here sends a statement, so
        // no session is created.
        (None, EngineChoice::GlueSession) => {
            let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f").to_string();
            Some(crate::engines::Remote::for_glue(glue_profile(&profile)?, profile.threads, now).engine())
        }
        (None, _) => {
            reporter.line(
                "Plan",
                "-- Spark Connect target: planned against an empty catalog (no session is started)",
            );
            None
        }
    };
    // The run's settings, so a node's plan carries what a run's would (its Glue session choice included).
    let run = crate::args::RunArgs {
        full_refresh,
        ..Default::default()
    };
    let settings = crate::commands::project::settings(&run, &profile);
    let inv = Invocation::new(manifest, profile.target.clone(), local, settings, reporter.clone());
    // Where the Glue catalog cannot be read (no credentials, no network), the plan says so once and plans as if
    // nothing existed, as it does for a Spark Connect server. Each schema is listed once, through the invocation's
    // listings, which the nodes' plans then read.
    let mut catalog = catalog;
    if let Some(engine) = catalog.clone() {
        let mut seen = std::collections::BTreeSet::new();
        for id in &ids {
            let node = &inv.manifest.nodes[id];
            if seen.insert(node.schema.to_lowercase())
                && let Err(e) = inv.existing(&engine, node).await
            {
                reporter.warn(&format!("{e}; planned against an empty catalog"));
                catalog = None;
                break;
            }
        }
    }
    let lake_formation = tokio::sync::OnceCell::new();
    let mut failed = false;
    for id in ids {
        let node = &inv.manifest.nodes[&id];
        match inv.prepare(&id, catalog.as_ref()).await {
            Ok(prepared) => {
                reporter.raw(&format!(
                    "-- ===== {} ({}) =====",
                    node.unique_id,
                    crate::report::describe(node)
                ));
                reporter.raw(&crate::prepare::render_plan_text(&prepared.plan));
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
pub(crate) async fn plan_lake_formation(
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
pub(crate) async fn lake_formation_diff(
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
