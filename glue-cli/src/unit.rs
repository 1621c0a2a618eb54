//! dbt unit tests: the model compiled against fixture rows (`given`), its output compared with `expect` as a
//! multiset over the expected columns.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::CliError;
use crate::invocation::Invocation;
use crate::results::Status;
use glue_jinja::objects::Table;

static REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*ref\s*\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)\s*$"#).unwrap());
static SOURCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*source\s*\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$"#).unwrap());

fn literal(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => glue_sql::string_literal(s),
        other => glue_sql::string_literal(&other.to_string()),
    }
}

/// `select … union all select …` for fixture rows, typed by the real relation's columns when it exists.
fn fixture_sql(rows: &[Map<String, Value>], types: &[(String, String)]) -> String {
    let mut cols: Vec<(String, Option<String>)> = types.iter().map(|(n, t)| (n.clone(), Some(t.clone()))).collect();
    for r in rows {
        for k in r.keys() {
            if !cols.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)) {
                cols.push((k.clone(), None));
            }
        }
    }
    let select = |row: Option<&Map<String, Value>>| -> String {
        let items: Vec<String> = cols
            .iter()
            .map(|(name, ty)| {
                let v = row
                    .and_then(|r| r.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
                    .unwrap_or(&Value::Null);
                let lit = literal(v);
                let expr = match ty {
                    Some(t) => format!("cast({lit} as {t})"),
                    None => lit,
                };
                format!("{expr} as {}", glue_sql::quote_ident(name))
            })
            .collect();
        format!("select {}", items.join(", "))
    };
    if rows.is_empty() {
        return format!("({} where false)", select(None));
    }
    format!(
        "({})",
        rows.iter()
            .map(|r| select(Some(r)))
            .collect::<Vec<_>>()
            .join(" union all ")
    )
}

fn normalize(v: &minijinja::Value) -> String {
    if v.is_none() || v.is_undefined() {
        return "NULL".into();
    }
    let s = v.to_string();
    match s.parse::<f64>() {
        Ok(f) if !s.is_empty() => format!("{f}"),
        _ => s,
    }
}

fn normalize_json(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => match s.parse::<f64>() {
            Ok(f) => format!("{f}"),
            Err(_) => s.clone(),
        },
        Value::Number(n) => format!("{}", n.as_f64().unwrap_or_default()),
        other => other.to_string(),
    }
}

/// Runs the unit test `id`: (status, message, compiled SQL).
pub async fn run(inv: &Arc<Invocation>, id: &str) -> Result<(Status, String, String), CliError> {
    let node = inv.manifest.nodes[id].clone();
    let unit = node.unit.clone().expect("unit test node");
    let engine = inv.engine.clone().ok_or_else(|| CliError::Engine {
        context: format!("unit test `{}`", node.name),
        message: "no engine is configured for this target".into(),
    })?;
    let model_id = node.depends_on.first().cloned().ok_or_else(|| {
        CliError::project(
            &node.file,
            Some(node.line),
            format!("unit test `{}`: model not found", node.name),
        )
    })?;
    let model = inv.manifest.nodes[&model_id].clone();
    let mut resolver = (*inv.resolver).clone();
    for (input, rows) in &unit.given {
        let (key, rel) = if let Some(c) = REF.captures(input) {
            let name = c.get(2).or(c.get(1)).unwrap().as_str().to_string();
            let rel = resolver.resolve_ref(&model.package, c.get(2).map(|_| c[1].to_string()).as_deref(), &name);
            (format!("ref:{name}"), rel.ok())
        } else if let Some(c) = SOURCE.captures(input) {
            let rel = resolver.resolve_source(&c[1], &c[2]);
            (format!("source:{}.{}", &c[1], &c[2]), rel.ok())
        } else if input.trim() == "this" {
            ("this".to_string(), None)
        } else {
            return Err(CliError::project(
                &node.file,
                Some(node.line),
                format!(
                    "unit test `{}`: input `{input}` must be ref(...), source(...) or this",
                    node.name
                ),
            ));
        };
        let mut types = Vec::new();
        if let Some(r) = rel
            && let Ok(name) = glue_sql::RelationName::new(r.schema.clone().unwrap_or_default(), r.identifier.clone())
            && let Ok(cols) = engine.describe(&name).await
        {
            types = cols
                .into_iter()
                .map(|c| (c.name.as_str().to_string(), c.data_type.to_string()))
                .collect();
        }
        resolver.overrides.insert(key, fixture_sql(rows, &types));
    }
    use glue_jinja::Resolver as _;
    let is_incremental = unit
        .macro_overrides
        .get("is_incremental")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let this_fixture = resolver.overrides.get("this").cloned();
    let me = inv.clone();
    let resolver: Arc<dyn glue_jinja::Resolver> = Arc::new(resolver);
    let model2 = model.clone();
    let compiled = tokio::task::spawn_blocking(move || {
        let mut m = model2;
        if let Some(t) = this_fixture {
            // `this` renders as the fixture.
            m.config.insert("__unit_this".into(), Value::String(t));
        }
        me.compile_with(&m, is_incremental, Some(resolver))
    })
    .await
    .map_err(|e| CliError::Engine {
        context: "unit test".into(),
        message: e.to_string(),
    })??;
    let sql = format!("select * from (\n{}\n) dbt_internal_unit_test_actual", compiled.sql);
    let batches = engine.query(&sql).await.map_err(|e| CliError::Engine {
        context: format!("unit test `{}` ({})", node.name, node.file.display()),
        message: e.to_string(),
    })?;
    let table = minijinja::Value::from_object(Table::from_batches(&batches));
    let expected_cols: Vec<String> = {
        let mut cols = Vec::new();
        for r in &unit.expect {
            for k in r.keys() {
                if !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
        cols
    };
    let mut actual: BTreeMap<Vec<String>, i64> = BTreeMap::new();
    for row in table.try_iter().map_err(|e| CliError::Engine {
        context: "unit test".into(),
        message: e.to_string(),
    })? {
        let key: Vec<String> = expected_cols
            .iter()
            .map(|c| normalize(&row.get_item(&minijinja::Value::from(c.as_str())).unwrap_or_default()))
            .collect();
        *actual.entry(key).or_default() += 1;
    }
    let mut expected: BTreeMap<Vec<String>, i64> = BTreeMap::new();
    for r in &unit.expect {
        let key: Vec<String> = expected_cols
            .iter()
            .map(|c| normalize_json(r.get(c).unwrap_or(&Value::Null)))
            .collect();
        *expected.entry(key).or_default() += 1;
    }
    if actual == expected {
        return Ok((Status::Pass, "PASS".into(), compiled.sql));
    }
    let mut diff = String::from("actual differs from expected:\n");
    diff.push_str(&format!("  columns: {}\n", expected_cols.join(", ")));
    for (k, n) in &expected {
        let a = actual.get(k).copied().unwrap_or(0);
        if a < *n {
            diff.push_str(&format!("  - expected, missing x{}: {}\n", n - a, k.join(" | ")));
        }
    }
    for (k, n) in &actual {
        let e = expected.get(k).copied().unwrap_or(0);
        if e < *n {
            diff.push_str(&format!("  + actual, unexpected x{}: {}\n", n - e, k.join(" | ")));
        }
    }
    Ok((Status::Fail, diff, compiled.sql))
}
