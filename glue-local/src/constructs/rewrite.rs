//! The rewrite of a parsed statement's constructs that DataFusion has under another form (MINUS, SEMI JOIN, LIKE ANY,
//! COUNT of several DISTINCT values, interval frame bounds, inline tables' column names, a SELECT without FROM), and
//! the refusal of those it would answer otherwise than Spark.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    GroupByWithModifier, Ident, JoinConstraint, JoinOperator, Query, Select, SetExpr, SetOperator, Statement,
    TableAlias, TableAliasColumnDef, TableFactor, UnaryOperator, Value, WindowFrameBound, WindowSpec, WindowType,
};

use crate::spark::sql::call;
use crate::spark::sql::{arg_expr, binary, case_when, rewrite_statement};

/// Rewrites the constructs of a parsed statement DataFusion has under another form, or names the one it refuses.
pub fn rewrite(statement: &mut Statement) -> Result<(), String> {
    rewrite_statement(statement, set_expr, Some(expr))
}

/// The set operations and SELECTs of a query body (subqueries are visited as queries of their own).
fn set_expr(body: &mut SetExpr) -> Result<(), String> {
    match body {
        SetExpr::SetOperation {
            op,
            left,
            right,
            set_quantifier,
        } => {
            if *op == SetOperator::Minus {
                *op = SetOperator::Except;
            }
            if *set_quantifier == sqlparser::ast::SetQuantifier::All && *op != SetOperator::Union {
                return Err(format!(
                    "{op} ALL (DataFusion counts the duplicates otherwise than Spark; {op} DISTINCT runs)"
                ));
            }
            set_expr(left)?;
            set_expr(right)
        }
        SetExpr::Select(select) => self::select(select),
        _ => Ok(()),
    }
}

fn select(select: &mut Select) -> Result<(), String> {
    for from in &mut select.from {
        values_names(&mut from.relation);
        for join in &mut from.joins {
            values_names(&mut join.relation);
            join.join_operator = join_operator(std::mem::replace(
                &mut join.join_operator,
                JoinOperator::CrossJoin(JoinConstraint::None),
            ))?;
        }
    }
    for w in &mut select.named_window {
        if let sqlparser::ast::NamedWindowExpr::WindowSpec(spec) = &mut w.1 {
            frame_bounds(spec)?;
        }
    }
    if select.from.is_empty() && has_subquery(select) {
        select.from.push(one_row());
    }
    group_by_modifiers(&mut select.group_by)
}

/// `GROUP BY a, b WITH ROLLUP | WITH CUBE | GROUPING SETS (…)` as `GROUP BY ROLLUP(a, b)`, `CUBE(a, b)`,
/// `GROUPING SETS (…)` (DataFusion ignores the modifiers).
fn group_by_modifiers(group_by: &mut GroupByExpr) -> Result<(), String> {
    let (exprs, modifiers) = match group_by {
        GroupByExpr::Expressions(exprs, modifiers) if !modifiers.is_empty() => (exprs, modifiers),
        GroupByExpr::All(modifiers) if !modifiers.is_empty() => {
            return Err("GROUP BY ALL with ROLLUP, CUBE or GROUPING SETS".into());
        }
        _ => return Ok(()),
    };
    let [modifier] = modifiers.as_slice() else {
        return Err("GROUP BY with more than one of ROLLUP, CUBE, GROUPING SETS".into());
    };
    let sets = || exprs.iter().map(|e| vec![e.clone()]).collect();
    let grouping = match modifier {
        GroupByWithModifier::Rollup => Expr::Rollup(sets()),
        GroupByWithModifier::Cube => Expr::Cube(sets()),
        GroupByWithModifier::GroupingSets(e) => e.clone(),
        GroupByWithModifier::Totals => return Err("GROUP BY … WITH TOTALS".into()),
    };
    *exprs = vec![grouping];
    modifiers.clear();
    Ok(())
}

/// `SEMI` and `ANTI` as DataFusion names them; FULL joins on USING or NATURAL refused.
fn join_operator(op: JoinOperator) -> Result<JoinOperator, String> {
    Ok(match op {
        JoinOperator::Semi(c) => JoinOperator::LeftSemi(c),
        JoinOperator::Anti(c) => JoinOperator::LeftAnti(c),
        JoinOperator::FullOuter(JoinConstraint::Using(_)) => {
            return Err(
                "FULL OUTER JOIN … USING (DataFusion keeps the left key where Spark coalesces both; join ON \
                        the keys and coalesce them)"
                    .into(),
            );
        }
        JoinOperator::FullOuter(JoinConstraint::Natural) => {
            return Err("NATURAL FULL OUTER JOIN (DataFusion keeps the left key where Spark coalesces both)".into());
        }
        other => other,
    })
}

/// Spark names the columns of an inline table without column names `col1`, `col2`, …
fn values_names(relation: &mut TableFactor) {
    let TableFactor::Derived { subquery, alias, .. } = relation else {
        return;
    };
    let SetExpr::Values(values) = subquery.body.as_ref() else {
        return;
    };
    let width = values.rows.first().map_or(0, Vec::len);
    let columns = (1..=width)
        .map(|i| TableAliasColumnDef::from_name(format!("col{i}")))
        .collect();
    match alias {
        None => {
            *alias = Some(TableAlias {
                explicit: true,
                name: Ident::new("__values"),
                columns,
            })
        }
        Some(a) if a.columns.is_empty() => a.columns = columns,
        Some(_) => {}
    }
}

/// True when a SELECT's items or filter hold a subquery.
fn has_subquery(select: &Select) -> bool {
    let mut found = false;
    let mut probe = select.clone();
    let _ = sqlparser::ast::visit_expressions_mut(&mut probe, |e: &mut Expr| {
        if matches!(e, Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }) {
            found = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

/// `FROM (VALUES (1)) AS __one`.
fn one_row() -> sqlparser::ast::TableWithJoins {
    let values = sqlparser::ast::Values {
        explicit_row: false,
        value_keyword: false,
        rows: vec![vec![Expr::value(Value::Number("1".into(), false))]],
    };
    sqlparser::ast::TableWithJoins {
        relation: TableFactor::Derived {
            lateral: false,
            subquery: Box::new(Query {
                with: None,
                body: Box::new(SetExpr::Values(values)),
                order_by: None,
                limit_clause: None,
                fetch: None,
                locks: vec![],
                for_clause: None,
                settings: None,
                format_clause: None,
                pipe_operators: vec![],
            }),
            alias: Some(TableAlias {
                explicit: true,
                name: Ident::new("__one"),
                columns: vec![],
            }),
            sample: None,
        },
        joins: vec![],
    }
}

fn expr(e: &mut Expr) -> Result<(), String> {
    match e {
        Expr::Lambda(_) => Err(lambda("")),
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            if let FunctionArguments::List(list) = &f.args
                && list.args.iter().any(|a| matches!(arg_expr(a), Some(Expr::Lambda(_))))
            {
                return Err(lambda(&name));
            }
            if let Some(WindowType::WindowSpec(spec)) = &mut f.over {
                frame_bounds(spec)?;
            }
            if name == "count" {
                count_distinct(f);
            }
            Ok(())
        }
        Expr::Like {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        } => {
            if let Some(new) = like_list(*negated, *any, expr, pattern, escape_char, false) {
                *e = new;
            }
            Ok(())
        }
        Expr::ILike {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        } => {
            if let Some(new) = like_list(*negated, *any, expr, pattern, escape_char, true) {
                *e = new;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn lambda(function: &str) -> String {
    let what = if function.is_empty() {
        "a lambda function".to_string()
    } else {
        format!("`{function}` with a lambda function")
    };
    format!("{what} (`x -> …`): DataFusion 53 has no lambda expressions")
}

/// Spark counts the distinct tuples with no NULL in them.
fn count_distinct(f: &mut sqlparser::ast::Function) {
    let FunctionArguments::List(list) = &mut f.args else {
        return;
    };
    if list.duplicate_treatment != Some(DuplicateTreatment::Distinct) || list.args.len() < 2 {
        return;
    }
    let args: Vec<Expr> = list.args.iter().filter_map(arg_expr).cloned().collect();
    if args.len() != list.args.len() {
        return;
    }
    let all_set = args
        .iter()
        .map(|a| Expr::IsNotNull(Box::new(a.clone())))
        .reduce(|l, r| binary(l, BinaryOperator::And, r))
        .expect("two arguments or more");
    let fields = args
        .iter()
        .enumerate()
        .flat_map(|(i, a)| [Expr::value(Value::SingleQuotedString(format!("c{i}"))), a.clone()])
        .collect();
    let tuple = case_when(all_set, call("named_struct", fields));
    list.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(tuple))];
}

/// `x [NOT] LIKE ANY|SOME|ALL (p1, p2)` as one LIKE per pattern joined by OR (ANY, SOME) or AND (ALL); `None` when
/// the LIKE has a single pattern.
fn like_list(
    negated: bool,
    any: bool,
    subject: &Expr,
    pattern: &Expr,
    escape: &Option<Value>,
    ilike: bool,
) -> Option<Expr> {
    let (patterns, all) = match pattern {
        Expr::Tuple(list) if any => (list.clone(), false),
        Expr::Nested(p) if any => (vec![(**p).clone()], false),
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let FunctionArguments::List(list) = &f.args else {
                return None;
            };
            if !matches!(name.as_str(), "all" | "any" | "some") || list.args.is_empty() {
                return None;
            }
            let args: Vec<Expr> = list.args.iter().filter_map(arg_expr).cloned().collect();
            (args, name == "all")
        }
        _ => return None,
    };
    let one = |p: Expr| {
        let (expr, pattern, escape_char) = (Box::new(subject.clone()), Box::new(p), escape.clone());
        if ilike {
            Expr::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            }
        } else {
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char,
            }
        }
    };
    let op = if all { BinaryOperator::And } else { BinaryOperator::Or };
    patterns
        .into_iter()
        .map(one)
        .reduce(|l, r| binary(l, op.clone(), r))
        .map(|e| Expr::Nested(Box::new(e)))
}

/// `INTERVAL 2 DAYS` (a number and a unit) as a frame bound is `INTERVAL '2 DAYS'`, the form DataFusion reads there.
fn frame_bounds(spec: &mut WindowSpec) -> Result<(), String> {
    let Some(frame) = &mut spec.window_frame else {
        return Ok(());
    };
    bound(&mut frame.start_bound)?;
    if let Some(end) = &mut frame.end_bound {
        bound(end)?;
    }
    Ok(())
}

fn bound(b: &mut WindowFrameBound) -> Result<(), String> {
    let (WindowFrameBound::Preceding(Some(e)) | WindowFrameBound::Following(Some(e))) = b else {
        return Ok(());
    };
    let Expr::Interval(interval) = e.as_mut() else {
        return Ok(());
    };
    if interval.last_field.is_some() {
        return Err(format!(
            "a window frame bound `{interval}` (an interval with a `… TO …` qualifier)"
        ));
    }
    let number = match interval.value.as_ref() {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n.clone()),
            Value::SingleQuotedString(s) if s.trim().parse::<f64>().is_ok() => Some(s.trim().to_string()),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            ..
        } => return Err(format!("a window frame bound `{interval}` (a negative interval)")),
        _ => None,
    };
    match (number, &interval.leading_field) {
        (Some(n), Some(unit)) => {
            *interval.value = Expr::value(Value::SingleQuotedString(format!("{n} {unit}")));
            interval.leading_field = None;
            Ok(())
        }
        (None, None) => Ok(()),
        _ => Err(format!("a window frame bound `{interval}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> Result<String, String> {
        let tokens = glue_sql::tokenize(sql).map_err(|e| e.to_string())?;
        let mut statements = sqlparser::parser::Parser::new(&glue_sql::SparkDialect)
            .with_tokens_with_locations(tokens)
            .parse_statements()
            .map_err(|e| e.to_string())?;
        let mut s = statements.remove(0);
        rewrite(&mut s)?;
        Ok(s.to_string())
    }

    #[test]
    fn constructs_are_rewritten() {
        for (sql, want) in [
            (
                "select a from t minus select a from u",
                "SELECT a FROM t EXCEPT SELECT a FROM u",
            ),
            (
                "select a from t group by a with rollup",
                "SELECT a FROM t GROUP BY ROLLUP (a)",
            ),
            (
                "select s like any ('a%', 'b%') from t",
                "SELECT (s LIKE 'a%' OR s LIKE 'b%') FROM t",
            ),
        ] {
            assert_eq!(rewritten(sql).unwrap(), want);
        }
        assert!(
            rewritten("select count(distinct a, b) from t")
                .unwrap()
                .contains("named_struct")
        );
    }

    #[test]
    fn lambdas_and_counted_duplicates_are_refused() {
        let e = rewritten("select transform(a, x -> x + 1) from t").unwrap_err();
        assert!(e.contains("`transform` with a lambda function"), "{e}");
        assert!(rewritten("select a from t intersect all select a from u").is_err());
        assert!(rewritten("select * from t full join u using (k)").is_err());
    }
}
