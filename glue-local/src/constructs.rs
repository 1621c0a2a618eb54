//! Spark SQL query constructs on DataFusion: rewrites of the parsed statement where DataFusion has the construct
//! under another form, and clear refusals where it has none or would answer otherwise than Spark.
//!
//! Rewritten (the answers are Spark's, checked by `tools/spark/constructs.py`):
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
//! an INTERVAL type (Spark's interval types have no Arrow equivalent here).

use std::ops::ControlFlow;

use arrow_schema::DataType;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr, RawFieldAccessExpr};
use datafusion::logical_expr::{Expr as LExpr, ExprSchemable, cast, lit};
use datafusion::logical_expr::{GetFieldAccess, LogicalPlan, Operator};
use datafusion::scalar::ScalarValue;
use sqlparser::ast::{
    BinaryOperator, DuplicateTreatment, Expr, ExprWithAlias, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, GroupByWithModifier, Ident, JoinConstraint, JoinOperator, Query, Select, SelectItem, SetExpr,
    SetOperator, Statement, TableAlias, TableAliasColumnDef, TableFactor, UnaryOperator, Value, VisitMut, VisitorMut,
    WindowFrameBound, WindowSpec, WindowType,
};

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::spark::sql::call;

/// `TABLESAMPLE (…)` in the statement's tokens (sqlparser reads it after a table name only, Spark after any relation):
/// a sample of the whole relation (`100 PERCENT`, `BUCKET 1 OUT OF 1`) is dropped; any other sample is refused, as
/// Spark draws it at random.
pub fn table_samples(tokens: Vec<TokenWithSpan>) -> Result<Vec<TokenWithSpan>, String> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut it = tokens.into_iter().peekable();
    while let Some(t) = it.next() {
        if !matches!(&t.token, Token::Word(w) if w.keyword == Keyword::TABLESAMPLE) {
            out.push(t);
            continue;
        }
        let mut inside = Vec::new();
        let mut depth = 0;
        for t in it.by_ref() {
            match t.token {
                Token::Whitespace(_) => continue,
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                _ => inside.push(t.token.to_string().to_ascii_uppercase()),
            }
            if depth == 0 {
                break;
            }
        }
        let sample = inside.join(" ");
        if !matches!(sample.as_str(), "100 PERCENT" | "BUCKET 1 OUT OF 1") {
            return Err(format!(
                "TABLESAMPLE ({sample}): Spark samples at random (only a sample of the whole relation, 100 PERCENT \
                 or BUCKET 1 OUT OF 1, is read)"
            ));
        }
    }
    Ok(out)
}

/// Rewrites the constructs of a parsed statement DataFusion has under another form, or names the one it refuses.
pub fn rewrite(statement: &mut Statement) -> Result<(), String> {
    match statement.visit(&mut Constructs) {
        ControlFlow::Break(construct) => Err(construct),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct Constructs;

impl VisitorMut for Constructs {
    type Break = String;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<String> {
        into_flow(set_expr(&mut query.body))
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<String> {
        into_flow(expr(e))
    }
}

fn into_flow(r: Result<(), String>) -> ControlFlow<String> {
    match r {
        Ok(()) => ControlFlow::Continue(()),
        Err(construct) => ControlFlow::Break(construct),
    }
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

fn arg_expr(a: &FunctionArg) -> Option<&Expr> {
    match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
        FunctionArg::Named {
            arg: FunctionArgExpr::Expr(e),
            ..
        } => Some(e),
        _ => None,
    }
}

/// `COUNT(DISTINCT a, b)` as `COUNT(DISTINCT CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN named_struct(…) END)`:
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

fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Expr {
    Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }
}

fn case_when(condition: Expr, result: Expr) -> Expr {
    Expr::Case {
        case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sqlparser::ast::CaseWhen { condition, result }],
        else_result: None,
    }
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

/// Refuses a query whose result has a column of a type Spark would give another type (intervals).
pub fn check_result_types(schema: &DFSchema) -> Result<(), DataFusionError> {
    match schema
        .fields()
        .iter()
        .find(|f| matches!(f.data_type(), DataType::Interval(_) | DataType::Duration(_)))
    {
        Some(f) => Err(DataFusionError::Plan(format!(
            "unsupported on the embedded engine: an INTERVAL value as a result column (`{}`: Spark's interval types \
             are not the embedded engine's)",
            f.name()
        ))),
        None => Ok(()),
    }
}

/// Spark's operators DataFusion plans otherwise:
/// - integral division `a DIV b` (sqlparser's `MyIntegerDivide`): BIGINT, the quotient truncated toward zero, NULL
///   when `b` is 0. Integers divide as BIGINTs; decimals (or a decimal and an integer) are divided at a common scale
///   and the exact quotient truncated. Other operand types (Spark refuses doubles) are refused;
/// - `a[i]` of an array: 0-based, NULL outside the array (DataFusion's index is 1-based and counts back from the end
///   when negative); `a.f` of an array of structs is Spark's array of the field (`spark_get_field`).
#[derive(Debug)]
pub struct SparkOperators;

impl ExprPlanner for SparkOperators {
    fn plan_field_access(
        &self,
        expr: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> datafusion::error::Result<PlannerResult<RawFieldAccessExpr>> {
        let t = expr.expr.get_type(schema)?;
        if !matches!(
            t,
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
        ) {
            return Ok(PlannerResult::Original(expr));
        }
        match expr.field_access {
            GetFieldAccess::ListIndex { key } => {
                let index = cast(*key, DataType::Int64);
                let element = LExpr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
                    datafusion::functions_nested::extract::array_element_udf(),
                    vec![expr.expr, index.clone() + lit(1i64)],
                ));
                let negative = index.lt(lit(0i64));
                let null = lit(datafusion::scalar::ScalarValue::Null);
                Ok(PlannerResult::Planned(LExpr::Case(
                    datafusion::logical_expr::Case::new(
                        None,
                        vec![(Box::new(negative), Box::new(null))],
                        Some(Box::new(element)),
                    ),
                )))
            }
            // Spark's `a.f` of an array of structs: the array of the field.
            GetFieldAccess::NamedStructField { name } => Ok(PlannerResult::Planned(LExpr::ScalarFunction(
                datafusion::logical_expr::expr::ScalarFunction::new_udf(
                    std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(
                        crate::functions::scalars::SparkGetField::new(),
                    )),
                    vec![expr.expr, lit(name)],
                ),
            ))),
            GetFieldAccess::ListRange { .. } => Err(DataFusionError::Plan(
                "unsupported on the embedded engine: an array slice `a[i:j]`".into(),
            )),
        }
    }

    /// `col.a.b` where an array of structs is on the way: Spark's array of the field (DataFusion reads structs only).
    fn plan_compound_identifier(
        &self,
        field: &arrow_schema::Field,
        qualifier: Option<&datafusion::common::TableReference>,
        nested_names: &[String],
    ) -> datafusion::error::Result<PlannerResult<Vec<LExpr>>> {
        use crate::functions::scalars::SparkGetField;
        let mut t = field.data_type().clone();
        let mut through_array = false;
        for name in nested_names {
            through_array |= matches!(t, DataType::List(_));
            t = SparkGetField::field_type(&t, name)?;
        }
        if !through_array {
            return Ok(PlannerResult::Original(vec![]));
        }
        let udf = std::sync::Arc::new(datafusion::logical_expr::ScalarUDF::from(SparkGetField::new()));
        let mut expr = LExpr::Column(datafusion::common::Column::from((qualifier, field)));
        for name in nested_names {
            expr = LExpr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
                udf.clone(),
                vec![expr, lit(name.clone())],
            ));
        }
        Ok(PlannerResult::Planned(expr))
    }

    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> datafusion::error::Result<PlannerResult<RawBinaryExpr>> {
        if expr.op != BinaryOperator::MyIntegerDivide {
            return Ok(PlannerResult::Original(expr));
        }
        let (lt, rt) = (expr.left.get_type(schema)?, expr.right.get_type(schema)?);
        let integral = |t: &DataType| t.is_integer() || t.is_null();
        let decimal = |t: &DataType| matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..));
        if integral(&lt) && integral(&rt) {
            let (l, r) = (cast(expr.left, DataType::Int64), cast(expr.right, DataType::Int64));
            return Ok(PlannerResult::Planned(crate::spark::arithmetic::divide(l, r)));
        }
        if (decimal(&lt) || integral(&lt)) && (decimal(&rt) || integral(&rt)) {
            // Integers as their decimal digits (a NULL operand as a BIGINT's).
            let digits = |t: &DataType| {
                crate::spark::arithmetic::decimal_digits(t).map_or((20, 0), |(p, s)| (p as u8, s.max(0) as u8))
            };
            let ((p1, s1), (p2, s2)) = (digits(&lt), digits(&rt));
            let scale = s1.max(s2);
            let l = cast(expr.left, DataType::Decimal256(p1 - s1 + scale, scale as i8));
            let r = cast(expr.right, DataType::Decimal256(p2 - s2 + scale, scale as i8));
            let q = crate::spark::arithmetic::divide(l, r);
            return Ok(PlannerResult::Planned(LExpr::TryCast(
                datafusion::logical_expr::TryCast::new(Box::new(q), DataType::Int64),
            )));
        }
        Err(DataFusionError::Plan(format!(
            "unsupported on the embedded engine: `DIV` of {} and {} (Spark divides integers and decimals only)",
            spark_name(&lt),
            spark_name(&rt)
        )))
    }
}

fn spark_name(t: &DataType) -> String {
    crate::types::spark_type(t).unwrap_or_else(|_| t.to_string())
}

/// Refuses what DataFusion's plan of the query (before the analyzer) would answer otherwise than Spark: a RANGE
/// frame over a DATE ordering with a numeric offset (Spark counts days).
pub fn check_plan(plan: &LogicalPlan) -> Result<(), DataFusionError> {
    plan.apply(|node| {
        if let LogicalPlan::Window(w) = node
            && w.window_expr.iter().any(|e| date_range_offset(e, w.input.schema()))
        {
            return refuse(
                "a RANGE window frame over a DATE ordering with a numeric offset (Spark counts days; write an \
                 INTERVAL, or order by a timestamp)",
            );
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map(|_| ())
}

/// Refuses what the analyzed plan would answer otherwise than Spark: `DATE - DATE` (Spark's INTERVAL DAY),
/// `DATE ± INTERVAL` with a time part (Spark's TIMESTAMP).
pub fn check_expressions(plan: &LogicalPlan) -> Result<(), DataFusionError> {
    plan.apply(|node| {
        let schema = match node.inputs().as_slice() {
            [input] => input.schema().clone(),
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        node.apply_expressions(|e| {
            e.apply(|x| match refused_expression(x, &schema) {
                Some(construct) => refuse(construct),
                None => Ok(TreeNodeRecursion::Continue),
            })
        })?;
        Ok(TreeNodeRecursion::Continue)
    })
    .map(|_| ())
}

fn refuse<T>(construct: &str) -> Result<T, DataFusionError> {
    Err(DataFusionError::Plan(format!(
        "unsupported on the embedded engine: {construct}"
    )))
}

fn refused_expression(e: &LExpr, schema: &DFSchema) -> Option<&'static str> {
    let is_date = |t: &DataType| matches!(t, DataType::Date32 | DataType::Date64);
    match e {
        LExpr::BinaryExpr(b) if matches!(b.op, Operator::Minus | Operator::Plus) => {
            let (l, r) = (b.left.get_type(schema).ok()?, b.right.get_type(schema).ok()?);
            if is_date(&l) && is_date(&r) {
                return Some("DATE - DATE (Spark's answer is an INTERVAL DAY; use datediff)");
            }
            let time_part = match b.right.as_ref() {
                LExpr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) => v.nanoseconds != 0,
                LExpr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => v.milliseconds != 0,
                LExpr::Literal(ScalarValue::IntervalYearMonth(_), _) => false,
                _ => matches!(r, DataType::Interval(_) | DataType::Duration(_)),
            };
            (is_date(&l) && time_part)
                .then_some("DATE ± an INTERVAL with hours, minutes or seconds (Spark's answer is a TIMESTAMP)")
        }
        _ => None,
    }
}

fn date_range_offset(e: &LExpr, schema: &DFSchema) -> bool {
    let LExpr::WindowFunction(f) = strip_alias(e) else {
        return false;
    };
    let p = &f.params;
    let numeric = |b: &datafusion::logical_expr::WindowFrameBound| match b {
        datafusion::logical_expr::WindowFrameBound::Preceding(v)
        | datafusion::logical_expr::WindowFrameBound::Following(v) => match v {
            // DataFusion's planner keeps a bound's literal as text until the analyzer types it.
            ScalarValue::Utf8(Some(s)) => s.trim().parse::<f64>().is_ok(),
            v => !v.is_null() && v.data_type().is_numeric(),
        },
        datafusion::logical_expr::WindowFrameBound::CurrentRow => false,
    };
    p.window_frame.units == datafusion::logical_expr::WindowFrameUnits::Range
        && (numeric(&p.window_frame.start_bound) || numeric(&p.window_frame.end_bound))
        && p.order_by
            .iter()
            .any(|s| matches!(s.expr.get_type(schema), Ok(DataType::Date32 | DataType::Date64)))
}

fn strip_alias(e: &LExpr) -> &LExpr {
    match e {
        LExpr::Alias(a) => strip_alias(&a.expr),
        other => other,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(sql: &str) -> Result<String, String> {
        let tokens = glue_sql::tokenize(sql).map_err(|e| e.to_string())?;
        table_samples(tokens).map(|t| t.iter().map(|t| t.token.to_string()).collect())
    }

    #[test]
    fn a_sample_of_the_whole_relation_is_dropped() {
        assert_eq!(
            samples("select * from t tablesample (100 percent) x").unwrap(),
            "select * from t  x"
        );
        assert_eq!(
            samples("select * from t TABLESAMPLE(BUCKET 1 OUT OF 1)").unwrap(),
            "select * from t "
        );
    }

    #[test]
    fn a_random_sample_is_refused() {
        let e = samples("select * from t tablesample (50 percent)").unwrap_err();
        assert!(e.starts_with("TABLESAMPLE (50 PERCENT)"), "{e}");
        assert!(samples("select * from t tablesample (3 rows)").is_err());
    }

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
        assert_eq!(
            rewritten("select a from t minus select a from u").unwrap(),
            "SELECT a FROM t EXCEPT SELECT a FROM u"
        );
        assert_eq!(
            rewritten("select a from t group by a with rollup").unwrap(),
            "SELECT a FROM t GROUP BY ROLLUP (a)"
        );
        assert_eq!(
            rewritten("select s like any ('a%', 'b%') from t").unwrap(),
            "SELECT (s LIKE 'a%' OR s LIKE 'b%') FROM t"
        );
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
