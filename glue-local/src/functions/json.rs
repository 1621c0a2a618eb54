//! Spark's JSON functions: `get_json_object`, `json_array_length`, `json_object_keys`, `to_json` and `from_json`, as
//! Spark 3.5 answers them (its Jackson parser and generator): a JSON value is parsed up to its end (text after it is
//! ignored), objects keep their key order, a number is written back as Jackson writes it (an integer as its digits, a
//! fraction as Java's `Double.toString`: `1e2` is `100.0`), control characters inside strings are accepted, text that
//! is not JSON is NULL. An integer beyond 64 bits, which this parser cannot keep exactly, fails the query with the
//! embedded engine's `unsupported` error rather than give another answer.

use std::any::Any;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder, Int8Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, ListArray, MapArray, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::common::{all_scalar, columnar};
use crate::datetime::{JavaPattern, Parsed};

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
fn write_string(s: &str, out: &mut String) {
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

/// The JSON functions of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonFn {
    /// `get_json_object(json, path)`.
    GetJsonObject,
    /// `json_array_length(json)`: the number of elements of a top-level array, NULL for anything else.
    ArrayLength,
    /// `json_object_keys(json)`: the keys of a top-level object, NULL for anything else.
    ObjectKeys,
    /// `to_json(value[, option, value, …])`: a struct, map or array as JSON text. The options (`timestampFormat`,
    /// `dateFormat`) come as literal name/value pairs (the planner rewrites Spark's `map(…)` of options).
    ToJson,
    /// `from_json(json, schema[, option, value, …])`: JSON text read into the type of the literal schema
    /// (`'a INT, b DOUBLE'`, `'STRUCT<…>'`, `'ARRAY<…>'`, `'MAP<STRING, …>'`).
    FromJson,
}

/// The functions of [`JsonFn`] under their Spark names.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkJson {
    kind: JsonFn,
    signature: Signature,
}

impl SparkJson {
    /// The function of `kind`.
    pub fn new(kind: JsonFn) -> Self {
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Every function of this module, to register in a session.
pub fn udfs() -> Vec<datafusion::logical_expr::ScalarUDF> {
    [
        JsonFn::GetJsonObject,
        JsonFn::ArrayLength,
        JsonFn::ObjectKeys,
        JsonFn::ToJson,
        JsonFn::FromJson,
    ]
    .into_iter()
    .map(|k| datafusion::logical_expr::ScalarUDF::from(SparkJson::new(k)))
    .collect()
}

/// The date and timestamp formats of `to_json`/`from_json`.
struct Options {
    timestamp: JavaPattern,
    /// Whether `timestamp` is the user's `timestampFormat` (without it, Spark reads what its pattern does not as a
    /// cast would).
    timestamp_given: bool,
    date: Option<JavaPattern>,
}

const DEFAULT_TIMESTAMP_FORMAT: &str = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX";

fn options(args: &[ArrayRef], first: usize, reading: bool) -> Result<Options> {
    let mut timestamp = None;
    let mut date = None;
    let mut i = first;
    while i + 1 < args.len() {
        let key = scalar_string(&args[i])?;
        let value = scalar_string(&args[i + 1])?;
        let pattern = JavaPattern::new(&value).map_err(|e| DataFusionError::Execution(e.to_string()))?;
        match key.to_ascii_lowercase().as_str() {
            "timestampformat" => timestamp = Some(pattern),
            "dateformat" => date = Some(pattern),
            other => {
                return exec_err!("unsupported on the embedded engine: the JSON option {other}");
            }
        }
        i += 2;
    }
    let default = if reading {
        "yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]"
    } else {
        DEFAULT_TIMESTAMP_FORMAT
    };
    Ok(Options {
        timestamp_given: timestamp.is_some(),
        timestamp: match timestamp {
            Some(t) => t,
            None => JavaPattern::new(default).map_err(|e| DataFusionError::Internal(e.to_string()))?,
        },
        date,
    })
}

fn scalar_string(a: &ArrayRef) -> Result<String> {
    match ScalarValue::try_from_array(a, 0)? {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Ok(s),
        other => exec_err!("a JSON option must be a string literal, got {other}"),
    }
}

impl ScalarUDFImpl for SparkJson {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        match self.kind {
            JsonFn::GetJsonObject => "get_json_object",
            JsonFn::ArrayLength => "json_array_length",
            JsonFn::ObjectKeys => "json_object_keys",
            JsonFn::ToJson => "to_json",
            JsonFn::FromJson => "from_json",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let n = arg_types.len();
        match (self.kind, n) {
            (JsonFn::GetJsonObject, 2) | (JsonFn::ArrayLength | JsonFn::ObjectKeys, 1) => Ok(vec![DataType::Utf8; n]),
            (JsonFn::ToJson, n) if n % 2 == 1 => {
                if let Some(t) = unwritable(&arg_types[0]) {
                    return plan_err!("unsupported on the embedded engine: to_json of a map with {t} keys");
                }
                let mut t = vec![arg_types[0].clone()];
                t.extend(std::iter::repeat_n(DataType::Utf8, n - 1));
                Ok(t)
            }
            (JsonFn::FromJson, n) if n >= 2 && n % 2 == 0 => Ok(vec![DataType::Utf8; n]),
            _ => plan_err!("{} does not take {n} arguments", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        match self.kind {
            JsonFn::ArrayLength => Ok(DataType::Int32),
            JsonFn::ObjectKeys => Ok(DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))),
            JsonFn::FromJson => plan_err!("from_json's type comes from its schema"),
            _ => Ok(DataType::Utf8),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<Arc<Field>> {
        let t = match self.kind {
            JsonFn::FromJson => match args.scalar_arguments.get(1) {
                Some(Some(
                    ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)),
                )) => parse_schema(s).map_err(|e| {
                    DataFusionError::Plan(format!("unsupported on the embedded engine: from_json with {e}"))
                })?,
                _ => {
                    return plan_err!(
                        "unsupported on the embedded engine: from_json with a schema that is not a string literal"
                    );
                }
            },
            _ => {
                let types: Vec<DataType> = args.arg_fields.iter().map(|f| f.data_type().clone()).collect();
                self.return_type(&types)?
            }
        };
        Ok(Arc::new(Field::new(self.name(), t, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = args.number_rows.max(1);
        let arrays = args.args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
        let out: ArrayRef = match self.kind {
            JsonFn::GetJsonObject => {
                let (json, path) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
                let values = json
                    .iter()
                    .zip(path.iter())
                    .map(|(j, p)| match (j, p) {
                        (Some(j), Some(p)) => get_json_object(j, p),
                        _ => Ok(None),
                    })
                    .collect::<Result<StringArray>>()?;
                Arc::new(values)
            }
            JsonFn::ArrayLength => {
                let mut b = Int32Builder::new();
                for j in arrays[0].as_string::<i32>().iter() {
                    match j.map(parse).transpose()?.flatten() {
                        Some(Json::Array(items)) => b.append_value(items.len() as i32),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            JsonFn::ObjectKeys => {
                let mut b = arrow_array::builder::ListBuilder::new(StringBuilder::new());
                for j in arrays[0].as_string::<i32>().iter() {
                    match j.map(parse).transpose()?.flatten() {
                        Some(Json::Object(members)) => {
                            for (k, _) in &members {
                                b.values().append_value(k);
                            }
                            b.append(true);
                        }
                        _ => b.append(false),
                    }
                }
                Arc::new(b.finish())
            }
            JsonFn::ToJson => {
                let opts = options(&arrays, 1, false)?;
                let value = &arrays[0];
                let mut b = StringBuilder::new();
                for i in 0..value.len() {
                    if value.is_null(i) {
                        b.append_null();
                    } else {
                        let mut out = String::new();
                        write_arrow(value.as_ref(), i, &opts, &mut out)?;
                        b.append_value(out);
                    }
                }
                Arc::new(b.finish())
            }
            JsonFn::FromJson => {
                let opts = options(&arrays, 2, true)?;
                let schema = parse_schema(&scalar_string(&arrays[1])?)
                    .map_err(|e| DataFusionError::Execution(format!("from_json with {e}")))?;
                let parsed = arrays[0]
                    .as_string::<i32>()
                    .iter()
                    // Empty text is no record: a NULL row, as Spark's parser gives none.
                    .map(|j| {
                        j.map(parse)
                            .transpose()
                            .map(|v| (j.is_some_and(|s| !s.trim().is_empty()), v.flatten()))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let values: Vec<Option<&Json>> = parsed.iter().map(|(_, v)| v.as_ref()).collect();
                match &schema {
                    // A record that is not an object is a row of NULL fields (Spark's PERMISSIVE mode).
                    DataType::Struct(fields) => {
                        let present: Vec<bool> = parsed.iter().map(|(p, _)| *p).collect();
                        build_struct(&values, fields, Some(NullBuffer::from(present)), &opts)?
                    }
                    t => build(&values, t, &opts)?,
                }
            }
        };
        columnar(out, scalar)
    }
}

/// A map key type inside `t` that `to_json` does not write: Spark writes a key as the `toString` of its internal
/// value, which for bytes and maps is a JVM object address.
fn unwritable(t: &DataType) -> Option<String> {
    match t {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) => {
                let k = kv[0].data_type();
                if writable_key(k) {
                    unwritable(kv[1].data_type())
                } else {
                    Some(crate::types::spark_type(k).unwrap_or_else(|_| k.to_string()))
                }
            }
            _ => None,
        },
        DataType::List(f) | DataType::LargeList(f) => unwritable(f.data_type()),
        DataType::Struct(fields) => fields.iter().find_map(|f| unwritable(f.data_type())),
        _ => None,
    }
}

fn writable_key(t: &DataType) -> bool {
    match t {
        DataType::List(f) => writable_key(f.data_type()),
        DataType::Struct(fields) => fields.iter().all(|f| writable_key(f.data_type())),
        t => {
            super::common::is_string_type(t)
                || t.is_integer()
                || matches!(
                    t,
                    DataType::Boolean
                        | DataType::Float32
                        | DataType::Float64
                        | DataType::Decimal128(..)
                        | DataType::Date32
                        | DataType::Timestamp(TimeUnit::Microsecond, _)
                )
        }
    }
}

/// A map key as Spark's `to_json` writes it: the `toString` of its internal value (a date is its day number, a
/// timestamp its microseconds, a struct `[a,b]` and an array `[1,2]`, NULL inside them `null`).
fn key_text(a: &dyn Array, i: usize) -> Result<String> {
    if a.is_null(i) {
        return Ok("null".into());
    }
    Ok(match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => a.as_string_view().value(i).to_string(),
        DataType::Boolean => a.as_boolean().value(i).to_string(),
        DataType::Int8 => a.as_primitive::<Int8Type>().value(i).to_string(),
        DataType::Int16 => a.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Float32 => java_float(a.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => java_double(a.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, s) => java_decimal(a.as_primitive::<Decimal128Type>().value(i), *s as i32),
        DataType::Date32 => a.as_primitive::<Date32Type>().value(i).to_string(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            a.as_primitive::<TimestampMicrosecondType>().value(i).to_string()
        }
        DataType::Struct(_) => {
            let s = a.as_struct();
            let parts = s
                .columns()
                .iter()
                .map(|c| key_text(c.as_ref(), i))
                .collect::<Result<Vec<_>>>()?;
            format!("[{}]", parts.join(","))
        }
        DataType::List(_) => {
            let items = a.as_list::<i32>().value(i);
            let parts = (0..items.len())
                .map(|j| key_text(items.as_ref(), j))
                .collect::<Result<Vec<_>>>()?;
            format!("[{}]", parts.join(","))
        }
        other => return exec_err!("unsupported on the embedded engine: to_json of a map with {other} keys"),
    })
}

/// Spark's schema text: a DDL field list (`a INT, b ARRAY<STRING>`) or a type (`STRUCT<a: INT>`, `array<int>`,
/// `map<string,int>`); field names keep their case.
pub fn parse_schema(s: &str) -> std::result::Result<DataType, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if ["struct<", "array<", "map<"].iter().any(|p| lower.starts_with(p)) {
        return parse_type(t);
    }
    Ok(DataType::Struct(parse_fields(t, ' ')?))
}

fn parse_fields(list: &str, separator: char) -> std::result::Result<Fields, String> {
    let mut fields = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let (field, tail) = crate::types::split_top(rest, ',').unwrap_or((rest, ""));
        let field = field.trim();
        let split = field
            .find(|c: char| c == separator || c == ':' || c.is_whitespace())
            .ok_or_else(|| format!("the schema field `{field}` (name and type expected)"))?;
        let width = field[split..].chars().next().map_or(1, char::len_utf8);
        let (name, ty) = (
            field[..split].trim(),
            field[split + width..].trim().trim_start_matches(':').trim(),
        );
        let name = name.trim_matches('`');
        fields.push(Field::new(name, parse_type(ty)?, true));
        rest = tail.trim();
    }
    Ok(Fields::from(fields))
}

fn parse_type(t: &str) -> std::result::Result<DataType, String> {
    let t = t.trim();
    let lower = t.to_ascii_lowercase();
    let inner = |prefix: &str| t[prefix.len()..t.len() - 1].to_string();
    if lower.starts_with("struct<") && lower.ends_with('>') {
        return Ok(DataType::Struct(parse_fields(&inner("struct<"), ':')?));
    }
    if lower.starts_with("array<") && lower.ends_with('>') {
        return Ok(DataType::List(Arc::new(Field::new_list_field(
            parse_type(&inner("array<"))?,
            true,
        ))));
    }
    if lower.starts_with("map<") && lower.ends_with('>') {
        let body = inner("map<");
        let (k, v) = crate::types::split_top(&body, ',').ok_or_else(|| format!("the type {t}"))?;
        let entries = Fields::from(vec![
            Field::new("key", parse_type(k)?, false),
            Field::new("value", parse_type(v)?, true),
        ]);
        return Ok(DataType::Map(
            Arc::new(Field::new("entries", DataType::Struct(entries), false)),
            false,
        ));
    }
    if lower.contains(" not null") || lower.contains(" comment ") {
        return Err(format!("the type {t} (NOT NULL and COMMENT are not read)"));
    }
    crate::types::arrow_type(t).map_err(|e| e.to_string())
}

/// A column of JSON values read into `t` (Spark's `JacksonParser` conversions): a value of another JSON type is NULL.
fn build(values: &[Option<&Json>], t: &DataType, opts: &Options) -> Result<ArrayRef> {
    macro_rules! ints {
        ($builder:ty, $native:ty) => {{
            let mut b = <$builder>::new();
            for v in values {
                b.append_option(match v {
                    Some(Json::Int(i)) => <$native>::try_from(*i).ok(),
                    _ => None,
                });
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match t {
        DataType::Int8 => ints!(Int8Builder, i8),
        DataType::Int16 => ints!(Int16Builder, i16),
        DataType::Int32 => ints!(Int32Builder, i32),
        DataType::Int64 => ints!(Int64Builder, i64),
        DataType::Float64 => {
            let mut b = Float64Builder::new();
            for v in values {
                b.append_option(v.and_then(json_double));
            }
            Arc::new(b.finish())
        }
        DataType::Float32 => {
            let mut b = Float32Builder::new();
            for v in values {
                b.append_option(v.and_then(json_double).map(|d| d as f32));
            }
            Arc::new(b.finish())
        }
        DataType::Decimal128(p, s) => {
            let mut b = Decimal128Builder::new();
            for v in values {
                b.append_option(v.and_then(|v| json_decimal(v, *p, *s)));
            }
            Arc::new(b.finish().with_precision_and_scale(*p, *s)?)
        }
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            for v in values {
                b.append_option(match v {
                    Some(Json::Bool(x)) => Some(*x),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            for v in values {
                match v {
                    None | Some(Json::Null) => b.append_null(),
                    Some(Json::Str(s)) => b.append_value(s),
                    Some(other) => {
                        let mut out = String::new();
                        write(other, &mut out);
                        b.append_value(out);
                    }
                }
            }
            Arc::new(b.finish())
        }
        DataType::Binary => {
            use base64::Engine as _;
            let mut b = BinaryBuilder::new();
            for v in values {
                b.append_option(match v {
                    Some(Json::Str(s)) => base64::engine::general_purpose::STANDARD.decode(s).ok(),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Date32 => {
            let mut b = Date32Builder::new();
            for v in values {
                b.append_option(match v {
                    Some(Json::Str(s)) => json_date(s, opts)?,
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let mut b = TimestampMicrosecondBuilder::new();
            for v in values {
                b.append_option(match v {
                    Some(Json::Str(s)) => json_timestamp(s, opts)?,
                    Some(Json::Int(i)) => i64::try_from(*i).ok().and_then(|i| i.checked_mul(1_000_000)),
                    _ => None,
                });
            }
            Arc::new(b.finish().with_timezone_opt(tz.clone()))
        }
        DataType::Struct(fields) => {
            let nulls = NullBuffer::from(
                values
                    .iter()
                    .map(|v| matches!(v, Some(Json::Object(_))))
                    .collect::<Vec<_>>(),
            );
            build_struct(values, fields, Some(nulls), opts)?
        }
        DataType::List(field) => {
            let mut offsets = vec![0i32];
            let mut children: Vec<Option<&Json>> = Vec::new();
            let mut valid = Vec::with_capacity(values.len());
            for v in values {
                if let Some(Json::Array(items)) = v {
                    children.extend(items.iter().map(Some));
                    valid.push(true);
                } else {
                    valid.push(false);
                }
                offsets.push(children.len() as i32);
            }
            let child = build(&children, field.data_type(), opts)?;
            Arc::new(ListArray::try_new(
                field.clone(),
                OffsetBuffer::new(offsets.into()),
                child,
                Some(NullBuffer::from(valid)),
            )?)
        }
        DataType::Map(entries, sorted) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return exec_err!("a map type without key and value");
            };
            let mut offsets = vec![0i32];
            let mut keys: Vec<Option<&Json>> = Vec::new();
            let mut vals: Vec<Option<&Json>> = Vec::new();
            let mut valid = Vec::with_capacity(values.len());
            let key_texts: Vec<Json>;
            {
                let mut texts = Vec::new();
                for v in values {
                    if let Some(Json::Object(members)) = v {
                        for (k, _) in members {
                            texts.push(Json::Str(k.clone()));
                        }
                    }
                }
                key_texts = texts;
            }
            let mut next_key = 0;
            for v in values {
                if let Some(Json::Object(members)) = v {
                    for (_, val) in members {
                        keys.push(Some(&key_texts[next_key]));
                        next_key += 1;
                        vals.push(Some(val));
                    }
                    valid.push(true);
                } else {
                    valid.push(false);
                }
                offsets.push(keys.len() as i32);
            }
            let key_array = build(&keys, kv[0].data_type(), opts)?;
            if key_array.null_count() > 0 {
                return exec_err!(
                    "unsupported on the embedded engine: from_json into a map whose keys are not strings"
                );
            }
            let entries_array = StructArray::try_new(
                kv.clone(),
                vec![key_array, build(&vals, kv[1].data_type(), opts)?],
                None,
            )?;
            Arc::new(MapArray::try_new(
                entries.clone(),
                OffsetBuffer::new(offsets.into()),
                entries_array,
                Some(NullBuffer::from(valid)),
                *sorted,
            )?)
        }
        other => return exec_err!("unsupported on the embedded engine: from_json into {other}"),
    })
}

fn build_struct(
    values: &[Option<&Json>],
    fields: &Fields,
    nulls: Option<NullBuffer>,
    opts: &Options,
) -> Result<ArrayRef> {
    let children = fields
        .iter()
        .map(|f| {
            let column: Vec<Option<&Json>> = values
                .iter()
                .map(|v| match v {
                    // The last member of that name, as Jackson's streaming reader leaves it.
                    Some(Json::Object(members)) => members.iter().rev().find(|(k, _)| k == f.name()).map(|(_, v)| v),
                    _ => None,
                })
                .collect();
            build(&column, f.data_type(), opts)
        })
        .collect::<Result<Vec<_>>>()?;
    if fields.is_empty() {
        return Ok(Arc::new(StructArray::new_empty_fields(values.len(), nulls)));
    }
    Ok(Arc::new(StructArray::try_new(fields.clone(), children, nulls)?))
}

fn json_double(v: &Json) -> Option<f64> {
    match v {
        Json::Int(i) => Some(*i as f64),
        Json::Float(f) => Some(*f),
        Json::Str(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" | "+Infinity" | "+INF" | "INF" => Some(f64::INFINITY),
            "-Infinity" | "-INF" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// A JSON number as `DECIMAL(p, s)`, rounded half up; NULL when it does not fit. A fraction is read from the shortest
/// text of its double (the text it was written with, unless that had more than 17 significant digits).
fn json_decimal(v: &Json, p: u8, s: i8) -> Option<i128> {
    let (digits, exp): (i128, i32) = match v {
        Json::Int(i) => (*i, 0),
        Json::Float(f) if f.is_finite() => {
            let text = format!("{:e}", f);
            let (m, e) = text.split_once('e')?;
            let e: i32 = e.parse().ok()?;
            let frac = m.split_once('.').map(|(_, f)| f.len()).unwrap_or(0) as i32;
            (m.replace('.', "").parse().ok()?, e - frac)
        }
        _ => return None,
    };
    // value = digits × 10^exp, wanted as unscaled × 10^-s.
    let shift = exp + s as i32;
    let unscaled = if shift >= 0 {
        digits.checked_mul(10i128.checked_pow(shift as u32)?)?
    } else {
        let d = 10i128.checked_pow((-shift) as u32)?;
        let (q, r) = (digits / d, digits % d);
        if r.abs() * 2 >= d { q + digits.signum() } else { q }
    };
    (unscaled.unsigned_abs() < 10u128.pow(p as u32)).then_some(unscaled)
}

fn json_date(s: &str, opts: &Options) -> Result<Option<i32>> {
    match &opts.date {
        Some(p) => Ok(parsed(p.parse(s))?
            .map(|t| (t.date() - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32)),
        None => Ok(super::casts::spark_string_to_date(s)),
    }
}

fn json_timestamp(s: &str, opts: &Options) -> Result<Option<i64>> {
    let by_pattern = parsed(opts.timestamp.parse(s))?.map(|t| t.and_utc().timestamp_micros());
    if by_pattern.is_some() || opts.timestamp_given {
        return Ok(by_pattern);
    }
    // Spark 3.3+: without a timestampFormat, text the default pattern does not read is read as CAST reads it (the
    // engine's string-to-timestamp cast, in the UTC session).
    let text: ArrayRef = Arc::new(StringArray::from(vec![s.trim()]));
    let cast = datafusion::arrow::compute::cast(&text, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let micros = cast.as_primitive::<TimestampMicrosecondType>();
    Ok(micros.is_valid(0).then(|| micros.value(0)))
}

fn parsed(p: Parsed) -> Result<Option<chrono::NaiveDateTime>> {
    match p {
        Parsed::Value(t) => Ok(Some(t)),
        Parsed::Null => Ok(None),
        Parsed::SparkError(e) => exec_err!("{e}"),
    }
}

/// Value `i` of an Arrow array as Spark's `to_json` writes it: struct fields that are NULL left out, map keys as
/// their text, dates and timestamps in the options' formats, binary as base64.
fn write_arrow(a: &dyn Array, i: usize, opts: &Options, out: &mut String) -> Result<()> {
    use base64::Engine as _;
    if a.is_null(i) {
        out.push_str("null");
        return Ok(());
    }
    match a.data_type() {
        DataType::Boolean => out.push_str(if a.as_boolean().value(i) { "true" } else { "false" }),
        DataType::Int8 => out.push_str(&a.as_primitive::<Int8Type>().value(i).to_string()),
        DataType::Int16 => out.push_str(&a.as_primitive::<Int16Type>().value(i).to_string()),
        DataType::Int32 => out.push_str(&a.as_primitive::<Int32Type>().value(i).to_string()),
        DataType::Int64 => out.push_str(&a.as_primitive::<Int64Type>().value(i).to_string()),
        DataType::Float32 => {
            let f = a.as_primitive::<Float32Type>().value(i);
            let text = java_float(f);
            if f.is_finite() {
                out.push_str(&text)
            } else {
                write_string(&text, out)
            }
        }
        DataType::Float64 => {
            let f = a.as_primitive::<Float64Type>().value(i);
            let text = java_double(f);
            if f.is_finite() {
                out.push_str(&text)
            } else {
                write_string(&text, out)
            }
        }
        DataType::Decimal128(_, s) => {
            out.push_str(&java_decimal(a.as_primitive::<Decimal128Type>().value(i), *s as i32))
        }
        DataType::Utf8 => write_string(a.as_string::<i32>().value(i), out),
        DataType::LargeUtf8 => write_string(a.as_string::<i64>().value(i), out),
        DataType::Utf8View => write_string(a.as_string_view().value(i), out),
        DataType::Binary => write_string(
            &base64::engine::general_purpose::STANDARD.encode(a.as_binary::<i32>().value(i)),
            out,
        ),
        DataType::Date32 => {
            let days = a.as_primitive::<Date32Type>().value(i);
            let Some(d) = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|e| e.checked_add_signed(chrono::Duration::days(days as i64)))
            else {
                return exec_err!("to_json: the date {days} days from 1970-01-01 is out of range");
            };
            let text = match &opts.date {
                Some(p) => p.format(d.and_hms_opt(0, 0, 0).expect("midnight")),
                None => d.format("%Y-%m-%d").to_string(),
            };
            write_string(&text, out)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let micros = a.as_primitive::<TimestampMicrosecondType>().value(i);
            let Some(t) = chrono::DateTime::from_timestamp_micros(micros) else {
                return exec_err!("to_json: timestamp out of range");
            };
            write_string(&opts.timestamp.format(t.naive_utc()), out)
        }
        DataType::Struct(fields) => {
            let s = a.as_struct();
            out.push('{');
            let mut first = true;
            for (f, child) in fields.iter().zip(s.columns()) {
                if child.is_null(i) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                write_string(f.name(), out);
                out.push(':');
                write_arrow(child.as_ref(), i, opts, out)?;
            }
            out.push('}');
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let items = l.value(i);
            out.push('[');
            for j in 0..items.len() {
                if j > 0 {
                    out.push(',');
                }
                write_arrow(items.as_ref(), j, opts, out)?;
            }
            out.push(']');
        }
        DataType::Map(..) => {
            let m = a.as_map();
            let entries = m.value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push('{');
            for j in 0..entries.len() {
                if j > 0 {
                    out.push(',');
                }
                let key = key_text(keys.as_ref(), j)?;
                write_string(&key, out);
                out.push(':');
                write_arrow(values.as_ref(), j, opts, out)?;
            }
            out.push('}');
        }
        DataType::Null => out.push_str("null"),
        other => return exec_err!("unsupported on the embedded engine: to_json of {other}"),
    }
    Ok(())
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

    #[test]
    fn schemas() {
        // A field name and type split at a multi-byte space.
        assert_eq!(
            parse_schema("a\u{a0}INT").unwrap(),
            DataType::Struct(Fields::from(vec![Field::new("a", DataType::Int32, true)]))
        );
        assert_eq!(
            parse_schema("a INT, b DOUBLE").unwrap(),
            DataType::Struct(Fields::from(vec![
                Field::new("a", DataType::Int32, true),
                Field::new("b", DataType::Float64, true)
            ]))
        );
        let t = parse_schema("STRUCT<teacher: STRING, student: ARRAY<STRUCT<name: STRING, rank: INT>>>").unwrap();
        assert_eq!(
            crate::types::spark_type(&t).unwrap(),
            "struct<teacher:string,student:array<struct<name:string,rank:int>>>"
        );
        assert_eq!(json_decimal(&Json::Float(1.25), 5, 1), Some(13));
        assert_eq!(json_decimal(&Json::Float(1.15), 5, 1), Some(12));
    }
}
