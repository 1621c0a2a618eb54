//! A fast syntax pre-check of a model's SELECT with `sqlparser` (Databricks dialect, the closest to Spark SQL).
//!
//! `sqlparser` does not know all of Spark (some nested type casts, `TRANSFORM`, Spark-only DDL), so a
//! failure here is a *hint*: the embedded engine treats it as an error (its own SQL front end is sqlparser), remote
//! engines only warn, and Spark's own parser stays the authority.

use std::fmt;

use sqlparser::ast::Statement;
use sqlparser::dialect::{DatabricksDialect, Dialect};
use sqlparser::parser::{Parser, ParserError};

/// Spark SQL as far as sqlparser can tell it: the Databricks dialect plus Spark's backslash escapes in string
/// literals (`'it\'s'`), which glue-sql itself emits.
#[derive(Debug, Default, Clone, Copy)]
pub struct SparkDialect;

impl Dialect for SparkDialect {
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        DatabricksDialect.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        DatabricksDialect.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        DatabricksDialect.is_identifier_part(ch)
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        true
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        true
    }
    fn supports_group_by_expr(&self) -> bool {
        true
    }
    fn supports_lambda_functions(&self) -> bool {
        true
    }
    fn require_interval_qualifier(&self) -> bool {
        true
    }
    fn supports_struct_literal(&self) -> bool {
        true
    }
    fn supports_nested_comments(&self) -> bool {
        true
    }
    fn supports_group_by_with_modifier(&self) -> bool {
        true
    }
    fn supports_values_as_table_factor(&self) -> bool {
        true
    }
    /// Spark reads `! p` as `NOT p`.
    fn supports_bang_not_operator(&self) -> bool {
        true
    }
    /// Spark's `TABLESAMPLE (…)` comes before the table's alias.
    fn supports_table_sample_before_alias(&self) -> bool {
        true
    }
    /// Spark's integral division `a DIV b`, as tight as `*` and `/` (sqlparser gives DIV that precedence but no
    /// parser outside MySQL's dialect); it is sqlparser's `MyIntegerDivide`.
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &sqlparser::ast::Expr,
        _precedence: u8,
    ) -> Option<Result<sqlparser::ast::Expr, ParserError>> {
        if !parser.parse_keyword(sqlparser::keywords::Keyword::DIV) {
            return None;
        }
        let precedence = self.prec_value(sqlparser::dialect::Precedence::MulDivModOp);
        Some(
            parser
                .parse_subexpr(precedence)
                .map(|right| sqlparser::ast::Expr::BinaryOp {
                    left: Box::new(expr.clone()),
                    op: sqlparser::ast::BinaryOperator::MyIntegerDivide,
                    right: Box::new(right),
                }),
        )
    }
}

/// A syntax problem found in a model's SQL, with its 1-based position when the parser reports one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SyntaxError {
    /// The parser's message (without its position suffix).
    pub message: String,
    /// 1-based line in the checked text.
    pub line: Option<u64>,
    /// 1-based column in the checked text.
    pub column: Option<u64>,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Checks that `sql` is one query (SELECT, WITH … SELECT, VALUES, set operations), optionally ending with `;`.
///
/// ```
/// assert!(glue_sql::check_select("select id, count(*) from t group by 1").is_ok());
/// let e = glue_sql::check_select("select id,\nfrom t where").unwrap_err();
/// assert_eq!(e.line, Some(2));
/// ```
pub fn check_select(sql: &str) -> Result<(), SyntaxError> {
    let tokens = crate::tokenize(sql).map_err(|e| from_parser_error(ParserError::from(e)))?;
    let statements = Parser::new(&SparkDialect)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(from_parser_error)?;
    match statements.as_slice() {
        [Statement::Query(_)] => Ok(()),
        [] => Err(SyntaxError {
            message: "the model's SQL is empty".into(),
            line: None,
            column: None,
        }),
        [_] => Err(SyntaxError {
            message: "the model's SQL is not a query (expected SELECT, WITH or VALUES)".into(),
            line: Some(1),
            column: Some(1),
        }),
        _ => Err(SyntaxError {
            message: "the model's SQL holds more than one statement".into(),
            line: None,
            column: None,
        }),
    }
}

/// Whether `sql` only reads: one or more queries, `SHOW …`, `DESCRIBE …` or `EXPLAIN …`. What does not parse is
/// taken as a write (a caller that retries reads only must not run a write twice).
///
/// ```
/// assert!(glue_sql::reads_only("select count(*) from t"));
/// assert!(!glue_sql::reads_only("insert into t select 1"));
/// assert!(!glue_sql::reads_only("select 1; drop table t"));
/// ```
pub fn reads_only(sql: &str) -> bool {
    let Ok(tokens) = crate::tokenize(sql) else {
        return false;
    };
    let Ok(statements) = Parser::new(&SparkDialect)
        .with_tokens_with_locations(tokens)
        .parse_statements()
    else {
        return false;
    };
    !statements.is_empty()
        && statements.iter().all(|s| {
            matches!(s, Statement::Query(q) if query_reads(q))
                || matches!(
                    s,
                    Statement::ShowTables { .. }
                        | Statement::ShowColumns { .. }
                        | Statement::ShowDatabases { .. }
                        | Statement::ShowSchemas { .. }
                        | Statement::ShowFunctions { .. }
                        | Statement::ShowCreate { .. }
                        | Statement::ExplainTable { .. }
                )
                || matches!(s, Statement::Explain { analyze: false, .. })
        })
}

/// A query that writes nothing: no INSERT, UPDATE, DELETE or MERGE in its body or its CTEs.
fn query_reads(q: &sqlparser::ast::Query) -> bool {
    use sqlparser::ast::SetExpr;
    fn body_reads(b: &SetExpr) -> bool {
        match b {
            SetExpr::Select(_) | SetExpr::Values(_) | SetExpr::Table(_) => true,
            SetExpr::Query(q) => query_reads(q),
            SetExpr::SetOperation { left, right, .. } => body_reads(left) && body_reads(right),
            _ => false,
        }
    }
    q.with
        .as_ref()
        .is_none_or(|w| w.cte_tables.iter().all(|c| query_reads(&c.query)))
        && body_reads(&q.body)
}

fn from_parser_error(e: ParserError) -> SyntaxError {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        ParserError::RecursionLimitExceeded => "the query nests too deeply".to_string(),
    };
    let (message, line, column) = split_position(&text);
    SyntaxError { message, line, column }
}

/// sqlparser appends " at Line: L, Column: C" to its messages.
fn split_position(text: &str) -> (String, Option<u64>, Option<u64>) {
    if let Some(at) = text.rfind(" at Line: ") {
        let rest = &text[at + " at Line: ".len()..];
        if let Some((l, c)) = rest.split_once(", Column: ") {
            let col: String = c.chars().take_while(char::is_ascii_digit).collect();
            if let (Ok(l), Ok(c)) = (l.trim().parse(), col.parse()) {
                return (text[..at].to_string(), Some(l), Some(c));
            }
        }
    }
    (text.to_string(), None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes() {
        for q in [
            "select 1",
            "with a as (select 1 as x) select x from a union all select 2",
            "values (1), (2)",
            "show tables in s",
            "explain select 1",
            "(select 1) except (select 2)",
        ] {
            assert!(reads_only(q), "{q}");
        }
        for q in [
            "insert into t select 1",
            "insert overwrite table t select 1",
            "with a as (select 1 as x) insert into t select x from a",
            "create table t as select 1",
            "drop table t",
            "merge into t using s on t.id = s.id when matched then delete",
            "delete from t where id = 1",
            "select 1; drop table t",
            "set spark.sql.ansi.enabled = true",
            "",
            "select from where",
        ] {
            assert!(!reads_only(q), "{q}");
        }
    }

    #[test]
    fn accepts_queries() {
        for q in [
            "select 1",
            "with a as (select 1 as x) select x from a;",
            "select `a b` from s.t where x = 'it\\'s'",
            "select * from a union all select * from b",
        ] {
            check_select(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        }
    }

    #[test]
    fn reports_position() {
        let e = check_select("select a,\n  b\nfrom t\nwhere )").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.column.is_some());
    }

    #[test]
    fn refuses_non_queries() {
        assert!(check_select("drop table x").is_err());
        assert!(check_select("select 1; select 2").is_err());
        assert!(check_select("  ").is_err());
    }
}
