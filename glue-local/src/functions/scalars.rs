//! Small Spark scalar functions DataFusion lacks, one `ScalarUDFImpl` for a family: [`SparkNumeric`] (`log1p`,
//! `hypot`, `conv`), [`SparkSoundex`], [`SparkTypeof`] and [`SparkEpoch`] (`unix_seconds`/`_millis`/`_micros`,
//! `timestamp_seconds`/`_millis`/`_micros`). Each follows Spark 3.5's implementation (cited on the item), ANSI off.

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::common::{all_scalar, columnar, is_string_type};

/// Every function of this module, to register in a session.
pub fn udfs() -> Vec<datafusion::logical_expr::ScalarUDF> {
    use datafusion::logical_expr::ScalarUDF;
    let mut all: Vec<ScalarUDF> = [Numeric::Log1p, Numeric::Hypot, Numeric::Conv]
        .into_iter()
        .map(|k| ScalarUDF::from(SparkNumeric::new(k)))
        .collect();
    all.extend(
        [
            Epoch::UnixSeconds,
            Epoch::UnixMillis,
            Epoch::UnixMicros,
            Epoch::TimestampSeconds,
            Epoch::TimestampMillis,
            Epoch::TimestampMicros,
        ]
        .into_iter()
        .map(|k| ScalarUDF::from(SparkEpoch::new(k))),
    );
    all.push(ScalarUDF::from(SparkSoundex::new()));
    all.push(ScalarUDF::from(SparkElementAt::new(false)));
    all.push(ScalarUDF::from(SparkAssertTrue::new()));
    all.push(ScalarUDF::from(SparkGetField::new()));
    all.push(ScalarUDF::from(SparkElementAt::new(true)));
    all.push(ScalarUDF::from(SparkTypeof::new()));
    all
}

/// A numeric Spark function DataFusion lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Numeric {
    /// `log1p(x)`: `ln(1 + x)` computed without the rounding of `1 + x`; NULL for `x <= -1` (Spark's `Log1p`).
    Log1p,
    /// `hypot(a, b)`: `sqrt(a² + b²)` without overflow (Java's `StrictMath.hypot`).
    Hypot,
    /// `conv(num, from_base, to_base)`: `num` read in `from_base` as an unsigned 64-bit number, written in `to_base`
    /// (signed when `to_base` is negative). Spark's `NumberConverter.convert`.
    Conv,
}

/// The functions of [`Numeric`], each under its Spark name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkNumeric {
    kind: Numeric,
    signature: Signature,
}

impl SparkNumeric {
    /// The function of `kind`.
    pub fn new(kind: Numeric) -> Self {
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkNumeric {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        match self.kind {
            Numeric::Log1p => "log1p",
            Numeric::Hypot => "hypot",
            Numeric::Conv => "conv",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match (self.kind, arg_types.len()) {
            (Numeric::Log1p, 1) | (Numeric::Hypot, 2) => Ok(vec![DataType::Float64; arg_types.len()]),
            (Numeric::Conv, 3) => Ok(vec![DataType::Utf8, DataType::Int32, DataType::Int32]),
            (_, n) => plan_err!("{} does not take {n} arguments", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Numeric::Conv => DataType::Utf8,
            _ => DataType::Float64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = args.number_rows.max(1);
        let arrays = args.args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
        let out: ArrayRef = match (self.kind, arrays.as_slice()) {
            (Numeric::Log1p, [x]) => Arc::new(
                x.as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.and_then(|v| (v > -1.0).then(|| v.ln_1p())))
                    .collect::<Float64Array>(),
            ),
            (Numeric::Hypot, [a, b]) => Arc::new(
                a.as_primitive::<Float64Type>()
                    .iter()
                    .zip(b.as_primitive::<Float64Type>().iter())
                    .map(|(a, b)| Some(a?.hypot(b?)))
                    .collect::<Float64Array>(),
            ),
            (Numeric::Conv, [num, from, to]) => {
                let (from, to) = (from.as_primitive::<Int32Type>(), to.as_primitive::<Int32Type>());
                Arc::new(
                    num.as_string::<i32>()
                        .iter()
                        .zip(from.iter().zip(to.iter()))
                        .map(|(s, (f, t))| conv(s?, f?, t?))
                        .collect::<StringArray>(),
                )
            }
            _ => return exec_err!("{}: unexpected arguments", self.name()),
        };
        columnar(out, scalar)
    }
}

/// Spark's `conv`: `None` for a base outside 2..=36 or an empty number. Reading stops at the first character that is
/// not a digit of `from`; an overflow reads as all ones (`-1` unsigned).
pub fn conv(num: &str, from: i32, to: i32) -> Option<String> {
    if !(2..=36).contains(&from) || !(2..=36).contains(&to.unsigned_abs()) || num.is_empty() {
        return None;
    }
    let (mut negative, digits) = match num.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, num),
    };
    let radix = from as u64;
    let mut v: u64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(from as u32) else { break };
        match v.checked_mul(radix).and_then(|x| x.checked_add(d as u64)) {
            Some(x) => v = x,
            None => {
                v = u64::MAX;
                break;
            }
        }
    }
    let mut signed = v as i64;
    if negative && to > 0 {
        signed = if signed < 0 { -1 } else { -signed };
    }
    if to < 0 && signed < 0 {
        signed = signed.wrapping_neg();
        negative = true;
    }
    let mut u = signed as u64;
    let base = to.unsigned_abs() as u64;
    let mut out = Vec::new();
    loop {
        let d = (u % base) as u32;
        out.push(std::char::from_digit(d, base as u32)?.to_ascii_uppercase());
        u /= base;
        if u == 0 {
            break;
        }
    }
    if negative && to < 0 {
        out.push('-');
    }
    Some(out.into_iter().rev().collect())
}

/// Spark's `soundex(str)` (`UTF8String.soundex`): the American Soundex code of an ASCII name, the string itself when
/// it does not start with a letter.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkSoundex {
    signature: Signature,
}

impl Default for SparkSoundex {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkSoundex {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkSoundex {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "soundex"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [_] => Ok(vec![DataType::Utf8]),
            other => plan_err!("soundex takes one string, got {other:?}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let [arg] = args.args.as_slice() else {
            return exec_err!("soundex takes one argument");
        };
        let array = arg.to_array(args.number_rows.max(1))?;
        let out: StringArray = array.as_string::<i32>().iter().map(|v| v.map(soundex)).collect();
        columnar(Arc::new(out), scalar)
    }
}

/// The Soundex code of `s`, byte by byte as Spark reads it (a byte that is not an ASCII letter is skipped and breaks
/// a run of equal codes; `H` and `W` neither count nor break one).
pub fn soundex(s: &str) -> String {
    const CODES: &[u8; 26] = b"01230120022455012623010202";
    let bytes = s.as_bytes();
    let Some(first) = bytes.first().map(u8::to_ascii_uppercase) else {
        return String::new();
    };
    if !first.is_ascii_uppercase() {
        return s.to_string();
    }
    let mut out = vec![first, b'0', b'0', b'0'];
    let mut n = 1;
    let mut last = CODES[(first - b'A') as usize];
    for b in &bytes[1..] {
        let b = b.to_ascii_uppercase();
        if !b.is_ascii_uppercase() {
            last = b'0';
            continue;
        }
        let code = CODES[(b - b'A') as usize];
        if matches!(b, b'H' | b'W') {
            continue;
        }
        if code != b'0' && code != last {
            out[n] = code;
            n += 1;
            if n > 3 {
                break;
            }
        }
        last = code;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Spark's `typeof(x)`: the Spark name of the argument's type (`int`, `array<int>`, `decimal(10,2)`, …).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkTypeof {
    signature: Signature,
}

impl Default for SparkTypeof {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkTypeof {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkTypeof {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [field] = args.arg_fields.as_slice() else {
            return exec_err!("typeof takes one argument");
        };
        // The field, not only the type: an ANSI interval's Spark type is in its metadata.
        let name = crate::types::spark_field_type(field)
            .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))))
    }
}

/// Conversions between timestamps and counts of time since 1970-01-01 00:00:00 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Epoch {
    /// `unix_seconds(ts)`: whole seconds, rounded down.
    UnixSeconds,
    /// `unix_millis(ts)`: whole milliseconds, rounded down.
    UnixMillis,
    /// `unix_micros(ts)`.
    UnixMicros,
    /// `timestamp_seconds(n)`: an integer, decimal or double count of seconds.
    TimestampSeconds,
    /// `timestamp_millis(n)`: an integer count of milliseconds.
    TimestampMillis,
    /// `timestamp_micros(n)`: an integer count of microseconds.
    TimestampMicros,
}

impl Epoch {
    fn micros_per_unit(self) -> i64 {
        match self {
            Epoch::UnixSeconds | Epoch::TimestampSeconds => 1_000_000,
            Epoch::UnixMillis | Epoch::TimestampMillis => 1_000,
            Epoch::UnixMicros | Epoch::TimestampMicros => 1,
        }
    }

    fn to_timestamp(self) -> bool {
        matches!(
            self,
            Epoch::TimestampSeconds | Epoch::TimestampMillis | Epoch::TimestampMicros
        )
    }
}

/// The functions of [`Epoch`] (Spark's `UnixSeconds`, `SecondsToTimestamp`, … in `datetimeExpressions.scala`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkEpoch {
    kind: Epoch,
    signature: Signature,
}

impl SparkEpoch {
    /// The function of `kind`.
    pub fn new(kind: Epoch) -> Self {
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn spark_timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

impl ScalarUDFImpl for SparkEpoch {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        match self.kind {
            Epoch::UnixSeconds => "unix_seconds",
            Epoch::UnixMillis => "unix_millis",
            Epoch::UnixMicros => "unix_micros",
            Epoch::TimestampSeconds => "timestamp_seconds",
            Epoch::TimestampMillis => "timestamp_millis",
            Epoch::TimestampMicros => "timestamp_micros",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [t] = arg_types else {
            return plan_err!("{} takes one argument, got {}", self.name(), arg_types.len());
        };
        let to = match (self.kind, t) {
            (k, _) if !k.to_timestamp() => spark_timestamp(),
            (Epoch::TimestampSeconds, DataType::Decimal128(..)) => t.clone(),
            (Epoch::TimestampSeconds, DataType::Float32 | DataType::Float64) => DataType::Float64,
            (Epoch::TimestampSeconds, t) if is_string_type(t) => DataType::Float64,
            (_, t) if t.is_integer() || t.is_null() || is_string_type(t) => DataType::Int64,
            (_, other) => return plan_err!("{} takes an integer, got {other}", self.name()),
        };
        Ok(vec![to])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.kind.to_timestamp() {
            spark_timestamp()
        } else {
            DataType::Int64
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let [arg] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name());
        };
        let array = arg.to_array(args.number_rows.max(1))?;
        let unit = self.kind.micros_per_unit();
        let overflow = || datafusion::error::DataFusionError::Execution(format!("{}: long overflow", self.name()));
        let out: ArrayRef = match array.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => Arc::new(
                array
                    .as_primitive::<TimestampMicrosecondType>()
                    .unary::<_, Int64Type>(|v| v.div_euclid(unit)),
            ),
            DataType::Int64 => {
                let values: Result<TimestampMicrosecondArray> = array
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(|v| v.checked_mul(unit).ok_or_else(overflow)).transpose())
                    .collect();
                Arc::new(values?.with_timezone("UTC"))
            }
            DataType::Float64 => Arc::new(
                array
                    .as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.and_then(|v| v.is_finite().then_some((v * unit as f64) as i64)))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("UTC"),
            ),
            DataType::Decimal128(_, s) => {
                let s = *s as i32;
                let values: Result<TimestampMicrosecondArray> = array
                    .as_primitive::<Decimal128Type>()
                    .iter()
                    .map(|v| {
                        v.map(|v| decimal_seconds_to_micros(v, s).ok_or_else(overflow))
                            .transpose()
                    })
                    .collect();
                Arc::new(values?.with_timezone("UTC"))
            }
            other => return exec_err!("{}: unexpected argument type {other}", self.name()),
        };
        columnar(out, scalar)
    }
}

/// A decimal count of seconds (unscaled `v`, scale `s`) in whole microseconds; `None` when it does not fit a long or
/// has a fraction of a microsecond (Spark's `longValueExact` fails there too).
fn decimal_seconds_to_micros(v: i128, s: i32) -> Option<i64> {
    let shift = 6 - s;
    let micros = if shift >= 0 {
        v.checked_mul(10i128.checked_pow(shift as u32)?)?
    } else {
        let d = 10i128.checked_pow((-shift) as u32)?;
        if v % d != 0 {
            return None;
        }
        v / d
    };
    i64::try_from(micros).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark 3.5's answers (pyspark 3.5.7; CI compares again through the function catalogue).
    #[test]
    fn conv_as_spark() {
        assert_eq!(conv("100", 2, 10).as_deref(), Some("4"));
        assert_eq!(conv("-10", 16, -10).as_deref(), Some("-16"));
        assert_eq!(conv("-1", 10, 16).as_deref(), Some("FFFFFFFFFFFFFFFF"));
        assert_eq!(conv("ff", 16, 2).as_deref(), Some("11111111"));
        assert_eq!(conv("12z", 10, 10).as_deref(), Some("12"));
        assert_eq!(conv("1", 1, 10), None);
        assert_eq!(conv("", 10, 10), None);
    }

    #[test]
    fn soundex_as_spark() {
        assert_eq!(soundex("Miller"), "M460");
        assert_eq!(soundex("Robert"), "R163");
        assert_eq!(soundex("Ashcraft"), "A261");
        assert_eq!(soundex("Tymczak"), "T522");
        assert_eq!(soundex("1abc"), "1abc");
        assert_eq!(soundex(""), "");
    }

    #[test]
    fn decimal_seconds() {
        assert_eq!(
            decimal_seconds_to_micros(1_230_219_000_123, 3),
            Some(1_230_219_000_123_000)
        );
        assert_eq!(decimal_seconds_to_micros(1_234_567, 7), None);
    }
}

/// Spark's `element_at(array, index)` / `element_at(map, key)` and `try_element_at`: the element at a 1-based index
/// (from the end when negative; NULL outside the array, ANSI off), or the map's value for the key (NULL when absent).
/// Index 0 fails the query in `element_at` (Spark's `INVALID_INDEX_OF_ZERO`) and is NULL in `try_element_at`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkElementAt {
    name: &'static str,
    signature: Signature,
}

impl SparkElementAt {
    /// `element_at` (`try_element_at` when `try_`).
    pub fn new(try_: bool) -> Self {
        Self {
            name: if try_ { "try_element_at" } else { "element_at" },
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkElementAt {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [l @ DataType::List(_), _] => Ok(vec![l.clone(), DataType::Int32]),
            [DataType::LargeList(f) | DataType::FixedSizeList(f, _), _] => {
                Ok(vec![DataType::List(f.clone()), DataType::Int32])
            }
            [m @ DataType::Map(entries, _), _] => match entries.data_type() {
                DataType::Struct(kv) => Ok(vec![m.clone(), kv[0].data_type().clone()]),
                other => plan_err!("{}: a map with entries {other}", self.name),
            },
            other => plan_err!(
                "{} takes an array and an index or a map and a key, got {other:?}",
                self.name
            ),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(DataType::List(f)) => Ok(f.data_type().clone()),
            Some(DataType::Map(entries, _)) => match entries.data_type() {
                DataType::Struct(kv) => Ok(kv[1].data_type().clone()),
                other => plan_err!("{}: a map with entries {other}", self.name),
            },
            other => plan_err!("{}: unexpected argument {other:?}", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = args.number_rows.max(1);
        let [container, key] = args.args.as_slice() else {
            return exec_err!("{} takes two arguments", self.name);
        };
        let (container, key) = (container.to_array(n)?, key.to_array(n)?);
        let mut positions: Vec<Option<u64>> = Vec::with_capacity(n);
        let values = match container.data_type() {
            DataType::List(_) => {
                let list = container.as_list::<i32>();
                let index = key.as_primitive::<Int32Type>();
                let offsets = list.value_offsets();
                for i in 0..list.len() {
                    if list.is_null(i) || index.is_null(i) {
                        positions.push(None);
                        continue;
                    }
                    let (start, len) = (offsets[i] as i64, (offsets[i + 1] - offsets[i]) as i64);
                    let at = index.value(i) as i64;
                    if at == 0 {
                        if self.name == "element_at" {
                            return exec_err!(
                                "[INVALID_INDEX_OF_ZERO] The index 0 is invalid: SQL array indices start at 1"
                            );
                        }
                        positions.push(None);
                        continue;
                    }
                    let offset = if at > 0 { at - 1 } else { len + at };
                    positions.push((0..len).contains(&offset).then(|| (start + offset) as u64));
                }
                list.values().clone()
            }
            DataType::Map(..) => {
                let map = container.as_map();
                let offsets = map.value_offsets();
                let keys = map.keys();
                for i in 0..map.len() {
                    if map.is_null(i) || key.is_null(i) {
                        positions.push(None);
                        continue;
                    }
                    let wanted = ScalarValue::try_from_array(&key, i)?;
                    let mut found = None;
                    for j in offsets[i] as usize..offsets[i + 1] as usize {
                        if ScalarValue::try_from_array(keys, j)? == wanted {
                            found = Some(j as u64);
                            break;
                        }
                    }
                    positions.push(found);
                }
                map.values().clone()
            }
            other => return exec_err!("{}: unexpected argument {other}", self.name),
        };
        let indices = arrow_array::UInt64Array::from(positions);
        let out = datafusion::arrow::compute::take(values.as_ref(), &indices, None)?;
        columnar(out, scalar)
    }
}

/// Spark's `assert_true(condition[, message])`: NULL when the condition is true, the query fails otherwise (a NULL
/// condition too) with the message, or Spark's `'<condition>' is not true!`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkAssertTrue {
    signature: Signature,
}

impl Default for SparkAssertTrue {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkAssertTrue {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkAssertTrue {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "assert_true"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [_] => Ok(vec![DataType::Boolean]),
            [_, _] => Ok(vec![DataType::Boolean, DataType::Utf8]),
            other => plan_err!("assert_true takes a condition and a message, got {other:?}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Null)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows.max(1);
        let arrays = args.args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
        let condition = arrays[0].as_boolean();
        for i in 0..condition.len() {
            if condition.is_null(i) || !condition.value(i) {
                let message = match arrays.get(1) {
                    Some(m) if !m.is_null(i) => m.as_string::<i32>().value(i).to_string(),
                    _ => "the condition of assert_true is not true!".to_string(),
                };
                return exec_err!("{message}");
            }
        }
        Ok(ColumnarValue::Scalar(ScalarValue::Null))
    }
}

/// Spark's cast to an integer type with ANSI off (`Cast.castToInt` and kin): an integer too wide for the target
/// wraps around (`cast(300 as tinyint)` is 44), a float or double is truncated and saturates at the target's
/// bounds for `int` and `bigint` (NaN is 0; for `tinyint`/`smallint` it goes through `int`, then wraps). Arrow's
/// casts give NULL instead. Used by the engine's casts; `to` is the target type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkIntegralCast {
    to: DataType,
    name: String,
    signature: Signature,
}

impl SparkIntegralCast {
    /// The cast to `to` (an integer type).
    pub fn new(to: DataType) -> Self {
        Self {
            name: format!("spark_cast_to_{}", to.to_string().to_ascii_lowercase()),
            to,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkIntegralCast {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if t.is_integer() => Ok(vec![DataType::Int64]),
            [DataType::Float32 | DataType::Float64] => Ok(vec![DataType::Float64]),
            other => plan_err!("{} takes a number, got {other:?}", self.name),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.to.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let [arg] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name);
        };
        let array = arg.to_array(args.number_rows.max(1))?;
        // Every value as Spark's long (integers) or, for doubles, Java's (long)/(int) conversion.
        let longs: arrow_array::Int64Array = match array.data_type() {
            DataType::Int64 => array.as_primitive::<Int64Type>().clone(),
            DataType::Float64 => {
                let wide = matches!(self.to, DataType::Int64);
                array
                    .as_primitive::<Float64Type>()
                    .unary(|d| if wide { d as i64 } else { d as i32 as i64 })
            }
            other => return exec_err!("{}: unexpected argument type {other}", self.name),
        };
        let out: ArrayRef = match self.to {
            DataType::Int8 => Arc::new(longs.unary::<_, arrow_array::types::Int8Type>(|v| v as i8)),
            DataType::Int16 => Arc::new(longs.unary::<_, arrow_array::types::Int16Type>(|v| v as i16)),
            DataType::Int32 => Arc::new(longs.unary::<_, Int32Type>(|v| v as i32)),
            DataType::Int64 => Arc::new(longs),
            ref other => return exec_err!("{}: unexpected target type {other}", self.name),
        };
        columnar(out, scalar)
    }
}

/// Spark's `x.f`: the field `f` of a struct, or of each struct of an array (Spark's array of the field; NULL where
/// the array is NULL, and for a NULL element). Field names match case-insensitively, as Spark's do. DataFusion's
/// `get_field` reads structs only; the engine plans dots through this function where an array is involved and for
/// `f(…).x`, which DataFusion's planner does not read.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkGetField {
    signature: Signature,
}

impl Default for SparkGetField {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkGetField {
    /// The function, `spark_get_field(x, 'f')`.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }

    /// The type of `x.name` for `x` of type `t`, if there is such a field.
    pub fn field_type(t: &DataType, name: &str) -> Result<DataType> {
        match t {
            DataType::Struct(fields) => match fields.iter().find(|x| x.name().eq_ignore_ascii_case(name)) {
                Some(x) => Ok(x.data_type().clone()),
                None => plan_err!("no field {name} in {t}"),
            },
            DataType::List(f) => Ok(DataType::List(Arc::new(arrow_schema::Field::new_list_field(
                Self::field_type(f.data_type(), name)?,
                true,
            )))),
            other => plan_err!("`.{name}` of {other}"),
        }
    }
}

/// The field `name` of a struct array, NULL where the struct is.
fn struct_field(structs: &arrow_array::StructArray, name: &str) -> Result<ArrayRef> {
    let index = structs
        .fields()
        .iter()
        .position(|f| f.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| datafusion::error::DataFusionError::Execution(format!("no field {name}")))?;
    let column = structs.column(index).clone();
    Ok(match structs.nulls() {
        Some(nulls) => {
            let merged = datafusion::arrow::buffer::NullBuffer::union(column.nulls(), Some(nulls));
            arrow_array::make_array(column.to_data().into_builder().nulls(merged).build()?)
        }
        None => column,
    })
}

fn get_field(a: &ArrayRef, name: &str) -> Result<ArrayRef> {
    match a.data_type() {
        DataType::Struct(_) => struct_field(a.as_struct(), name),
        DataType::List(_) => {
            let list = a.as_list::<i32>();
            let values = get_field(list.values(), name)?;
            Ok(Arc::new(arrow_array::ListArray::try_new(
                Arc::new(arrow_schema::Field::new_list_field(values.data_type().clone(), true)),
                list.offsets().clone(),
                values,
                list.nulls().cloned(),
            )?))
        }
        other => exec_err!("`.{name}` of {other}"),
    }
}

impl ScalarUDFImpl for SparkGetField {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "spark_get_field"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("spark_get_field's type comes from its field name")
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> Result<arrow_schema::FieldRef> {
        let name = match args.scalar_arguments.get(1) {
            Some(Some(
                ScalarValue::Utf8(Some(n)) | ScalarValue::Utf8View(Some(n)) | ScalarValue::LargeUtf8(Some(n)),
            )) => n,
            _ => return plan_err!("spark_get_field takes a literal field name"),
        };
        let t = Self::field_type(args.arg_fields[0].data_type(), name)?;
        Ok(Arc::new(arrow_schema::Field::new(self.name(), t, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = args.number_rows.max(1);
        let value = args.args[0].to_array(n)?;
        let name = match &args.args[1] {
            ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)),
            ) => s.clone(),
            _ => return exec_err!("spark_get_field takes a literal field name"),
        };
        columnar(get_field(&value, &name)?, scalar)
    }
}

/// Spark's `lpad`/`rpad` of a binary value (`ByteArray.lpad`/`rpad`): padded with the pad bytes (a zero byte by
/// default) to `len` bytes, or cut to its first `len` bytes; empty for `len <= 0`; unchanged but cut when the pad is
/// empty.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkBinaryPad {
    left: bool,
    signature: Signature,
}

impl SparkBinaryPad {
    /// `lpad` (`left`) or `rpad` of a binary value.
    pub fn new(left: bool) -> Self {
        Self {
            left,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The padded bytes (see [`SparkBinaryPad`]).
pub fn pad_bytes(bytes: &[u8], len: i32, pad: &[u8], left: bool) -> Vec<u8> {
    if len <= 0 {
        return Vec::new();
    }
    let len = len as usize;
    if bytes.len() >= len || pad.is_empty() {
        return bytes[..bytes.len().min(len)].to_vec();
    }
    let fill: Vec<u8> = pad.iter().copied().cycle().take(len - bytes.len()).collect();
    if left {
        [fill.as_slice(), bytes].concat()
    } else {
        [bytes, fill.as_slice()].concat()
    }
}

impl ScalarUDFImpl for SparkBinaryPad {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        if self.left {
            "spark_binary_lpad"
        } else {
            "spark_binary_rpad"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Binary, DataType::Int32]),
            3 => Ok(vec![DataType::Binary, DataType::Int32, DataType::Binary]),
            n => plan_err!("{} does not take {n} arguments", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let n = args.number_rows.max(1);
        let arrays = args.args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
        let (bytes, len) = (arrays[0].as_binary::<i32>(), arrays[1].as_primitive::<Int32Type>());
        let pad = arrays.get(2).map(|p| p.as_binary::<i32>());
        let out: arrow_array::BinaryArray = (0..bytes.len())
            .map(|i| {
                if bytes.is_null(i) || len.is_null(i) || pad.is_some_and(|p| p.is_null(i)) {
                    return None;
                }
                let pad = pad.map(|p| p.value(i)).unwrap_or(&[0u8]);
                Some(pad_bytes(bytes.value(i), len.value(i), pad, self.left))
            })
            .collect();
        columnar(Arc::new(out), scalar)
    }
}
