//! JSON text as Spark's Jackson reads and writes it: values parsed up to their end, objects in key order, numbers
//! written back as Java writes them.

use datafusion::common::{DataFusionError, Result};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value, objects in their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number written without a fraction or exponent.
    Int(i128),
    /// A number with a fraction or exponent.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, its members in order (duplicates kept).
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> std::result::Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> std::result::Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Json, E> {
                Ok(Json::Int(v as i128))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<Json, E> {
                Ok(Json::Int(v as i128))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Json, E> {
                Ok(Json::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Json, E> {
                Ok(Json::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Json, E> {
                Ok(Json::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Json, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    members.push((k, v));
                }
                Ok(Json::Object(members))
            }
        }
        d.deserialize_any(V)
    }
}

/// The first JSON value of `text` (`Ok(None)` when it is not JSON); `Err` for an integer beyond 64 bits.
pub fn parse(text: &str) -> Result<Option<Json>> {
    let text = escape_control_characters(text)?;
    let mut values = serde_json::Deserializer::from_str(&text).into_iter::<Json>();
    Ok(values.next().and_then(|v| v.ok()))
}

/// Jackson (as Spark configures it) accepts raw control characters inside strings; serde_json does not: they are
/// escaped first. Also finds integers beyond 64 bits, which serde_json would read as doubles.
fn escape_control_characters(text: &str) -> Result<std::borrow::Cow<'_, str>> {
    let mut in_string = false;
    let mut escaped = false;
    let mut out: Option<String> = None;
    let mut digits = 0usize;
    let mut number_start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if (c as u32) < 0x20 {
                let o = out.get_or_insert_with(|| text[..i].to_string());
                o.push_str(&format!("\\u{:04x}", c as u32));
                continue;
            }
        } else {
            if c == '"' {
                in_string = true;
            }
            if c.is_ascii_digit() {
                if digits == 0 {
                    number_start = Some(i);
                }
                digits += 1;
            } else {
                check_integer(text, number_start, digits, c)?;
                digits = 0;
            }
        }
        if let Some(o) = &mut out {
            o.push(c);
        }
    }
    check_integer(text, number_start, digits, ' ')?;
    Ok(match out {
        Some(o) => std::borrow::Cow::Owned(o),
        None => std::borrow::Cow::Borrowed(text),
    })
}

/// A run of digits that is a whole integer token (not after `.`, `e`, `E`, `+` or `-` exponent sign, not followed by
/// `.`/`e`/`E`) and does not fit 64 bits.
fn check_integer(text: &str, start: Option<usize>, digits: usize, next: char) -> Result<()> {
    if digits < 19 {
        return Ok(());
    }
    let Some(start) = start else { return Ok(()) };
    let mut before = text[..start].chars().rev();
    let (sign, ahead) = (before.next(), before.next());
    let exponent = matches!(sign, Some('+' | '-')) && matches!(ahead, Some('e' | 'E'));
    if matches!(sign, Some('.' | 'e' | 'E' | '+')) || exponent || matches!(next, '.' | 'e' | 'E') {
        return Ok(());
    }
    let run = &text[start..start + digits];
    // serde_json keeps an integer exactly within u64 (i64 when negative), and reads it as a double beyond.
    let fits = if sign == Some('-') {
        format!("-{run}").parse::<i64>().is_ok()
    } else {
        run.parse::<u64>().is_ok()
    };
    if fits {
        return Ok(());
    }
    Err(DataFusionError::Execution(format!(
        "unsupported on the embedded engine: a JSON integer beyond 64 bits ({run})"
    )))
}

/// Java's `Double.toString`: `1.0E20`, `100.0`, `1.0E-7`, `NaN`, `Infinity`.
pub fn java_double(d: f64) -> String {
    java_float_text(
        d.is_nan(),
        d.is_infinite(),
        d.is_sign_negative(),
        d == 0.0,
        || format!("{:e}", d.abs()),
        d.abs() >= 1e-3 && d.abs() < 1e7,
    )
}

/// Java's `Float.toString`.
pub fn java_float(f: f32) -> String {
    java_float_text(
        f.is_nan(),
        f.is_infinite(),
        f.is_sign_negative(),
        f == 0.0,
        || format!("{:e}", f.abs()),
        f.abs() >= 1e-3 && f.abs() < 1e7,
    )
}

fn java_float_text(
    nan: bool,
    infinite: bool,
    negative: bool,
    zero: bool,
    scientific: impl Fn() -> String,
    plain: bool,
) -> String {
    let sign = if negative { "-" } else { "" };
    if nan {
        return "NaN".into();
    }
    if infinite {
        return format!("{sign}Infinity");
    }
    if zero {
        return format!("{sign}0.0");
    }
    // Rust's `{:e}` gives the shortest digits that read back: `1.5e-7`, `1e20`.
    let s = scientific();
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if plain {
        let point = exp + 1;
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else {
            let point = point as usize;
            let (int, frac) = if digits.len() > point {
                (digits[..point].to_string(), digits[point..].to_string())
            } else {
                (format!("{digits}{}", "0".repeat(point - digits.len())), String::new())
            };
            let frac = if frac.is_empty() { "0".to_string() } else { frac };
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

/// Java's `BigDecimal.toString` of `unscaled × 10^-scale`: plain unless the scale is negative or the adjusted exponent
/// is below -6 (`1.0E-7`).
pub fn java_decimal(unscaled: i128, scale: i32) -> String {
    let sign = if unscaled < 0 { "-" } else { "" };
    let digits = unscaled.unsigned_abs().to_string();
    let adjusted = -(scale as i64) + (digits.len() as i64 - 1);
    if scale >= 0 && adjusted >= -6 {
        let scale = scale as usize;
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let e = if adjusted >= 0 {
            format!("+{adjusted}")
        } else {
            adjusted.to_string()
        };
        format!("{sign}{mantissa}E{e}")
    }
}

/// A JSON string literal as Jackson writes it (short escapes for `\b \t \n \f \r`, `\u00XX` for other control
/// characters, nothing else escaped).
pub(super) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A parsed value written back as Spark's Jackson generator writes it (compact).
pub fn write(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(i) => out.push_str(&i.to_string()),
        Json::Float(f) => {
            if f.is_finite() {
                out.push_str(&java_double(*f))
            } else {
                write_string(&java_double(*f), out)
            }
        }
        Json::Str(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_number_text() {
        for (d, want) in [
            (100.0, "100.0"),
            (1.5, "1.5"),
            (1e20, "1.0E20"),
            (1e-10, "1.0E-10"),
            (-0.0, "-0.0"),
            (0.001, "0.001"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (0.8, "0.8"),
        ] {
            assert_eq!(java_double(d), want);
        }
        assert_eq!(java_decimal(150, 2), "1.50");
        assert_eq!(java_decimal(10, 8), "1.0E-7");
        assert_eq!(java_decimal(-5, 0), "-5");
    }
}
