//! Spark's `percentile_approx(col, percentage [, accuracy])` (alias `approx_percentile`) where Spark's answer is exact.
//!
//! Spark keeps a Greenwald-Khanna summary (`QuantileSummaries`, relative error `1 / accuracy`). While a group has at
//! most `accuracy / 2` values that summary is exact, and Spark answers the value at 1-based rank
//! `ceil(percentage · count)` of the sorted values, the smallest for a percentage up to `1 / accuracy`, the largest
//! from `1 - 1 / accuracy` (measured on pyspark 3.5: exact up to 50 values with accuracy 100 and 5,000 with the
//! default 10,000; one rank lower from 51 and 5,001). That is what this aggregate computes. Above that size Spark's answer depends on how its
//! summary was built and merged; the query fails with the embedded engine's `unsupported` error rather than give
//! another answer.
//!
//! Of an ANSI interval, the answer has the argument's Spark type, as in Spark (`interval month`,
//! `array<interval second>`): the interval literals DataFusion plans as `Interval(MonthDayNano)` carry that type in
//! their field's metadata ([`crate::types::AnsiInterval`]), and the answer is in Spark's Arrow type of it
//! (`Interval(YearMonth)` months, `Duration(Microsecond)`). An interval without a known Spark type is refused.

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, ListArray};
use arrow_schema::{DataType, Field, FieldRef, IntervalUnit};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, ColumnarValue, Signature, Volatility};
use datafusion::physical_plan::PhysicalExpr;

use crate::types::AnsiInterval;

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
                | DataType::Interval(_)
                | DataType::Duration(_)
        )
}

/// The type of the values ordered and answered for an argument: its own, or Spark's Arrow type of its ANSI interval
/// type (with that type). An interval without a known Spark type keeps its own while the query is planned (the
/// planner asks before the analyzer has typed the interval literals) and is refused when the aggregate is built.
fn value_type(arg: &Field) -> (DataType, Option<AnsiInterval>) {
    match AnsiInterval::of(arg) {
        Some(i)
            if arg.data_type() == &DataType::Interval(IntervalUnit::MonthDayNano)
                || arg.data_type() == &i.arrow_type() =>
        {
            (i.arrow_type(), Some(i))
        }
        _ => (arg.data_type().clone(), None),
    }
}

/// [`value_type`], refusing an interval without a known Spark type.
fn known_value_type(arg: &Field) -> Result<(DataType, Option<AnsiInterval>)> {
    match value_type(arg) {
        (DataType::Interval(_) | DataType::Duration(_), None) => plan_err!(
            "unsupported on the embedded engine: percentile_approx of an INTERVAL whose Spark type the engine does not \
             know (only interval literals of one unit, such as INTERVAL '1' MONTH, and columns of them have one)"
        ),
        known => Ok(known),
    }
}

/// A value as Spark's Arrow type of its ANSI interval type has it: months, or microseconds.
fn spark_interval(v: ScalarValue, spark: AnsiInterval) -> Result<ScalarValue> {
    let ScalarValue::IntervalMonthDayNano(Some(x)) = v else {
        return Ok(v);
    };
    let micros = || {
        (x.nanoseconds % 1_000 == 0)
            .then(|| {
                i64::from(x.days)
                    .checked_mul(86_400_000_000)?
                    .checked_add(x.nanoseconds / 1_000)
            })
            .flatten()
    };
    match (spark.year_month, x.months, x.days, x.nanoseconds) {
        (true, months, 0, 0) => Ok(ScalarValue::IntervalYearMonth(Some(months))),
        (false, 0, _, _) if micros().is_some() => Ok(ScalarValue::DurationMicrosecond(micros())),
        _ => exec_err!("percentile_approx: {v} is no {}", spark.name()),
    }
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
        let field = |t: &DataType| Field::new(self.name(), t.clone(), true);
        Ok(self
            .return_field(&arg_types.iter().map(|t| Arc::new(field(t))).collect::<Vec<_>>())?
            .data_type()
            .clone())
    }

    /// The argument's type (or Spark's Arrow type of its interval type, with that type), or an array of it.
    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        let (t, spark) = value_type(&arg_fields[0]);
        let value = |f: Field| match spark {
            Some(i) => f.with_metadata(i.metadata()),
            None => f,
        };
        Ok(Arc::new(match arg_fields.get(1).map(|f| f.data_type()) {
            Some(DataType::List(_)) => Field::new(
                self.name(),
                DataType::List(Arc::new(value(Field::new_list_field(t, true)))),
                true,
            ),
            _ => value(Field::new(self.name(), t, true)),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let (value, _) = known_value_type(&args.input_fields[0])?;
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
        let (data_type, spark) = known_value_type(&acc_args.expr_fields[0])?;
        let element = match acc_args.return_field.data_type() {
            DataType::List(f) => f.clone(),
            _ => Arc::new(Field::new_list_field(data_type.clone(), true)),
        };
        Ok(Box::new(PercentileAccumulator {
            values: Vec::new(),
            data_type,
            element,
            spark,
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
    /// The type of the values kept and answered.
    data_type: DataType,
    /// The element of the answer to several percentages.
    element: FieldRef,
    /// The ANSI interval type of the argument, whose values are kept as Spark's Arrow type has them.
    spark: Option<AnsiInterval>,
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
                let v = ScalarValue::try_from_array(column, i)?;
                self.values.push(match self.spark {
                    Some(spark) => spark_interval(v, spark)?,
                    None => v,
                });
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        // The states hold the values as they are kept.
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                let column = lists.value(i);
                for j in 0..column.len() {
                    if column.is_valid(j) {
                        self.values.push(ScalarValue::try_from_array(&column, j)?);
                    }
                }
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
                    return empty(&DataType::List(self.element.clone()));
                }
                let picked: Vec<ScalarValue> = ps.iter().map(|p| self.at(&sorted, *p)).collect();
                let values = ScalarValue::iter_to_array(picked)?;
                let offsets = datafusion::arrow::buffer::OffsetBuffer::from_lengths([values.len()]);
                Ok(ScalarValue::List(Arc::new(ListArray::try_new(
                    self.element.clone(),
                    offsets,
                    values,
                    None,
                )?)))
            }
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.iter().map(ScalarValue::size).sum::<usize>()
    }
}
