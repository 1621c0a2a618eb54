//! The shapes of values in a `profiles.yml` output, as dbt-glue reads them: text (numbers and booleans as written),
//! numbers, whole numbers, `true`/`false`, comma lists, `k=v` pairs and `--conf`-chained Spark settings; every error
//! names the field.

use serde_json::{Map, Value};

use crate::error::ProfileError;

/// A profile output read through its parser's table of keys: a key not in the table is never read (and fails a debug
/// build), so the table is the complete list of what the parser takes.
pub(crate) struct Output<'a> {
    map: &'a Map<String, Value>,
    keys: &'static [&'static str],
}

impl<'a> Output<'a> {
    /// A reader of `map` for a parser whose keys are `keys`.
    pub(crate) fn new(map: &'a Map<String, Value>, keys: &'static [&'static str]) -> Self {
        Output { map, keys }
    }

    fn value(&self, field: &str) -> Option<&'a Value> {
        let listed = self.keys.contains(&field);
        debug_assert!(
            listed,
            "profile key `{field}` is read but not in its parser's table of keys"
        );
        self.map.get(field).filter(|_| listed)
    }
}

pub(crate) fn text(output: &Output<'_>, field: &str) -> Result<Option<String>, ProfileError> {
    match output.value(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(ProfileError::new(field, format!("expected a string, found {other}"))),
    }
}

pub(crate) fn number(output: &Output<'_>, field: &str) -> Result<Option<f64>, ProfileError> {
    match text(output, field)? {
        None => Ok(None),
        Some(s) => s
            .parse::<f64>()
            .map(Some)
            .map_err(|_| ProfileError::new(field, format!("`{s}` is not a number"))),
    }
}

pub(crate) fn whole(output: &Output<'_>, field: &str) -> Result<Option<u32>, ProfileError> {
    match text(output, field)? {
        None => Ok(None),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(ProfileError::new(
                field,
                format!("`{s}` is not a whole number greater than 0"),
            )),
        },
    }
}

pub(crate) fn flag(output: &Output<'_>, field: &str) -> Result<Option<bool>, ProfileError> {
    match text(output, field)?.map(|s| s.to_ascii_lowercase()) {
        None => Ok(None),
        Some(s) if s == "true" => Ok(Some(true)),
        Some(s) if s == "false" => Ok(Some(false)),
        Some(s) => Err(ProfileError::new(field, format!("`{s}`: expected true or false"))),
    }
}

pub(crate) fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `k=v,k=v`.
pub(crate) fn pairs(field: &str, value: &str) -> Result<Vec<(String, String)>, ProfileError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => Err(ProfileError::new(
                field,
                format!("`{item}` is not key=value (expected k=v,k=v)"),
            )),
        })
        .collect()
}

/// `k=v --conf k2=v2 ...`.
pub(crate) fn spark_conf(value: &str) -> Result<Vec<(String, String)>, ProfileError> {
    value
        .split("--conf")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !k.contains(char::is_whitespace) => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(ProfileError::new(
                "conf",
                format!("`{item}` is not a Spark setting key=value (chain them as `a=b --conf c=d`)"),
            )),
        })
        .collect()
}

pub(crate) fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'').to_string()
}
