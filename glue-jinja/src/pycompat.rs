//! Python's spellings, as dbt (a Python program) produces them: `repr()` of strings and test metadata, `json.dumps`
//! layout, and rendered Jinja text read back as the Python literal it spells.

use minijinja::{Error, ErrorKind};
use serde_json::Value;

/// Python's `json.dumps` layout (`{"a": 1, "b": [1, 2]}`, non-ASCII escaped), as dbt's `tojson` prints.
struct PyJson;

impl serde_json::ser::Formatter for PyJson {
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(&mut self, w: &mut W, fragment: &str) -> std::io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// dbt's `tojson(value, sort_keys=False)`: mappings keep their order.
pub fn to_py_json(v: &impl serde::Serialize) -> Result<String, Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyJson);
    v.serialize(&mut ser)
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    String::from_utf8(out).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

/// Python's `repr()` of a string (dbt hashes `repr()` of test metadata into test ids).
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr(get_hashable_md(value))` of dbt's generic test parser: mappings with sorted keys, lists, and `str()` of
/// every leaf.
pub fn py_hashable_repr(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{}: {}", py_repr_str(k), py_hashable_repr(&m[*k])))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(py_hashable_repr).collect::<Vec<_>>().join(", ")),
        Value::Null => py_repr_str("None"),
        Value::Bool(b) => py_repr_str(if *b { "True" } else { "False" }),
        Value::Number(n) => py_repr_str(&n.to_string()),
        Value::String(s) => py_repr_str(s),
    }
}

/// A rendered config value with the type it spells (`true`, `42`, `none`, `['a']`), else the text.
pub fn native_value(text: String) -> Value {
    let t = text.trim();
    match t {
        "True" | "true" => return Value::Bool(true),
        "False" | "false" => return Value::Bool(false),
        "None" | "none" | "null" => return Value::Null,
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>()
        && !(t.len() > 1 && t.starts_with('0'))
    {
        return Value::from(i);
    }
    if t.contains('.')
        && let Ok(f) = t.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    if ((t.starts_with('[') && t.ends_with(']')) || (t.starts_with('{') && t.ends_with('}')))
        && let Ok(v) = serde_json::from_str::<Value>(&python_literal_as_json(t))
    {
        return v;
    }
    Value::String(text)
}

/// A list or mapping literal as Jinja renders it (Python's syntax: single- or double-quoted strings, `True`, `False`,
/// `None`, `none`) as JSON. Quotes and those words are converted outside strings only, so a string holding `True` or
/// a quote stays as it is.
pub fn python_literal_as_json(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push('"');
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => match chars.next() {
                            Some('\'') => out.push('\''),
                            Some(escaped) => {
                                out.push('\\');
                                out.push(escaped);
                            }
                            None => {}
                        },
                        end if end == c => break,
                        '"' => out.push_str("\\\""),
                        other => out.push(other),
                    }
                }
                out.push('"');
            }
            c if c.is_ascii_alphabetic() => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek().filter(|n| n.is_ascii_alphanumeric() || **n == '_') {
                    word.push(n);
                    chars.next();
                }
                out.push_str(match word.as_str() {
                    "True" => "true",
                    "False" => "false",
                    "None" | "none" => "null",
                    w => w,
                });
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rendered_config_values_take_their_literal_types_and_strings_stay_whole() {
        assert_eq!(native_value("true".into()), json!(true));
        assert_eq!(native_value("42".into()), json!(42));
        assert_eq!(native_value("007".into()), json!("007"));
        assert_eq!(native_value("['a', True, None]".into()), json!(["a", true, null]));
        assert_eq!(
            native_value(r#"['TrueNorth', "it's", 'say "hi"']"#.into()),
            json!(["TrueNorth", "it's", "say \"hi\""])
        );
        assert_eq!(native_value("{'k': 'None of it'}".into()), json!({"k": "None of it"}));
        assert_eq!(native_value("[not, a, literal".into()), json!("[not, a, literal"));
    }
}
