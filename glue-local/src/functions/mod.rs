//! Spark functions whose DataFusion namesakes give other answers, as scalar UDFs under Spark's names (registered over
//! DataFusion's by [`crate::session::new_context`]). Each is written as datafusion-spark writes its functions (one
//! `ScalarUDFImpl`, Arrow arrays in and out, no glue-rs types), so that it could be offered there.

mod casts;
pub(crate) mod common;
pub mod dates;
mod floor_ceil;
pub mod hash;
mod initcap;
pub mod json;
pub mod math;
pub mod percentile;
pub mod regex;
pub mod scalars;

pub use casts::{
    SparkStringToDate, SparkTimestampToString, SparkTruncateDecimal, spark_string_to_date, spark_timestamp_text,
};
pub use floor_ceil::SparkFloorCeil;
pub use initcap::{SparkInitcap, initcap};

/// The Spark functions of the modules [`scalars`] and [`json`], to register in a session.
pub fn udfs() -> Vec<datafusion::logical_expr::ScalarUDF> {
    let mut all = scalars::udfs();
    all.extend(json::udfs());
    all
}
