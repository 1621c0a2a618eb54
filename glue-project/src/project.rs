//! `dbt_project.yml`: paths, vars, hooks and the `+config` trees, for the root project and installed packages.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{ProjectError, Result};
use crate::query_comment::QueryCommentConfig;
use crate::yaml;
use glue_jinja::Dispatch;

/// Top-level keys of `dbt_project.yml` glue understands (others warn).
const PROJECT_KEYS: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "source-paths",
    "seed-paths",
    "data-paths",
    "snapshot-paths",
    "macro-paths",
    "test-paths",
    "analysis-paths",
    "docs-paths",
    "asset-paths",
    "target-path",
    "log-path",
    "packages-install-path",
    "clean-targets",
    "vars",
    "models",
    "seeds",
    "snapshots",
    "tests",
    "data_tests",
    "sources",
    "unit_tests",
    "on-run-start",
    "on-run-end",
    "require-dbt-version",
    "quoting",
    "dispatch",
    "query-comment",
    "flags",
    "analyses",
    "exposures",
    "metrics",
    "semantic-models",
    "saved-queries",
    "restrict-access",
];

/// A loaded `dbt_project.yml` (the root project or a package).
#[derive(Debug, Clone)]
pub struct Project {
    /// The directory holding `dbt_project.yml`.
    pub root: PathBuf,
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: Option<String>,
    /// `profile` (root project only matters).
    pub profile: Option<String>,
    /// `model-paths`.
    pub model_paths: Vec<String>,
    /// `seed-paths`.
    pub seed_paths: Vec<String>,
    /// `snapshot-paths`.
    pub snapshot_paths: Vec<String>,
    /// `macro-paths`.
    pub macro_paths: Vec<String>,
    /// `test-paths`.
    pub test_paths: Vec<String>,
    /// `analysis-paths`.
    pub analysis_paths: Vec<String>,
    /// `target-path`.
    pub target_path: String,
    /// `packages-install-path`.
    pub packages_install_path: String,
    /// `clean-targets`.
    pub clean_targets: Vec<String>,
    /// `vars`.
    pub vars: Map<String, Value>,
    /// `models:` config tree.
    pub models: Value,
    /// `seeds:` config tree.
    pub seeds: Value,
    /// `snapshots:` config tree.
    pub snapshots: Value,
    /// `data_tests:` (or `tests:`) config tree.
    pub tests: Value,
    /// `sources:` config tree.
    pub sources: Value,
    /// `unit_tests:` config tree.
    pub unit_tests: Value,
    /// `on-run-start` hooks (raw Jinja).
    pub on_run_start: Vec<String>,
    /// `on-run-end` hooks (raw Jinja).
    pub on_run_end: Vec<String>,
    /// `dispatch`.
    pub dispatch: Vec<Dispatch>,
    /// `query-comment` (the root project's is the one used).
    pub query_comment: QueryCommentConfig,
    /// Warnings found while loading (unknown keys).
    pub warnings: Vec<String>,
    /// `flags: {allow_local_packages_outside_project: true}`: `local:` packages may be outside the project's
    /// directory tree ([`OUTSIDE_PACKAGES_FLAG`]).
    pub allow_outside_packages: bool,
}

/// The `flags:` entry of `dbt_project.yml` that lets `local:` packages (read in place, copied by `glue deps`) live
/// outside the project's directory tree, e.g. `local: ../shared`. Without it such a package is refused: a
/// `packages.yml` cannot make glue read or copy a directory anywhere on the machine. dbt keeps unknown `flags:`
/// (adapters define their own), so the file stays valid for dbt.
pub const OUTSIDE_PACKAGES_FLAG: &str = "allow_local_packages_outside_project";

fn paths(file: &Path, m: &Map<String, Value>, keys: &[&str], default: &str) -> Result<Vec<String>> {
    for k in keys {
        if let Some(v) = yaml::strings(file, k, m.get(*k))? {
            return Ok(v);
        }
    }
    Ok(vec![default.to_string()])
}

impl Project {
    /// Loads the project in `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let file = dir.join("dbt_project.yml");
        if !file.exists() {
            return Err(ProjectError::project(
                &file,
                None,
                "no dbt_project.yml here; run glue in a dbt project or pass --project-dir",
            ));
        }
        let v = yaml::read(&file)?;
        let Value::Object(m) = v else {
            return Err(ProjectError::project(&file, None, "dbt_project.yml must be a mapping"));
        };
        let text = std::fs::read_to_string(&file).map_err(|e| ProjectError::io(&file, e))?;
        let mut warnings = Vec::new();
        for k in m.keys() {
            if !PROJECT_KEYS.contains(&k.as_str()) {
                let line = yaml::line_of(&text, k, 0).map(|l| format!(":{l}")).unwrap_or_default();
                warnings.push(format!(
                    "{}{line}: unknown key `{k}` in dbt_project.yml (ignored)",
                    file.display()
                ));
            }
        }
        let name = yaml::string(&file, "name", m.get("name"))?
            .ok_or_else(|| ProjectError::project(&file, None, "`name` is required"))?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ProjectError::project(
                &file,
                yaml::line_of(&text, "name", 0),
                format!("project name `{name}` must be letters, digits and underscores"),
            ));
        }
        let hooks =
            |key: &str| -> Result<Vec<String>> { Ok(yaml::strings(&file, key, m.get(key))?.unwrap_or_default()) };
        let mut dispatch = Vec::new();
        if let Some(Value::Array(items)) = m.get("dispatch") {
            for d in items {
                let ns = yaml::string(&file, "dispatch.macro_namespace", d.get("macro_namespace"))?
                    .ok_or_else(|| ProjectError::project(&file, None, "dispatch entries need `macro_namespace`"))?;
                let order = yaml::strings(&file, "dispatch.search_order", d.get("search_order"))?.unwrap_or_default();
                dispatch.push(Dispatch {
                    namespace: ns,
                    search_order: order,
                });
            }
        }
        let target_path = yaml::string(&file, "target-path", m.get("target-path"))?.unwrap_or_else(|| "target".into());
        let allow_outside_packages =
            match yaml::mapping(&file, "flags", m.get("flags"))?.and_then(|f| f.get(OUTSIDE_PACKAGES_FLAG)) {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
                Some(other) => {
                    return Err(ProjectError::project(
                        &file,
                        yaml::line_of(&text, OUTSIDE_PACKAGES_FLAG, 0),
                        format!("flags.{OUTSIDE_PACKAGES_FLAG}: expected true or false, got `{other}`"),
                    ));
                }
            };
        let query_comment =
            QueryCommentConfig::parse(&file, &text, m.contains_key("query-comment"), m.get("query-comment"))?;
        warnings.extend(query_comment.warnings(&file));
        Ok(Self {
            query_comment,
            allow_outside_packages,
            root: dir.to_path_buf(),
            version: yaml::string(&file, "version", m.get("version"))?,
            profile: yaml::string(&file, "profile", m.get("profile"))?,
            model_paths: paths(&file, &m, &["model-paths", "source-paths"], "models")?,
            seed_paths: paths(&file, &m, &["seed-paths", "data-paths"], "seeds")?,
            snapshot_paths: paths(&file, &m, &["snapshot-paths"], "snapshots")?,
            macro_paths: paths(&file, &m, &["macro-paths"], "macros")?,
            test_paths: paths(&file, &m, &["test-paths"], "tests")?,
            analysis_paths: paths(&file, &m, &["analysis-paths"], "analyses")?,
            packages_install_path: yaml::string(&file, "packages-install-path", m.get("packages-install-path"))?
                .unwrap_or_else(|| "dbt_packages".into()),
            clean_targets: yaml::strings(&file, "clean-targets", m.get("clean-targets"))?
                .unwrap_or_else(|| vec![target_path.clone()]),
            target_path,
            vars: yaml::mapping(&file, "vars", m.get("vars"))?
                .cloned()
                .unwrap_or_default(),
            models: m.get("models").cloned().unwrap_or(Value::Null),
            seeds: m.get("seeds").cloned().unwrap_or(Value::Null),
            snapshots: m.get("snapshots").cloned().unwrap_or(Value::Null),
            tests: m
                .get("data_tests")
                .or_else(|| m.get("tests"))
                .cloned()
                .unwrap_or(Value::Null),
            sources: m.get("sources").cloned().unwrap_or(Value::Null),
            unit_tests: m.get("unit_tests").cloned().unwrap_or(Value::Null),
            on_run_start: hooks("on-run-start")?,
            on_run_end: hooks("on-run-end")?,
            dispatch,
            warnings,
            name,
        })
    }

    /// The directory of the `local:` package `local` named in `file`: it must hold a `dbt_project.yml` and, unless
    /// the project sets [`OUTSIDE_PACKAGES_FLAG`], be inside the project's directory tree (symbolic links resolved).
    pub fn local_package_dir(&self, file: &Path, local: &str) -> Result<PathBuf> {
        let dir = self.root.join(local);
        if !dir.join("dbt_project.yml").exists() {
            return Err(ProjectError::project(
                file,
                None,
                format!(
                    "local package `{local}` has no dbt_project.yml (looked in {})",
                    dir.display()
                ),
            ));
        }
        if !self.allow_outside_packages {
            let real = dir.canonicalize().map_err(|e| ProjectError::io(&dir, e))?;
            let root = self.root.canonicalize().map_err(|e| ProjectError::io(&self.root, e))?;
            if !real.starts_with(&root) {
                return Err(ProjectError::project(
                    file,
                    None,
                    format!(
                        "local package `{local}` is outside the project ({} is not under {}); if it is meant to be, \
                         say so in dbt_project.yml: `flags: {{{OUTSIDE_PACKAGES_FLAG}: true}}`",
                        real.display(),
                        root.display()
                    ),
                ));
            }
        }
        Ok(dir)
    }

    /// The packages (each a project): those installed under `packages-install-path`, and `local:` packages of
    /// `packages.yml` read in place (as dbt links them), so a project with only local packages runs without
    /// `glue deps`. Sorted by name.
    pub fn packages(&self) -> Result<Vec<Project>> {
        let mut out: Vec<Project> = Vec::new();
        for f in ["packages.yml", "dependencies.yml"] {
            let file = self.root.join(f);
            if !file.exists() {
                continue;
            }
            let v = yaml::read(&file)?;
            for p in v.get("packages").and_then(Value::as_array).into_iter().flatten() {
                if let Some(local) = p.get("local").and_then(Value::as_str) {
                    let dir = self.local_package_dir(&file, local)?;
                    out.push(Project::load(&dir)?);
                }
            }
        }
        let dir = self.root.join(&self.packages_install_path);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries {
                let e = e.map_err(|e| ProjectError::io(&dir, e))?;
                let p = e.path();
                if p.join("dbt_project.yml").exists() {
                    let pkg = Project::load(&p)?;
                    if !out.iter().any(|o| o.name == pkg.name) {
                        out.push(pkg);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// The config layers a `+config` tree holds for a node with fully qualified name `fqn` (package, directories…, name),
/// from the most general to the most specific.
pub fn tree_layers(tree: &Value, fqn: &[String]) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    let mut level = tree;
    let mut depth = 0;
    while let Value::Object(m) = level {
        let next = fqn.get(depth);
        let mut layer = Map::new();
        for (k, v) in m {
            if k.starts_with('+') {
                layer.insert(k.clone(), v.clone());
            } else if Some(k) == next {
                continue;
            } else if !v.is_object() || is_object_config(k) {
                // Legacy configs without `+` (dbt accepts known config names there).
                layer.insert(k.clone(), v.clone());
            }
        }
        out.push(layer);
        match next.and_then(|n| m.get(n)) {
            Some(child) => {
                level = child;
                depth += 1;
            }
            None => break,
        }
    }
    out
}

/// Config keys whose value is a mapping (so a mapping under that key is a config, not a directory).
fn is_object_config(key: &str) -> bool {
    matches!(
        key,
        "meta"
            | "persist_docs"
            | "column_types"
            | "quoting"
            | "docs"
            | "grants"
            | "contract"
            | "table_properties"
            | "hudi_options"
            | "write_options"
            | "lf_tags_config"
            | "lf_grants"
            | "snapshot_meta_column_names"
            | "lf_inherited_tags"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use glue_jinja::merge_layer;
    use serde_json::json;

    #[test]
    fn layers_follow_the_fqn_and_merge_with_dbt_rules() {
        let tree = json!({
            "+tags": ["all"],
            "shop": {"+materialized": "view", "+meta": {"a": 1}, "staging": {"+tags": "stg", "+materialized": "table",
                "+meta": {"b": 2}, "orders": {"+pre-hook": "select 1"}}, "marts": {"+schema": "m"}}
        });
        let fqn: Vec<String> = ["shop", "staging", "orders"].iter().map(|s| s.to_string()).collect();
        let mut cfg = Map::new();
        for l in tree_layers(&tree, &fqn) {
            merge_layer(&mut cfg, &l);
        }
        merge_layer(
            &mut cfg,
            json!({"pre_hook": "select 2", "tags": ["x", "all"]})
                .as_object()
                .unwrap(),
        );
        assert_eq!(
            Value::Object(cfg),
            json!({"tags": ["all", "stg", "x"], "materialized": "table", "meta": {"a": 1, "b": 2},
                "pre-hook": ["select 1", "select 2"]})
        );
    }
}
