//! Spark's arithmetic and comparisons (ANSI off) where DataFusion's differ: `/` and `%` (NULL for a zero divisor,
//! doubles for integers), decimal results in Spark's precision and scale, strings compared with numbers as numbers,
//! INT literal arithmetic that wraps: an expression planner.

use arrow_schema::DataType;
use datafusion::common::DFSchema;
use datafusion::error::Result;
use datafusion::logical_expr::expr::{ScalarFunction, TryCast};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator, cast, lit};
use datafusion::scalar::ScalarValue;
use sqlparser::ast::BinaryOperator;

use crate::functions::common::is_string_type as is_string;

/// Plans `/` and `%` the way Spark does (see the module docs).
#[derive(Debug, Default)]
pub struct SparkArithmetic;

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

fn null_if_zero(e: Expr) -> Expr {
    let nullif = datafusion::functions::core::nullif();
    Expr::ScalarFunction(ScalarFunction::new_udf(nullif, vec![e, lit(0)]))
}

/// `nullif(e, 0)` with a zero of `e`'s own type, so that the result keeps it (`smallint % smallint` is a SMALLINT).
fn null_if_zero_typed(e: Expr, t: &DataType) -> Expr {
    let zero = ScalarValue::new_zero(t).unwrap_or(ScalarValue::Int32(Some(0)));
    let nullif = datafusion::functions::core::nullif();
    Expr::ScalarFunction(ScalarFunction::new_udf(nullif, vec![e, lit(zero)]))
}

impl ExprPlanner for SparkArithmetic {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        let op = match expr.op {
            BinaryOperator::Divide => Operator::Divide,
            BinaryOperator::Modulo => Operator::Modulo,
            BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply => {
                let expr = match int_literal_arithmetic(expr) {
                    PlannerResult::Original(e) => e,
                    planned => return Ok(planned),
                };
                return decimal_arithmetic(expr, schema);
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
            | BinaryOperator::Spaceship => return string_number_comparison(expr, schema),
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        if let Some(planned) = double_arithmetic(&expr, &lt, &rt, op) {
            return Ok(PlannerResult::Planned(planned));
        }
        let numeric = |t: &DataType| t.is_numeric() || t.is_null();
        if !numeric(&lt) || !numeric(&rt) {
            return Ok(PlannerResult::Original(expr));
        }
        let int_like = |t: &DataType| is_integer(t) || t.is_null();
        if op == Operator::Divide && int_like(&lt) && int_like(&rt) {
            let (l, r) = (cast(expr.left, DataType::Float64), cast(expr.right, DataType::Float64));
            return Ok(PlannerResult::Planned(divide(l, r)));
        }
        if op == Operator::Divide
            && (matches!(lt, DataType::Decimal128(..)) || matches!(rt, DataType::Decimal128(..)))
            && let (Some((p1, s1)), Some((p2, s2))) = (decimal_of(&expr.left, &lt), decimal_of(&expr.right, &rt))
        {
            // Spark's result type (allowPrecisionLoss): scale max(6, s1 + p2 + 1), bounded to 38 digits.
            let (precision, scale) = adjust_precision_scale(p1 - s1 + s2 + 6.max(s1 + p2 + 1), 6.max(s1 + p2 + 1));
            // DataFusion divides decimals exactly to its own scale: give the dividend enough scale for Spark's
            // digits plus one to round on (as far as 38 digits allow), then take Spark's type (rounding half up).
            // In 256-bit decimals, so that the scaled dividend cannot overflow.
            let (int_digits, _) = (p1 - s1, s1);
            let dividend_scale = (76 - int_digits).min(scale + s2 + 1).max(s1);
            let l = cast(
                expr.left,
                DataType::Decimal256((int_digits + dividend_scale).max(1) as u8, dividend_scale as i8),
            );
            let r = cast(expr.right, DataType::Decimal256(p2.max(1) as u8, s2 as i8));
            let q = divide(l, r);
            return Ok(PlannerResult::Planned(spark_decimal(q, precision, scale)));
        }
        if op == Operator::Modulo
            && let Some((p, s)) = spark_decimal_type(op, &expr, &lt, &rt)
        {
            let (l, r) = (wide_decimal(expr.left, &lt), wide_decimal(expr.right, &rt));
            let rem = Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(null_if_zero(r))));
            return Ok(PlannerResult::Planned(spark_decimal(rem, p, s)));
        }
        // Spark divides FLOATs as DOUBLEs.
        if op == Operator::Divide && (lt == DataType::Float32 || rt == DataType::Float32) {
            let (l, r) = (cast(expr.left, DataType::Float64), cast(expr.right, DataType::Float64));
            return Ok(PlannerResult::Planned(divide(l, r)));
        }
        Ok(PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(expr.left),
            op,
            Box::new(null_if_zero_typed(expr.right, &rt)),
        ))))
    }
}

/// Arithmetic that Spark (ANSI off) computes in doubles: a string operand is read as a DOUBLE (`'12.5' + 1` is 13.5),
/// and a FLOAT with a decimal is a DOUBLE (DataFusion: a type error, and a FLOAT). `None` for other operands.
fn double_arithmetic(expr: &RawBinaryExpr, lt: &DataType, rt: &DataType, op: Operator) -> Option<Expr> {
    let string_side = is_string(lt) || is_string(rt);
    let numeric_or_string = |t: &DataType| t.is_numeric() || t.is_null() || is_string(t);
    let float_decimal = matches!(
        (lt, rt),
        (DataType::Float32, DataType::Decimal128(..)) | (DataType::Decimal128(..), DataType::Float32)
    );
    if !(float_decimal || (string_side && numeric_or_string(lt) && numeric_or_string(rt))) {
        return None;
    }
    let double = |e: Expr| Expr::TryCast(TryCast::new(Box::new(e), DataType::Float64));
    let (l, r) = (double(expr.left.clone()), double(expr.right.clone()));
    let r = if matches!(op, Operator::Divide | Operator::Modulo) {
        null_if_zero(r)
    } else {
        r
    };
    Some(Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r))))
}

/// Spark's `DecimalType.adjustPrecisionScale` (precision loss allowed, as Spark's default): a precision beyond 38
/// digits keeps the integer digits and gives up scale, down to 6 (or the scale asked for, when smaller).
fn adjust_precision_scale(precision: i32, scale: i32) -> (i32, i32) {
    if precision <= 38 {
        (precision, scale)
    } else if scale < 0 {
        (38, scale)
    } else {
        let int_digits = precision - scale;
        let min_scale = scale.min(6);
        (38, (38 - int_digits).max(min_scale))
    }
}

/// The (precision, scale) Spark gives `l <op> r` when one side is a decimal and the other a decimal or an integer
/// (Spark's `DecimalPrecision` rules); `None` for other operands (a double makes the result a double, as here).
fn spark_decimal_type(op: Operator, expr: &RawBinaryExpr, lt: &DataType, rt: &DataType) -> Option<(i32, i32)> {
    if !(matches!(lt, DataType::Decimal128(..)) || matches!(rt, DataType::Decimal128(..))) {
        return None;
    }
    let (p1, s1) = decimal_of(&expr.left, lt)?;
    let (p2, s2) = decimal_of(&expr.right, rt)?;
    let (p, s) = match op {
        Operator::Plus | Operator::Minus => {
            let s = s1.max(s2);
            ((p1 - s1).max(p2 - s2) + s + 1, s)
        }
        Operator::Multiply => (p1 + p2 + 1, s1 + s2),
        Operator::Modulo => ((p1 - s1).min(p2 - s2) + s1.max(s2), s1.max(s2)),
        _ => return None,
    };
    Some(adjust_precision_scale(p, s))
}

/// `+`, `-` and `*` with a decimal operand: DataFusion's result, in Spark's decimal type (an integer literal counts
/// with its own digits, as in Spark, not as a BIGINT).
fn decimal_arithmetic(expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
    let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
        return Ok(PlannerResult::Original(expr));
    };
    let op = match expr.op {
        BinaryOperator::Plus => Operator::Plus,
        BinaryOperator::Minus => Operator::Minus,
        _ => Operator::Multiply,
    };
    if let Some(planned) = double_arithmetic(&expr, &lt, &rt, op) {
        return Ok(PlannerResult::Planned(planned));
    }
    let Some((p, s)) = spark_decimal_type(op, &expr, &lt, &rt) else {
        return Ok(PlannerResult::Original(expr));
    };
    let (l, r) = (wide_decimal(expr.left, &lt), wide_decimal(expr.right, &rt));
    let e = Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)));
    Ok(PlannerResult::Planned(spark_decimal(e, p, s)))
}

/// A decimal (or integer) operand as a 256-bit decimal, so that the operation cannot wrap around; doubles and floats
/// stay as they are.
fn wide_decimal(e: Expr, t: &DataType) -> Expr {
    match t {
        DataType::Decimal128(p, s) => cast(e, DataType::Decimal256(*p, *s)),
        t if t.is_integer() => {
            let digits = decimal_of(&e, t).map_or(20, |(p, _)| p);
            cast(e, DataType::Decimal256(digits.max(1) as u8, 0))
        }
        _ => e,
    }
}

/// A 256-bit result in Spark's decimal type: rounded half up to its scale, NULL when it does not fit its precision
/// (Spark with ANSI off).
fn spark_decimal(e: Expr, precision: i32, scale: i32) -> Expr {
    Expr::TryCast(TryCast::new(
        Box::new(e),
        DataType::Decimal128(precision as u8, scale as i8),
    ))
}

fn comparison_operator(op: &BinaryOperator) -> Operator {
    match op {
        BinaryOperator::Eq => Operator::Eq,
        BinaryOperator::NotEq => Operator::NotEq,
        BinaryOperator::Lt => Operator::Lt,
        BinaryOperator::LtEq => Operator::LtEq,
        BinaryOperator::Gt => Operator::Gt,
        BinaryOperator::GtEq => Operator::GtEq,
        _ => Operator::IsNotDistinctFrom,
    }
}

/// Spark compares two decimals of different types in their wider decimal type, bounded to 38 digits (a value that
/// does not fit is NULL, ANSI off), and a decimal with a FLOAT or DOUBLE as doubles; DataFusion fails on the overflow
/// and compares with a double as decimals.
fn decimal_comparison(expr: &RawBinaryExpr, lt: &DataType, rt: &DataType) -> Option<Expr> {
    let to = match (lt, rt) {
        (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) if (p1, s1) != (p2, s2) => {
            let (p1, s1, p2, s2) = (*p1 as i32, *s1 as i32, *p2 as i32, *s2 as i32);
            let scale = s1.max(s2);
            let precision = ((p1 - s1).max(p2 - s2) + scale).min(38);
            DataType::Decimal128(precision as u8, scale.min(38) as i8)
        }
        (DataType::Decimal128(..), DataType::Float32 | DataType::Float64)
        | (DataType::Float32 | DataType::Float64, DataType::Decimal128(..)) => DataType::Float64,
        _ => return None,
    };
    let convert = |e: Expr| Expr::TryCast(TryCast::new(Box::new(e), to.clone()));
    Some(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(convert(expr.left.clone())),
        comparison_operator(&expr.op),
        Box::new(convert(expr.right.clone())),
    )))
}

/// Spark (ANSI off) compares a string with a number as that number's type, a string with a decimal, float or
/// double as doubles (`1.0 <= '1'` is true, `1 = '1.0'` too); DataFusion compares them as strings.
fn string_number_comparison(expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
    let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
        return Ok(PlannerResult::Original(expr));
    };
    if let Some(planned) = decimal_comparison(&expr, &lt, &rt) {
        return Ok(PlannerResult::Planned(planned));
    }
    let target = match (is_string(&lt), is_string(&rt)) {
        (true, false) if rt.is_numeric() => &rt,
        (false, true) if lt.is_numeric() => &lt,
        _ => return Ok(PlannerResult::Original(expr)),
    };
    let to = if target.is_integer() {
        target.clone()
    } else {
        DataType::Float64
    };
    let try_cast = |e: Expr| Expr::TryCast(TryCast::new(Box::new(e), to.clone()));
    let op = comparison_operator(&expr.op);
    Ok(PlannerResult::Planned(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(try_cast(expr.left)),
        op,
        Box::new(try_cast(expr.right)),
    ))))
}

/// Spark types an integer literal that fits 32 bits as INT, so `2147483647 + 1` wraps around (ANSI off); DataFusion
/// would type both as BIGINT. Only literal-with-literal arithmetic differs in its result.
fn int_literal_arithmetic(expr: RawBinaryExpr) -> PlannerResult<RawBinaryExpr> {
    let small = |e: &Expr| matches!(e, Expr::Literal(ScalarValue::Int64(Some(n)), _) if i32::try_from(*n).is_ok());
    if !(small(&expr.left) && small(&expr.right)) {
        return PlannerResult::Original(expr);
    }
    let (Expr::Literal(ScalarValue::Int64(Some(a)), _), Expr::Literal(ScalarValue::Int64(Some(b)), _)) =
        (&expr.left, &expr.right)
    else {
        return PlannerResult::Original(expr);
    };
    let (a, b) = (*a as i32, *b as i32);
    let v = match expr.op {
        BinaryOperator::Plus => a.wrapping_add(b),
        BinaryOperator::Minus => a.wrapping_sub(b),
        _ => a.wrapping_mul(b),
    };
    PlannerResult::Planned(lit(ScalarValue::Int32(Some(v))))
}

pub(crate) fn divide(l: Expr, r: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(
        Box::new(l),
        Operator::Divide,
        Box::new(null_if_zero(r)),
    ))
}

/// The decimal (precision, scale) Spark gives an operand: decimals as they are, integer literals by their digits,
/// integer columns by their type.
fn decimal_of(e: &Expr, t: &DataType) -> Option<(i32, i32)> {
    if let Expr::Literal(v, _) = e
        && let Some(n) = match v {
            ScalarValue::Int8(Some(n)) => Some(*n as i128),
            ScalarValue::Int16(Some(n)) => Some(*n as i128),
            ScalarValue::Int32(Some(n)) => Some(*n as i128),
            ScalarValue::Int64(Some(n)) => Some(*n as i128),
            _ => None,
        }
    {
        return Some((n.unsigned_abs().to_string().len() as i32, 0));
    }
    decimal_digits(t)
}

/// (precision, scale) of a decimal type, or of the decimal that holds every value of an integer type.
pub(crate) fn decimal_digits(t: &DataType) -> Option<(i32, i32)> {
    match t {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => Some((*p as i32, *s as i32)),
        DataType::Int8 => Some((3, 0)),
        DataType::Int16 => Some((5, 0)),
        DataType::Int32 => Some((10, 0)),
        DataType::Int64 => Some((20, 0)),
        _ => None,
    }
}
