//! `profiles.yml`: finding it, rendering `env_var()` in its values, choosing the target and the engine.

use std::path::{Path, PathBuf};

use glue_materialize::config::SeedMode;
use glue_materialize::{FileFormat, Target};
use serde_json::{Map, Value};

use crate::error::{ProjectError, Result};
use crate::yaml;

/// Keys of a `glue` output this crate reads itself: the engine choice, the planner's target (schema, database, seeds,
/// staging schema), threads and the name Jinja's `target` shows. The engines' own keys come from their parsers and are
/// passed to [`Profile::unknown_keys`] by the caller (glue-session's `GLUE_PROFILE_KEYS` and
/// `SPARK_CONNECT_PROFILE_KEYS`), so a key cannot be parsed without being known.
pub const PROFILE_KEYS: &[&str] = &[
    "type",
    "engine",
    "warehouse",
    "method",
    "schema",
    "database",
    "seed_format",
    "seed_mode",
    "enable_spark_seed_casting",
    "temp_schema",
    "threads",
    "project_name",
];

/// Keys of dbt-glue's profile that have no effect in glue-rs, each with the reason and what to use instead: a target
/// that sets one gets a warning naming it (never a silent no-op).
pub const NO_EFFECT_KEYS: &[(&str, &str)] = &[
    (
        "lf_tags",
        "dbt-glue declares it but never reads it either; tag tables with the model config `lf_tags_config`",
    ),
    (
        "query-comment",
        "dbt reads the query comment from the project, not the profile (dbt-glue sends dbt's default comment \
         whatever this key says); set it with `query-comment:` in dbt_project.yml",
    ),
    (
        "use_arrow",
        "it chooses how dbt-glue's session returns results (S3 feather files); glue-rs's session runner always \
         returns them in the statement's output",
    ),
    (
        "packages",
        "glue-rs does not install Python packages for Python models; ask the session for them with `default_arguments: \
         \"--additional-python-modules=<pkg>,<pkg>\"`",
    ),
];

/// The most nodes run at once (`threads` in a profile, `--threads`): beyond it a run would only exhaust sessions,
/// connections and memory (and the Glue engine's semaphore has a limit of its own).
pub const MAX_THREADS: usize = 1024;

/// Which engine runs the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineChoice {
    /// The embedded engine (`engine: local`) on a warehouse directory.
    Local {
        /// The warehouse directory.
        warehouse: PathBuf,
    },
    /// AWS Glue Interactive Sessions (the default for `type: glue`).
    GlueSession,
    /// A Spark Connect server (`method: spark_connect`, `host: sc://…`).
    SparkConnect {
        /// The `sc://` URL.
        host: String,
    },
}

impl EngineChoice {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::GlueSession => "glue",
            Self::SparkConnect { .. } => "spark_connect",
        }
    }
}

/// The chosen output of a profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profiles file it came from.
    pub path: PathBuf,
    /// Profile name.
    pub name: String,
    /// Target name.
    pub target_name: String,
    /// The output's fields after rendering (secrets included: never log this map).
    pub output: Map<String, Value>,
    /// The engine.
    pub engine: EngineChoice,
    /// `threads` (default 1).
    pub threads: usize,
    /// What the planner needs.
    pub target: Target,
}

/// Where `profiles.yml` is looked for, in dbt's order.
pub fn profiles_dirs(explicit: Option<&Path>, project_dir: &Path) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Some(d) = std::env::var_os("DBT_PROFILES_DIR") {
        out.push(PathBuf::from(d));
    }
    out.push(project_dir.to_path_buf());
    if let Some(home) = std::env::var_os("HOME") {
        out.push(PathBuf::from(home).join(".dbt"));
    }
    out
}

/// Renders a string value of `profiles.yml` (`{{ env_var('X') }}` and friends).
pub type Renderer<'a> = &'a dyn Fn(&str) -> std::result::Result<String, String>;

fn render_values(v: &mut Value, path: &Path, field: &str, render: Renderer<'_>) -> Result<()> {
    match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            let out = render(s).map_err(|m| ProjectError::Profile {
                path: path.to_path_buf(),
                message: format!("field `{field}`: {m}"),
            })?;
            *s = out;
        }
        Value::Array(items) => {
            for i in items {
                render_values(i, path, field, render)?;
            }
        }
        Value::Object(m) => {
            for (k, i) in m.iter_mut() {
                render_values(i, path, &format!("{field}.{k}"), render)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Loads the profile `name` and its target (`target` or the profile's default).
pub fn load(
    dirs: &[PathBuf],
    name: &str,
    target: Option<&str>,
    project_dir: &Path,
    render: Renderer<'_>,
) -> Result<Profile> {
    let path = dirs
        .iter()
        .map(|d| d.join("profiles.yml"))
        .find(|p| p.exists())
        .ok_or_else(|| ProjectError::Profile {
            path: dirs.first().cloned().unwrap_or_default(),
            message: format!(
                "no profiles.yml found (looked in {}); pass --profiles-dir",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let all = yaml::read(&path)?;
    let profile = all.get(name).ok_or_else(|| ProjectError::Profile {
        path: path.clone(),
        message: format!("profile `{name}` (named by dbt_project.yml) is not defined"),
    })?;
    let target_name = match target {
        Some(t) => t.to_string(),
        None => match profile.get("target") {
            Some(Value::String(t)) => {
                let mut t = Value::String(t.clone());
                render_values(&mut t, &path, "target", render)?;
                t.as_str().unwrap_or_default().to_string()
            }
            _ => {
                return Err(ProjectError::Profile {
                    path,
                    message: format!("profile `{name}` has no `target:` and none was given with --target"),
                });
            }
        },
    };
    let outputs = profile
        .get("outputs")
        .and_then(Value::as_object)
        .ok_or_else(|| ProjectError::Profile {
            path: path.clone(),
            message: format!("profile `{name}` has no `outputs:`"),
        })?;
    // The Spark Connect tokens of every output are secrets, not only the chosen one's: a run on one target must not
    // show another's token (in `--vars`, a model, a log line). Best effort: an output that does not render is skipped.
    for other in outputs.values() {
        for key in ["token", "host"] {
            if let Some(Value::String(text)) = other.get(key) {
                let mut v = Value::String(text.clone());
                if render_values(&mut v, &path, key, render).is_ok()
                    && let Value::String(rendered) = v
                {
                    add_token_secrets(key, &rendered);
                }
            }
        }
    }
    let mut output = outputs
        .get(&target_name)
        .cloned()
        .ok_or_else(|| ProjectError::Profile {
            path: path.clone(),
            message: format!(
                "target `{target_name}` is not an output of profile `{name}` (outputs: {})",
                outputs.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })?;
    render_values(&mut output, &path, &format!("{name}.outputs.{target_name}"), render)?;
    let Value::Object(output) = output else {
        return Err(ProjectError::Profile {
            path,
            message: format!("output `{target_name}` of profile `{name}` must be a mapping"),
        });
    };
    from_output(path, name, &target_name, output, project_dir)
}

/// A Spark Connect token (an output's `token:`, or `token=` in its `host:` URL) is a secret: masked in every output
/// from here on, wherever it may be echoed.
fn add_token_secrets(key: &str, text: &str) {
    match key {
        "token" => crate::redact::add_secret(text),
        _ => {
            for (k, t) in text.split(';').skip(1).filter_map(|p| p.split_once('=')) {
                if k.trim() == "token" {
                    crate::redact::add_secret(t);
                }
            }
        }
    }
}

/// An error naming the profile file, the target and the field.
pub fn field_err(path: &Path, target: &str, field: &str, msg: impl std::fmt::Display) -> ProjectError {
    ProjectError::Profile {
        path: path.to_path_buf(),
        message: format!("target `{target}`, field `{field}`: {msg}"),
    }
}

fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn from_output(
    path: PathBuf,
    name: &str,
    target_name: &str,
    output: Map<String, Value>,
    project_dir: &Path,
) -> Result<Profile> {
    let s = |k: &str| -> Result<Option<String>> {
        match output.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(v) => Err(field_err(
                &path,
                target_name,
                k,
                format!("expected a string, got `{v}`"),
            )),
        }
    };
    for key in ["token", "host"] {
        if let Some(text) = s(key)? {
            add_token_secrets(key, &text);
        }
    }
    match s("type")?.as_deref() {
        Some("glue") => {}
        Some(other) => {
            return Err(field_err(
                &path,
                target_name,
                "type",
                format!("`{other}` is not supported; use `glue`"),
            ));
        }
        None => return Err(field_err(&path, target_name, "type", "is required (`type: glue`)")),
    }
    let engine = match (s("engine")?.as_deref(), s("method")?.as_deref()) {
        (Some("local"), _) => {
            let wh = s("warehouse")?.ok_or_else(|| {
                field_err(
                    &path,
                    target_name,
                    "warehouse",
                    "is required with `engine: local` (a directory)",
                )
            })?;
            let wh = PathBuf::from(wh);
            let wh = if wh.is_absolute() { wh } else { project_dir.join(wh) };
            let wh = std::path::absolute(&wh).unwrap_or(wh);
            EngineChoice::Local { warehouse: wh }
        }
        (Some("glue") | None, Some("spark_connect")) => {
            let host = s("host")?
                .ok_or_else(|| field_err(&path, target_name, "host", "is required with `method: spark_connect`"))?;
            EngineChoice::SparkConnect { host }
        }
        (Some("glue") | None, None | Some("session")) => EngineChoice::GlueSession,
        (Some(other), _) => {
            return Err(field_err(
                &path,
                target_name,
                "engine",
                format!("`{other}` is not an engine; use `local` or `glue`"),
            ));
        }
        (_, Some(other)) => {
            return Err(field_err(
                &path,
                target_name,
                "method",
                format!("`{other}` is not a method; use `session` or `spark_connect`"),
            ));
        }
    };
    let schema = match (s("schema")?, s("database")?) {
        (Some(schema), Some(database)) if database != schema => {
            return Err(field_err(
                &path,
                target_name,
                "database",
                format!(
                    "`{database}` differs from schema `{schema}`: on Spark, database must be omitted or have the same \
                     value as schema (as dbt-glue requires; the Glue database is the schema)"
                ),
            ));
        }
        (schema, database) => schema
            .or(database)
            .ok_or_else(|| field_err(&path, target_name, "schema", "is required"))?,
    };
    let location = match (s("location")?, &engine) {
        (Some(l), _) => Some(l),
        (None, EngineChoice::Local { warehouse }) => Some(warehouse.display().to_string()),
        (None, _) => None,
    };
    let mut target = Target::new(schema, location);
    if let Some(v) = output.get("root_location") {
        target.root_location =
            bool_of(v).ok_or_else(|| field_err(&path, target_name, "root_location", "expected true or false"))?;
    }
    target.temp_schema = s("temp_schema")?;
    match s("custom_iceberg_catalog_namespace")? {
        Some(ns) => target.iceberg_catalog = (!ns.is_empty()).then_some(ns),
        // `glue_catalog` is the Iceberg catalog of Glue sessions; a Spark Connect server's Iceberg tables live in its
        // own (default) catalog unless the profile names one.
        None if matches!(engine, EngineChoice::SparkConnect { .. }) => target.iceberg_catalog = None,
        None => {}
    }
    // A Spark Connect server's temporary views read Iceberg tables: no scratch tables (which some catalogs cannot
    // even create without a location).
    target.iceberg_temp_views = matches!(engine, EngineChoice::SparkConnect { .. });
    if let Some(f) = s("datalake_formats")? {
        for part in f.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let fmt = FileFormat::parse(part).filter(|f| f.is_lakehouse()).ok_or_else(|| {
                field_err(
                    &path,
                    target_name,
                    "datalake_formats",
                    format!("`{part}` is not delta, iceberg or hudi"),
                )
            })?;
            target.datalake_formats.insert(fmt);
        }
    }
    if matches!(engine, EngineChoice::Local { .. }) {
        // The embedded engine always has Delta and Iceberg.
        target.datalake_formats.insert(FileFormat::Delta);
        target.datalake_formats.insert(FileFormat::Iceberg);
    }
    target.catalog_id = s("catalog_id")?;
    target.delta_athena_prefix = s("delta_athena_prefix")?;
    if let Some(f) = s("seed_format")? {
        target.seed_format = FileFormat::parse(&f)
            .ok_or_else(|| field_err(&path, target_name, "seed_format", format!("`{f}` is not a file format")))?;
    }
    if let Some(m) = s("seed_mode")? {
        target.seed_mode = SeedMode::parse(&m).ok_or_else(|| {
            field_err(
                &path,
                target_name,
                "seed_mode",
                format!("`{m}` is not overwrite or append"),
            )
        })?;
    }
    if let Some(v) = output.get("enable_spark_seed_casting") {
        target.enable_spark_seed_casting = bool_of(v).ok_or_else(|| {
            field_err(
                &path,
                target_name,
                "enable_spark_seed_casting",
                "expected true or false",
            )
        })?;
    }
    let threads = match output.get("threads") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| (1..=MAX_THREADS as u64).contains(n))
            .ok_or_else(|| {
                field_err(
                    &path,
                    target_name,
                    "threads",
                    format!("`{v}`: expected a whole number from 1 to {MAX_THREADS}"),
                )
            })? as usize,
    };
    Ok(Profile {
        path,
        name: name.to_string(),
        target_name: target_name.to_string(),
        output,
        engine,
        threads,
        target,
    })
}

impl Profile {
    /// A warning for each key of the target's output that neither this crate nor the engines' parsers
    /// (`engine_keys`) read: a key of dbt-glue's with no effect here says why ([`NO_EFFECT_KEYS`]), any other is
    /// unknown.
    pub fn unknown_keys(&self, engine_keys: &[&[&str]]) -> Vec<String> {
        let at = format!("{}: target `{}`", self.path.display(), self.target_name);
        self.output
            .keys()
            .filter(|k| {
                let k = k.as_str();
                !PROFILE_KEYS.contains(&k) && !engine_keys.iter().any(|keys| keys.contains(&k))
            })
            .map(|k| match NO_EFFECT_KEYS.iter().find(|(key, _)| key == k) {
                Some((_, why)) => format!("{at}: `{k}` has no effect in glue-rs: {why}"),
                None => format!("{at}: unknown key `{k}` (ignored)"),
            })
            .collect()
    }
}

impl Profile {
    /// A profile for commands that do not use one (settings only).
    pub fn placeholder() -> Profile {
        Profile {
            path: PathBuf::new(),
            name: String::new(),
            target_name: String::new(),
            output: Map::new(),
            engine: EngineChoice::GlueSession,
            threads: 1,
            target: glue_materialize::Target::new("", None),
        }
    }
}
