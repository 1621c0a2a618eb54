//! Spark semantics (ANSI mode off, as Glue runs Spark) on top of DataFusion, where DataFusion's own differ:
//!
//! - `CAST` never fails: a value that does not convert is NULL (`CAST` is planned as `TRY_CAST`); strings are
//!   trimmed before they are cast, `'12.5'` casts to the integer 12, and `''` to a NULL decimal;
//! - literals with a decimal point are decimals (`1.1 + 2.2` is exactly 3.3);
//! - `/` on integers divides as doubles (`7 / 2` is 3.5); on decimals the result has Spark's precision and scale
//!   (`1.0 / 3` is 0.333333); `/` and `%` by zero are NULL, not an error;
//! - `regexp_replace` replaces every match;
//! - Spark's names for DataFusion functions: `year`, `month`, `day(ofmonth)`, `hour`, `minute`, `quarter`,
//!   `dayofyear`, `weekofyear`, `dayofweek`, `isnull`, `isnotnull`, `string`, `startswith`, `endswith`, `sign`,
//!   `locate`; INT day counts for `date_add`, `date_sub`, `add_months`;
//! - string literals are read as Spark reads them (glue-sql's tokens: `'%\_%'` keeps its backslash, `'a' 'b'` is
//!   `'ab'`), and `LIKE … ESCAPE '<c>'` with a literal pattern is rewritten to DataFusion's backslash escapes;
//! - interval literals of one unit have Spark's ANSI interval types (`INTERVAL '1' MONTH` is `interval month`),
//!   kept in their fields' metadata ([`SparkIntervalLiterals`]);
//! - `initcap` is Spark's ([`crate::functions::SparkInitcap`]);
//! - NULLs sort first in ascending order (set in the session's parser options);
//! - Spark's functions come from `datafusion-spark`.
//!
//! A query DataFusion cannot read or plan (syntax it does not know, a function it lacks) is reported as
//! `unsupported on the embedded engine: …` rather than as a generic error.

pub(crate) mod arithmetic;
mod casts;
mod function_types;
mod int_literals;
pub(crate) mod intervals;
mod names;
mod plan;
mod rewrite;
pub(crate) mod sql;

pub use arithmetic::SparkArithmetic;
pub use casts::SparkCasts;
pub use function_types::SparkFunctionTypes;
pub use int_literals::SparkIntLiterals;
pub use intervals::{SparkIntervalLiterals, SparkIntervalType, SparkIntervalUnions};
pub use rewrite::rewrite;

pub use crate::error::{is_unsupported, unsupported_message};
