//! PIVOT and UNPIVOT as the queries Spark computes.

use std::ops::ControlFlow;

use arrow_schema::DataType;
use datafusion::execution::context::SessionState;
use sqlparser::ast::{
    BinaryOperator, Expr, ExprWithAlias, FunctionArguments, GroupByExpr, Ident, Query, SelectItem, SetExpr,
    SetOperator, Statement, TableAlias, TableFactor, UnaryOperator, Value, VisitMut, VisitorMut,
};

use super::rewrite::rewrite;
use crate::spark::sql::call;
use crate::spark::sql::{arg_expr, binary, case_when};

/// `PIVOT` and `UNPIVOT`, which DataFusion does not plan, as the queries Spark computes, over the columns of their
/// input (planned on its own to learn them, with the statement's CTEs):
/// - `t PIVOT (agg [AS a], … FOR p IN (v [AS n], …))` groups by every column of `t` the aggregates and `p` do not
///   use; each value gives one column per aggregate (named `n`, or `n_a` for several aggregates), the aggregate
///   over the rows where `p = v`, NULL when there is none (Spark's two-phase pivot; when an aggregate's result is
///   not numeric, Spark's one-phase form: the aggregate of `CASE WHEN p = v THEN x END`);
/// - `t UNPIVOT [EXCLUDE|INCLUDE NULLS] (val FOR name IN (c [AS n], …))` is a UNION ALL of one SELECT per column:
///   the other columns, the column's name and its value (rows whose values are all NULL dropped, unless INCLUDE).
pub async fn rewrite_pivots(state: &SessionState, statement: &mut Statement) -> Result<(), String> {
    for _ in 0..64 {
        let mut find = FirstPivot::default();
        let _ = statement.visit(&mut find);
        let Some(input) = find.input else {
            return Ok(());
        };
        let with = match statement {
            Statement::Query(q) => q.with.clone(),
            _ => None,
        };
        let columns = input_columns(state, input, with).await?;
        let mut replace = ReplacePivot { columns, done: None };
        let _ = statement.visit(&mut replace);
        replace.done.unwrap_or_else(|| Err("PIVOT".into()))?;
    }
    Err("more than 64 PIVOT or UNPIVOT clauses".into())
}

/// The input of the innermost first PIVOT or UNPIVOT.
#[derive(Default)]
struct FirstPivot {
    input: Option<TableFactor>,
}

impl VisitorMut for FirstPivot {
    type Break = ();

    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        match t {
            TableFactor::Pivot { table, .. } | TableFactor::Unpivot { table, .. } => {
                self.input = Some((**table).clone());
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Replaces the innermost first PIVOT or UNPIVOT, its input having `columns`.
struct ReplacePivot {
    columns: Vec<(String, DataType)>,
    done: Option<Result<(), String>>,
}

impl VisitorMut for ReplacePivot {
    type Break = ();

    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        let new = match t {
            TableFactor::Pivot {
                table,
                aggregate_functions,
                value_column,
                value_source,
                default_on_null,
                alias,
            } => {
                if default_on_null.is_some() {
                    Err("PIVOT … DEFAULT ON NULL".to_string())
                } else {
                    pivot(table, aggregate_functions, value_column, value_source, &self.columns)
                        .map(|q| derived(q, alias.take()))
                }
            }
            TableFactor::Unpivot {
                table,
                value,
                name,
                columns,
                null_inclusion,
                alias,
            } => {
                let include = matches!(null_inclusion, Some(sqlparser::ast::NullInclusion::IncludeNulls));
                unpivot(table, value, name, columns, include, &self.columns).map(|q| derived(q, alias.take()))
            }
            _ => return ControlFlow::Continue(()),
        };
        self.done = Some(new.map(|new| *t = new));
        ControlFlow::Break(())
    }
}

/// The names and types of a table factor's columns, planned on its own.
async fn input_columns(
    state: &SessionState,
    input: TableFactor,
    with: Option<sqlparser::ast::With>,
) -> Result<Vec<(String, DataType)>, String> {
    let mut query = select_query(vec![SelectItem::Wildcard(Default::default())], input, vec![], None)?;
    query.with = with;
    let mut probe = Statement::Query(Box::new(query));
    rewrite(&mut probe)
        .and_then(|()| crate::generators::rewrite(&mut probe))
        .and_then(|()| crate::spark::rewrite(&mut probe))?;
    let statement = datafusion::sql::parser::Statement::Statement(Box::new(probe));
    let plan = state
        .statement_to_plan(statement)
        .await
        .map_err(|e| format!("PIVOT or UNPIVOT over a relation the embedded engine cannot plan alone ({e})"))?;
    Ok(plan
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().to_string(), f.data_type().clone()))
        .collect())
}

/// `SELECT items FROM from [WHERE filter] [GROUP BY group_by]`.
fn select_query(
    items: Vec<SelectItem>,
    from: TableFactor,
    group_by: Vec<Expr>,
    filter: Option<Expr>,
) -> Result<Query, String> {
    let parsed = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, "SELECT 1 FROM t")
        .map_err(|e| e.to_string())?;
    let Some(Statement::Query(mut query)) = parsed.into_iter().next() else {
        return Err("a query template".into());
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err("a query template".into());
    };
    select.projection = items;
    select.from = vec![sqlparser::ast::TableWithJoins {
        relation: from,
        joins: vec![],
    }];
    select.selection = filter;
    if !group_by.is_empty() {
        select.group_by = GroupByExpr::Expressions(group_by, vec![]);
    }
    Ok(*query)
}

fn derived(query: Query, alias: Option<TableAlias>) -> TableFactor {
    TableFactor::Derived {
        lateral: false,
        subquery: Box::new(query),
        alias: alias.or_else(|| {
            Some(TableAlias {
                explicit: true,
                name: Ident::new("__pivot"),
                columns: vec![],
            })
        }),
        sample: None,
    }
}

fn quoted(name: &str) -> Ident {
    Ident::with_quote('`', name)
}

fn column(name: &str) -> Expr {
    Expr::Identifier(quoted(name))
}

fn item(e: Expr, name: &str) -> SelectItem {
    SelectItem::ExprWithAlias {
        expr: e,
        alias: quoted(name),
    }
}

/// The lower-case names of the columns an expression reads.
fn names_read(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    let mut e = e.clone();
    let _ = sqlparser::ast::visit_expressions_mut(&mut e, |x: &mut Expr| {
        match x {
            Expr::Identifier(id) => out.push(id.value.to_lowercase()),
            Expr::CompoundIdentifier(ids) => out.extend(ids.last().map(|i| i.value.to_lowercase())),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// The name Spark gives a pivot value or an unpivoted column: its alias, the text of a literal, else its SQL.
fn value_name(v: &ExprWithAlias) -> String {
    if let Some(a) = &v.alias {
        return a.value.clone();
    }
    match &v.expr {
        Expr::Value(x) => match &x.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Number(n, _) => n.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(id) => id.value.clone(),
        Expr::Tuple(items) => items
            .iter()
            .map(|i| {
                value_name(&ExprWithAlias {
                    expr: i.clone(),
                    alias: None,
                })
            })
            .collect::<Vec<_>>()
            .join("_"),
        other => other.to_string(),
    }
}

fn pivot(
    table: &TableFactor,
    aggregates: &[ExprWithAlias],
    pivot_columns: &[Expr],
    values: &sqlparser::ast::PivotValueSource,
    columns: &[(String, DataType)],
) -> Result<Query, String> {
    let sqlparser::ast::PivotValueSource::List(values) = values else {
        return Err("PIVOT … IN (ANY | a subquery)".into());
    };
    let used: Vec<String> = aggregates
        .iter()
        .map(|a| &a.expr)
        .chain(pivot_columns)
        .flat_map(names_read)
        .collect();
    let groups: Vec<&str> = columns
        .iter()
        .map(|(c, _)| c.as_str())
        .filter(|c| !used.contains(&c.to_lowercase()))
        .collect();
    let two_phase = aggregates
        .iter()
        .map(|a| numeric_aggregate(&a.expr, columns))
        .collect::<Result<Vec<bool>, String>>()?
        .into_iter()
        .all(|n| n);
    let mut items: Vec<SelectItem> = groups.iter().map(|c| item(column(c), c)).collect();
    for v in values {
        let condition = pivot_condition(pivot_columns, &v.expr)?;
        for a in aggregates {
            let name = if aggregates.len() == 1 {
                value_name(v)
            } else {
                let agg = a.alias.as_ref().map_or_else(|| a.expr.to_string(), |i| i.value.clone());
                format!("{}_{agg}", value_name(v))
            };
            let e = if two_phase {
                two_phase_cell(&a.expr, &condition)
            } else {
                one_phase(&a.expr, &condition)
            };
            items.push(item(e, &name));
        }
    }
    let group_by = groups.iter().map(|c| column(c)).collect();
    select_query(items, table.clone(), group_by, None)
}

/// `p = v`, or `p1 = v1 AND p2 = v2` for several pivot columns and a tuple of values.
fn pivot_condition(pivot_columns: &[Expr], value: &Expr) -> Result<Expr, String> {
    let values = match (pivot_columns, value) {
        ([_], v) => vec![v.clone()],
        (cols, Expr::Tuple(vs)) if vs.len() == cols.len() => vs.clone(),
        _ => return Err("PIVOT values that do not match its columns".into()),
    };
    pivot_columns
        .iter()
        .zip(values)
        .map(|(p, v)| binary(p.clone(), BinaryOperator::Eq, v))
        .reduce(|l, r| binary(l, BinaryOperator::And, r))
        .ok_or_else(|| "PIVOT without a column".into())
}

/// Whether Spark's result type of a pivot aggregate is numeric (its two-phase pivot); other aggregates refused.
fn numeric_aggregate(e: &Expr, columns: &[(String, DataType)]) -> Result<bool, String> {
    let Expr::Function(f) = e else {
        return Err(format!("PIVOT of `{e}` (an aggregate function is expected)"));
    };
    let name = f.name.to_string().to_ascii_lowercase();
    match name.as_str() {
        "sum" | "avg" | "mean" | "count" | "count_if" | "stddev" | "stddev_samp" | "stddev_pop" | "variance"
        | "var_samp" | "var_pop" => Ok(true),
        "min" | "max" => {
            let FunctionArguments::List(list) = &f.args else {
                return Err(format!("PIVOT of `{e}`"));
            };
            let arg = list.args.first().and_then(arg_expr);
            let t = match arg {
                Some(Expr::Identifier(id)) => columns
                    .iter()
                    .find(|(c, _)| c.eq_ignore_ascii_case(&id.value))
                    .map(|(_, t)| t),
                _ => None,
            };
            match t {
                Some(t) => Ok(t.is_numeric() || matches!(t, DataType::Boolean)),
                None => Err(format!("PIVOT of `{e}` (min/max of a column only)")),
            }
        }
        other => Err(format!("PIVOT with the aggregate `{other}`")),
    }
}

/// `CASE WHEN count(CASE WHEN c THEN 1 END) > 0 THEN agg(CASE WHEN c THEN x END) END`: the aggregate over the
/// matching rows (`count(*)` counts them), NULL when none matches.
fn two_phase_cell(aggregate: &Expr, condition: &Expr) -> Expr {
    let one = Expr::value(Value::Number("1".into(), false));
    let matching = call("count", vec![case_when(condition.clone(), one.clone())]);
    let any = binary(
        matching.clone(),
        BinaryOperator::Gt,
        Expr::value(Value::Number("0".into(), false)),
    );
    let counts_rows = matches!(aggregate, Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("count")
        && names_read(aggregate).is_empty());
    let value = if counts_rows {
        matching
    } else {
        one_phase(aggregate, condition)
    };
    case_when(any, value)
}

/// The aggregate with each argument as `CASE WHEN c THEN argument END` (Spark's one-phase pivot): only the matching
/// rows reach it, whether the argument reads a column or not (`sum(1)`).
fn one_phase(aggregate: &Expr, condition: &Expr) -> Expr {
    let mut e = aggregate.clone();
    if let Expr::Function(f) = &mut e
        && let FunctionArguments::List(list) = &mut f.args
    {
        for a in &mut list.args {
            if let sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(x)) = a {
                *x = case_when(condition.clone(), x.clone());
            }
        }
    }
    e
}

fn unpivot(
    table: &TableFactor,
    value: &Expr,
    name: &Ident,
    items: &[ExprWithAlias],
    include_nulls: bool,
    columns: &[(String, DataType)],
) -> Result<Query, String> {
    let value_names: Vec<Ident> = match value {
        Expr::Identifier(id) => vec![id.clone()],
        Expr::Tuple(ids) => ids
            .iter()
            .map(|i| match i {
                Expr::Identifier(id) => Ok(id.clone()),
                other => Err(format!("UNPIVOT into `{other}`")),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(format!("UNPIVOT into `{other}`")),
    };
    let used: Vec<String> = items.iter().flat_map(|i| names_read(&i.expr)).collect();
    let others: Vec<&str> = columns
        .iter()
        .map(|(c, _)| c.as_str())
        .filter(|c| !used.contains(&c.to_lowercase()))
        .collect();
    let mut branches = Vec::new();
    for i in items {
        let read = match &i.expr {
            Expr::Tuple(es) => es.clone(),
            e => vec![e.clone()],
        };
        if read.len() != value_names.len() {
            return Err("UNPIVOT columns that do not match its values".into());
        }
        let mut select: Vec<SelectItem> = others.iter().map(|c| item(column(c), c)).collect();
        select.push(SelectItem::ExprWithAlias {
            expr: Expr::value(Value::SingleQuotedString(value_name(i))),
            alias: name.clone(),
        });
        select.extend(read.iter().zip(&value_names).map(|(e, n)| SelectItem::ExprWithAlias {
            expr: e.clone(),
            alias: n.clone(),
        }));
        let all_null = read
            .iter()
            .map(|e| Expr::IsNull(Box::new(e.clone())))
            .reduce(|l, r| binary(l, BinaryOperator::And, r));
        let filter = all_null.filter(|_| !include_nulls).map(|e| Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: Box::new(Expr::Nested(Box::new(e))),
        });
        branches.push(select_query(select, table.clone(), vec![], filter)?);
    }
    let union = branches
        .into_iter()
        .map(|q| *q.body)
        .reduce(|l, r| SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier: sqlparser::ast::SetQuantifier::All,
            left: Box::new(l),
            right: Box::new(r),
        })
        .ok_or("UNPIVOT without a column")?;
    let mut query = select_query(vec![], table.clone(), vec![], None)?;
    query.body = Box::new(union);
    Ok(query)
}
