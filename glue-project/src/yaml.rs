//! Reading YAML files into JSON values, with the file named in every error.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{ProjectError, Result};

/// Reads `path` as YAML. An empty file is `null`.
pub fn read(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| ProjectError::io(path, e))?;
    parse(path, &text)
}

/// Parses YAML text that came from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Value> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| ProjectError::Yaml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The 1-based line on which `key:` first appears in `text` after the line `after` (best effort, for messages).
pub fn line_of(text: &str, key: &str, after: usize) -> Option<usize> {
    text.lines().enumerate().skip(after).find_map(|(i, l)| {
        let t = l.trim_start().trim_start_matches("- ").trim_start();
        let t = t.trim_start_matches(['"', '\'']);
        (t.starts_with(key) && t[key.len()..].trim_start_matches(['"', '\'']).starts_with(':')).then_some(i + 1)
    })
}

/// A mapping or an empty one (`null` and missing values are empty); anything else is an error naming the field.
pub fn mapping<'a>(path: &Path, field: &str, v: Option<&'a Value>) -> Result<Option<&'a Map<String, Value>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(ProjectError::project(
            path,
            None,
            format!("`{field}` must be a mapping, got `{other}`"),
        )),
    }
}

/// A list of strings (a single string is a list of one).
pub fn strings(path: &Path, field: &str, v: Option<&Value>) -> Result<Option<Vec<String>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(ProjectError::project(
                    path,
                    None,
                    format!("`{field}` must be a list of strings, got `{other}`"),
                )),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(other) => Err(ProjectError::project(
            path,
            None,
            format!("`{field}` must be a string or a list of strings, got `{other}`"),
        )),
    }
}

/// A string field.
pub fn string(path: &Path, field: &str, v: Option<&Value>) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(ProjectError::project(
            path,
            None,
            format!("`{field}` must be a string, got `{other}`"),
        )),
    }
}
