//! Loading a project: the root project and its packages, their macros, then every node (models, seeds, snapshots,
//! tests, sources, unit tests) parsed, patched with its properties and resolved.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::files::{SNAPSHOT_BLOCK, files_under, placement, read, rel, sha256_of};
use super::generic_tests::generic_test;
use super::keys::warn_unknown_keys;
use super::manifest::{LoadOptions, Manifest};
use super::packages::{package_vars, resolve_dependencies};
use super::properties::{Properties, columns_of, read_properties};
use super::state::{Loader, config_layers, new_node, render_project_configs};
use super::unit_tests::unit_test;
use crate::error::{ProjectError, Result};
use crate::node::{Attached, Node, ResourceType, SourceInfo};
use crate::project::Project;
use crate::yaml;
use glue_jinja::{Jinja, MacroFile, Mode, NodeCtx, Shared, merge_layer};

/// Loads the project at `dir`.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Manifest> {
    let mut project = Project::load(dir)?;
    let mut packages = project.packages()?;
    let mut warnings = project.warnings.clone();

    // Macros.
    let mut macro_files = Vec::new();
    for p in std::iter::once(&project).chain(&packages) {
        let mut generic_dirs: Vec<String> = p.test_paths.iter().map(|t| format!("{t}/generic")).collect();
        generic_dirs.extend(p.macro_paths.iter().cloned());
        for f in files_under(&p.root, &generic_dirs, &["sql", "jinja"]) {
            let shown = rel(&project.root, &f);
            macro_files.push(MacroFile {
                package: p.name.clone(),
                name: shown.display().to_string(),
                source: read(&f)?,
            });
        }
    }
    let dispatch = project.dispatch.clone();
    // The query comment's template is a macro of the root project (not listed among the project's macros).
    let mut jinja_files = macro_files.clone();
    jinja_files.extend(project.query_comment.macro_file(&project.name));
    let jinja = Jinja::new(&project.name, jinja_files, dispatch).map_err(|e| ProjectError::Jinja {
        at: crate::error::Location {
            file: PathBuf::from(e.file.clone().unwrap_or_default()),
            line: e.line,
        },
        what: "macros".into(),
        message: e.message,
    })?;
    let jinja = Arc::new(jinja);
    let shared = Arc::new(Shared {
        macros: jinja.macros().clone(),
        root_package: project.name.clone(),
        target: minijinja::Value::from_serialize(&opts.target),
        vars: package_vars(&project, &packages, &opts.cli_vars),
        invocation_id: opts.invocation_id.clone(),
        run_started_at: chrono::Utc::now(),
        flags: minijinja::Value::from_serialize(&opts.flags),
        // While parsing, `graph` is empty (as in dbt, it is filled for execution).
        graph: std::sync::RwLock::new(minijinja::Value::from_serialize(
            serde_json::json!({"nodes": {}, "sources": {}, "exposures": {}, "metrics": {}, "macros": {}}),
        )),
        resolver: std::sync::RwLock::new(None),
        engine: std::sync::RwLock::new(None),
        handle: tokio::runtime::Handle::try_current().ok(),
        log: opts.log.clone(),
    });
    for p in std::iter::once(&mut project).chain(&mut packages) {
        render_project_configs(&jinja, &shared, p)?;
    }
    let all: Vec<&Project> = std::iter::once(&project).chain(&packages).collect();
    let mut loader = Loader {
        jinja: jinja.clone(),
        shared: shared.clone(),
        warnings: Vec::new(),
    };

    let mut props = Properties::default();
    for p in &all {
        read_properties(&project.root, p, &mut props)?;
    }

    let mut nodes: Vec<Node> = Vec::new();
    for p in &all {
        let shown_root = |f: &Path| rel(&project.root, f);
        // Models.
        for f in files_under(&p.root, &p.model_paths, &["sql", "py"]) {
            let (path, folders) = placement(&p.root, &p.model_paths, &f);
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut fqn = vec![p.name.clone()];
            fqn.extend(folders);
            fqn.push(name.clone());
            let raw = read(&f)?;
            let language = if f.extension().is_some_and(|e| e == "py") {
                "python"
            } else {
                "sql"
            };
            nodes.push(new_node(
                ResourceType::Model,
                p,
                name,
                shown_root(&f),
                path.display().to_string(),
                fqn,
                raw,
                language,
            ));
        }
        // Seeds.
        for f in files_under(&p.root, &p.seed_paths, &["csv"]) {
            let (path, folders) = placement(&p.root, &p.seed_paths, &f);
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut fqn = vec![p.name.clone()];
            fqn.extend(folders);
            fqn.push(name.clone());
            let mut n = new_node(
                ResourceType::Seed,
                p,
                name,
                shown_root(&f),
                path.display().to_string(),
                fqn,
                String::new(),
                "sql",
            );
            n.checksum = sha256_of(&read(&f)?);
            n.seed_path = Some(f.clone());
            nodes.push(n);
        }
        // Snapshots ({% snapshot %} blocks).
        for f in files_under(&p.root, &p.snapshot_paths, &["sql"]) {
            let text = read(&f)?;
            let (path, folders) = placement(&p.root, &p.snapshot_paths, &f);
            for cap in SNAPSHOT_BLOCK.captures_iter(&text) {
                let name = cap[1].to_string();
                let body = cap.get(2).unwrap();
                let line = text[..body.start()].matches('\n').count() + 1;
                let mut fqn = vec![p.name.clone()];
                fqn.extend(folders.iter().cloned());
                fqn.push(f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string());
                fqn.push(name.clone());
                let mut n = new_node(
                    ResourceType::Snapshot,
                    p,
                    name.clone(),
                    shown_root(&f),
                    path.display().to_string(),
                    fqn,
                    body.as_str().to_string(),
                    "sql",
                );
                n.line = line;
                n.checksum = sha256_of(&text);
                nodes.push(n);
            }
        }
        // Singular tests.
        for f in files_under(&p.root, &p.test_paths, &["sql"]) {
            if p.test_paths
                .iter()
                .any(|t| f.starts_with(p.root.join(t).join("generic")))
            {
                continue;
            }
            let (path, folders) = placement(&p.root, &p.test_paths, &f);
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut fqn = vec![p.name.clone()];
            fqn.extend(folders);
            fqn.push(name.clone());
            let raw = read(&f)?;
            nodes.push(new_node(
                ResourceType::Test,
                p,
                name,
                shown_root(&f),
                path.display().to_string(),
                fqn,
                raw,
                "sql",
            ));
        }
    }
    // YAML-defined snapshots.
    for (file, line, entry) in &props.yaml_snapshots {
        let p = all
            .iter()
            .find(|p| project.root.join(file).starts_with(&p.root))
            .copied()
            .unwrap_or(&project);
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let relation = yaml::string(file, "relation", entry.get("relation"))?.unwrap_or_default();
        let raw = format!("select * from {{{{ {relation} }}}}");
        let fqn = vec![p.name.clone(), name.clone()];
        let mut n = new_node(
            ResourceType::Snapshot,
            p,
            name,
            file.clone(),
            file.display().to_string(),
            fqn,
            raw,
            "sql",
        );
        n.line = *line;
        n.config = yaml::mapping(file, "config", entry.get("config"))?
            .cloned()
            .unwrap_or_default();
        n.description = entry
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        nodes.push(n);
    }

    // Duplicate names.
    let mut seen: HashMap<(String, String), &Node> = HashMap::new();
    for n in &nodes {
        if !n.resource_type.builds_relation() {
            continue;
        }
        if let Some(prev) = seen.insert((n.package.clone(), n.name.clone()), n) {
            return Err(ProjectError::project(
                &n.file,
                None,
                format!(
                    "two resources are named `{}`: {} and {} (names must be unique within a package)",
                    n.name,
                    prev.file.display(),
                    n.file.display()
                ),
            ));
        }
    }

    // Config: project tree, then YAML properties, then config() in the file.
    let owner = |pkg: &str| all.iter().find(|p| p.name == pkg).copied().unwrap_or(&project);
    let mut finished = Vec::with_capacity(nodes.len());
    let mut generic_tests = Vec::new();
    for mut n in nodes {
        let tree: fn(&Project) -> &Value = match n.resource_type {
            ResourceType::Model => |p| &p.models,
            ResourceType::Seed => |p| &p.seeds,
            ResourceType::Snapshot => |p| &p.snapshots,
            _ => |p| &p.tests,
        };
        let mut cfg = config_layers(owner(&n.package), &project, tree, &n.fqn);
        let yaml_cfg = std::mem::take(&mut n.config);
        if let Some(patch) = props
            .patches
            .remove(&(n.resource_type, n.package.clone(), n.name.clone()))
        {
            merge_layer(&mut cfg, &patch.config);
            n.description = patch.description;
            n.columns = patch.columns;
            n.patch_path = Some(format!("{}://{}", n.package, patch.file.display()));
            for (col, t) in patch.tests {
                generic_tests.push((
                    n.package.clone(),
                    patch.file.clone(),
                    patch.line,
                    Attached::Ref(None, n.name.clone()),
                    col,
                    t,
                ));
            }
        }
        merge_layer(&mut cfg, &yaml_cfg);
        n.unrendered = cfg.clone();
        n.config = cfg;
        n.schema = opts
            .target
            .get("schema")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        n.alias = n.name.clone();
        loader.parse_render(&mut n)?;
        if n.language == "python" {
            n.config.entry("materialized").or_insert(Value::String("table".into()));
        }
        if n.resource_type.builds_relation() {
            loader.name_node(&mut n)?;
        } else {
            n.schema = format!("{}_dbt_test__audit", n.schema);
        }
        if n.checksum.is_empty() {
            n.checksum = sha256_of(&n.raw_code);
        }
        warn_unknown_keys(&n, &n.config, &mut loader.warnings);
        if n.resource_type.builds_relation() && n.enabled() {
            // Every key of the reference is checked now, so `compile` and `plan` report bad values too.
            let mut cfg = n.config.clone();
            match n.resource_type {
                ResourceType::Seed => {
                    cfg.insert("materialized".into(), Value::String("seed".into()));
                }
                ResourceType::Snapshot => {
                    cfg.insert("materialized".into(), Value::String("snapshot".into()));
                }
                _ => {}
            }
            let r = glue_materialize::ModelRef {
                name: n.name.clone(),
                path: Some(n.file.display().to_string()),
            };
            n.model_config = Some(
                glue_materialize::ModelConfig::from_json_for(&r, &Value::Object(cfg))
                    .map_err(|e| ProjectError::Config(e.to_string()))?,
            );
        }
        finished.push(n);
    }
    for ((rt, pkg, name), patch) in props.patches {
        let other = finished
            .iter()
            .find(|n| n.package == pkg && n.name == name && n.resource_type.builds_relation());
        loader.warnings.push(match other {
            Some(n) => format!(
                "{}:{}: `{name}` is a {}, described under `{}s:`; its tests apply, its other properties do not",
                patch.file.display(),
                patch.line,
                n.resource_type.as_str(),
                rt.as_str()
            ),
            None => format!(
                "{}:{}: properties for {} `{name}` of package `{pkg}`, which does not exist",
                patch.file.display(),
                patch.line,
                rt.as_str()
            ),
        });
        // As dbt does, the tests are generated anyway: they reach the relation through ref().
        for (col, t) in patch.tests {
            generic_tests.push((
                pkg.clone(),
                patch.file.clone(),
                patch.line,
                Attached::Ref(None, name.clone()),
                col,
                t,
            ));
        }
    }

    // Sources.
    for (file, line, pkg, src, table) in &props.sources {
        let p = owner(pkg);
        let source_name = yaml::string(file, "sources.name", src.get("name"))?
            .ok_or_else(|| ProjectError::project(file, Some(*line), "every source needs a `name`"))?;
        let table_name = yaml::string(file, "tables.name", table.get("name"))?.ok_or_else(|| {
            ProjectError::project(
                file,
                Some(*line),
                format!("a table of source `{source_name}` has no `name`"),
            )
        })?;
        let render = |v: Option<String>| -> Result<Option<String>> {
            match v {
                Some(s) if s.contains("{{") => {
                    let ctx = NodeCtx::project(shared.clone(), Mode::Parse, pkg.clone());
                    jinja.render_str(&s, &ctx).map(Some).map_err(|e| ProjectError::Jinja {
                        at: crate::error::Location {
                            file: file.clone(),
                            line: Some(*line),
                        },
                        what: format!("source `{source_name}`"),
                        message: e.message,
                    })
                }
                other => Ok(other),
            }
        };
        let unrendered_schema = yaml::string(file, "schema", src.get("schema"))?;
        let unrendered_database = yaml::string(file, "database", src.get("database"))?;
        let schema = render(unrendered_schema.clone())?.unwrap_or_else(|| source_name.clone());
        let database = render(unrendered_database.clone())?;
        let identifier =
            render(yaml::string(file, "identifier", table.get("identifier"))?)?.unwrap_or_else(|| table_name.clone());
        let mut n = new_node(
            ResourceType::Source,
            p,
            table_name.clone(),
            file.clone(),
            file.display().to_string(),
            vec![p.name.clone(), source_name.clone(), table_name.clone()],
            String::new(),
            "sql",
        );
        n.unique_id = format!("source.{}.{}.{}", p.name, source_name, table_name);
        n.schema = schema;
        n.alias = identifier.clone();
        n.database = database;
        n.line = *line;
        n.description = yaml::string(file, "description", table.get("description"))?.unwrap_or_default();
        let mut tests = Vec::new();
        n.columns = columns_of(file, table, &mut tests)?;
        for k in ["data_tests", "tests"] {
            if let Some(Value::Array(t)) = table.get(k) {
                tests.extend(t.iter().map(|t| (None, t.clone())));
            }
        }
        for (col, t) in tests {
            generic_tests.push((
                pkg.clone(),
                file.clone(),
                *line,
                Attached::Source(source_name.clone(), table_name.clone()),
                col,
                t,
            ));
        }
        n.source = Some(SourceInfo {
            source_name,
            identifier,
            source_description: yaml::string(file, "description", src.get("description"))?.unwrap_or_default(),
            loaded_at_field: yaml::string(
                file,
                "loaded_at_field",
                table.get("loaded_at_field").or(src.get("loaded_at_field")),
            )?,
            freshness: table.get("freshness").or(src.get("freshness")).cloned(),
            unrendered_schema,
            unrendered_database,
        });
        let mut cfg = Map::new();
        merge_layer(
            &mut cfg,
            src.get("config").and_then(Value::as_object).unwrap_or(&Map::new()),
        );
        merge_layer(
            &mut cfg,
            table.get("config").and_then(Value::as_object).unwrap_or(&Map::new()),
        );
        n.config = cfg;
        finished.push(n);
    }

    // Generic tests.
    for (pkg, file, line, attached, column, t) in generic_tests {
        let n = generic_test(&project, owner(&pkg), &file, line, attached, column, &t, &mut loader)?;
        finished.push(n);
    }

    // Unit tests.
    for (file, line, u) in &props.unit_tests {
        let p = all
            .iter()
            .find(|p| project.root.join(file).starts_with(&p.root))
            .copied()
            .unwrap_or(&project);
        finished.push(unit_test(p, file, *line, u)?);
    }

    // Index, disable, resolve dependencies.
    let mut by_id = BTreeMap::new();
    let mut disabled = BTreeMap::new();
    for n in finished {
        if n.enabled() {
            by_id.insert(n.unique_id.clone(), n);
        } else {
            disabled.insert(n.unique_id.clone(), n);
        }
    }
    resolve_dependencies(&project, &mut by_id, &mut disabled, &mut warnings)?;
    warnings.extend(loader.warnings);
    Ok(Manifest {
        project,
        packages,
        nodes: by_id,
        disabled,
        jinja,
        shared,
        warnings,
        macro_files,
    })
}
