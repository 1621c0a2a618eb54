//! `glue source freshness`: each source's newest `loaded_at_field` against its warn and error thresholds.

use std::sync::Arc;

use glue_project::dag::Dag;
use glue_project::load::Manifest;
use glue_project::profile::Profile;
use serde_json::{Value, json};

use crate::args::SelectArgs;
use crate::engines::local_engine;
use crate::error::{CliError, Result};
use crate::report::Reporter;

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
    crate::artifacts::write_file(
        &manifest
            .project
            .root
            .join(&manifest.project.target_path)
            .join("sources.json"),
        &serde_json::to_string_pretty(&out).unwrap_or_default(),
    )?;
    Ok(worst)
}
