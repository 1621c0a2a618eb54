//! Unit tests: their fixtures (rows, CSV, SQL) and nodes.

use std::path::Path;

use serde_json::{Map, Value};

use super::files::read;
use super::state::new_node;
use crate::error::{ProjectError, Result};
use crate::node::{Node, ResourceType, UnitTestInfo};
use crate::project::Project;
use crate::yaml;

/// CSV fixture rows: the header names the columns; empty cells are NULL; values stay strings (the fixture SQL casts
/// them to the input's column types, as dbt does).
pub(crate) fn csv_rows(text: &str) -> std::result::Result<Vec<Map<String, Value>>, csv::Error> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim().as_bytes());
    let headers = r.headers()?.clone();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        out.push(
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| {
                    (
                        h.to_string(),
                        if v.is_empty() {
                            Value::Null
                        } else {
                            Value::String(v.to_string())
                        },
                    )
                })
                .collect(),
        );
    }
    Ok(out)
}

pub(crate) fn unit_test(p: &Project, file: &Path, line: usize, u: &Map<String, Value>) -> Result<Node> {
    let name = yaml::string(file, "unit_tests.name", u.get("name"))?
        .ok_or_else(|| ProjectError::project(file, Some(line), "a unit test has no `name`"))?;
    let model = yaml::string(file, "model", u.get("model"))?
        .ok_or_else(|| ProjectError::project(file, Some(line), format!("unit test `{name}` has no `model`")))?;
    let rows = |v: Option<&Value>, what: &str| -> Result<Vec<Map<String, Value>>> {
        let Some(v) = v else { return Ok(Vec::new()) };
        let fmt = v.get("format").and_then(Value::as_str).unwrap_or("dict");
        let fail = |msg: String| ProjectError::project(file, Some(line), format!("unit test `{name}`: {what} {msg}"));
        match fmt {
            "dict" => match v.get("rows") {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(r)) => Ok(r.iter().filter_map(|r| r.as_object().cloned()).collect()),
                Some(_) => Err(fail("rows must be a list of mappings".into())),
            },
            "csv" => {
                let text = match (v.get("rows"), v.get("fixture").and_then(Value::as_str)) {
                    (Some(Value::String(t)), _) => t.clone(),
                    (_, Some(fixture)) => {
                        let found = p
                            .test_paths
                            .iter()
                            .map(|t| p.root.join(t).join("fixtures").join(format!("{fixture}.csv")))
                            .find(|f| f.exists())
                            .ok_or_else(|| {
                                fail(format!("fixture `{fixture}`: no {fixture}.csv under tests/fixtures"))
                            })?;
                        read(&found)?
                    }
                    _ => return Err(fail("in csv format needs `rows:` (CSV text) or `fixture:`".into())),
                };
                csv_rows(&text).map_err(|e| fail(format!("CSV: {e}")))
            }
            other => Err(fail(format!("format `{other}` is not supported (use dict or csv)"))),
        }
    };
    let mut given = Vec::new();
    for g in u.get("given").and_then(Value::as_array).into_iter().flatten() {
        let input = yaml::string(file, "given.input", g.get("input"))?.ok_or_else(|| {
            ProjectError::project(
                file,
                Some(line),
                format!("unit test `{name}`: a `given` has no `input`"),
            )
        })?;
        given.push((input, rows(Some(g), "given")?));
    }
    let expect = rows(u.get("expect"), "expect")?;
    let overrides = u
        .get("overrides")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut n = new_node(
        ResourceType::UnitTest,
        p,
        name.clone(),
        file.to_path_buf(),
        file.display().to_string(),
        vec![p.name.clone(), model.clone(), name.clone()],
        String::new(),
        "sql",
    );
    n.unique_id = format!("unit_test.{}.{}.{}", p.name, model, name);
    n.line = line;
    n.refs.push((None, model.clone()));
    n.config = u.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
    n.unit = Some(UnitTestInfo {
        model,
        given,
        expect,
        macro_overrides: overrides
            .get("macros")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        var_overrides: overrides
            .get("vars")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    });
    Ok(n)
}
