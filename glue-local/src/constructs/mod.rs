//! Spark SQL query constructs on DataFusion: rewrites of the parsed statement where DataFusion has the construct
//! under another form, and clear refusals where it has none or would answer otherwise than Spark.
//!
//! Rewritten (the answers are Spark's, checked by `xtask/oracle/constructs.py`):
//! - `MINUS [ALL]` is `EXCEPT [ALL]`; `SEMI JOIN` / `ANTI JOIN` are `LEFT SEMI` / `LEFT ANTI`;
//! - `LIKE|ILIKE ANY|SOME|ALL (p, …)` is an `OR` (`AND` for ALL) of one LIKE per pattern (`NOT LIKE ANY` is true when
//!   one pattern does not match, as in Spark);
//! - `COUNT(DISTINCT a, b, …)` counts the distinct rows where none of them is NULL (a struct of them);
//! - `INTERVAL 2 DAYS` as a window frame bound is DataFusion's `INTERVAL '2 DAYS'`;
//! - an inline table without column names (`FROM VALUES (1, 'x')`) has Spark's `col1`, `col2`, …;
//! - a SELECT without FROM that holds a subquery reads one row (`FROM (VALUES (1))`): DataFusion's decorrelation
//!   gives no row where Spark gives a NULL for a scalar subquery without rows.
//!
//! Refused (`unsupported on the embedded engine: …`): `INTERSECT ALL` and `EXCEPT ALL` (DataFusion keeps another
//! number of duplicates than Spark), lambda functions (`transform(a, x -> x + 1)`: DataFusion 53 has
//! no lambda expressions), `FULL JOIN … USING` and `NATURAL FULL JOIN` (DataFusion keeps the left key where Spark
//! coalesces both), RANGE frames over a DATE ordering with a numeric offset (Spark counts days), result columns of
//! an INTERVAL type (DataFusion's intervals are not Spark's), but for Spark's ANSI intervals with their Spark type
//! (`percentile_approx` of interval literals, see [`crate::spark::SparkIntervalLiterals`]).

mod checks;
mod operators;
mod pivot;
mod rewrite;
mod samples;

pub use checks::{check_expressions, check_plan, check_result_types};
pub use operators::SparkOperators;
pub use pivot::rewrite_pivots;
pub use rewrite::rewrite;
pub use samples::table_samples;
