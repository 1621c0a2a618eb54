//! `target/manifest.json` and `target/run_results.json` in dbt's schemas (manifest v12, run results v6), so dbt's
//! own tooling (`dbt ls --state`, docs sites, orchestrators) reads them.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::CliError;

use crate::results::NodeResult;
use glue_project::load::Manifest;
use glue_project::node::{Node, ResourceType};

/// `metadata.env` of every artifact: the `DBT_ENV_CUSTOM_ENV_*` variables, prefix removed (as dbt records them).
pub fn custom_env() -> Value {
    Value::Object(
        std::env::vars()
            .filter_map(|(k, v)| {
                k.strip_prefix("DBT_ENV_CUSTOM_ENV_")
                    .map(|k| (k.to_string(), Value::String(v)))
            })
            .collect(),
    )
}

/// The dbt version glue's artifacts are shaped after.
pub const DBT_COMPAT_VERSION: &str = "1.11.0";

fn metadata(kind: &str, version: &str, invocation_id: &str) -> Value {
    json!({
        "dbt_schema_version": format!("https://schemas.getdbt.com/dbt/{kind}/{version}.json"),
        "dbt_version": DBT_COMPAT_VERSION,
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "invocation_id": invocation_id,
        "invocation_started_at": Value::Null,
        "env": custom_env(),
    })
}

fn node_config(n: &Node) -> Value {
    let mut c = Map::new();
    let defaults = json!({
        "enabled": true, "alias": Value::Null, "schema": Value::Null, "database": Value::Null, "tags": [],
        "meta": {}, "group": Value::Null, "materialized": n.materialized(), "incremental_strategy": Value::Null,
        "batch_size": Value::Null, "lookback": 1, "begin": Value::Null, "persist_docs": {}, "post-hook": [],
        "pre-hook": [], "quoting": {}, "column_types": {}, "full_refresh": Value::Null, "unique_key": Value::Null,
        "on_schema_change": "ignore", "on_configuration_change": "apply", "grants": {}, "packages": [],
        "docs": {"show": true, "node_color": Value::Null},
        "contract": {"enforced": false, "alias_types": true}, "event_time": Value::Null,
        "concurrent_batches": Value::Null, "access": "protected",
    });
    if let Value::Object(d) = defaults {
        c.extend(d);
    }
    if n.resource_type == ResourceType::Test {
        for (k, v) in [
            ("severity", json!("ERROR")),
            ("store_failures", Value::Null),
            ("store_failures_as", Value::Null),
            ("where", Value::Null),
            ("limit", Value::Null),
            ("fail_calc", json!("count(*)")),
            ("warn_if", json!("!= 0")),
            ("error_if", json!("!= 0")),
        ] {
            c.insert(k.into(), v);
        }
        c.insert("schema".into(), json!("dbt_test__audit"));
        for k in [
            "incremental_strategy",
            "on_schema_change",
            "unique_key",
            "full_refresh",
            "batch_size",
            "persist_docs",
            "column_types",
            "contract",
            "quoting",
            "grants",
            "packages",
            "lookback",
            "begin",
            "concurrent_batches",
            "on_configuration_change",
            "access",
            "post-hook",
            "pre-hook",
            "docs",
            "event_time",
        ] {
            c.remove(k);
        }
    }
    for (k, v) in &n.config {
        if k.starts_with("__") {
            continue;
        }
        let v = match (k.as_str(), v) {
            ("pre-hook" | "post-hook", Value::Array(a)) => Value::Array(
                a.iter()
                    .map(|h| match h {
                        Value::String(s) => json!({"sql": s, "transaction": true, "index": Value::Null}),
                        other => other.clone(),
                    })
                    .collect(),
            ),
            _ => v.clone(),
        };
        c.insert(k.clone(), v);
    }
    Value::Object(c)
}

fn node_entry(m: &Manifest, n: &Node, compiled: Option<&String>) -> Value {
    let columns: Map<String, Value> = n
        .columns
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                json!({"name": c.name, "description": c.description, "meta": c.meta, "data_type": c.data_type,
                    "constraints": [], "quote": Value::Null, "tags": [], "granularity": Value::Null,
                    "doc_blocks": [], "config": {"meta": {}, "tags": []}}),
            )
        })
        .collect();
    let macros: Vec<String> = Vec::new();
    let mut v = json!({
        "database": n.database,
        "schema": n.schema,
        "name": n.name,
        "resource_type": n.resource_type.as_str(),
        "package_name": n.package,
        "path": n.path,
        "original_file_path": n.file.display().to_string(),
        "unique_id": n.unique_id,
        "fqn": n.fqn,
        "alias": n.alias,
        "checksum": if n.checksum.is_empty() { json!({"name": "none", "checksum": ""}) } else { json!({"name": "sha256", "checksum": n.checksum}) },
        "config": node_config(n),
        "tags": n.tags(),
        "description": n.description,
        "columns": columns,
        "meta": n.config.get("meta").cloned().unwrap_or(json!({})),
        "group": Value::Null,
        "docs": {"show": true, "node_color": Value::Null},
        "patch_path": n.patch_path,
        "build_path": Value::Null,
        "unrendered_config": n.unrendered,
        "created_at": 0.0,
        "config_call_dict": {},
        "unrendered_config_call_dict": {},
        "relation_name": (n.resource_type.builds_relation() && n.materialized() != "ephemeral").then(|| n.relation_display()),
        // dbt strips model and test files; a snapshot's raw code is its block's body as written.
        "raw_code": if n.resource_type == ResourceType::Snapshot { n.raw_code.as_str() } else { n.raw_code.trim() },
        "doc_blocks": [],
        "language": n.language,
        "refs": n.refs.iter().map(|(p, name)| json!({"name": name, "package": p, "version": Value::Null})).collect::<Vec<_>>(),
        "sources": n.sources.iter().map(|(s, t)| json!([s, t])).collect::<Vec<_>>(),
        "metrics": [],
        "functions": [],
        "depends_on": {"macros": macros, "nodes": n.depends_on},
        "compiled_path": compiled.map(|_| crate::artifacts::target_path(&std::path::Path::new(&m.project.target_path).join("compiled"), n).display().to_string()),
        "compiled": compiled.is_some(),
        "compiled_code": compiled,
        "extra_ctes_injected": compiled.is_some(),
        "extra_ctes": [],
        "contract": {"enforced": false, "alias_types": true, "checksum": Value::Null},
    });
    let o = v.as_object_mut().unwrap();
    match n.resource_type {
        ResourceType::Model => {
            o.insert("access".into(), json!("protected"));
            o.insert("constraints".into(), json!([]));
            o.insert("version".into(), Value::Null);
            o.insert("latest_version".into(), Value::Null);
            o.insert("deprecation_date".into(), Value::Null);
            o.insert("primary_key".into(), json!([]));
            o.insert("time_spine".into(), Value::Null);
        }
        ResourceType::Seed => {
            o.insert("root_path".into(), json!(n.root.display().to_string()));
            for k in [
                "compiled_path",
                "compiled",
                "compiled_code",
                "extra_ctes_injected",
                "extra_ctes",
                "contract",
                "refs",
                "sources",
                "metrics",
                "language",
                "relation_name",
            ] {
                o.remove(k);
            }
            o.insert("relation_name".into(), json!(n.relation_display()));
            o.insert("depends_on".into(), json!({"macros": []}));
        }
        ResourceType::Test => {
            if let Some(t) = &n.test {
                o.insert("column_name".into(), json!(t.column_name));
                o.insert("file_key_name".into(), json!(n.patch_path.clone().unwrap_or_default()));
                o.insert("attached_node".into(), json!(n.depends_on.first()));
                o.insert(
                    "test_metadata".into(),
                    json!({"name": t.name, "kwargs": t.kwargs, "namespace": t.namespace}),
                );
            }
        }
        _ => {}
    }
    v
}

/// dbt's normalized `freshness`: both thresholds and the filter present.
fn freshness(v: Option<&Value>) -> Value {
    let none = json!({"count": Value::Null, "period": Value::Null});
    let get = |k: &str| v.and_then(|f| f.get(k)).filter(|x| !x.is_null());
    json!({
        "warn_after": get("warn_after").cloned().unwrap_or(none.clone()),
        "error_after": get("error_after").cloned().unwrap_or(none),
        "filter": get("filter").cloned().unwrap_or(Value::Null),
    })
}

fn source_entry(n: &Node) -> Value {
    let s = n.source.as_ref().expect("source");
    let fresh = freshness(s.freshness.as_ref());
    let mut unrendered =
        json!({"loaded_at_field": s.loaded_at_field, "loaded_at_query": Value::Null, "meta": {}, "tags": []});
    if s.freshness.as_ref().is_some_and(|f| !f.is_null()) {
        unrendered["freshness"] = fresh.clone();
    }
    json!({
        "database": n.database,
        "schema": n.schema,
        "name": n.name,
        "resource_type": "source",
        "package_name": n.package,
        "path": n.path,
        "original_file_path": n.file.display().to_string(),
        "unique_id": n.unique_id,
        "fqn": n.fqn,
        "source_name": s.source_name,
        "source_description": s.source_description,
        "loader": "",
        "identifier": s.identifier,
        "quoting": {"database": Value::Null, "schema": Value::Null, "identifier": Value::Null, "column": Value::Null},
        "loaded_at_field": s.loaded_at_field,
        "loaded_at_query": Value::Null,
        "freshness": fresh,
        "external": Value::Null,
        "description": n.description,
        "columns": n.columns.iter().map(|c| (c.name.clone(), json!({"name": c.name, "description": c.description, "meta": c.meta, "data_type": c.data_type, "constraints": [], "quote": Value::Null, "tags": [], "granularity": Value::Null, "doc_blocks": [], "config": {"meta": {}, "tags": []}}))).collect::<Map<_, _>>(),
        "meta": {},
        "source_meta": {},
        "tags": [],
        "config": {"enabled": true, "event_time": Value::Null, "freshness": fresh, "meta": {}, "tags": [], "loaded_at_field": s.loaded_at_field, "loaded_at_query": Value::Null},
        "patch_path": Value::Null,
        "unrendered_config": unrendered,
        "relation_name": n.relation_display(),
        "created_at": 0.0,
        "unrendered_database": s.unrendered_database,
        "unrendered_schema": s.unrendered_schema,
        "doc_blocks": [],
    })
}

/// Writes `manifest.json` (compact, as dbt writes it), one node at a time so a large project never holds the whole
/// document in memory.
pub fn write_manifest(
    m: &Manifest,
    compiled: &std::collections::HashMap<String, String>,
    w: &mut impl std::io::Write,
) -> std::io::Result<()> {
    // Secrets (dbt's `DBT_ENV_SECRET_*` values, …) are masked in every string, node by node.
    let mut rest = manifest_without_nodes(m);
    glue_project::redact::scrub_json(&mut rest);
    let rest = rest.as_object_mut().expect("an object");
    rest.remove("nodes");
    w.write_all(b"{\"nodes\":{")?;
    let mut first = true;
    for n in m.nodes.values() {
        if matches!(n.resource_type, ResourceType::Source | ResourceType::UnitTest) {
            continue;
        }
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        serde_json::to_writer(&mut *w, &n.unique_id)?;
        w.write_all(b":")?;
        let mut entry = node_entry(m, n, compiled.get(&n.unique_id));
        glue_project::redact::scrub_json(&mut entry);
        serde_json::to_writer(&mut *w, &entry)?;
    }
    w.write_all(b"}")?;
    for (k, v) in rest.iter() {
        w.write_all(b",")?;
        serde_json::to_writer(&mut *w, k)?;
        w.write_all(b":")?;
        serde_json::to_writer(&mut *w, v)?;
    }
    w.write_all(b"}")?;
    w.flush()
}

/// Writes `manifest.json` at `path` (through a temporary file, so readers never see half a manifest).
pub fn write_manifest_file(
    m: &Manifest,
    compiled: &std::collections::HashMap<String, String>,
    path: &std::path::Path,
) -> crate::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| crate::CliError::io(dir, e))?;
    let tmp = temporary_sibling(path);
    let written = (|| {
        let f = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(f);
        write_manifest(m, compiled, &mut w)?;
        std::io::Write::flush(&mut w)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(crate::CliError::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| crate::CliError::io(path, e))
}

/// A temporary file beside `path` that no other process (two `glue` runs in one project) or thread writes at the
/// same time: it is renamed over `path` once complete, so readers see the old file or the new one whole.
pub fn temporary_sibling(path: &std::path::Path) -> std::path::PathBuf {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Writes `bytes` to `path` through a [`temporary_sibling`] and a rename.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temporary_sibling(path);
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

/// `manifest.json` as a value (tests, small projects).
pub fn manifest_json(m: &Manifest, compiled: &std::collections::HashMap<String, String>) -> Value {
    let mut buf = Vec::new();
    write_manifest(m, compiled, &mut buf).expect("writing to memory");
    serde_json::from_slice(&buf).expect("valid JSON")
}

fn manifest_without_nodes(m: &Manifest) -> Value {
    let nodes = Map::new();
    let mut sources = Map::new();
    let mut unit_tests = Map::new();
    let mut parent_map: Map<String, Value> = Map::new();
    let mut child_map: Map<String, Value> = Map::new();
    for n in m.nodes.values() {
        parent_map.insert(n.unique_id.clone(), json!(n.depends_on));
        child_map.entry(n.unique_id.clone()).or_insert(json!([]));
        for d in &n.depends_on {
            if let Some(a) = child_map.entry(d.clone()).or_insert(json!([])).as_array_mut() {
                a.push(json!(n.unique_id));
            }
        }
        match n.resource_type {
            ResourceType::Source => {
                sources.insert(n.unique_id.clone(), source_entry(n));
            }
            ResourceType::UnitTest => {
                let u = n.unit.as_ref().expect("unit");
                unit_tests.insert(
                    n.unique_id.clone(),
                    json!({
                        "model": u.model, "given": u.given.iter().map(|(i, r)| json!({"input": i, "rows": r, "format": "dict", "fixture": Value::Null})).collect::<Vec<_>>(),
                        "expect": {"rows": u.expect, "format": "dict", "fixture": Value::Null},
                        "name": n.name, "resource_type": "unit_test", "package_name": n.package, "path": n.path,
                        "original_file_path": n.file.display().to_string(), "unique_id": n.unique_id, "fqn": n.fqn,
                        "description": "", "overrides": Value::Null, "depends_on": {"macros": [], "nodes": n.depends_on},
                        "config": {"tags": [], "meta": {}, "enabled": true}, "checksum": Value::Null, "schema": n.schema,
                        "created_at": 0.0, "versions": Value::Null, "version": Value::Null,
                    }),
                );
            }
            _ => {}
        }
    }
    let mut macros = Map::new();
    for f in &m.macro_files {
        // The text as written (`{% test %}` blocks included), as dbt stores `macro_sql`.
        let source = glue_jinja::macros::preprocess_macros(&f.source);
        let originals = glue_jinja::macros::split_blocks(&f.source);
        for (i, (name, text)) in glue_jinja::macros::split_macros(&source)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let text = originals.get(i).cloned().unwrap_or(text);
            let id = format!("macro.{}.{}", f.package, name);
            macros.insert(
                id.clone(),
                json!({"name": name, "resource_type": "macro", "package_name": f.package, "path": f.name,
                    "original_file_path": f.name, "unique_id": id, "macro_sql": text.trim_start_matches('\n'),
                    "depends_on": {"macros": []}, "description": "", "meta": {},
                    "docs": {"show": true, "node_color": Value::Null}, "patch_path": Value::Null, "arguments": [],
                    "created_at": 0.0, "supported_languages": Value::Null}),
            );
        }
    }
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "dbt_version": DBT_COMPAT_VERSION,
            "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "invocation_id": m.shared.invocation_id,
            "invocation_started_at": Value::Null,
            "env": custom_env(),
            "project_name": m.project.name,
            "project_id": glue_jinja::md5_hex(m.project.name.as_bytes()),
            "user_id": Value::Null,
            "send_anonymous_usage_stats": false,
            "adapter_type": "glue",
            "quoting": {"database": false, "schema": false, "identifier": false, "column": Value::Null},
            "run_started_at": m.shared.run_started_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        },
        "nodes": nodes,
        "sources": sources,
        "macros": macros,
        "docs": {},
        "exposures": {},
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": parent_map,
        "child_map": child_map,
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": unit_tests,
        "functions": {},
    })
}

/// `run_results.json`.
pub fn run_results_json(invocation_id: &str, results: &[NodeResult], elapsed: f64, args: Value) -> Value {
    json!({
        "metadata": metadata("run-results", "v6", invocation_id),
        "results": results.iter().map(|r| json!({
            "status": r.status.as_str(),
            "timing": [
                {"name": "compile", "started_at": r.timing.0, "completed_at": r.timing.1},
                {"name": "execute", "started_at": r.timing.0, "completed_at": r.timing.1},
            ],
            "thread_id": r.thread_id,
            "execution_time": r.execution_time,
            "adapter_response": {"_message": r.message.lines().next().unwrap_or(""), "code": "OK", "rows_affected": r.rows_affected},
            "message": r.message,
            "failures": r.failures,
            "unique_id": r.unique_id,
            "compiled": r.compiled_code.is_some(),
            "compiled_code": r.compiled_code,
            "relation_name": r.relation_name,
            "batch_results": Value::Null,
        })).collect::<Vec<_>>(),
        "elapsed_time": elapsed,
        "args": args,
    })
}

/// Where a node's compiled or run SQL goes under `target/<kind>/`, as dbt places it: the node's file, a generic
/// test under its YAML file (`models/schema.yml/<test>.sql`), a snapshot by its name.
pub fn target_path(base: &Path, node: &Node) -> PathBuf {
    let p = base.join(&node.package).join(&node.file);
    if node.test.is_some() {
        p.join(format!("{}.sql", node.name))
    } else if node.resource_type == ResourceType::Snapshot {
        p.with_file_name(format!("{}.sql", node.name))
    } else {
        p
    }
}

/// Writes a file under `target/`, creating directories.
pub fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| CliError::io(d, e))?;
    }
    crate::artifacts::write_atomically(path, text.as_bytes()).map_err(|e| CliError::io(path, e))
}
