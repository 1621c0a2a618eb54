//! Generic tests (`not_null`, `unique`, `relationships`, custom ones): their nodes, names and ids as dbt makes them.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::files::checksum;
use super::state::{Loader, config_layers, new_node};
use crate::error::{ProjectError, Result};
use crate::node::{Attached, Node, ResourceType, TestInfo};
use crate::project::Project;
use glue_jinja::pycompat::py_hashable_repr;
use glue_jinja::{Mode, NodeCtx, merge_layer};

/// Keys of a test entry that are configs, not arguments.
pub(crate) const TEST_CONFIG_KEYS: &[&str] = &[
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "alias",
    "schema",
    "database",
];

pub(crate) static REF_ARG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*(ref|source)\s*\(.*\)\s*$").unwrap());
pub(crate) static CLEAN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^0-9a-zA-Z_]+").unwrap());

#[allow(clippy::too_many_arguments)]
pub(crate) fn generic_test(
    root: &Project,
    p: &Project,
    file: &Path,
    line: usize,
    attached: Attached,
    column: Option<String>,
    t: &Value,
    loader: &mut Loader,
) -> Result<Node> {
    let (test_name, mut args) = match t {
        Value::String(s) => (s.clone(), Map::new()),
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().unwrap();
            (k.clone(), v.as_object().cloned().unwrap_or_default())
        }
        Value::Object(m) => match m.get("test_name").and_then(Value::as_str) {
            Some(n) => (n.to_string(), m.clone()),
            None => {
                return Err(ProjectError::project(
                    file,
                    Some(line),
                    format!("cannot read test `{t}`: one key, the test name, is expected"),
                ));
            }
        },
        other => {
            return Err(ProjectError::project(
                file,
                Some(line),
                format!("cannot read test `{other}`"),
            ));
        }
    };
    args.remove("test_name");
    let mut config = args
        .remove("config")
        .and_then(|c| c.as_object().cloned())
        .unwrap_or_default();
    for k in TEST_CONFIG_KEYS {
        if let Some(v) = args.remove(*k) {
            config.insert(k.to_string(), v);
        }
    }
    let custom_name = args.remove("name").and_then(|v| v.as_str().map(str::to_string));
    args.remove("description");
    if let Some(Value::Object(a)) = args.remove("arguments") {
        args.extend(a);
    }
    if let Some(c) = &column {
        args.insert("column_name".into(), Value::String(c.clone()));
    }
    let (namespace, short) = match test_name.split_once('.') {
        Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
        None => (None, test_name.clone()),
    };
    let macro_name = format!("test_{short}");
    let exists = match &namespace {
        Some(ns) => loader.jinja.macros().in_package(ns, &macro_name).is_some(),
        None => loader.jinja.macros().exists(&macro_name),
    };
    if !exists {
        return Err(ProjectError::project(
            file,
            Some(line),
            format!("unknown generic test `{test_name}` (no `{{% test {short}(...) %}}` block defines it)"),
        ));
    }
    let target_name = match &attached {
        Attached::Ref(_, m) => m.clone(),
        Attached::Source(s, t) => format!("{s}_{t}"),
    };
    let mut flat = Vec::new();
    let mut keys: Vec<&String> = args.keys().collect();
    keys.sort();
    for k in keys {
        match &args[k] {
            Value::Object(m) => flat.extend(m.values().map(value_str)),
            Value::Array(a) => flat.extend(a.iter().map(value_str)),
            v => flat.push(value_str(v)),
        }
    }
    let clean: Vec<String> = flat.iter().map(|a| CLEAN.replace_all(a, "_").into_owned()).collect();
    let ident = match &namespace {
        Some(ns) => format!("{ns}_{short}"),
        None => short.clone(),
    };
    let prefix = if matches!(attached, Attached::Source(..)) {
        "source_"
    } else {
        ""
    };
    let full = format!("{prefix}{ident}_{target_name}_{}", clean.join("__"));
    let name = match custom_name {
        Some(n) => n,
        None if full.len() >= 64 => format!(
            "{}_{}",
            &format!("{prefix}{ident}")[..(prefix.len() + ident.len()).min(30)],
            checksum(&full)
        ),
        None => full,
    };
    // dbt's test id: md5(name + repr(hashable test metadata)), last 10 hex digits, so ids match dbt's manifest.
    let mut hash_kwargs = args.clone();
    let model_expr = match &attached {
        Attached::Ref(Some(pk), m) => format!("ref('{pk}', '{m}')"),
        Attached::Ref(None, m) => format!("ref('{m}')"),
        Attached::Source(s, t) => format!("source('{s}', '{t}')"),
    };
    hash_kwargs.insert(
        "model".into(),
        Value::String(format!("{{{{ get_where_subquery({model_expr}) }}}}")),
    );
    let metadata = serde_json::json!({"namespace": namespace, "name": short, "kwargs": hash_kwargs});
    let digest = checksum(&format!("{name}{}", py_hashable_repr(&metadata)));
    let hash = &digest[digest.len() - 10..];
    let fqn = vec![p.name.clone(), name.clone()];
    // dbt's raw code of a generic test: the macro call, then the test's own config as a config() call.
    let config_call: Vec<String> = config
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}=\"{}\"", s.replace('"', "\\\"")),
            Value::Bool(b) => format!("{k}={}", if *b { "True" } else { "False" }),
            Value::Null => format!("{k}=None"),
            other => format!("{k}={other}"),
        })
        .collect();
    let raw = if config_call.is_empty() {
        format!("{{{{ test_{short}(**_dbt_generic_test_kwargs) }}}}")
    } else {
        format!(
            "{{{{ test_{short}(**_dbt_generic_test_kwargs) }}}}{{{{ config({}) }}}}",
            config_call.join(",")
        )
    };
    let mut n = new_node(
        ResourceType::Test,
        p,
        name.clone(),
        file.to_path_buf(),
        file.display().to_string(),
        fqn.clone(),
        raw,
        "sql",
    );
    n.unique_id = format!("test.{}.{}.{}", p.name, name, hash);
    n.line = line;
    let mut cfg = config_layers(p, root, |p| &p.tests, &fqn);
    n.unrendered = cfg.clone();
    merge_layer(&mut n.unrendered, &config);
    merge_layer(&mut cfg, &config);
    n.config = cfg;
    n.schema = format!(
        "{}_dbt_test__audit",
        loader
            .shared
            .target
            .get_attr("schema")
            .ok()
            .map(|v| v.to_string())
            .unwrap_or_default()
    );
    // Refs in arguments (`to: ref('customers')`) are dependencies.
    for v in args.values() {
        if let Value::String(s) = v
            && REF_ARG.is_match(s)
        {
            let ctx = NodeCtx::project(loader.shared.clone(), Mode::Parse, p.name.clone());
            loader.jinja.eval(s, &ctx).map_err(|e| ProjectError::Jinja {
                at: crate::error::Location {
                    file: file.to_path_buf(),
                    line: Some(line),
                },
                what: format!("test `{name}`"),
                message: e.message,
            })?;
            n.refs.extend(ctx.refs.lock().unwrap().drain(..));
            n.sources.extend(ctx.sources.lock().unwrap().drain(..));
        }
    }
    match &attached {
        Attached::Ref(pk, m) => n.refs.insert(0, (pk.clone(), m.clone())),
        Attached::Source(s, t) => n.sources.insert(0, (s.clone(), t.clone())),
    }
    n.test = Some(TestInfo {
        name: short,
        namespace,
        kwargs: args,
        column_name: column,
        attached,
    });
    Ok(n)
}

/// Python's `str()` of a YAML value (dbt builds test names from it).
pub(crate) fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}
