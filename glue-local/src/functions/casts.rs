//! Spark's casts that DataFusion's differ from, as functions the engine's cast rules call: a string to a date, a
//! timestamp to a string, a decimal truncated to a whole number.

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::DataType;
use datafusion::common::cast::{as_large_string_array, as_string_array, as_string_view_array};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::common::columnar;

/// Spark's cast of a string to a date (`DateTimeUtils.stringToDate`): after trimming white space, `yyyy`, `yyyy-[m]m`,
/// `yyyy-[m]m-[d]d`, optionally followed by ` ` or `T` and anything; a missing month or day is 1; anything else, or an
/// impossible date, is NULL (ANSI off). DataFusion's cast accepts only full dates. Registered as `spark_string_to_date`
/// and used by the engine's casts.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkStringToDate {
    signature: Signature,
}

impl Default for SparkStringToDate {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkStringToDate {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

/// Days since 1970-01-01 of a string, as Spark's cast reads it (see [`SparkStringToDate`]).
pub fn spark_string_to_date(s: &str) -> Option<i32> {
    let s = s.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    let date = match s.find([' ', 'T']) {
        Some(i) => &s[..i],
        None => s,
    };
    let (sign, date) = match date.as_bytes().first() {
        Some(b'-') => (-1, &date[1..]),
        Some(b'+') => (1, &date[1..]),
        _ => (1, date),
    };
    let mut parts = date.split('-');
    let year = parts.next()?;
    let month = parts.next();
    let day = parts.next();
    if parts.next().is_some() || !(4..=7).contains(&year.len()) {
        return None;
    }
    let digits = |p: &str, max: usize| -> Option<u32> {
        if p.is_empty() || p.len() > max || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let year = sign * digits(year, 7)? as i32;
    let month = month.map(|m| digits(m, 2)).unwrap_or(Some(1))?;
    let day = day.map(|d| digits(d, 2)).unwrap_or(Some(1))?;
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

impl ScalarUDFImpl for SparkStringToDate {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "spark_string_to_date"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("spark_string_to_date takes one argument, got {}", args.args.len());
        };
        let scalar = matches!(arg, ColumnarValue::Scalar(_));
        let array = arg.to_array(args.number_rows.max(1))?;
        let out: arrow_array::Date32Array = match array.data_type() {
            DataType::Utf8 => as_string_array(&array)?
                .iter()
                .map(|v| v.and_then(spark_string_to_date))
                .collect(),
            DataType::LargeUtf8 => as_large_string_array(&array)?
                .iter()
                .map(|v| v.and_then(spark_string_to_date))
                .collect(),
            DataType::Utf8View => as_string_view_array(&array)?
                .iter()
                .map(|v| v.and_then(spark_string_to_date))
                .collect(),
            DataType::Null => arrow_array::Date32Array::new_null(array.len()),
            other => return exec_err!("spark_string_to_date takes a string, got {other}"),
        };
        let out: ArrayRef = Arc::new(out);
        columnar(out, scalar)
    }
}

/// Spark's cast of a timestamp to a string: `yyyy-MM-dd HH:mm:ss`, then the fraction of a second without its trailing
/// zeros (`2024-01-01 10:11:12.5`), in the session time zone (UTC). DataFusion writes ISO 8601 (`T`, all nine
/// digits, and `Z` for a zoned value). Registered as `spark_timestamp_to_string` and used by the engine's casts.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkTimestampToString {
    signature: Signature,
}

impl Default for SparkTimestampToString {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkTimestampToString {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// Spark's text of a timestamp given in microseconds since the epoch (UTC).
pub fn spark_timestamp_text(micros: i64) -> Option<String> {
    let t = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let frac = micros.rem_euclid(1_000_000);
    if frac != 0 {
        let digits = format!("{frac:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    Some(out)
}

impl ScalarUDFImpl for SparkTimestampToString {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "spark_timestamp_to_string"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("spark_timestamp_to_string takes one argument, got {}", args.args.len());
        };
        let scalar = matches!(arg, ColumnarValue::Scalar(_));
        let array = arg.to_array(args.number_rows.max(1))?;
        let micros =
            datafusion::arrow::compute::cast(&array, &DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None))?;
        let micros = micros.as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        let out: StringArray = micros.iter().map(|v| v.and_then(spark_timestamp_text)).collect();
        let out: ArrayRef = Arc::new(out);
        columnar(out, scalar)
    }
}

/// A decimal truncated toward zero to scale 0 (`12.5` → `12`, `-12.5` → `-12`), as Spark's cast of a string with a
/// fraction to an integer truncates it. A function of its own, not a cast to an integer type: DataFusion's optimizer
/// moves a cast out of a comparison (`cast(d as bigint) = 12` becomes `d = 12.0`), which is wrong for a cast that
/// drops a fraction (`'12.5'` would no longer equal 12). Registered as `spark_truncate_decimal`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkTruncateDecimal {
    signature: Signature,
}

impl Default for SparkTruncateDecimal {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkTruncateDecimal {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkTruncateDecimal {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "spark_truncate_decimal"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t @ DataType::Decimal128(..)] => Ok(vec![t.clone()]),
            _ => Ok(vec![DataType::Decimal128(38, 10)]),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Decimal128(p, s)] => Ok(DataType::Decimal128((*p as i16 - *s as i16).clamp(1, 38) as u8, 0)),
            _ => Ok(DataType::Decimal128(28, 0)),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("spark_truncate_decimal takes one argument");
        };
        let scalar = matches!(arg, ColumnarValue::Scalar(_));
        let array = arg.to_array(args.number_rows.max(1))?;
        let DataType::Decimal128(p, s) = array.data_type().clone() else {
            return exec_err!("spark_truncate_decimal takes a decimal");
        };
        let unit = 10i128.pow(s.max(0) as u32);
        let out = array
            .as_primitive::<Decimal128Type>()
            .unary::<_, Decimal128Type>(|v| v / unit)
            .with_precision_and_scale((p as i16 - s as i16).clamp(1, 38) as u8, 0)?;
        let out: ArrayRef = Arc::new(out);
        columnar(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_timestamp_texts() {
        assert_eq!(spark_timestamp_text(0).unwrap(), "1970-01-01 00:00:00");
        assert_eq!(spark_timestamp_text(1_500_000).unwrap(), "1970-01-01 00:00:01.5");
        assert_eq!(spark_timestamp_text(-1).unwrap(), "1969-12-31 23:59:59.999999");
        assert_eq!(
            spark_timestamp_text(253_402_214_400_000_000).unwrap(),
            "9999-12-31 00:00:00"
        );
    }

    /// Spark 3.5's `cast(<string> as date)` (pyspark 3.5.7, ANSI off), read when this was written.
    #[test]
    fn spark_dates() {
        let day = |y, m, d| {
            (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap() - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days() as i32
        };
        for (input, want) in [
            ("2009-07-30 12:58:59", Some(day(2009, 7, 30))),
            (" 2009-07-30T12:58:59", Some(day(2009, 7, 30))),
            ("2009-07", Some(day(2009, 7, 1))),
            ("2009", Some(day(2009, 1, 1))),
            ("2009-7-3", Some(day(2009, 7, 3))),
            ("2024-02-30", None),
            ("209-01-01", None),
            ("2009/07/30", None),
            ("", None),
        ] {
            assert_eq!(spark_string_to_date(input), want, "{input:?}");
        }
    }
}
