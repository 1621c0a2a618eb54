//! Node selection: dbt's `--select` / `--exclude` syntax and `selectors.yml`.
//!
//! A criterion is `[@][n+]method:value[+n]` (`method:` defaults to names and paths); space (or separate arguments)
//! means union, a comma means intersection.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::dag::Dag;
use crate::error::{ProjectError, Result};
use crate::node::{Node, ResourceType};

/// What selection needs to know.
pub struct Universe<'a> {
    /// All enabled nodes.
    pub nodes: &'a BTreeMap<String, Node>,
    /// Their DAG.
    pub dag: &'a Dag,
    /// The manifest of `--state`, for `state:` methods.
    pub state: Option<&'a Value>,
}

fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?', '[']) {
        return pattern == text;
    }
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(text))
}

fn err(expr: &str, message: impl Into<String>) -> ProjectError {
    ProjectError::Selection {
        expr: expr.to_string(),
        message: message.into(),
    }
}

struct Criterion {
    at: bool,
    parents: Option<Option<usize>>,
    children: Option<Option<usize>>,
    method: String,
    value: String,
}

fn parse_depth(s: &str) -> Option<usize> {
    (!s.is_empty()).then(|| s.parse().ok()).flatten()
}

fn parse_criterion(raw: &str) -> Result<Criterion> {
    let mut s = raw;
    let at = s.starts_with('@');
    if at {
        s = &s[1..];
    }
    let mut parents = None;
    if let Some(i) = s.find('+')
        && s[..i].chars().all(|c| c.is_ascii_digit())
    {
        parents = Some(parse_depth(&s[..i]));
        s = &s[i + 1..];
    }
    let mut children = None;
    if let Some(i) = s.rfind('+')
        && s[i + 1..].chars().all(|c| c.is_ascii_digit())
    {
        children = Some(parse_depth(&s[i + 1..]));
        s = &s[..i];
    }
    if s.is_empty() {
        return Err(err(raw, "nothing to select"));
    }
    let (method, value) = match s.split_once(':') {
        Some((m, v)) => (m.to_string(), v.to_string()),
        None => (String::new(), s.to_string()),
    };
    Ok(Criterion {
        at,
        parents,
        children,
        method,
        value,
    })
}

fn path_matches(node: &Node, value: &str) -> bool {
    let f = node.file.display().to_string();
    let v = value.trim_end_matches('/');
    f == v || f.starts_with(&format!("{v}/")) || glob(v, &f)
}

fn config_matches(node: &Node, key: &str, value: &str) -> bool {
    match node.config.get(key) {
        Some(Value::String(s)) => glob(value, s),
        Some(Value::Bool(b)) => value.eq_ignore_ascii_case(&b.to_string()),
        Some(Value::Number(n)) => n.to_string() == value,
        Some(Value::Array(a)) => a.iter().any(|i| i.as_str().is_some_and(|s| glob(value, s))),
        _ => false,
    }
}

fn state_modified(u: &Universe<'_>, n: &Node, what: &str) -> Result<bool> {
    let Some(state) = u.state else {
        return Err(err(
            &format!("state:{what}"),
            "needs --state <dir of a previous manifest.json>",
        ));
    };
    let old = ["nodes", "sources", "unit_tests"]
        .iter()
        .find_map(|k| state.get(*k).and_then(|m| m.get(&n.unique_id)));
    let Some(old) = old else {
        return Ok(matches!(what, "modified" | "new"));
    };
    if what == "new" {
        return Ok(false);
    }
    let old_sum = old
        .get("checksum")
        .and_then(|c| c.get("checksum"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let body = match (&n.unit, n.resource_type) {
        (_, ResourceType::Source) => false,
        (Some(u), _) => {
            let given: Vec<Value> = u.given.iter().map(|(i, r)| serde_json::json!([i, r])).collect();
            let old_given: Vec<Value> = old
                .get("given")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|g| serde_json::json!([g["input"], g["rows"]]))
                .collect();
            given != old_given || old.pointer("/expect/rows") != Some(&serde_json::json!(u.expect))
        }
        _ => old_sum != n.checksum,
    };
    let cfg = {
        let old_cfg = old.get("config").cloned().unwrap_or(Value::Null);
        let mut changed = false;
        for (k, v) in &n.config {
            if old_cfg.get(k).unwrap_or(&Value::Null) != v && !matches!(k.as_str(), "pre-hook" | "post-hook") {
                changed = true;
            }
        }
        changed
    };
    Ok(match what {
        "modified" => body || cfg,
        "modified.body" => body,
        "modified.configs" => cfg,
        other => {
            return Err(err(
                &format!("state:{other}"),
                "use state:modified, state:new, state:modified.body or state:modified.configs",
            ));
        }
    })
}

fn base_matches(u: &Universe<'_>, c: &Criterion, raw: &str) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for n in u.nodes.values() {
        let hit = match c.method.as_str() {
            "" => {
                if c.value.contains('/') || c.value.ends_with(".sql") || c.value.ends_with(".csv") {
                    path_matches(n, &c.value)
                } else if c.value.contains('.') {
                    let parts: Vec<&str> = c.value.split('.').collect();
                    n.fqn.len() >= parts.len() && parts.iter().zip(&n.fqn).all(|(p, f)| glob(p, f))
                        || n.source
                            .as_ref()
                            .is_some_and(|s| c.value == format!("{}.{}", s.source_name, n.name))
                } else {
                    n.resource_type != ResourceType::Source && (glob(&c.value, &n.name) || n.package == c.value)
                }
            }
            "fqn" => {
                let parts: Vec<&str> = c.value.split('.').collect();
                n.fqn.len() >= parts.len() && parts.iter().zip(&n.fqn).all(|(p, f)| glob(p, f))
            }
            "tag" => n.tags().iter().any(|t| glob(&c.value, t)),
            "path" | "file" => {
                if c.method == "file" {
                    n.file.file_name().is_some_and(|f| glob(&c.value, &f.to_string_lossy()))
                } else {
                    path_matches(n, &c.value)
                }
            }
            "package" => glob(&c.value, &n.package),
            "resource_type" => {
                ResourceType::parse(&c.value).ok_or_else(|| err(raw, format!("unknown resource type `{}`", c.value)))?
                    == n.resource_type
            }
            "source" => n.source.as_ref().is_some_and(|s| match c.value.split_once('.') {
                Some((src, t)) => glob(src, &s.source_name) && glob(t, &n.name),
                None => glob(&c.value, &s.source_name),
            }),
            "test_type" => match c.value.as_str() {
                "generic" => n.test.is_some(),
                "singular" => n.resource_type == ResourceType::Test && n.test.is_none(),
                "unit" => n.resource_type == ResourceType::UnitTest,
                "data" => n.resource_type == ResourceType::Test,
                other => return Err(err(raw, format!("unknown test_type `{other}`"))),
            },
            "test_name" => n.test.as_ref().is_some_and(|t| glob(&c.value, &t.name)),
            "state" => state_modified(u, n, &c.value)?,
            m if m.starts_with("config.") => config_matches(n, &m["config.".len()..], &c.value),
            other => return Err(err(raw, format!("unknown selection method `{other}`"))),
        };
        if hit {
            out.insert(n.unique_id.clone());
        }
    }
    Ok(out)
}

fn expand(u: &Universe<'_>, c: &Criterion, base: BTreeSet<String>) -> BTreeSet<String> {
    let mut out = base.clone();
    for id in &base {
        if let Some(d) = c.parents {
            out.extend(u.dag.ancestors(id, d));
        }
        if let Some(d) = c.children {
            out.extend(u.dag.descendants(id, d));
        }
        if c.at {
            for child in u.dag.descendants(id, None) {
                out.extend(u.dag.ancestors(&child, None));
                out.insert(child);
            }
        }
    }
    out
}

/// One criterion (no spaces, no commas).
fn criterion(u: &Universe<'_>, raw: &str) -> Result<BTreeSet<String>> {
    let c = parse_criterion(raw)?;
    let base = base_matches(u, &c, raw)?;
    Ok(expand(u, &c, base))
}

/// A whole expression: words are a union, commas within a word an intersection.
pub fn expression(u: &Universe<'_>, exprs: &[String]) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for word in exprs.iter().flat_map(|e| e.split_whitespace()) {
        let mut acc: Option<BTreeSet<String>> = None;
        for part in word.split(',') {
            let s = criterion(u, part)?;
            acc = Some(match acc {
                None => s,
                Some(a) => a.intersection(&s).cloned().collect(),
            });
        }
        out.extend(acc.unwrap_or_default());
    }
    Ok(out)
}

/// A `selectors.yml` definition.
pub fn definition(u: &Universe<'_>, def: &Value, selectors: &Value) -> Result<BTreeSet<String>> {
    match def {
        Value::String(s) => expression(u, std::slice::from_ref(s)),
        Value::Object(m) => {
            if let Some(Value::Array(items)) = m.get("union") {
                let mut out = BTreeSet::new();
                let mut minus = BTreeSet::new();
                for i in items {
                    if let Some(ex) = i.get("exclude") {
                        for e in ex.as_array().into_iter().flatten() {
                            minus.extend(definition(u, e, selectors)?);
                        }
                    } else {
                        out.extend(definition(u, i, selectors)?);
                    }
                }
                return Ok(out.difference(&minus).cloned().collect());
            }
            if let Some(Value::Array(items)) = m.get("intersection") {
                let mut acc: Option<BTreeSet<String>> = None;
                for i in items {
                    let s = definition(u, i, selectors)?;
                    acc = Some(match acc {
                        None => s,
                        Some(a) => a.intersection(&s).cloned().collect(),
                    });
                }
                return Ok(acc.unwrap_or_default());
            }
            if let Some(Value::String(name)) = m.get("selector").or(m
                .get("value")
                .filter(|_| m.get("method").and_then(Value::as_str) == Some("selector")))
            {
                return named(u, name, selectors);
            }
            let method = m.get("method").and_then(Value::as_str).unwrap_or("");
            let value = m
                .get("value")
                .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                .unwrap_or_default();
            let flag = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
            let depth = |k: &str| m.get(k).and_then(Value::as_u64).map(|d| d as usize);
            let c = Criterion {
                at: flag("childrens_parents"),
                parents: flag("parents").then(|| depth("parents_depth")),
                children: flag("children").then(|| depth("children_depth")),
                method: if method == "fqn" {
                    String::new()
                } else {
                    method.to_string()
                },
                value,
            };
            let base = base_matches(u, &c, &def.to_string())?;
            let mut out = expand(u, &c, base);
            if let Some(ex) = m.get("exclude") {
                for e in ex.as_array().into_iter().flatten() {
                    for id in definition(u, e, selectors)? {
                        out.remove(&id);
                    }
                }
            }
            Ok(out)
        }
        other => Err(err(
            &other.to_string(),
            "a selector definition must be a string or a mapping",
        )),
    }
}

/// The selector `name` of `selectors.yml`.
pub fn named(u: &Universe<'_>, name: &str, selectors: &Value) -> Result<BTreeSet<String>> {
    let def = selectors
        .get("selectors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|s| s.get("definition"))
        .ok_or_else(|| err(name, "no selector of that name in selectors.yml"))?;
    definition(u, def, selectors)
}

/// The selector marked `default: true`, if any.
pub fn default_selector(selectors: &Value) -> Option<String> {
    selectors
        .get("selectors")?
        .as_array()?
        .iter()
        .find(|s| s.get("default").and_then(Value::as_bool) == Some(true))
        .and_then(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
}
