//! dbt's `query-comment`: the rendered comment a plan carries is put before (or after, `append: true`) every
//! statement the plan renders, as dbt's `_QueryComment.add` does; a comment that could end the SQL comment early is
//! refused, and the Python comment line (for statements that are Python code) cannot leave its line.

use glue_materialize::{Existing, Model, ModelConfig, PlanFlags, QueryComment, Rendered, Target, plan, render_plan};
use serde_json::json;

fn table_plan(comment: Option<QueryComment>) -> glue_materialize::Plan {
    let cfg = ModelConfig::from_json(&json!({
        "materialized": "table", "file_format": "delta", "pre-hook": "set x = 1"
    }))
    .unwrap();
    let model = Model::new("orders", "sales", "select 1 as id", cfg);
    let target = Target::new("sales", Some("s3://lake".into()));
    let mut p = plan(&model, &Existing::Absent, &target, &PlanFlags::default()).unwrap();
    p.query_comment = comment;
    p
}

fn statements(p: &glue_materialize::Plan) -> Vec<String> {
    render_plan(p, &Default::default())
        .into_iter()
        .flat_map(|r| r.unwrap())
        .filter_map(|r| r.sql().map(str::to_string))
        .collect()
}

const DEFAULT: &str = r#"{"app": "dbt", "dbt_version": "1.11.0", "profile_name": "p", "target_name": "dev", "node_id": "model.shop.orders"}"#;

#[test]
fn every_statement_of_a_plan_starts_with_the_comment() {
    let c = QueryComment::new(DEFAULT, false).unwrap().unwrap();
    let p = table_plan(Some(c));
    let all = statements(&p);
    assert!(all.len() >= 2, "{all:?}");
    for s in &all {
        assert!(s.starts_with(&format!("/* {DEFAULT} */\n")), "{s}");
    }
    // Without a comment, the same statements as before.
    let bare = statements(&table_plan(None));
    assert_eq!(bare.len(), all.len());
    for (b, s) in bare.iter().zip(&all) {
        assert_eq!(s, &format!("/* {DEFAULT} */\n{b}"));
    }
    insta::assert_snapshot!(all.join(";\n\n"));
}

#[test]
fn dbt_add_semantics() {
    // dbt strips the rendered comment; `append` puts it after the statement, before a final `;`.
    let c = QueryComment::new("dbt\nrules!\n", false).unwrap().unwrap();
    assert_eq!(c.apply("select 1"), "/* dbt\nrules! */\nselect 1");
    let a = QueryComment::new("  tag  ", true).unwrap().unwrap();
    assert_eq!(a.apply("select 1  "), "select 1\n/* tag */");
    assert_eq!(a.apply("select 1;\n"), "select 1\n/* tag */;");
    // An empty (or blank) comment is no comment.
    assert_eq!(QueryComment::new("", false).unwrap(), None);
    assert_eq!(QueryComment::new(" \n ", true).unwrap(), None);
}

#[test]
fn a_comment_that_could_end_the_sql_comment_is_refused_and_an_opening_is_neutralised() {
    // dbt refuses `*/` ("query comment contains illegal value"): the rest would run as SQL.
    let e = QueryComment::new("Here is an invalid character for you: */ drop table x", false).unwrap_err();
    assert!(e.contains("*/"), "{e}");
    // Spark nests bracketed comments: a `/*` inside would leave the comment open and swallow the statement.
    let c = QueryComment::new("a /* b", false).unwrap().unwrap();
    let sql = c.apply("select 1");
    assert_eq!(sql, "/* a / * b */\nselect 1");
}

#[test]
fn the_python_comment_line_stays_on_its_line() {
    let c = QueryComment::new("x\ny\r\nz\u{0}w", false).unwrap().unwrap();
    let line = c.python_line();
    assert_eq!(line, "# x y  z w");
    assert_eq!(line.lines().count(), 1);
    // Rendered pieces: SQL commented, native actions untouched.
    let r = c.rendered(Rendered::Sql("select 1".into()));
    assert_eq!(r.sql(), Some("/* x\ny\r\nz\u{0}w */\nselect 1"));
    let n = Rendered::Native {
        action: "swap-table",
        detail: "a".into(),
    };
    assert_eq!(c.rendered(n.clone()), n);
}
