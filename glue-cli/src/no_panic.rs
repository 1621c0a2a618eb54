//! Bad input never panics: structured-random `profiles.yml` outputs, `dbt_project.yml` files, YAML properties and
//! model `config()` values (and random text where YAML is read) give a project, a profile, a configuration or a clear
//! error. Property tests with a bounded number of cases, so that they run inside `cargo test`.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Cases of the cheap properties (one parse each).
const CASES: u32 = 1024;
/// Cases of the properties that load a whole project (files, Jinja, macros).
const PROJECT_CASES: u32 = 128;

/// Texts at the edges of what the readers accept: numbers beyond their types, not-numbers, empty and odd strings.
const TEXTS: &[&str] = &[
    "",
    " ",
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "1e300",
    "-1e300",
    "1e-300",
    "NaN",
    "inf",
    "-inf",
    "4294967295",
    "4294967296",
    "9223372036854775808",
    "18446744073709551616",
    "true",
    "False",
    "None",
    "null",
    "~",
    "{{",
    "}}",
    "{{ var('x') }}",
    "{{ env_var('GLUE_NO_PANIC_UNSET') }}",
    "{% if %}",
    "delta",
    "iceberg",
    "table",
    "view",
    "incremental",
    "ephemeral",
    "merge",
    "append",
    "insert_overwrite",
    "id",
    "a.b",
    "`x`",
    "${x}",
    "'",
    "\"",
    "\\",
    "models",
    "+schema",
    "local",
    "glue",
    "sc://h:1/;token=t",
    "s3://b/p",
    "../x",
    "/",
    ".",
    "é\u{7f}",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(TEXTS).prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
    ]
}

/// A JSON value of any shape, with keys from `keys` (and some random ones) in its mappings.
fn value_with(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            mapping(keys, inner),
        ]
    })
}

fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(keys).prop_map(str::to_string),
        1 => "[a-z+_-]{1,8}",
    ]
}

fn mapping(keys: &'static [&'static str], inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop::collection::vec((key(keys), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

/// A mapping (the top level of a file) with keys from `keys`.
fn top(keys: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(keys), value_with(keys)), 0..10).prop_map(|kv| kv.into_iter().collect())
}

const PROFILE_KEYS: &[&str] = &[
    "type",
    "engine",
    "warehouse",
    "method",
    "host",
    "catalog",
    "token",
    "session_type",
    "role_arn",
    "region",
    "workers",
    "worker_type",
    "schema",
    "database",
    "location",
    "root_location",
    "glue_version",
    "conf",
    "tags",
    "seed_format",
    "seed_mode",
    "datalake_formats",
    "custom_iceberg_catalog_namespace",
    "temp_schema",
    "catalog_id",
    "threads",
    "statement_poll_interval",
    "boto_retry_max_attempts",
    "enable_spark_seed_casting",
    "idle_timeout",
    "query_timeout_in_minutes",
    "default_arguments",
    "glue_session_id",
];

const PROJECT_KEYS: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "seed-paths",
    "snapshot-paths",
    "macro-paths",
    "test-paths",
    "analysis-paths",
    "target-path",
    "packages-install-path",
    "clean-targets",
    "vars",
    "models",
    "seeds",
    "snapshots",
    "tests",
    "data_tests",
    "sources",
    "on-run-start",
    "on-run-end",
    "dispatch",
    "flags",
    "quoting",
    "proj",
    "+materialized",
    "+schema",
    "+file_format",
    "+tags",
    "+enabled",
    "+partition_by",
    "macro_namespace",
    "search_order",
];

const PROPERTY_KEYS: &[&str] = &[
    "version",
    "models",
    "seeds",
    "snapshots",
    "sources",
    "unit_tests",
    "name",
    "description",
    "columns",
    "config",
    "tests",
    "data_tests",
    "data_type",
    "tables",
    "identifier",
    "schema",
    "database",
    "loaded_at_field",
    "freshness",
    "warn_after",
    "error_after",
    "count",
    "period",
    "unique",
    "not_null",
    "accepted_values",
    "values",
    "relationships",
    "to",
    "field",
    "meta",
    "tags",
    "docs",
    "materialized",
    "file_format",
    "constraints",
    "model",
    "given",
    "expect",
    "input",
    "rows",
    "format",
    "contract",
    "enforced",
    "m",
];

const CONFIG_KEYS: &[&str] = &[
    "materialized",
    "file_format",
    "incremental_strategy",
    "unique_key",
    "partition_by",
    "clustered_by",
    "buckets",
    "on_schema_change",
    "location",
    "custom_location",
    "table_properties",
    "persist_docs",
    "alias",
    "schema",
    "full_refresh",
    "pre-hook",
    "post-hook",
    "tags",
    "meta",
    "lf_tags_config",
    "lf_grants",
    "write_options",
    "hudi_options",
    "incremental_predicates",
    "merge_update_columns",
    "merge_exclude_columns",
    "iceberg_expire_snapshots",
    "delta_athena_prefix",
    "add_iceberg_timestamp",
    "contract",
    "column_types",
    "seed_mode",
    "strategy",
    "updated_at",
    "check_cols",
    "enabled",
    "purge_dropped_columns",
    "table_type",
    "drop_existing",
    "tags_table",
    "tags_columns",
    "data_cell_filters",
    "filters",
    "principals",
    "column_names",
    "row_filter",
    "expire_snapshots",
    "retain_last",
];

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).expect("a temporary directory");
    }
    std::fs::write(p, text).expect("a temporary file");
}

/// JSON is YAML: a generated value written as a YAML file.
fn yaml_text(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON of a JSON value")
}

fn render(s: &str) -> std::result::Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.add_function("env_var", |n: String, d: Option<minijinja::Value>| {
        glue_jinja::context_env_var(&n, d)
    });
    env.render_str(s, ()).map_err(|e| e.to_string())
}

fn load_profile(dir: &Path) -> crate::Result<glue_project::profile::Profile> {
    Ok(glue_project::profile::load(
        &[dir.to_path_buf()],
        "p",
        None,
        dir,
        &render,
    )?)
}

fn load_project(dir: &Path) -> crate::Result<glue_project::load::Manifest> {
    let opts = glue_project::load::LoadOptions {
        log: std::sync::Arc::new(|_: glue_jinja::LogLevel, _: &str| {}),
        cli_vars: Map::new(),
        target: serde_json::json!({"name": "dev", "schema": "s", "type": "glue", "threads": 1}),
        invocation_id: "00000000-0000-4000-8000-000000000000".into(),
        flags: serde_json::json!({}),
    };
    Ok(glue_project::load::load(dir, &opts)?)
}

#[test]
fn threads_beyond_reason_are_a_profile_error() {
    let dir = tempfile::tempdir().unwrap();
    for threads in ["9223372036854775807", "100000", "-1", "0", "1e3"] {
        write(
            dir.path(),
            "profiles.yml",
            &format!(
                "p:\n  target: dev\n  outputs:\n    dev:\n      type: glue\n      engine: local\n      warehouse: wh\n      schema: s\n      threads: {threads}\n"
            ),
        );
        let err = load_profile(dir.path()).map(|p| p.threads).unwrap_err().to_string();
        assert!(err.contains("threads"), "{threads}: {err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// A `profiles.yml` output of any shape is a profile or an error naming the file.
    #[test]
    fn profiles_are_read_or_refused(output in top(PROFILE_KEYS), engine in 0..4u8) {
        let dir = tempfile::tempdir().unwrap();
        let mut output = output;
        // Most outputs are made valid up to their engine's options: the embedded engine, Glue sessions, Spark
        // Connect (or left as generated).
        if engine > 0 {
            output.insert("type".into(), "glue".into());
            output.entry("schema").or_insert("s".into());
        }
        match engine {
            1 => {
                output.insert("engine".into(), "local".into());
                output.entry("warehouse").or_insert("wh".into());
            }
            2 => {
                output.remove("engine");
                output.remove("method");
            }
            3 => {
                output.remove("engine");
                output.insert("method".into(), "spark_connect".into());
                output.entry("host").or_insert("sc://localhost:15002".into());
            }
            _ => {}
        }
        let profiles = serde_json::json!({"p": {"target": "dev", "outputs": {"dev": output}}});
        write(dir.path(), "profiles.yml", &yaml_text(&profiles));
        if let Ok(p) = load_profile(dir.path()) {
            match p.engine {
                glue_project::profile::EngineChoice::GlueSession => {
                    let _ = crate::engines::glue_profile(&p);
                }
                glue_project::profile::EngineChoice::SparkConnect { .. } => {
                    let _ = crate::engines::spark_connect_profile(&p);
                }
                glue_project::profile::EngineChoice::Local { .. } => {}
            }
        }
    }

    /// Any text as a YAML file is a value or an error naming the file.
    #[test]
    fn yaml_text_is_parsed_or_refused(text in prop_oneof!["\\PC{0,64}", "[-:{}\\[\\],&*!|>'\"%@` \n#?a-z0-9]{0,64}"]) {
        let _ = glue_project::yaml::parse(Path::new("x.yml"), &text);
    }

    /// A model's `config()` values of any shape are a configuration or an error naming the field.
    #[test]
    fn model_configs_are_read_or_refused(config in top(CONFIG_KEYS)) {
        let _ = glue_materialize::ModelConfig::from_json(&Value::Object(config));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(PROJECT_CASES))]

    /// A `dbt_project.yml` of any shape loads (with a model) or is an error naming the file.
    #[test]
    fn dbt_projects_are_loaded_or_refused(project in top(PROJECT_KEYS), named in prop::bool::weighted(0.9)) {
        let dir = tempfile::tempdir().unwrap();
        let mut project = project;
        if named {
            project.insert("name".into(), "proj".into());
        }
        write(dir.path(), "dbt_project.yml", &yaml_text(&Value::Object(project)));
        write(dir.path(), "models/m.sql", "select 1 as id");
        let _ = load_project(dir.path());
    }

    /// YAML properties of any shape load or are an error naming the file.
    #[test]
    fn properties_are_loaded_or_refused(props in top(PROPERTY_KEYS), models in prop::collection::vec(
        prop_oneof![4 => mapping(PROPERTY_KEYS, value_with(PROPERTY_KEYS)), 1 => value_with(PROPERTY_KEYS)], 0..3)) {
        let dir = tempfile::tempdir().unwrap();
        let mut props = props;
        if !models.is_empty() {
            let models = models
                .into_iter()
                .map(|m| match m {
                    Value::Object(mut o) => {
                        o.insert("name".into(), "m".into());
                        Value::Object(o)
                    }
                    other => other,
                })
                .collect();
            props.insert("models".into(), Value::Array(models));
        }
        write(dir.path(), "dbt_project.yml", "name: proj\nprofile: p\n");
        write(dir.path(), "models/m.sql", "select 1 as id");
        write(dir.path(), "models/schema.yml", &yaml_text(&Value::Object(props)));
        let _ = load_project(dir.path());
    }
}
