//! # glue-sql: the Spark SQL dialect of glue-rs
//!
//! Pure building blocks (no I/O) for writing Spark SQL that AWS Glue (Spark 3.3 / 3.5, ANSI mode off), open-source
//! Spark and Spark Connect servers accept:
//!
//! - [`Ident`] and [`quote_ident`]: backtick-quoted identifiers (embedded backticks doubled);
//! - [`string_literal`]: string literals escaped the way Spark's lexer reads them (backslash escapes, never `''`);
//! - [`RelationName`]: `schema.identifier`, `catalog.schema.identifier` and unqualified temporary views, with the
//!   Iceberg catalog-prefix rule of dbt-glue;
//! - [`SqlFragment`]: user-written SQL (model bodies, hooks, predicates) kept apart from generated structure;
//! - statement builders, one type per statement shape: [`ddl`] (CREATE / DROP / ALTER / CALL …) and [`dml`]
//!   (INSERT, MERGE);
//! - [`check_select`]: a fast syntax pre-check of a model's SELECT with `sqlparser`, reporting line and column;
//! - [`tokenize`] and [`unescape`]: sqlparser tokens with string literals read as Spark reads them (`\%` keeps its
//!   backslash, `\u0041` and `\101` are `A`, `'a' 'b'` is `'ab'`), for every parser of Spark SQL in glue-rs.
//!
//! ```
//! use glue_sql::{ddl::CreateTable, RelationName, SqlFragment};
//!
//! let target = RelationName::new("analytics", "orders").unwrap();
//! let sql = CreateTable::as_query(target, SqlFragment::new("select 1 as id"))
//!     .using("parquet")
//!     .partitioned_by(["dt"]).unwrap()
//!     .location("s3://bucket/analytics/orders")
//!     .to_sql();
//! assert_eq!(
//!     sql,
//!     "CREATE TABLE `analytics`.`orders`\nUSING parquet\nPARTITIONED BY (`dt`)\n\
//!      LOCATION 's3://bucket/analytics/orders'\nAS\nselect 1 as id"
//! );
//! ```

pub mod check;
pub mod ddl;
pub mod dml;
mod error;
mod fragment;
mod ident;
mod lex;
mod literal;
mod relation;
pub mod snapshot;
pub mod types;

pub use check::{SparkDialect, SyntaxError, check_select, reads_only};
pub use error::SqlError;
pub use fragment::SqlFragment;
pub use ident::{Ident, quote_ident, quote_ident_if_needed};
pub use lex::{tokenize, unescape};
pub use literal::{string_literal, timestamp_literal};
pub use relation::RelationName;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
