//! `get_json_object`'s JSON paths (`$.a[0].b`).

use datafusion::common::{DataFusionError, Result};

use super::value::{Json, parse, write};

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// `.name` or `['name']`.
    Key(String),
    /// `[n]`.
    Index(usize),
}

/// A path of `get_json_object` as Spark's `JsonPathParser` reads it: `$` then `.name`, `['name']`, `[n]`. `Ok(None)`:
/// not a path (NULL in Spark); `Err`: a wildcard (`[*]`, `.*`, `['*']`), refused.
pub fn parse_path(path: &str) -> std::result::Result<Option<Vec<PathStep>>, String> {
    let Some(mut rest) = path.strip_prefix('$') else {
        return Ok(None);
    };
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if rest.starts_with(".*") || rest.starts_with("['*']") || rest.starts_with("[*]") {
            return Err(format!("get_json_object with the wildcard path {path}"));
        }
        if let Some(r) = rest.strip_prefix("['") {
            let Some(end) = r.find("']") else { return Ok(None) };
            let name = &r[..end];
            if name.is_empty() || name.contains(['\'', '?']) {
                return Ok(None);
            }
            steps.push(PathStep::Key(name.to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { return Ok(None) };
            let Ok(n) = r[..end].parse::<usize>() else {
                return Ok(None);
            };
            if !r[..end].bytes().all(|b| b.is_ascii_digit()) {
                return Ok(None);
            }
            steps.push(PathStep::Index(n));
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Ok(None);
            }
            steps.push(PathStep::Key(r[..end].to_string()));
            rest = &r[end..];
        } else {
            return Ok(None);
        }
    }
    Ok(Some(steps))
}

/// `get_json_object(json, path)` of one value: a string as its text, `null` as NULL, anything else as JSON.
pub fn get_json_object(json: &str, path: &str) -> Result<Option<String>> {
    let steps = match parse_path(path) {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(DataFusionError::Execution(format!(
                "unsupported on the embedded engine: {e}"
            )));
        }
    };
    let Some(root) = parse(json)? else {
        return Ok(None);
    };
    let mut v = &root;
    for step in &steps {
        v = match (step, v) {
            (PathStep::Key(k), Json::Object(members)) => match members.iter().find(|(name, _)| name == k) {
                Some((_, v)) => v,
                None => return Ok(None),
            },
            (PathStep::Index(i), Json::Array(items)) => match items.get(*i) {
                Some(v) => v,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
    }
    Ok(match v {
        Json::Null => None,
        Json::Str(s) => Some(s.clone()),
        other => {
            let mut out = String::new();
            write(other, &mut out);
            Some(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark 3.5's answers (pyspark 3.5.7, read when this was written; CI compares through the function catalogue).
    #[test]
    fn get_json_object_as_spark() {
        let doc = r#"{"a":1e2,"b":1.50,"c":[1,2.0,"x",{"d":true, "z" : null}],"e":"\u00e9"}"#;
        let get = |p: &str| get_json_object(doc, p).unwrap();
        assert_eq!(get("$.a").as_deref(), Some("100.0"));
        assert_eq!(get("$.b").as_deref(), Some("1.5"));
        assert_eq!(get("$.c").as_deref(), Some(r#"[1,2.0,"x",{"d":true,"z":null}]"#));
        assert_eq!(get("$.c[3].d").as_deref(), Some("true"));
        assert_eq!(get("$.e").as_deref(), Some("é"));
        assert_eq!(get("$.c[9]"), None);
        assert_eq!(get("a"), None);
        assert_eq!(get("$."), None);
        assert_eq!(
            get_json_object(r#"{"a":1} trailing"#, "$.a").unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(get_json_object(r#"{"a":1"#, "$.a").unwrap(), None);
        assert_eq!(
            get_json_object(r#"{"a":1,"a":2}"#, "$.a").unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(
            get_json_object("{\"a\":\"x\ny\"}", "$.a").unwrap().as_deref(),
            Some("x\ny")
        );
        assert!(get_json_object(r#"{"a":[1]}"#, "$.a[*]").is_err());
        assert!(get_json_object(r#"{"e":12345678901234567890123}"#, "$.e").is_err());
        assert!(get_json_object(r#"{"e":-12345678901234567890}"#, "$.e").is_err());
        assert_eq!(
            get_json_object(r#"{"e":-1234567890123456789}"#, "$.e")
                .unwrap()
                .as_deref(),
            Some("-1234567890123456789")
        );
        assert_eq!(
            get_json_object(r#"{"e":1e-12345678901234567890}"#, "$.e")
                .unwrap()
                .as_deref(),
            Some("0.0")
        );
    }
}
