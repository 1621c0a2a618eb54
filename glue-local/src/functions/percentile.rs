//! Spark's `percentile_approx(col, percentage [, accuracy])` (alias `approx_percentile`) where Spark's answer is exact.
//!
//! Spark keeps a Greenwald-Khanna summary (`QuantileSummaries`, relative error `1 / accuracy`). While a group has at
//! most `accuracy / 2` values that summary is exact, and Spark answers the value at 1-based rank
//! `ceil(percentage · count)` of the sorted values, the smallest for a percentage up to `1 / accuracy`, the largest
//! from `1 - 1 / accuracy` (measured on pyspark 3.5: exact up to 50 values with accuracy 100 and 5,000 with the
//! default 10,000; one rank lower from 51 and 5,001). That is what this aggregate computes. Above that size Spark's answer depends on how its
//! summary was built and merged; the query fails with the embedded engine's `unsupported` error rather than give
//! another answer.

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, ColumnarValue, Signature, Volatility};
use datafusion::physical_plan::PhysicalExpr;

/// Spark's default accuracy.
const DEFAULT_ACCURACY: i64 = 10_000;

/// The aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkPercentileApprox {
    signature: Signature,
    aliases: Vec<String>,
}

impl Default for SparkPercentileApprox {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkPercentileApprox {
    /// The function, also named `approx_percentile`.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: vec!["approx_percentile".to_string()],
        }
    }
}

fn orderable(t: &DataType) -> bool {
    t.is_integer()
        || matches!(
            t,
            DataType::Float32
                | DataType::Float64
                | DataType::Decimal128(..)
                | DataType::Date32
                | DataType::Timestamp(..)
        )
}

/// A literal argument's value.
fn literal(e: &Arc<dyn PhysicalExpr>, what: &str) -> Result<ScalarValue> {
    let batch = arrow_array::RecordBatch::new_empty(Arc::new(arrow_schema::Schema::empty()));
    match e.evaluate(&batch) {
        Ok(ColumnarValue::Scalar(s)) => Ok(s),
        Ok(ColumnarValue::Array(a)) if a.len() == 1 => ScalarValue::try_from_array(&a, 0),
        _ => plan_err!("unsupported on the embedded engine: percentile_approx with a {what} that is not a literal"),
    }
}

fn percentage(v: &ScalarValue) -> Result<f64> {
    match v {
        ScalarValue::Float64(Some(p)) if (0.0..=1.0).contains(p) => Ok(*p),
        other => plan_err!("percentile_approx: the percentage must be between 0.0 and 1.0, got {other}"),
    }
}

impl AggregateUDFImpl for SparkPercentileApprox {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "percentile_approx"
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (value, rest) = match arg_types.split_first() {
            Some((v, rest)) if orderable(v) && (1..=2).contains(&rest.len()) => (v, rest),
            Some((v, _)) if !orderable(v) => {
                return plan_err!("unsupported on the embedded engine: percentile_approx of {v}");
            }
            _ => return plan_err!("percentile_approx takes a column, a percentage and an accuracy"),
        };
        let mut out = vec![value.clone()];
        out.push(match &rest[0] {
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
            }
            _ => DataType::Float64,
        });
        if rest.len() == 2 {
            out.push(DataType::Int64);
        }
        Ok(out)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match arg_types.get(1) {
            Some(DataType::List(_)) => DataType::List(Arc::new(Field::new_list_field(arg_types[0].clone(), true))),
            _ => arg_types[0].clone(),
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let value = args.input_fields[0].data_type().clone();
        Ok(vec![Arc::new(Field::new(
            format!("{}[values]", args.name),
            DataType::List(Arc::new(Field::new_list_field(value, true))),
            true,
        ))])
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let percentages = match literal(&acc_args.exprs[1], "percentage")? {
            ScalarValue::List(list) => {
                let values = list.value(0);
                let mut out = Vec::with_capacity(values.len());
                for i in 0..values.len() {
                    out.push(percentage(&ScalarValue::try_from_array(&values, i)?)?);
                }
                Percentages::Many(out)
            }
            one => Percentages::One(percentage(&one)?),
        };
        let accuracy = match acc_args.exprs.get(2) {
            Some(e) => match literal(e, "accuracy")? {
                ScalarValue::Int64(Some(a)) if a > 0 && a <= i32::MAX as i64 => a,
                other => return plan_err!("percentile_approx: the accuracy must be a positive int, got {other}"),
            },
            None => DEFAULT_ACCURACY,
        };
        Ok(Box::new(PercentileAccumulator {
            values: Vec::new(),
            data_type: acc_args.expr_fields[0].data_type().clone(),
            percentages,
            accuracy,
        }))
    }
}

#[derive(Debug)]
enum Percentages {
    One(f64),
    Many(Vec<f64>),
}

#[derive(Debug)]
struct PercentileAccumulator {
    values: Vec<ScalarValue>,
    data_type: DataType,
    percentages: Percentages,
    accuracy: i64,
}

impl PercentileAccumulator {
    /// The value at Spark's rank for `p` in the sorted values.
    fn at(&self, sorted: &[ScalarValue], p: f64) -> ScalarValue {
        let n = sorted.len();
        let relative_error = 1.0 / self.accuracy as f64;
        let index = if p <= relative_error {
            0
        } else if p >= 1.0 - relative_error {
            n - 1
        } else {
            ((p * n as f64).ceil() as usize).clamp(1, n) - 1
        };
        sorted[index].clone()
    }
}

impl Accumulator for PercentileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let column = &values[0];
        for i in 0..column.len() {
            if column.is_valid(i) {
                self.values.push(ScalarValue::try_from_array(column, i)?);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                self.update_batch(&[lists.value(i)])?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let list = ScalarValue::new_list_nullable(&self.values, &self.data_type);
        Ok(vec![ScalarValue::List(list)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let n = self.values.len() as i64;
        if 2 * n > self.accuracy {
            return exec_err!(
                "unsupported on the embedded engine: percentile_approx over {n} values with accuracy {} (Spark's \
                 answer is exact up to {} values; above, it depends on how Spark's summary was built)",
                self.accuracy,
                self.accuracy / 2
            );
        }
        let mut sorted = self.values.clone();
        let mut failed = None;
        sorted.sort_by(|a, b| {
            a.partial_cmp(b).unwrap_or_else(|| {
                failed = Some(format!("{a} and {b}"));
                std::cmp::Ordering::Equal
            })
        });
        if let Some(pair) = failed {
            return Err(DataFusionError::Internal(format!(
                "percentile_approx cannot order {pair}"
            )));
        }
        let empty = |t: &DataType| ScalarValue::try_from(t);
        match &self.percentages {
            Percentages::One(p) => {
                if sorted.is_empty() {
                    return empty(&self.data_type);
                }
                Ok(self.at(&sorted, *p))
            }
            Percentages::Many(ps) => {
                if sorted.is_empty() {
                    let t = DataType::List(Arc::new(Field::new_list_field(self.data_type.clone(), true)));
                    return empty(&t);
                }
                let picked: Vec<ScalarValue> = ps.iter().map(|p| self.at(&sorted, *p)).collect();
                Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                    &picked,
                    &self.data_type,
                )))
            }
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.iter().map(ScalarValue::size).sum::<usize>()
    }
}
