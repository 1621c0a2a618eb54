//! The database a plan writes to: `CREATE DATABASE IF NOT EXISTS … LOCATION`, once per run and schema, under the
//! profile's `location`.

use std::collections::HashSet;
use std::sync::Mutex;

use glue_materialize::Plan;
use glue_sql::Ident;

/// `CREATE DATABASE IF NOT EXISTS … [LOCATION <location>/<schema>]` for the schema a plan writes to, the first time
/// a run meets that schema (`ready` holds the schemas seen; `again` renders it anyway, for a plan re-run on a new
/// session). None for a temporary relation or a schema seen before.
pub(crate) fn create_schema_sql(
    plan: &Plan,
    ready: &Mutex<HashSet<String>>,
    location: Option<&str>,
    again: bool,
) -> Option<String> {
    let rel = plan.relation.as_ref()?;
    // Iceberg relations carry their Spark catalog's name; the database is the same Glue database.
    if rel.is_temporary() {
        return None;
    }
    let schema = rel.schema_str().to_string();
    let first = ready
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(schema.to_lowercase());
    if !first && !again {
        return None;
    }
    let ident = Ident::new(schema.clone()).ok()?;
    let mut db = glue_sql::ddl::CreateDatabase::new(ident);
    if let Some(loc) = location {
        db = db.location(schema_location(loc, &schema));
    }
    Some(db.to_sql())
}

/// A schema's database location under the profile's `location`: `<location>/<schema>`.
pub(crate) fn schema_location(location: &str, schema: &str) -> String {
    format!("{}/{schema}", location.trim_end_matches('/'))
}
