//! Spark's ANSI interval types on the embedded engine: `percentile_approx` (alias `approx_percentile`) of interval
//! literals answers as Spark 3.5 does, value and type (`interval month`, `array<interval second>`), the examples of
//! Spark's own function catalogue among them; an interval whose Spark type the engine does not know is refused.

use arrow_array::cast::AsArray;
use arrow_array::types::{DurationMicrosecondType, IntervalYearMonthType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, IntervalUnit, TimeUnit};
use glue_local::LocalEngine;

fn engine() -> (tempfile::TempDir, LocalEngine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = LocalEngine::open(dir.path(), "default").unwrap();
    (dir, engine)
}

async fn rows(engine: &LocalEngine, sql: &str) -> Vec<RecordBatch> {
    let df = engine.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    df.collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Spark's name of the type of the query's only column (`typeof`, as Spark names it).
async fn spark_type_of(engine: &LocalEngine, expr: &str, from: &str) -> String {
    let b = rows(engine, &format!("SELECT typeof({expr}) FROM {from}")).await;
    b[0].column(0).as_string::<i32>().value(0).to_string()
}

const MONTHS: &str = "VALUES (INTERVAL '0' MONTH), (INTERVAL '1' MONTH), (INTERVAL '2' MONTH), (INTERVAL '10' MONTH) \
                      AS tab(col)";
const SECONDS: &str = "VALUES (INTERVAL '0' SECOND), (INTERVAL '1' SECOND), (INTERVAL '2' SECOND), \
                       (INTERVAL '10' SECOND) AS tab(col)";

#[tokio::test]
async fn percentile_approx_of_a_year_month_interval_is_that_interval() {
    let (_dir, engine) = engine();
    for f in ["percentile_approx", "approx_percentile"] {
        let b = rows(&engine, &format!("SELECT {f}(col, 0.5, 100) FROM {MONTHS}")).await;
        let c = b[0].column(0);
        assert_eq!(c.data_type(), &DataType::Interval(IntervalUnit::YearMonth));
        assert_eq!(
            c.as_primitive::<IntervalYearMonthType>().value(0),
            1,
            "{f}: 0-1, one month"
        );
        assert_eq!(
            spark_type_of(&engine, &format!("{f}(col, 0.5, 100)"), MONTHS).await,
            "interval month"
        );
    }
}

#[tokio::test]
async fn percentile_approx_of_a_day_time_interval_at_several_percentages_is_an_array_of_it() {
    let (_dir, engine) = engine();
    for f in ["percentile_approx", "approx_percentile"] {
        let b = rows(
            &engine,
            &format!("SELECT {f}(col, array(0.5, 0.7), 100) FROM {SECONDS}"),
        )
        .await;
        let field = b[0].schema().field(0).clone();
        assert_eq!(
            glue_local::types::spark_type(field.data_type()).unwrap(),
            "array<interval second>"
        );
        let list = b[0].column(0).as_list::<i32>().value(0);
        assert_eq!(list.data_type(), &DataType::Duration(TimeUnit::Microsecond));
        let micros: Vec<i64> = list.as_primitive::<DurationMicrosecondType>().values().to_vec();
        assert_eq!(micros, vec![1_000_000, 2_000_000], "{f}: one and two seconds");
        assert_eq!(
            spark_type_of(&engine, &format!("{f}(col, array(0.5, 0.7), 100)"), SECONDS).await,
            "array<interval second>"
        );
    }
}

#[tokio::test]
async fn an_interval_column_has_spark_s_wider_type_of_its_rows() {
    let (_dir, engine) = engine();
    for (from, want) in [
        ("VALUES (INTERVAL '1' MONTH), (NULL) AS t(col)", "interval month"),
        (
            "VALUES (INTERVAL '1' MONTH), (INTERVAL '1' YEAR) AS t(col)",
            "interval year to month",
        ),
        (
            "VALUES (INTERVAL '1' SECOND), (INTERVAL '1' DAY) AS t(col)",
            "interval day to second",
        ),
        (
            "VALUES (INTERVAL 3 HOURS), (INTERVAL 90 MINUTES) AS t(col)",
            "interval hour to minute",
        ),
        (
            "(SELECT INTERVAL '1' MONTH AS col UNION ALL SELECT INTERVAL 2 YEARS) t",
            "interval year to month",
        ),
        ("(SELECT -INTERVAL '1' WEEK AS col) t", "interval day"),
    ] {
        assert_eq!(
            spark_type_of(&engine, "percentile_approx(col, 0.5)", from).await,
            want,
            "{from}"
        );
    }
    let b = rows(
        &engine,
        "SELECT percentile_approx(col, 0.5) FROM VALUES (INTERVAL '1' MONTH), (INTERVAL '1' YEAR) AS t(col)",
    )
    .await;
    assert_eq!(b[0].column(0).as_primitive::<IntervalYearMonthType>().value(0), 1);
}

#[tokio::test]
async fn an_interval_whose_spark_type_the_engine_does_not_know_is_refused() {
    let (_dir, engine) = engine();
    for sql in [
        // Spark: `interval day to hour`; the sum of two intervals is typed by no rule here.
        "SELECT percentile_approx(col, 0.5) FROM (SELECT INTERVAL '1' DAY + INTERVAL '2' HOUR AS col) t",
        // Spark's CALENDAR INTERVAL, which percentile_approx does not take.
        "SELECT percentile_approx(col, 0.5) FROM VALUES (INTERVAL '1 month 2 days') AS t(col)",
        "SELECT INTERVAL '1' MONTH AS r",
    ] {
        let e = match engine.sql(sql).await {
            Ok(_) => panic!("{sql} runs"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("unsupported on the embedded engine"), "{sql}: {e}");
    }
}

#[tokio::test]
async fn date_and_timestamp_arithmetic_with_interval_literals_is_unchanged() {
    let (_dir, engine) = engine();
    let b = rows(
        &engine,
        "SELECT CAST(date '2024-02-29' + INTERVAL 1 DAY AS STRING), \
         CAST(date '2024-01-31' + INTERVAL '1' MONTH AS STRING), \
         CAST(timestamp '2024-01-01 00:00:00' + INTERVAL 90 MINUTES AS STRING), \
         INTERVAL '1' DAY > INTERVAL '23' HOUR",
    )
    .await;
    let text = |i: usize| b[0].column(i).as_string::<i32>().value(0).to_string();
    assert_eq!(text(0), "2024-03-01");
    assert_eq!(text(1), "2024-02-29");
    assert_eq!(text(2), "2024-01-01 01:30:00");
    assert!(b[0].column(3).as_boolean().value(0));
}
