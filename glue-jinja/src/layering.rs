//! dbt's config layering: how a more specific layer (a `+config` tree level, a YAML `config:`, a `config()` call)
//! merges into what the less specific ones set.

use serde_json::{Map, Value};

/// How dbt merges a config key when a more specific layer sets it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    /// Lists are concatenated (tags, hooks).
    Append,
    /// Mappings are updated key by key (meta, persist_docs, column_types…).
    Update,
    /// The specific value replaces the general one.
    Clobber,
}

fn merge_behaviour(key: &str) -> Merge {
    match key {
        "tags" | "pre-hook" | "post-hook" => Merge::Append,
        "meta" | "persist_docs" | "column_types" | "quoting" | "docs" | "grants" | "contract" => Merge::Update,
        _ => Merge::Clobber,
    }
}

/// dbt's spelling of a config key: `+` stripped, hooks spelled `pre-hook` / `post-hook`, `data_tests` options as-is.
pub fn normalize_key(key: &str) -> String {
    let k = key.strip_prefix('+').unwrap_or(key);
    match k {
        "pre_hook" => "pre-hook".into(),
        "post_hook" => "post-hook".into(),
        other => other.to_string(),
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Merges one config layer into `base` with dbt's rules (tags and hooks append, meta and persist_docs update, the
/// rest override).
pub fn merge_layer(base: &mut Map<String, Value>, layer: &Map<String, Value>) {
    for (k, v) in layer {
        let key = normalize_key(k);
        match (merge_behaviour(&key), base.get_mut(&key)) {
            (Merge::Append, Some(existing)) => {
                let mut list = as_list(existing);
                for item in as_list(v) {
                    if key != "tags" || !list.contains(&item) {
                        list.push(item);
                    }
                }
                *existing = Value::Array(list);
            }
            (Merge::Append, None) => {
                base.insert(key, Value::Array(as_list(v)));
            }
            (Merge::Update, Some(Value::Object(existing))) if v.is_object() => {
                for (ik, iv) in v.as_object().into_iter().flatten() {
                    existing.insert(ik.clone(), iv.clone());
                }
            }
            _ => {
                base.insert(key, v.clone());
            }
        }
    }
}
