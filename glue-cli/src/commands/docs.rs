//! `glue docs generate`: `catalog.json` from the warehouse's tables and columns.

use std::sync::Arc;

use glue_materialize::Existing;
use glue_project::load::Manifest;
use glue_project::node::ResourceType;
use glue_project::profile::Profile;
use serde_json::{Map, Value, json};

use crate::commands::project::invocation_for;
use crate::engines::local_engine;
use crate::error::Result;
use crate::report::Reporter;

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
    let inv = invocation_for(manifest, &profile, reporter.clone(), engine);
    if !no_compile {
        crate::artifacts::write_manifest_file(&inv.manifest, &Default::default(), &target_dir.join("manifest.json"))?;
    }
    crate::artifacts::write_file(
        &target_dir.join("catalog.json"),
        &serde_json::to_string_pretty(&catalog).unwrap_or_default(),
    )?;
    reporter.line(
        "CatalogWritten",
        &format!("Catalog written to {}", target_dir.join("catalog.json").display()),
    );
    Ok(0)
}
