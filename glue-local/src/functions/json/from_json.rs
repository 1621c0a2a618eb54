//! JSON values read into an Arrow type, as Spark's `JacksonParser` converts them (`from_json`).

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder, Int8Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, ListArray, MapArray, StringArray, StructArray};
use arrow_schema::{DataType, Fields, TimeUnit};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::common::{Result, exec_err};

use super::options::Options;
use super::value::{Json, write};
use crate::datetime::Parsed;

/// A column of JSON values read into `t` (Spark's `JacksonParser` conversions): a value of another JSON type is NULL.
pub(super) fn build(values: &[Option<&Json>], t: &DataType, opts: &Options) -> Result<ArrayRef> {
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

pub(super) fn build_struct(
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
        None => Ok(crate::functions::casts::spark_string_to_date(s)),
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

#[cfg(test)]
mod tests {
    use arrow_schema::{Field, Fields};

    use super::super::schema::parse_schema;
    use super::*;

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
