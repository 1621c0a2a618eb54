//! Arrow values written as JSON text, as Spark's `to_json` writes them.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_schema::{DataType, TimeUnit};
use datafusion::common::{Result, exec_err};

use super::options::Options;
use super::value::{java_decimal, java_double, java_float, write_string};

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

/// Value `i` of an Arrow array as Spark's `to_json` writes it: struct fields that are NULL left out, map keys as
/// their text, dates and timestamps in the options' formats, binary as base64.
pub(super) fn write_arrow(a: &dyn Array, i: usize, opts: &Options, out: &mut String) -> Result<()> {
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
