//! Python models (`models/*.py`): what dbt reads from them at parse time, `dbt.ref(...)`, `dbt.source(...)` and
//! `dbt.config(...)` with literal arguments (as dbt's own parser requires), found without running the code.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

static REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"dbt\.ref\(\s*(?:"([^"]+)"|'([^']+)')\s*(?:,\s*(?:"([^"]+)"|'([^']+)')\s*)?(?:,[^)]*)?\)"#)
        .expect("a valid pattern")
});
static SOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"dbt\.source\(\s*(?:"([^"]+)"|'([^']+)')\s*,\s*(?:"([^"]+)"|'([^']+)')\s*\)"#)
        .expect("a valid pattern")
});
static CONFIG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"dbt\.config\(([^)]*)\)").expect("a valid pattern"));
static KWARG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?s)^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$"#).expect("a valid pattern"));

/// What a Python model declares.
#[derive(Debug, Default, PartialEq)]
pub struct Declared {
    /// `dbt.ref` calls: (package, name).
    pub refs: Vec<(Option<String>, String)>,
    /// `dbt.source` calls.
    pub sources: Vec<(String, String)>,
    /// `dbt.config` keywords.
    pub config: Map<String, Value>,
}

fn first<'a>(c: &'a regex::Captures<'_>, a: usize, b: usize) -> Option<&'a str> {
    c.get(a).or_else(|| c.get(b)).map(|m| m.as_str())
}

/// Splits `a=1, b=[1, 2], c="x,y"` at the top-level commas.
fn split_args(args: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None::<char>);
    for ch in args.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '[' | '(' | '{') => depth += 1,
            (None, ']' | ')' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// A Python literal (string, number, True/False/None, list of literals) as JSON.
fn literal(text: &str) -> Option<Value> {
    let t = text.trim();
    match t {
        "True" => return Some(Value::Bool(true)),
        "False" => return Some(Value::Bool(false)),
        "None" => return Some(Value::Null),
        _ => {}
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return split_args(inner)
            .iter()
            .map(|i| literal(i))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array);
    }
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|r| r.strip_suffix(q))
            && !inner.contains(q)
        {
            return Some(Value::String(inner.to_string()));
        }
    }
    if let Ok(n) = t.parse::<i64>() {
        return Some(Value::from(n));
    }
    t.parse::<f64>().ok().map(Value::from)
}

/// Reads the declarations of a Python model. A `dbt.config(...)` argument that is not a literal is an error naming
/// its line.
pub fn declared(code: &str) -> Result<Declared, (usize, String)> {
    let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut d = Declared::default();
    for c in REF.captures_iter(code) {
        let one = first(&c, 1, 2).unwrap_or_default().to_string();
        match first(&c, 3, 4) {
            Some(two) => d.refs.push((Some(one), two.to_string())),
            None => d.refs.push((None, one)),
        }
    }
    for c in SOURCE.captures_iter(code) {
        d.sources.push((
            first(&c, 1, 2).unwrap_or_default().to_string(),
            first(&c, 3, 4).unwrap_or_default().to_string(),
        ));
    }
    for c in CONFIG.captures_iter(code) {
        let all = c.get(0).expect("a match");
        for arg in split_args(&c[1]) {
            let kw = KWARG.captures(&arg).ok_or_else(|| {
                (
                    line_of(all.start()),
                    format!("dbt.config() takes keyword arguments, not `{}`", arg.trim()),
                )
            })?;
            let value = literal(&kw[2]).ok_or_else(|| {
                (
                    line_of(all.start()),
                    format!(
                        "dbt.config({}=…): the value must be a literal, not `{}`",
                        &kw[1],
                        kw[2].trim()
                    ),
                )
            })?;
            d.config.insert(kw[1].to_string(), value);
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_sources_and_config_are_read_without_running_the_code() {
        let code = "def model(dbt, session):\n    dbt.config(materialized=\"incremental\", unique_key='id', \
                    partition_by=['dt', \"country\"], enabled=True, n=3)\n    a = dbt.ref('orders')\n    \
                    b = dbt.ref(\"pkg\", \"other\")\n    c = dbt.source('raw', 'events')\n    return a\n";
        let d = declared(code).unwrap();
        assert_eq!(
            d.refs,
            vec![
                (None, "orders".to_string()),
                (Some("pkg".to_string()), "other".to_string())
            ]
        );
        assert_eq!(d.sources, vec![("raw".to_string(), "events".to_string())]);
        assert_eq!(
            Value::Object(d.config),
            json!({"materialized": "incremental", "unique_key": "id", "partition_by": ["dt", "country"],
                   "enabled": true, "n": 3})
        );
        let bad = declared("x = 1\n\ndbt.config(materialized=kind)\n").unwrap_err();
        assert_eq!(bad.0, 3);
        assert!(bad.1.contains("must be a literal"), "{}", bad.1);
    }
}
