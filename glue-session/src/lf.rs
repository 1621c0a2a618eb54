//! Lake Formation in the remote engines: the `LakeFormation` step of a plan (a reconcile through
//! `glue-lakeformation`) and the grants on a database glue-rs creates.

use std::collections::HashSet;
use std::sync::Mutex;

use glue_lakeformation::LakeFormation;
use glue_materialize::step::Step;
use glue_materialize::{EngineError, Plan};

use crate::catalog::Catalog;
use crate::database::schema_location;
use crate::profile::GlueProfile;

/// Runs a `LakeFormation` step: reconciles the table's tags, filters and filter grants to the model's config.
/// Returns the applied diff as text (for the run's log and `run_results.json`).
pub(crate) async fn run_step(lf: &LakeFormation, plan: &Plan, step: &Step) -> Result<String, EngineError> {
    let Step::LakeFormation {
        database,
        table,
        tags,
        grants,
        ..
    } = step
    else {
        return Ok(String::new());
    };
    let fail = |e: glue_lakeformation::LfError| EngineError::Other {
        context: format!("model `{}`, step {step}", plan.model),
        source: Box::new(e),
    };
    let table = lf.table(database, table).await.map_err(fail)?;
    let diff = lf
        .reconcile(&table, tags.as_ref(), grants.as_ref())
        .await
        .map_err(fail)?;
    tracing::info!(model = %plan.model, "{diff}");
    Ok(diff.to_string())
}

/// The schema whose database a plan may have to create, and the role to grant on it: the first time a run meets a
/// plan's schema, when `role_arn` is set and `lakeformation_database_grants` is not false. None otherwise (nothing
/// to call).
pub(crate) fn new_schema<'p>(
    profile: &'p GlueProfile,
    seen: &Mutex<HashSet<String>>,
    plan: &Plan,
) -> Option<(String, &'p str)> {
    if !profile.lakeformation_database_grants {
        return None;
    }
    let role = profile.role_arn.as_deref()?;
    let rel = plan.relation.as_ref().filter(|r| !r.is_temporary())?;
    let schema = rel.schema_str().to_lowercase();
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(schema.clone())
        .then_some((schema, role))
}

/// The reference's Lake Formation grants for the session role on a database glue-rs creates (for a schema
/// [`new_schema`] returned): CreateDatabase (with `<location>/<schema>`) and, only when that call created it,
/// BatchGrantPermissions. Like the reference, a failure does not fail the model (organisations without Lake Formation
/// rights): it comes back as a warning that names the switch.
pub(crate) async fn database_grants(
    catalog: &Catalog,
    lf: &LakeFormation,
    location: Option<&str>,
    schema: &str,
    role: &str,
) -> Option<String> {
    let created = match catalog
        .create_database(schema, location.map(|l| schema_location(l, schema)))
        .await
    {
        Ok(c) => c,
        // Not allowed to create databases: the plan's own `CREATE DATABASE IF NOT EXISTS` says whether it exists, and
        // a database glue-rs did not create gets no grants.
        Err(e) if e.code() == Some("AccessDeniedException") => return None,
        Err(e) => return Some(format!("could not create database {schema} through the Glue API: {e}")),
    };
    if !created {
        return None;
    }
    match lf.grant_database_access(schema, role).await {
        Ok(()) => {
            tracing::info!(database = %schema, role, "Lake Formation grants on the new database");
            None
        }
        Err(e) => Some(format!(
            "database {schema} was created, but its Lake Formation grants for {role} failed ({e}); set \
             `lakeformation_database_grants: false` in the profile where Lake Formation does not govern the catalog"
        )),
    }
}
