//! Spark's `floor` and `ceil` / `ceiling`: a BIGINT or a decimal of scale 0, where DataFusion keeps the argument's type.

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float32Type, Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::common::{columnar, is_string_type};

/// Spark's `floor(x)` and `ceil(x)` / `ceiling(x)`: a BIGINT for integers, floats and doubles (the double rounded,
/// then converted as Java converts, saturating at the BIGINT bounds), `DECIMAL(p - s + 1, 0)` for a `DECIMAL(p, s)`.
/// DataFusion keeps the argument's type (a double stays a double; `floor(-0.1)` overflows `DECIMAL(1,1)`).
/// Spark's two-argument form (`floor(x, scale)`) is refused as unsupported.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkFloorCeil {
    name: &'static str,
    ceil: bool,
    signature: Signature,
}

impl SparkFloorCeil {
    /// `floor`.
    pub fn floor() -> Self {
        Self::new("floor", false)
    }

    /// `ceil`, also registered as `ceiling`.
    pub fn ceil(name: &'static str) -> Self {
        Self::new(name, true)
    }

    fn new(name: &'static str, ceil: bool) -> Self {
        Self {
            name,
            ceil,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkFloorCeil {
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
            [t] if t.is_integer() || t.is_null() => Ok(vec![DataType::Int64]),
            [t @ (DataType::Float32 | DataType::Float64 | DataType::Decimal128(..))] => Ok(vec![t.clone()]),
            [DataType::Decimal256(p, s)] => Ok(vec![DataType::Decimal128((*p).min(38), *s)]),
            [t] if is_string_type(t) => Ok(vec![DataType::Float64]),
            [_, _] => plan_err!(
                "unsupported on the embedded engine: {} with a scale argument",
                self.name
            ),
            other => plan_err!("{} takes one number, got {other:?}", self.name),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Decimal128(p, s)] => Ok(DataType::Decimal128((*p as i16 - *s as i16 + 1).clamp(1, 38) as u8, 0)),
            _ => Ok(DataType::Int64),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{} takes one argument, got {}", self.name, args.args.len());
        };
        let scalar = matches!(arg, ColumnarValue::Scalar(_));
        let array = arg.to_array(args.number_rows.max(1))?;
        let ceil = self.ceil;
        let round = |v: f64| if ceil { v.ceil() } else { v.floor() };
        let out: ArrayRef = match array.data_type() {
            DataType::Int64 => array,
            DataType::Float64 => Arc::new(
                array
                    .as_primitive::<Float64Type>()
                    .unary::<_, Int64Type>(|v| round(v) as i64),
            ),
            DataType::Float32 => Arc::new(
                array
                    .as_primitive::<Float32Type>()
                    .unary::<_, Int64Type>(|v| round(v as f64) as i64),
            ),
            DataType::Decimal128(p, s) => {
                let (p, s) = (*p, *s);
                let unit = 10i128.pow(s.max(0) as u32);
                let precision = (p as i16 - s as i16 + 1).clamp(1, 38) as u8;
                let values = array.as_primitive::<Decimal128Type>().unary::<_, Decimal128Type>(|v| {
                    let (q, r) = (v / unit, v % unit);
                    match (ceil, r.signum()) {
                        (false, -1) => q - 1,
                        (true, 1) => q + 1,
                        _ => q,
                    }
                });
                Arc::new(values.with_precision_and_scale(precision, 0)?)
            }
            other => return exec_err!("{} takes a number, got {other}", self.name),
        };
        columnar(out, scalar)
    }
}
