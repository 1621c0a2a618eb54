//! `months_between(t1, t2[, roundOff])` as Spark computes it (`DateTimeUtils.monthsBetween`, UTC session).

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, Float64Array};
use arrow_schema::{DataType, TimeUnit};
use chrono::{Datelike, NaiveDateTime};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

/// Spark's months between two instants: whole months when both fall on the same day of the month or both on the
/// last day of their months, else the month difference plus the rest in 31-day months, rounded to 8 digits (half up)
/// unless `round_off` is false.
pub fn months_between(t1: NaiveDateTime, t2: NaiveDateTime, round_off: bool) -> f64 {
    let months = |t: &NaiveDateTime| t.year() as i64 * 12 + t.month() as i64;
    let month_diff = (months(&t1) - months(&t2)) as f64;
    let last_day = |t: &NaiveDateTime| t.date().succ_opt().is_none_or(|n| n.month() != t.month());
    if t1.day() == t2.day() || (last_day(&t1) && last_day(&t2)) {
        return month_diff;
    }
    let seconds_of_day =
        |t: &NaiveDateTime| (t.time() - chrono::NaiveTime::MIN).num_microseconds().unwrap_or(0) as f64 / 1_000_000.0;
    let seconds = (t1.day() as f64 - t2.day() as f64) * 86_400.0 + seconds_of_day(&t1) - seconds_of_day(&t2);
    let diff = month_diff + seconds / (31.0 * 86_400.0);
    if round_off {
        // BigDecimal(diff).setScale(8, HALF_UP)
        let text = format!("{diff:.12}");
        let v: f64 = text.parse().unwrap_or(diff);
        (v * 1e8).round() / 1e8
    } else {
        diff
    }
}

/// The UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkMonthsBetween {
    signature: Signature,
}

impl Default for SparkMonthsBetween {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkMonthsBetween {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkMonthsBetween {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "months_between"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        match arg_types.len() {
            2 => Ok(vec![ts.clone(), ts]),
            3 => Ok(vec![ts.clone(), ts, DataType::Boolean]),
            n => exec_err!("months_between takes 2 or 3 arguments, got {n}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = super::common::all_scalar(&args.args);
        let rows = args.number_rows.max(1);
        let arrays: Vec<ArrayRef> = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<_>>()?;
        let a = arrays[0].as_primitive::<TimestampMicrosecondType>();
        let b = arrays[1].as_primitive::<TimestampMicrosecondType>();
        let round = arrays.get(2).map(|r| r.as_boolean().clone());
        let at = |v: i64| chrono::DateTime::from_timestamp_micros(v).map(|t| t.naive_utc());
        let out: Float64Array = (0..a.len())
            .map(|i| {
                if a.is_null(i) || b.is_null(i) || round.as_ref().is_some_and(|r| r.is_null(i)) {
                    return None;
                }
                let r = round.as_ref().is_none_or(|r| r.value(i));
                Some(months_between(at(a.value(i))?, at(b.value(i))?, r))
            })
            .collect();
        let out: ArrayRef = Arc::new(out);
        super::common::columnar(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark 3.5's answers (pyspark 3.5.7), read when this was written.
    #[test]
    fn months_as_spark() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            months_between(t("1997-02-28 10:30:00"), t("1996-10-30 00:00:00"), true),
            3.94959677
        );
        assert_eq!(
            months_between(t("2024-03-31 00:00:00"), t("2024-02-29 00:00:00"), true),
            1.0
        );
        assert_eq!(
            months_between(t("2024-03-30 00:00:00"), t("2024-02-29 00:00:00"), false),
            1.032258064516129
        );
    }
}
