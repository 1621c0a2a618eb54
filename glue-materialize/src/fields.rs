//! Reading typed values out of a config object (the model config, its `lf_tags_config` and `lf_grants`), each error
//! naming the field.

use std::collections::BTreeMap;

use glue_sql::Ident;
use serde_json::{Map, Value};

use crate::error::{ConfigError, ConfigProblem};

/// Reads typed values out of a config object, naming the field in every error.
///
/// Each reader has its parser's table of keys and reads through it: a key not in the table is never read (and fails
/// a debug build), so the table is the complete list of what the parser takes.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    keys: &'static [&'static str],
}

pub(crate) fn wrong(field: &str, expected: &'static str, got: &Value) -> ConfigError {
    ConfigError::new(
        field,
        ConfigProblem::WrongType {
            expected,
            got: got.to_string(),
        },
    )
}

impl<'a> Fields<'a> {
    /// A reader of `map` for a parser whose keys are `keys`.
    pub(crate) fn new(map: &'a Map<String, Value>, keys: &'static [&'static str]) -> Self {
        Self { map, keys }
    }

    /// The value of the first present, non-null key among `keys`, with the key found.
    pub(crate) fn get(&self, keys: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        keys.iter()
            .filter(|k| self.listed(k))
            .find_map(|k| self.map.get(*k).filter(|v| !v.is_null()).map(|v| (*k, v)))
    }

    /// Whether `key` is in the parser's table.
    fn listed(&self, key: &str) -> bool {
        let listed = self.keys.contains(&key);
        debug_assert!(
            listed,
            "config key `{key}` is read but not in its parser's table of keys"
        );
        listed
    }

    pub(crate) fn bool(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(&[key]) {
            None => Ok(default),
            Some((k, v)) => parse_bool(k, v),
        }
    }

    pub(crate) fn opt_bool(&self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        self.get(&[key]).map(|(k, v)| parse_bool(k, v)).transpose()
    }

    pub(crate) fn string(&self, keys: &[&'static str]) -> Result<Option<String>, ConfigError> {
        match self.get(keys) {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.clone())),
            Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
            Some((k, v)) => Err(wrong(k, "a string", v)),
        }
    }

    pub(crate) fn enum_value<T>(
        &self,
        key: &'static str,
        parse: fn(&str) -> Option<T>,
        names: &'static [&'static str],
    ) -> Result<Option<T>, ConfigError> {
        match self.get(&[key]) {
            None => Ok(None),
            Some((k, Value::String(s))) => parse(s).map(Some).ok_or_else(|| {
                ConfigError::new(
                    k,
                    ConfigProblem::UnknownValue {
                        value: s.clone(),
                        allowed: names.to_vec(),
                    },
                )
            }),
            Some((k, v)) => Err(wrong(k, "a string", v)),
        }
    }

    /// A string or a list of strings.
    pub(crate) fn string_list(&self, keys: &[&'static str]) -> Result<Vec<String>, ConfigError> {
        match self.get(keys) {
            None => Ok(Vec::new()),
            Some((k, v)) => string_list(k, v),
        }
    }

    pub(crate) fn ident_list(&self, keys: &[&'static str]) -> Result<Option<Vec<Ident>>, ConfigError> {
        match self.get(keys) {
            None => Ok(None),
            Some((k, v)) => string_list(k, v)?
                .into_iter()
                .map(|s| {
                    Ident::new(s).map_err(|_| ConfigError::new(k, ConfigProblem::Invalid("empty column name".into())))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    /// A map of string to string (numbers and booleans are written as Spark expects them: `true`, `10`).
    pub(crate) fn string_map(&self, key: &'static str) -> Result<BTreeMap<String, String>, ConfigError> {
        match self.get(&[key]) {
            None => Ok(BTreeMap::new()),
            Some((k, v)) => string_map(k, v),
        }
    }

    /// An object.
    pub(crate) fn object(&self, key: &'static str) -> Result<Option<&'a Map<String, Value>>, ConfigError> {
        match self.get(&[key]) {
            None => Ok(None),
            Some((_, Value::Object(m))) => Ok(Some(m)),
            Some((k, v)) => Err(wrong(k, "a mapping", v)),
        }
    }
}

/// Booleans accept YAML booleans and the reference's strings `'True'` / `'False'` (any case).
pub(crate) fn parse_bool(field: &str, v: &Value) -> Result<bool, ConfigError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ConfigError::new(
                field,
                ConfigProblem::UnknownValue {
                    value: s.clone(),
                    allowed: vec!["true", "false", "'True'", "'False'"],
                },
            )),
        },
        v => Err(wrong(field, "a boolean", v)),
    }
}

pub(crate) fn string_list(field: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(field, "a list of strings", other)),
            })
            .collect(),
        v => Err(wrong(field, "a string or a list of strings", v)),
    }
}

pub(crate) fn string_map(field: &str, v: &Value) -> Result<BTreeMap<String, String>, ConfigError> {
    let Value::Object(m) = v else {
        return Err(wrong(field, "a mapping", v));
    };
    m.iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(wrong(&format!("{field}.{k}"), "a string, number or boolean", other));
                }
            };
            Ok((k.clone(), s))
        })
        .collect()
}
