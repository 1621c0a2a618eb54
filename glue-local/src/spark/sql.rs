//! Building blocks of Spark SQL in the syntax tree (sqlparser's AST): calls, casts, literals, arguments, operators,
//! and a rewrite of a statement's queries and expressions.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, CastKind, Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, Query, SetExpr,
    Statement, Value, VisitMut, VisitorMut,
};

pub(crate) fn unnamed(e: SqlExpr) -> FunctionArg {
    FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
}

pub(crate) fn args_of(f: &sqlparser::ast::Function) -> Option<Vec<SqlExpr>> {
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    list.args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// `TRY_CAST(e AS to)` in the SQL syntax tree (the engine plans every CAST as Spark's non-failing one).
pub(crate) fn sql_cast(e: SqlExpr, to: sqlparser::ast::DataType) -> SqlExpr {
    SqlExpr::Cast {
        kind: CastKind::TryCast,
        expr: Box::new(e),
        data_type: to,
        array: false,
        format: None,
    }
}

pub(crate) fn string_literal(e: &SqlExpr) -> Option<&str> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn bool_literal(e: &SqlExpr) -> Option<bool> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            Value::Boolean(b) => Some(*b),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn set_args(f: &mut sqlparser::ast::Function, args: Vec<SqlExpr>) {
    if let FunctionArguments::List(list) = &mut f.args {
        list.args = args.into_iter().map(unnamed).collect();
    }
}

/// A call of `name` with unnamed arguments, in the SQL syntax tree.
pub(crate) fn call(name: &str, args: Vec<SqlExpr>) -> SqlExpr {
    SqlExpr::Function(sqlparser::ast::Function {
        name: sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(sqlparser::ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: args.into_iter().map(unnamed).collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// Spark's `timestamp` in the syntax tree: microseconds (DataFusion's default, nanoseconds, cannot hold 9999-12-31).
pub(crate) fn spark_timestamp_type() -> sqlparser::ast::DataType {
    sqlparser::ast::DataType::Timestamp(Some(6), sqlparser::ast::TimezoneInfo::None)
}

/// An argument's expression, named or not.
pub(crate) fn arg_expr(a: &FunctionArg) -> Option<&SqlExpr> {
    match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
        FunctionArg::Named {
            arg: FunctionArgExpr::Expr(e),
            ..
        } => Some(e),
        _ => None,
    }
}

/// `left <op> right`.
pub(crate) fn binary(left: SqlExpr, op: BinaryOperator, right: SqlExpr) -> SqlExpr {
    SqlExpr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }
}

/// `CASE WHEN condition THEN result END`.
pub(crate) fn case_when(condition: SqlExpr, result: SqlExpr) -> SqlExpr {
    SqlExpr::Case {
        case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sqlparser::ast::CaseWhen { condition, result }],
        else_result: None,
    }
}

/// A rewrite of one node of the syntax tree; `Err` names the construct it refuses.
type Rewrites<T> = fn(&mut T) -> Result<(), String>;

/// A rewrite of a parsed statement: `query` on the body of each query (subqueries included), then `expr` on each of
/// its expressions when given; the first `Err` stops it and names the construct refused.
pub(crate) fn rewrite_statement(
    statement: &mut Statement,
    query: Rewrites<SetExpr>,
    expr: Option<Rewrites<SqlExpr>>,
) -> Result<(), String> {
    match statement.visit(&mut Rewrite { query, expr }) {
        ControlFlow::Break(construct) => Err(construct),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The visitor of [`rewrite_statement`].
struct Rewrite {
    query: Rewrites<SetExpr>,
    expr: Option<Rewrites<SqlExpr>>,
}

impl VisitorMut for Rewrite {
    type Break = String;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<String> {
        flow((self.query)(&mut query.body))
    }

    fn pre_visit_expr(&mut self, e: &mut SqlExpr) -> ControlFlow<String> {
        match self.expr {
            Some(rewrite) => flow(rewrite(e)),
            None => ControlFlow::Continue(()),
        }
    }
}

fn flow(r: Result<(), String>) -> ControlFlow<String> {
    match r {
        Ok(()) => ControlFlow::Continue(()),
        Err(construct) => ControlFlow::Break(construct),
    }
}
