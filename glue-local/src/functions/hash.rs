//! Spark's `hash(...)`: Murmur3 x86 32-bit with seed 42, each argument hashed with the previous hash as its seed, in
//! Spark's byte layout of each type (`Murmur3Hash`): integers up to INT and dates as an int, BIGINT and timestamps as
//! a long, doubles and floats by their bits (−0.0 as 0.0), decimals of up to 18 digits by their unscaled long,
//! strings and binary by their bytes (Spark's tail handling: one byte at a time, sign-extended), arrays and structs
//! element by element; NULL leaves the seed as it is.

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, Int32Array};
use arrow_schema::{DataType, TimeUnit};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

fn mix_k1(k1: i32) -> i32 {
    (k1.wrapping_mul(0xcc9e2d51u32 as i32))
        .rotate_left(15)
        .wrapping_mul(0x1b873593)
}

fn mix_h1(h1: i32, k1: i32) -> i32 {
    (h1 ^ k1)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe6546b64u32 as i32)
}

fn fmix(h1: i32, len: i32) -> i32 {
    let mut h = (h1 ^ len) as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85ebca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2ae35);
    h ^= h >> 16;
    h as i32
}

/// `Murmur3_x86_32.hashInt`.
pub fn hash_int(v: i32, seed: i32) -> i32 {
    fmix(mix_h1(seed, mix_k1(v)), 4)
}

/// `Murmur3_x86_32.hashLong`.
pub fn hash_long(v: i64, seed: i32) -> i32 {
    let h1 = mix_h1(seed, mix_k1(v as i32));
    fmix(mix_h1(h1, mix_k1((v >> 32) as i32)), 8)
}

/// `Murmur3_x86_32.hashUnsafeBytes` (Spark's, not the reference tail handling).
pub fn hash_bytes(b: &[u8], seed: i32) -> i32 {
    let aligned = b.len() - b.len() % 4;
    let mut h1 = seed;
    for chunk in b[..aligned].chunks_exact(4) {
        h1 = mix_h1(h1, mix_k1(i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])));
    }
    for &byte in &b[aligned..] {
        h1 = mix_h1(h1, mix_k1(byte as i8 as i32));
    }
    fmix(h1, b.len() as i32)
}

/// The hash of row `i` of `array`, seeded with `seed` (NULL leaves it).
fn hash_value(array: &dyn Array, i: usize, seed: i32) -> Result<i32> {
    if array.is_null(i) {
        return Ok(seed);
    }
    Ok(match array.data_type() {
        DataType::Null => seed,
        DataType::Boolean => hash_int(array.as_boolean().value(i) as i32, seed),
        DataType::Int8 => hash_int(array.as_primitive::<Int8Type>().value(i) as i32, seed),
        DataType::Int16 => hash_int(array.as_primitive::<Int16Type>().value(i) as i32, seed),
        DataType::Int32 => hash_int(array.as_primitive::<Int32Type>().value(i), seed),
        DataType::Int64 => hash_long(array.as_primitive::<Int64Type>().value(i), seed),
        DataType::Date32 => hash_int(array.as_primitive::<Date32Type>().value(i), seed),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            hash_long(array.as_primitive::<TimestampMicrosecondType>().value(i), seed)
        }
        DataType::Float32 => {
            let f = array.as_primitive::<Float32Type>().value(i);
            let f = if f == 0.0 { 0.0f32 } else { f };
            let bits = if f.is_nan() { 0x7fc00000 } else { f.to_bits() as i32 };
            hash_int(bits, seed)
        }
        DataType::Float64 => {
            let d = array.as_primitive::<Float64Type>().value(i);
            let d = if d == 0.0 { 0.0f64 } else { d };
            let bits = if d.is_nan() {
                0x7ff8000000000000
            } else {
                d.to_bits() as i64
            };
            hash_long(bits, seed)
        }
        DataType::Decimal128(p, _) if *p <= 18 => {
            hash_long(array.as_primitive::<Decimal128Type>().value(i) as i64, seed)
        }
        DataType::Decimal128(..) => {
            // BigInteger.toByteArray: the shortest big-endian two's complement.
            let v = array.as_primitive::<Decimal128Type>().value(i);
            let bytes = v.to_be_bytes();
            let mut start = 0;
            while start < 15
                && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
                    || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
            {
                start += 1;
            }
            hash_bytes(&bytes[start..], seed)
        }
        DataType::Utf8 => hash_bytes(array.as_string::<i32>().value(i).as_bytes(), seed),
        DataType::LargeUtf8 => hash_bytes(array.as_string::<i64>().value(i).as_bytes(), seed),
        DataType::Utf8View => hash_bytes(array.as_string_view().value(i).as_bytes(), seed),
        DataType::Binary => hash_bytes(array.as_binary::<i32>().value(i), seed),
        DataType::LargeBinary => hash_bytes(array.as_binary::<i64>().value(i), seed),
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(i);
            let mut h = seed;
            for j in 0..list.len() {
                h = hash_value(list.as_ref(), j, h)?;
            }
            h
        }
        DataType::Struct(_) => {
            let s = array.as_struct();
            let mut h = seed;
            for c in s.columns() {
                h = hash_value(c.as_ref(), i, h)?;
            }
            h
        }
        other => return exec_err!("unsupported on the embedded engine: hash of a {other} value"),
    })
}

/// `hash(expr, ...)`, an INT.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkHash {
    signature: Signature,
}

impl Default for SparkHash {
    fn default() -> Self {
        Self::new()
    }
}

impl SparkHash {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SparkHash {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = super::common::all_scalar(&args.args);
        let rows = args.number_rows.max(1);
        let arrays: Vec<ArrayRef> = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<_>>()?;
        // Timestamps of any unit as Spark's microseconds.
        let arrays: Vec<ArrayRef> = arrays
            .into_iter()
            .map(|a| match a.data_type() {
                DataType::Timestamp(u, tz) if *u != TimeUnit::Microsecond => {
                    datafusion::arrow::compute::cast(&a, &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()))
                        .map_err(Into::into)
                }
                _ => Ok(a),
            })
            .collect::<Result<_>>()?;
        let n = arrays.first().map_or(rows, |a| a.len());
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let mut h = 42;
            for a in &arrays {
                h = hash_value(a.as_ref(), i, h)?;
            }
            out.push(h);
        }
        let out: ArrayRef = Arc::new(Int32Array::from(out));
        super::common::columnar(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark 3.5's `hash` (pyspark 3.5.7), read when this was written.
    #[test]
    fn hashes_as_spark() {
        assert_eq!(hash_int(1, 42), -559580957);
        assert_eq!(hash_long(1, 42), -1712319331);
        assert_eq!(hash_bytes(b"abc", 42), 1322437556);
        assert_eq!(hash_bytes(b"", 42), 142593372);
        assert_eq!(hash_bytes(b"abcde", 42), 814637928);
        assert_eq!(hash_long(1.5f64.to_bits() as i64, 42), 1290763749);
        assert_eq!(hash_bytes(b"a", hash_int(1, 42)), -936062819);
        assert_eq!(hash_long(150, 42), -2056712946); // decimal(10,2) 1.50
    }
}
