//! Spark's generators on DataFusion's `unnest`: `explode` and `posexplode` in a SELECT list, and
//! `LATERAL VIEW explode(…) / posexplode(…)` over one relation.
//!
//! - `SELECT explode(a) [AS x]` is `SELECT unnest(a) AS col|x`; `posexplode(a)` is two items, `pos` (INT, from 0) and
//!   `col` (DataFusion zips the unnests of one SELECT).
//! - `FROM r [AS t] LATERAL VIEW explode(a) v AS x` becomes `FROM (SELECT *, unnest(a) AS x FROM r [AS t]) AS t`, one
//!   level per view, and `v.x` is read as `t.x`.
//!
//! - `FROM explode(a)` (a generator as a table) is a derived table of `SELECT explode(a)`; Spark's named argument
//!   `explode(collection => a)` is read as `explode(a)`.
//!
//! Refused (unsupported on the embedded engine): `explode_outer`/`posexplode_outer` and `LATERAL VIEW OUTER` (unnest
//! drops NULL and empty arrays), `explode` of a map (two column aliases), a LATERAL VIEW over joins or a function other
//! than `explode`/`posexplode`.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query, Select, SelectItem, SetExpr, Statement,
    TableAlias, TableFactor, TableWithJoins,
};

use crate::spark::sql::{call, rewrite_statement, sql_cast};

/// Rewrites the generators of every SELECT of a statement, or names the construct it refuses.
pub fn rewrite(statement: &mut Statement) -> Result<(), String> {
    rewrite_statement(statement, rewrite_set_expr, None)
}

fn rewrite_set_expr(body: &mut SetExpr) -> Result<(), String> {
    match body {
        SetExpr::Select(select) => rewrite_select(select),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr(left)?;
            rewrite_set_expr(right)
        }
        _ => Ok(()),
    }
}

/// `(name, argument)` of a one-argument generator call.
fn generator(e: &Expr) -> Option<(String, Expr)> {
    let Expr::Function(f) = e else { return None };
    if f.over.is_some() || f.name.0.len() != 1 {
        return None;
    }
    let name = f.name.to_string().to_ascii_lowercase();
    if !matches!(
        name.as_str(),
        "explode" | "posexplode" | "explode_outer" | "posexplode_outer" | "inline" | "inline_outer"
    ) {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    Some((name, collection(&list.args)?))
}

/// The one argument of a generator: unnamed, or Spark's named `collection => a` (`input => a` for inline).
fn collection(args: &[FunctionArg]) -> Option<Expr> {
    match args {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] => Some(a.clone()),
        [
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(a),
                ..
            },
        ] if matches!(name.value.to_ascii_lowercase().as_str(), "collection" | "input") => Some(a.clone()),
        [
            FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg: FunctionArgExpr::Expr(a),
                ..
            },
        ] if matches!(name.value.to_ascii_lowercase().as_str(), "collection" | "input") => Some(a.clone()),
        _ => None,
    }
}

/// `FROM explode(a) [AS t(x)]` (a generator as a table) is `FROM (SELECT explode(a)) [AS t(x)]`; the SELECT list
/// rewrite then reads it.
fn generator_tables(select: &mut Select) {
    for twj in &mut select.from {
        for relation in std::iter::once(&mut twj.relation).chain(twj.joins.iter_mut().map(|j| &mut j.relation)) {
            let TableFactor::Table {
                name,
                args: Some(args),
                alias,
                ..
            } = relation
            else {
                continue;
            };
            let fname = name.to_string().to_ascii_lowercase();
            if !matches!(
                fname.as_str(),
                "explode" | "posexplode" | "explode_outer" | "posexplode_outer"
            ) {
                continue;
            }
            let Some(arg) = collection(&args.args) else { continue };
            let query = one_select(vec![SelectItem::UnnamedExpr(call(&fname, vec![arg]))], vec![]);
            *relation = TableFactor::Derived {
                lateral: false,
                subquery: Box::new(query),
                alias: alias.clone(),
                sample: None,
            };
        }
    }
}

/// `SELECT projection [FROM from]` as a query.
fn one_select(projection: Vec<SelectItem>, from: Vec<TableWithJoins>) -> Query {
    Query {
        with: None,
        body: Box::new(SetExpr::Select(Box::new(Select {
            projection,
            from,
            ..empty_select()
        }))),
        order_by: None,
        limit_clause: None,
        fetch: None,
        locks: vec![],
        for_clause: None,
        settings: None,
        format_clause: None,
        pipe_operators: vec![],
    }
}

/// The SELECT items of a generator: `unnest(a) AS col`, or `pos` and `col` for posexplode.
fn items(name: &str, arg: Expr, aliases: &[Ident]) -> Result<Vec<SelectItem>, String> {
    let alias = |i: usize, default: &str| aliases.get(i).cloned().unwrap_or_else(|| Ident::new(default));
    let unnest = call("unnest", vec![arg.clone()]);
    match name {
        "explode" if aliases.len() <= 1 => Ok(vec![SelectItem::ExprWithAlias {
            expr: unnest,
            alias: alias(0, "col"),
        }]),
        "explode" => Err("explode of a map (two column aliases)".into()),
        "posexplode" if aliases.len() <= 2 && aliases.len() != 1 => {
            let positions = call(
                "range",
                vec![
                    Expr::value(sqlparser::ast::Value::Number("0".into(), false)),
                    call("size", vec![arg]),
                ],
            );
            Ok(vec![
                SelectItem::ExprWithAlias {
                    expr: sql_cast(call("unnest", vec![positions]), sqlparser::ast::DataType::Int(None)),
                    alias: alias(0, "pos"),
                },
                SelectItem::ExprWithAlias {
                    expr: unnest,
                    alias: alias(1, "col"),
                },
            ])
        }
        "posexplode" => Err("posexplode of a map (three column aliases)".into()),
        other => Err(format!(
            "{other} (unnest drops NULL and empty arrays, or its rows are structs)"
        )),
    }
}

fn rewrite_select(select: &mut Select) -> Result<(), String> {
    generator_tables(select);
    // The SELECT list.
    let mut projection = Vec::with_capacity(select.projection.len());
    for item in std::mem::take(&mut select.projection) {
        let found = match &item {
            SelectItem::UnnamedExpr(e) => generator(e).map(|g| (g, vec![])),
            SelectItem::ExprWithAlias { expr, alias } => generator(expr).map(|g| (g, vec![alias.clone()])),
            _ => None,
        };
        match found {
            Some(((name, arg), aliases)) => projection.extend(items(&name, arg, &aliases)?),
            None => projection.push(item),
        }
    }
    select.projection = projection;
    if select.lateral_views.is_empty() {
        return Ok(());
    }
    // LATERAL VIEW over one relation without joins.
    let [TableWithJoins { relation, joins }] = select.from.as_mut_slice() else {
        return Err("LATERAL VIEW over several relations".into());
    };
    if !joins.is_empty() {
        return Err("LATERAL VIEW over a join".into());
    }
    let alias = match relation {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => a.name.clone(),
        TableFactor::Table { name, alias: None, .. } => name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .cloned()
            .ok_or("LATERAL VIEW over a table without a name")?,
        _ => return Err("LATERAL VIEW over this relation".into()),
    };
    let mut from = relation.clone();
    let mut renamed: Vec<Ident> = Vec::new();
    for view in std::mem::take(&mut select.lateral_views) {
        if view.outer {
            return Err("LATERAL VIEW OUTER (unnest drops NULL and empty arrays)".into());
        }
        let Some((name, arg)) = generator(&view.lateral_view) else {
            return Err(format!("LATERAL VIEW {}", view.lateral_view));
        };
        let mut inner = vec![SelectItem::Wildcard(Default::default())];
        inner.extend(items(&name, arg, &view.lateral_col_alias)?);
        if let Some(v) = view.lateral_view_name.0.last().and_then(|p| p.as_ident()) {
            renamed.push(v.clone());
        }
        let query = one_select(
            inner,
            vec![TableWithJoins {
                relation: from,
                joins: vec![],
            }],
        );
        from = TableFactor::Derived {
            lateral: false,
            subquery: Box::new(query),
            alias: Some(TableAlias {
                explicit: true,
                name: alias.clone(),
                columns: vec![],
            }),
            sample: None,
        };
    }
    select.from = vec![TableWithJoins {
        relation: from,
        joins: vec![],
    }];
    // `view.column` is now `alias.column`.
    let _ = sqlparser::ast::visit_expressions_mut(select, |e| {
        if let Expr::CompoundIdentifier(parts) = e
            && parts.len() == 2
            && renamed.iter().any(|v| v.value.eq_ignore_ascii_case(&parts[0].value))
        {
            parts[0] = alias.clone();
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(())
}

fn empty_select() -> Select {
    Select {
        select_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        optimizer_hint: None,
        distinct: None,
        select_modifiers: None,
        top: None,
        top_before_distinct: false,
        projection: vec![],
        exclude: None,
        into: None,
        from: vec![],
        lateral_views: vec![],
        prewhere: None,
        selection: None,
        connect_by: vec![],
        group_by: sqlparser::ast::GroupByExpr::Expressions(vec![], vec![]),
        cluster_by: vec![],
        distribute_by: vec![],
        sort_by: vec![],
        having: None,
        named_window: vec![],
        qualify: None,
        window_before_qualify: false,
        value_table_mode: None,
        flavor: sqlparser::ast::SelectFlavor::Standard,
    }
}
