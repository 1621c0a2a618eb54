//! dbt's cross-database macros as glue ships them (macros/utils.sql, macros/spark_utils.sql): dispatch and overrides
//! as dbt resolves them, and the Jinja they rely on. Their answers are checked against dbt's own suites by
//! xtask/dbt/utils_suites.py.

mod common;

use common::{glue, project};

/// `glue compile --inline <sql>`'s SQL, whitespace collapsed.
fn compiled(dir: &std::path::Path, sql: &str) -> String {
    let out = glue(dir, &["compile", "--inline", sql]);
    assert_eq!(out.code, 0, "{}", out.all());
    let sql = out
        .stdout
        .split("is:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", out.stdout));
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn plain_and_dbt_calls_dispatch_to_the_spark_forms() {
    let p = project(&[]);
    let dir = p.path();
    let spark = "to_timestamp(to_unix_timestamp(date_add(";
    assert!(compiled(dir, "{{ dateadd('day', 1, 'd') }}").starts_with(spark));
    assert!(compiled(dir, "{{ dbt.dateadd('day', 1, 'd') }}").starts_with(spark));
    assert_eq!(compiled(dir, "{{ hash('x') }}"), "md5(cast(x as string))");
    assert_eq!(compiled(dir, "{{ dbt.concat(['a', 'b']) }}"), "concat(a, b)");
    assert_eq!(
        compiled(dir, "{{ type_numeric() }} {{ type_int() }}"),
        "decimal(28,6) integer"
    );
    assert_eq!(compiled(dir, "{{ escape_single_quotes(\"it's\") }}"), "it\\'s");
    assert_eq!(compiled(dir, "{{ string_literal('a') }}"), "'a'");
    assert_eq!(
        compiled(dir, "{{ split_part('s', \"'|'\", 2) }}"),
        "split(s, case when regexp_extract('|', '([^A-Za-z0-9])(.*)', 1) != '_' then concat('\\\\', '|') else '|' \
         end)[(1)]"
    );
    assert_eq!(
        compiled(
            dir,
            "{{ date(2023, 9, 7) }} {{ get_powers_of_two(27) }} {{ get_powers_of_two(1) }}"
        ),
        "to_date('2023-09-07', 'yyyy-MM-dd') 5 1"
    );
}

#[test]
fn a_project_overrides_them_as_dbt_dispatch_does() {
    let p = project(&[(
        "macros/mine.sql",
        "{% macro default__dateadd(datepart, interval, from_date_or_timestamp) %}mine_dateadd{% endmacro %}\n\
         {% macro glue__hash(field) %}sha2({{ field }}, 256){% endmacro %}\n\
         {% macro any_value(expression) %}my_any({{ expression }}){% endmacro %}",
    )]);
    let dir = p.path();
    // A project's default__ form comes before the built-in spark__ one (the root project is searched first).
    assert_eq!(compiled(dir, "{{ dateadd('day', 1, 'd') }}"), "mine_dateadd");
    assert_eq!(compiled(dir, "{{ dbt.dateadd('day', 1, 'd') }}"), "mine_dateadd");
    assert_eq!(compiled(dir, "{{ hash('x') }}"), "sha2(x, 256)");
    // A macro of the plain name replaces the plain call; dbt.any_value stays dbt's.
    assert_eq!(compiled(dir, "{{ any_value('x') }}"), "my_any(x)");
    assert_eq!(compiled(dir, "{{ dbt.any_value('x') }}"), "first(x)");
}

#[test]
fn return_ends_the_macro_and_python_objects_are_true() {
    let p = project(&[(
        "macros/first.sql",
        "{% macro first_over(xs, n) %}{% for x in xs %}{% if x > n %}{{ return(x) }}{% endif %}{% endfor %}\
         {{ return(none) }}{% endmacro %}",
    )]);
    let dir = p.path();
    assert_eq!(compiled(dir, "{{ first_over([1, 5, 7], 2) }}"), "5");
    assert_eq!(
        compiled(
            dir,
            "{{ 'm' if modules.re.match('a', 'abc') }} {{ modules.datetime.date(2024, 2, 29) }}"
        ),
        "m 2024-02-29"
    );
}

#[test]
fn listagg_keeps_its_order_by_clause() {
    let p = project(&[]);
    let dir = p.path();
    assert_eq!(
        compiled(dir, "{{ listagg('DISTINCT v', \"','\", 'order by o desc, p DESC') }}"),
        "array_join(array_distinct(sort_array(collect_list(named_struct('k1', o, 'k2', p, 'v', v)), false).v), ',')"
    );
    assert_eq!(compiled(dir, "{{ listagg('v') }}"), "array_join(collect_list(v), ',')");
    let out = glue(
        dir,
        &[
            "compile",
            "--inline",
            "{{ listagg('v', \"','\", 'order by o desc, p') }}",
        ],
    );
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("must all be asc or all desc"), "{}", out.all());
}

#[test]
fn a_test_of_a_missing_model_is_disabled_with_a_warning() {
    let p = project(&[
        ("models/m.sql", "select 1 as id"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: not_there\n    data_tests:\n      - unique:\n          column_name: id\n",
        ),
    ]);
    let out = glue(p.path(), &["build"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains("depends on `not_there`, which was not found"),
        "{}",
        out.all()
    );
    assert!(out.all().contains("the test is disabled"), "{}", out.all());
}
