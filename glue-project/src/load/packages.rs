//! Packages: each package's vars, and the nodes packages and projects depend on, resolved (refs, sources, disabled nodes).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::error::{ProjectError, Result};
use crate::node::{Node, ResourceType};
use crate::project::Project;

/// The vars each package sees: its own project's, then the root project's (global and scoped), then `--vars`.
pub(crate) fn package_vars(
    root: &Project,
    packages: &[Project],
    cli: &Map<String, Value>,
) -> HashMap<String, Map<String, Value>> {
    let all_names: Vec<&str> = std::iter::once(root.name.as_str())
        .chain(packages.iter().map(|p| p.name.as_str()))
        .collect();
    let scoped = |p: &Project, for_pkg: &str| -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in &p.vars {
            if !(all_names.contains(&k.as_str()) && v.is_object()) {
                out.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Object(m)) = p.vars.get(for_pkg) {
            out.extend(m.clone());
        }
        out
    };
    let mut out = HashMap::new();
    for p in std::iter::once(root).chain(packages) {
        let mut vars = if p.name == root.name {
            Map::new()
        } else {
            scoped(p, &p.name)
        };
        vars.extend(scoped(root, &p.name));
        vars.extend(cli.clone());
        out.insert(p.name.clone(), vars);
    }
    out
}

/// Resolves each node's refs and sources. A node depending on a missing one is an error, except a data test, which
/// dbt disables with a warning (a test of a model that does not exist does not run).
pub(crate) fn resolve_dependencies(
    project: &Project,
    nodes: &mut BTreeMap<String, Node>,
    disabled: &mut BTreeMap<String, Node>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut by_name: HashMap<(String, String), String> = HashMap::new();
    let mut any_pkg: HashMap<String, Vec<String>> = HashMap::new();
    let mut sources: HashMap<(String, String), String> = HashMap::new();
    for n in nodes.values() {
        if n.resource_type.builds_relation() {
            by_name.insert((n.package.clone(), n.name.clone()), n.unique_id.clone());
            any_pkg.entry(n.name.clone()).or_default().push(n.unique_id.clone());
        }
        if let Some(s) = &n.source {
            sources.insert((s.source_name.clone(), n.name.clone()), n.unique_id.clone());
        }
    }
    // A source naming a relation this project builds (a seed read back as a source) depends on the node that builds
    // it, so `glue build` orders them (dbt leaves them unordered).
    let mut builders: HashMap<(String, String), String> = HashMap::new();
    for n in nodes.values() {
        if n.resource_type.builds_relation() && n.materialized() != "ephemeral" {
            builders.insert((n.schema.to_lowercase(), n.alias.to_lowercase()), n.unique_id.clone());
        }
    }
    let ids: Vec<String> = nodes.keys().cloned().collect();
    for id in ids {
        let n = &nodes[&id];
        let mut deps = Vec::new();
        let mut missing = None;
        if n.resource_type == ResourceType::Source
            && let Some(b) = builders.get(&(n.schema.to_lowercase(), n.alias.to_lowercase()))
        {
            deps.push(b.clone());
        }
        for (pkg, name) in &n.refs {
            let found = match pkg {
                Some(p) => by_name.get(&(p.clone(), name.clone())).cloned(),
                None => by_name
                    .get(&(n.package.clone(), name.clone()))
                    .or_else(|| by_name.get(&(project.name.clone(), name.clone())))
                    .or_else(|| any_pkg.get(name).and_then(|v| v.first()))
                    .cloned(),
            };
            match found {
                Some(d) => deps.push(d),
                None => {
                    let why = if disabled.values().any(|d| &d.name == name) {
                        " (it is disabled)"
                    } else {
                        ""
                    };
                    missing = Some(format!(
                        "{} `{}` depends on `{}`{}, which was not found{why}",
                        n.resource_type.as_str(),
                        n.name,
                        name,
                        pkg.as_deref().map(|p| format!(" in package `{p}`")).unwrap_or_default()
                    ));
                    break;
                }
            }
        }
        for (s, t) in &n.sources {
            if missing.is_some() {
                break;
            }
            match sources.get(&(s.clone(), t.clone())) {
                Some(d) => deps.push(d.clone()),
                None => {
                    missing = Some(format!(
                        "{} `{}` depends on source `{s}.{t}`, which was not found",
                        n.resource_type.as_str(),
                        n.name
                    ));
                }
            }
        }
        if let Some(message) = missing {
            if n.resource_type != ResourceType::Test {
                return Err(ProjectError::project(&n.file, Some(n.line), message));
            }
            warnings.push(format!(
                "{} ({}:{}); the test is disabled",
                message,
                n.file.display(),
                n.line
            ));
            let n = nodes.remove(&id).unwrap();
            disabled.insert(id, n);
            continue;
        }
        deps.dedup();
        nodes.get_mut(&id).unwrap().depends_on = deps;
    }
    Ok(())
}
