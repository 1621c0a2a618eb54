//! Where tables live, checked before a plan writes: a plan whose table location equals, lies inside or encloses
//! another table's location (a `custom_location` at a shared prefix, two models with one location) is refused
//! before its first statement, since Spark would write into, or empty, that table's files. The check reads this
//! run's listing of each schema it writes (the one the relation cache makes anyway), kept true after each plan: no
//! Glue call per model. Shared by the Livy engine and the Spark Connect engine on a Glue catalog.

use std::collections::HashMap;
use std::sync::Arc;

use glue_materialize::engine::RelationInfo;
use glue_materialize::location::normalized;
use glue_materialize::{EngineError, FileFormat, Plan};
use glue_sql::RelationName;

use crate::catalog::Catalog;

/// A table would be written at a location that overlaps another table's.
#[derive(Debug, thiserror::Error)]
#[error(
    "{relation} would be written at {location}, {how} the location of the table {table} ({table_location}); \
     nothing was run. Give the model a location of its own (`custom_location`, or a different alias)"
)]
pub(crate) struct LocationConflict {
    relation: String,
    location: String,
    how: &'static str,
    table: String,
    table_location: String,
}

/// A catalog name without its Spark catalog prefix, lower-case: `schema.table`.
fn table_key(r: &RelationName) -> String {
    r.without_catalog().to_string().replace('`', "").to_lowercase()
}

/// How location `ours` overlaps `theirs`, if it does.
pub(crate) fn overlap(ours: &str, theirs: &str) -> Option<&'static str> {
    let (a, b) = (normalized(ours), normalized(theirs));
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a == b {
        Some("which is")
    } else if a.starts_with(&format!("{b}/")) {
        Some("inside")
    } else if b.starts_with(&format!("{a}/")) {
        Some("around")
    } else {
        None
    }
}

/// This run's listings of the catalog's schemas (by lower-case name), made once per schema and kept true as plans
/// build tables.
#[derive(Default)]
pub(crate) struct Listings(tokio::sync::Mutex<HashMap<String, Arc<Vec<RelationInfo>>>>);

impl Listings {
    /// Keeps a listing the run made (the relation cache's).
    pub(crate) async fn insert(&self, schema: &str, listed: Vec<RelationInfo>) {
        self.0.lock().await.insert(schema.to_lowercase(), Arc::new(listed));
    }

    /// The tables of a schema: this run's listing when there is one, else listed now (once per run).
    async fn get(&self, catalog: &Catalog, schema: &str) -> Result<Arc<Vec<RelationInfo>>, EngineError> {
        let key = schema.to_lowercase();
        let mut listings = self.0.lock().await;
        if let Some(l) = listings.get(&key) {
            return Ok(l.clone());
        }
        let listed = Arc::new(catalog.list(schema).await.map_err(|e| EngineError::Other {
            context: format!("listing the tables of `{schema}`"),
            source: Box::new(e),
        })?);
        listings.insert(key, listed.clone());
        Ok(listed)
    }

    /// Refuses, before anything runs, a plan that would write a table at a location equal to, inside or around
    /// the location of another table of the schemas this run writes.
    pub(crate) async fn check(&self, catalog: &Catalog, plan: &Plan) -> Result<(), EngineError> {
        let written = plan.written_locations();
        if written.is_empty() {
            return Ok(());
        }
        let own: Vec<String> = plan.own_relations().into_iter().map(table_key).collect();
        let mut schemas: Vec<String> = written.iter().map(|(r, _)| r.schema_str().to_lowercase()).collect();
        schemas.extend(self.0.lock().await.keys().cloned());
        schemas.sort();
        schemas.dedup();
        for schema in schemas {
            let listing = self.get(catalog, &schema).await?;
            for info in listing.iter() {
                let glue_materialize::Existing::Table(t) = &info.existing else {
                    continue;
                };
                let (Some(theirs), false) = (&t.location, own.contains(&table_key(&info.name))) else {
                    continue;
                };
                for (relation, location) in &written {
                    if let Some(how) = overlap(location, theirs) {
                        return Err(EngineError::Other {
                            context: format!("model `{}`", plan.model),
                            source: Box::new(LocationConflict {
                                relation: relation.without_catalog().to_string(),
                                location: location.to_string(),
                                how,
                                table: info.name.to_string(),
                                table_location: theirs.clone(),
                            }),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Keeps this run's listing of the model's schema true after the plan: its table now lives at the plan's final
    /// location (the next location check sees tables this run built without listing the schema again).
    pub(crate) async fn record(&self, plan: &Plan) {
        let (Some(relation), Some(location)) = (plan.relation.as_ref(), plan.final_location()) else {
            return;
        };
        let mut listings = self.0.lock().await;
        let Some(listed) = listings.get_mut(&relation.schema_str().to_lowercase()) else {
            return;
        };
        let key = table_key(relation);
        let mut tables: Vec<RelationInfo> = listed.iter().filter(|i| table_key(&i.name) != key).cloned().collect();
        if let Ok(name) = RelationName::new(relation.schema_str().to_lowercase(), relation.identifier.as_str()) {
            let mut table = glue_materialize::ExistingTable::of(FileFormat::Parquet);
            table.format = glue_materialize::TableFormat::Other("written by this run".into());
            table.location = Some(location.to_string());
            tables.push(RelationInfo {
                name,
                existing: glue_materialize::Existing::Table(table),
            });
        }
        *listed = Arc::new(tables);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_overlap_when_equal_or_nested_either_way() {
        assert_eq!(overlap("s3://b/w/t", "s3://b/w/t/"), Some("which is"));
        assert_eq!(overlap("s3a://b/w/t/sub", "s3://b/w/t"), Some("inside"));
        assert_eq!(overlap("s3://b/w", "s3://b/w/t"), Some("around"));
        assert_eq!(overlap("s3://b/w/t__v1", "s3://b/w/t"), None);
        assert_eq!(overlap("s3://b/w/t2", "s3://b/w/t"), None);
        assert_eq!(overlap("", "s3://b/w/t"), None);
    }
}
