//! YAML properties files: descriptions, columns, configs and tests of models, seeds, snapshots and sources.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::files::{files_under, read, rel};
use crate::error::{ProjectError, Result};
use crate::node::{ColumnInfo, ResourceType};
use crate::project::Project;
use crate::yaml;

/// YAML properties of one node (`models:` / `seeds:` / `snapshots:` entries).
#[derive(Debug, Clone, Default)]
pub(crate) struct Patch {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) description: String,
    pub(crate) columns: Vec<ColumnInfo>,
    pub(crate) config: Map<String, Value>,
    pub(crate) tests: Vec<(Option<String>, Value)>,
}

pub(crate) fn columns_of(
    file: &Path,
    entry: &Map<String, Value>,
    tests: &mut Vec<(Option<String>, Value)>,
) -> Result<Vec<ColumnInfo>> {
    let mut cols = Vec::new();
    if let Some(Value::Array(list)) = entry.get("columns") {
        for c in list {
            let name = yaml::string(file, "columns.name", c.get("name"))?
                .ok_or_else(|| ProjectError::project(file, None, "every column needs a `name`"))?;
            for key in ["data_tests", "tests"] {
                if let Some(Value::Array(t)) = c.get(key) {
                    for t in t {
                        tests.push((Some(name.clone()), t.clone()));
                    }
                }
            }
            cols.push(ColumnInfo {
                description: yaml::string(file, "description", c.get("description"))?.unwrap_or_default(),
                data_type: yaml::string(file, "data_type", c.get("data_type"))?,
                meta: c.get("meta").and_then(Value::as_object).cloned().unwrap_or_default(),
                name,
            });
        }
    }
    Ok(cols)
}

type SourceTable = (PathBuf, usize, String, Map<String, Value>, Map<String, Value>);

/// Everything the YAML files declare.
#[derive(Default)]
pub(crate) struct Properties {
    pub(crate) patches: HashMap<(ResourceType, String, String), Patch>,
    /// (file, line, package, the source entry, the table entry).
    pub(crate) sources: Vec<SourceTable>,
    pub(crate) yaml_snapshots: Vec<(PathBuf, usize, Map<String, Value>)>,
    pub(crate) unit_tests: Vec<(PathBuf, usize, Map<String, Value>)>,
}

pub(crate) fn read_properties(project_root: &Path, pkg: &Project, props: &mut Properties) -> Result<()> {
    let dirs: Vec<String> = pkg
        .model_paths
        .iter()
        .chain(&pkg.seed_paths)
        .chain(&pkg.snapshot_paths)
        .chain(&pkg.macro_paths)
        .chain(&pkg.analysis_paths)
        .chain(&pkg.test_paths)
        .cloned()
        .collect();
    for f in files_under(&pkg.root, &dirs, &["yml", "yaml"]) {
        let text = read(&f)?;
        let shown = rel(project_root, &f);
        let v = yaml::parse(&shown, &text)?;
        let Value::Object(m) = v else { continue };
        let mut cursor = 0;
        for (key, rt) in [
            ("models", ResourceType::Model),
            ("seeds", ResourceType::Seed),
            ("snapshots", ResourceType::Snapshot),
        ] {
            let Some(list) = m.get(key) else { continue };
            let Value::Array(list) = list else {
                return Err(ProjectError::project(
                    &shown,
                    yaml::line_of(&text, key, 0),
                    format!("`{key}:` must be a list"),
                ));
            };
            for entry in list {
                let Value::Object(entry) = entry else {
                    return Err(ProjectError::project(
                        &shown,
                        None,
                        format!("entries of `{key}:` must be mappings"),
                    ));
                };
                let name = yaml::string(&shown, "name", entry.get("name"))?.ok_or_else(|| {
                    ProjectError::project(
                        &shown,
                        yaml::line_of(&text, key, 0),
                        format!("an entry of `{key}:` has no `name`"),
                    )
                })?;
                let line = yaml::line_of(&text, "name", cursor).unwrap_or(1);
                cursor = line;
                if rt == ResourceType::Snapshot && entry.contains_key("relation") {
                    props.yaml_snapshots.push((shown.clone(), line, entry.clone()));
                    continue;
                }
                let mut tests = Vec::new();
                for k in ["data_tests", "tests"] {
                    if let Some(Value::Array(t)) = entry.get(k) {
                        tests.extend(t.iter().map(|t| (None, t.clone())));
                    }
                }
                let columns = columns_of(&shown, entry, &mut tests)?;
                let mut config = yaml::mapping(&shown, "config", entry.get("config"))?
                    .cloned()
                    .unwrap_or_default();
                // Legacy top-level keys dbt still accepts on seeds / models.
                for legacy in ["docs"] {
                    if let Some(v) = entry.get(legacy) {
                        config.insert(legacy.into(), v.clone());
                    }
                }
                let patch = Patch {
                    file: shown.clone(),
                    line,
                    description: yaml::string(&shown, "description", entry.get("description"))?.unwrap_or_default(),
                    columns,
                    config,
                    tests,
                };
                let k = (rt, pkg.name.clone(), name.clone());
                if let Some(prev) = props.patches.get(&k) {
                    return Err(ProjectError::project(
                        &shown,
                        Some(line),
                        format!(
                            "{} `{name}` is described twice: here and in {}:{}",
                            rt.as_str(),
                            prev.file.display(),
                            prev.line
                        ),
                    ));
                }
                props.patches.insert(k, patch);
            }
        }
        if let Some(Value::Array(list)) = m.get("sources") {
            let mut cur = 0;
            for s in list {
                let Value::Object(s) = s else { continue };
                let line = yaml::line_of(&text, "name", cur).unwrap_or(1);
                cur = line;
                for t in s.get("tables").and_then(Value::as_array).into_iter().flatten() {
                    if let Value::Object(t) = t {
                        props
                            .sources
                            .push((shown.clone(), line, pkg.name.clone(), s.clone(), t.clone()));
                    }
                }
            }
        }
        if let Some(Value::Array(list)) = m.get("unit_tests") {
            let mut cur = 0;
            for u in list {
                let Value::Object(u) = u else { continue };
                let line = yaml::line_of(&text, "name", cur).unwrap_or(1);
                cur = line;
                props.unit_tests.push((shown.clone(), line, u.clone()));
            }
        }
    }
    Ok(())
}
