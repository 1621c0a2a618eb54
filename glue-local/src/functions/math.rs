//! `bround(x, scale)`: rounding half to even, as Spark's `BRound` (DataFusion has no such function).

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, Decimal128Array, Float32Array, Float64Array, Int32Array, Int64Array};
use arrow_schema::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// `bround(x[, scale])`: half-even rounding to `scale` digits after the point (before it when negative). A double is
/// rounded as its shortest decimal text (Spark goes through `BigDecimal(double)`), a decimal exactly, an integer only
/// for a negative scale. The result type is Spark's: the argument's, or for a `DECIMAL(p, s)`
/// `DECIMAL(p - s + 1 + min(s, scale), min(s, scale))`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkBround {
    signature: Signature,
}

impl Default for SparkBround {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkBround {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn result_type(t: &DataType, scale: i32) -> DataType {
    match t {
        DataType::Decimal128(p, s) => {
            let (p, s) = (*p as i32, *s as i32);
            let integral = p - s + 1;
            if scale < 0 {
                DataType::Decimal128(integral.max(-scale + 1).min(38) as u8, 0)
            } else {
                let new_scale = s.min(scale);
                DataType::Decimal128((integral + new_scale).min(38) as u8, new_scale as i8)
            }
        }
        other => other.clone(),
    }
}

/// Half-even division of `v` by `10^digits`.
fn div_half_even(v: i128, digits: u32) -> i128 {
    if digits == 0 {
        return v;
    }
    let Some(unit) = 10i128.checked_pow(digits) else {
        return 0;
    };
    let (q, r) = (v / unit, v % unit);
    let twice = r.abs() * 2;
    let up = twice > unit || (twice == unit && q % 2 != 0);
    if up { q + v.signum() } else { q }
}

/// Spark's `bround` of a double.
pub fn bround_f64(d: f64, scale: i32) -> f64 {
    if !d.is_finite() {
        return d;
    }
    // The shortest decimal text of the double, as digits and an exponent.
    let text = format!("{:e}", d);
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    // value = digits × 10^(exp - (len - 1))
    let point = exp - (digits.len() as i32 - 1);
    let drop = -(point + scale); // digits to drop to keep `scale` after the point
    if drop <= 0 {
        return d;
    }
    if drop as usize > digits.len() + 1 {
        return 0.0f64.copysign(d);
    }
    let Ok(v) = digits.parse::<i128>() else {
        return d;
    };
    let rounded = div_half_even(v, drop as u32);
    let text = format!("{}{rounded}e{}", if negative { "-" } else { "" }, point + drop);
    text.parse().unwrap_or(d)
}

impl ScalarUDFImpl for SparkBround {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "bround"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let x = match arg_types.first() {
            Some(
                t @ (DataType::Float64
                | DataType::Float32
                | DataType::Decimal128(..)
                | DataType::Int32
                | DataType::Int64),
            ) => t.clone(),
            Some(DataType::Int8 | DataType::Int16) => DataType::Int32,
            Some(DataType::Null) => DataType::Float64,
            Some(t) if t.is_numeric() => DataType::Float64,
            _ => DataType::Float64,
        };
        match arg_types.len() {
            1 => Ok(vec![x]),
            2 => Ok(vec![x, DataType::Int32]),
            n => plan_err!("bround takes 1 or 2 arguments, got {n}"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("bround: the return type depends on the scale")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<arrow_schema::FieldRef> {
        let scale = match args.scalar_arguments.get(1) {
            None => 0,
            Some(Some(v)) => match v.cast_to(&DataType::Int32)? {
                ScalarValue::Int32(Some(s)) => s,
                _ => 0,
            },
            Some(None) => {
                return plan_err!("unsupported on the embedded engine: bround with a scale that is not a literal");
            }
        };
        let t = result_type(args.arg_fields[0].data_type(), scale);
        Ok(Arc::new(arrow_schema::Field::new(self.name(), t, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let scale = match args.args.get(1) {
            None => 0,
            Some(ColumnarValue::Scalar(ScalarValue::Int32(Some(s)))) => *s,
            Some(ColumnarValue::Scalar(s)) if s.is_null() => {
                let t = args.return_field.data_type().clone();
                return Ok(ColumnarValue::Scalar(ScalarValue::try_from(&t)?));
            }
            _ => return exec_err!("unsupported on the embedded engine: bround with a scale that is not a literal"),
        };
        let x = args.args[0].to_array(args.number_rows.max(1))?;
        let out: ArrayRef = match (x.data_type(), args.return_field.data_type()) {
            (DataType::Float64, _) => Arc::new(
                x.as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.map(|v| bround_f64(v, scale)))
                    .collect::<Float64Array>(),
            ),
            (DataType::Float32, _) => Arc::new(
                x.as_primitive::<Float32Type>()
                    .iter()
                    .map(|v| v.map(|v| bround_f64(v as f64, scale) as f32))
                    .collect::<Float32Array>(),
            ),
            (DataType::Int32, _) => Arc::new(
                x.as_primitive::<Int32Type>()
                    .iter()
                    .map(|v| {
                        v.map(|v| {
                            if scale >= 0 {
                                v
                            } else {
                                (div_half_even(v as i128, (-scale) as u32) * 10i128.pow((-scale) as u32)) as i32
                            }
                        })
                    })
                    .collect::<Int32Array>(),
            ),
            (DataType::Int64, _) => Arc::new(
                x.as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| {
                        v.map(|v| {
                            if scale >= 0 {
                                v
                            } else {
                                (div_half_even(v as i128, (-scale) as u32) * 10i128.pow((-scale) as u32)) as i64
                            }
                        })
                    })
                    .collect::<Int64Array>(),
            ),
            (DataType::Decimal128(_, s), DataType::Decimal128(rp, rs)) => {
                let (s, rs) = (*s as i32, *rs as i32);
                let values = x.as_primitive::<Decimal128Type>().iter().map(|v| {
                    v.map(|v| {
                        if scale < 0 {
                            // Round to 10^-scale, then express at scale 0.
                            let digits = (s - scale) as u32;
                            div_half_even(v, digits) * 10i128.pow((-scale) as u32)
                        } else {
                            div_half_even(v, (s - rs) as u32)
                        }
                    })
                });
                Arc::new(
                    values
                        .collect::<Decimal128Array>()
                        .with_precision_and_scale(*rp, rs as i8)?,
                )
            }
            (other, _) => return exec_err!("bround of a {other} value"),
        };
        super::common::columnar(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark 3.5's answers (pyspark 3.5.7), read when this was written.
    #[test]
    fn rounds_half_to_even() {
        assert_eq!(bround_f64(1.125, 2), 1.12);
        assert_eq!(bround_f64(2.675, 2), 2.68);
        assert_eq!(bround_f64(2.5, 0), 2.0);
        assert_eq!(bround_f64(-2.5, 0), -2.0);
        assert_eq!(bround_f64(3.5, 0), 4.0);
        assert_eq!(bround_f64(25.0, -1), 20.0);
        assert_eq!(div_half_even(25, 1), 2);
        assert_eq!(div_half_even(-35, 1), -4);
    }
}
