//! Spark's JSON functions: `get_json_object`, `json_array_length`, `json_object_keys`, `to_json` and `from_json`, as
//! Spark 3.5 answers them (its Jackson parser and generator): a JSON value is parsed up to its end (text after it is
//! ignored), objects keep their key order, a number is written back as Jackson writes it (an integer as its digits, a
//! fraction as Java's `Double.toString`: `1e2` is `100.0`), control characters inside strings are accepted, text that
//! is not JSON is NULL. An integer beyond 64 bits, which this parser cannot keep exactly, fails the query with the
//! embedded engine's `unsupported` error rather than give another answer.

mod from_json;
mod options;
mod path;
mod schema;
mod to_json;
mod udf;
mod value;

pub use path::{PathStep, get_json_object, parse_path};
pub use schema::parse_schema;
pub use udf::{JsonFn, SparkJson, udfs};
pub use value::{Json, java_decimal, java_double, java_float, parse, write};
