//! dbt's `microbatch` incremental strategy: the config, the batches of a run (dbt 1.9's `MicrobatchBuilder` rules)
//! and the statements that replace one batch's window of the target, per file format.

use glue_materialize::microbatch::{Batch, BatchRun, BatchSize, MicrobatchConfig, Timestamp, batches};
use glue_materialize::window::{WindowMethod, WindowWrite, window_write};
use glue_materialize::{FileFormat, IncrementalStrategy, Model, ModelConfig};
use glue_sql::{Ident, RelationName};
use proptest::prelude::*;
use serde_json::{Value, json};

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap_or_else(|| panic!("timestamp {text}"))
}

fn mb(extra: Value) -> Value {
    let mut c = json!({"materialized": "incremental", "incremental_strategy": "microbatch",
        "event_time": "event_ts", "batch_size": "day", "begin": "2024-09-01"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn cfg(extra: Value) -> MicrobatchConfig {
    ModelConfig::from_json(&mb(extra)).unwrap().microbatch.unwrap()
}

fn run(now: &str) -> BatchRun {
    BatchRun {
        now: ts(now),
        event_time_start: None,
        event_time_end: None,
        full_refresh: false,
        is_first_run: false,
    }
}

fn shown(b: &[Batch]) -> Vec<String> {
    b.iter().map(|b| format!("{} .. {}", b.start, b.end)).collect()
}

#[test]
fn microbatch_is_a_strategy_with_its_fields() {
    let c = ModelConfig::from_json(&mb(json!({"lookback": 3, "concurrent_batches": false}))).unwrap();
    assert_eq!(c.incremental_strategy, IncrementalStrategy::Microbatch);
    let m = c.microbatch.unwrap();
    assert_eq!(m.event_time.as_str(), "event_ts");
    assert_eq!(m.batch_size, BatchSize::Day);
    assert_eq!(m.lookback, 3);
    assert_eq!(m.begin, ts("2024-09-01 00:00:00"));
    assert_eq!(m.concurrent_batches, Some(false));
    // lookback defaults to 1 (dbt's default)
    assert_eq!(cfg(json!({})).lookback, 1);
    // an upstream model's event_time is read on its own, whatever its strategy
    let up = ModelConfig::from_json(&json!({"materialized": "table", "event_time": "created_at"})).unwrap();
    assert_eq!(up.event_time.unwrap().as_str(), "created_at");
    assert!(up.microbatch.is_none());
}

#[test]
fn microbatch_errors_name_the_field() {
    let cases = [
        (json!({"event_time": null}), "event_time", "required"),
        (json!({"begin": null}), "begin", "required"),
        (json!({"batch_size": null}), "batch_size", "required"),
        (json!({"batch_size": "week"}), "batch_size", "week"),
        (json!({"lookback": -1}), "lookback", "-1"),
        (json!({"lookback": "two"}), "lookback", "two"),
        (json!({"begin": "last tuesday"}), "begin", "last tuesday"),
        (json!({"event_time": ""}), "event_time", ""),
    ];
    for (extra, field, says) in cases {
        let e = ModelConfig::from_json(&mb(extra.clone())).unwrap_err();
        assert_eq!(e.field, field, "{extra}: {e}");
        assert!(e.to_string().to_lowercase().contains(says), "{extra}: {e}");
    }
}

#[test]
fn the_whole_model_planner_refuses_microbatch_clearly() {
    let m = Model::new(
        "events",
        "analytics",
        "select 1",
        ModelConfig::from_json(&mb(json!({}))).unwrap(),
    );
    let e = glue_materialize::plan(
        &m,
        &glue_materialize::Existing::Absent,
        &glue_materialize::Target::new("analytics", Some("s3://b/w".into())),
        &glue_materialize::PlanFlags::default(),
    )
    .unwrap_err();
    assert_eq!(e.field, "incremental_strategy");
    assert!(e.to_string().contains("batch"), "{e}");
}

#[test]
fn timestamps_parse_and_print() {
    assert_eq!(ts("2024-09-17").to_string(), "2024-09-17 00:00:00");
    assert_eq!(ts("2024-09-17T16:06:00Z").to_string(), "2024-09-17 16:06:00");
    assert_eq!(
        ts("2024-09-17 16:06:00.250000").to_string(),
        "2024-09-17 16:06:00.250000"
    );
    assert_eq!(ts("2024-09-17 16:06").to_string(), "2024-09-17 16:06:00");
    for bad in [
        "",
        "2024-13-01",
        "2024-02-30",
        "2024-09-17 24:00:00",
        "yesterday",
        "2024-09-17 16:06:00+02:00",
    ] {
        assert!(Timestamp::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn truncate_offset_ceiling_follow_dbt() {
    let t = ts("2024-09-17 16:06:00");
    let cases = [
        (
            BatchSize::Hour,
            "2024-09-17 16:00:00",
            "2024-09-17 15:00:00",
            "2024-09-17 17:00:00",
        ),
        (
            BatchSize::Day,
            "2024-09-17 00:00:00",
            "2024-09-16 00:00:00",
            "2024-09-18 00:00:00",
        ),
        (
            BatchSize::Month,
            "2024-09-01 00:00:00",
            "2024-08-01 00:00:00",
            "2024-10-01 00:00:00",
        ),
        (
            BatchSize::Year,
            "2024-01-01 00:00:00",
            "2023-01-01 00:00:00",
            "2025-01-01 00:00:00",
        ),
    ];
    for (size, trunc, minus, plus) in cases {
        assert_eq!(size.truncate(t).to_string(), trunc);
        assert_eq!(size.offset(t, -1).to_string(), minus);
        assert_eq!(size.offset(t, 1).to_string(), plus);
        assert_eq!(size.ceiling(t).to_string(), plus);
        assert_eq!(size.ceiling(ts(trunc)).to_string(), trunc);
    }
    assert_eq!(
        BatchSize::Month.offset(ts("2024-01-31"), 1).to_string(),
        "2024-02-01 00:00:00"
    );
    assert_eq!(
        BatchSize::Month.offset(ts("2024-03-15"), -14).to_string(),
        "2023-01-01 00:00:00"
    );
    assert_eq!(
        BatchSize::Day.offset(ts("2024-02-28"), 1).to_string(),
        "2024-02-29 00:00:00"
    );
}

#[test]
fn an_incremental_run_starts_lookback_batches_before_now() {
    // dbt: end = ceiling(now); the checkpoint is end, aligned, so start = end - (lookback + 1) batches
    let got = batches(&cfg(json!({"batch_size": "hour"})), &run("2024-09-17 16:06:00")).unwrap();
    assert_eq!(
        shown(&got),
        [
            "2024-09-17 15:00:00 .. 2024-09-17 16:00:00",
            "2024-09-17 16:00:00 .. 2024-09-17 17:00:00"
        ]
    );
    let got = batches(&cfg(json!({"lookback": 0})), &run("2024-09-17 16:06:00")).unwrap();
    assert_eq!(shown(&got), ["2024-09-17 00:00:00 .. 2024-09-18 00:00:00"]);
    let got = batches(&cfg(json!({"lookback": 2})), &run("2024-09-17 16:06:00")).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].start, ts("2024-09-15"));
    // now on a batch boundary: the batch ending now and the lookback before it
    let got = batches(&cfg(json!({})), &run("2024-09-17 00:00:00")).unwrap();
    assert_eq!(
        shown(&got),
        [
            "2024-09-15 00:00:00 .. 2024-09-16 00:00:00",
            "2024-09-16 00:00:00 .. 2024-09-17 00:00:00"
        ]
    );
}

#[test]
fn a_first_run_or_a_full_refresh_starts_at_begin() {
    let c = cfg(json!({"begin": "2024-09-14 13:00:00"}));
    let first = BatchRun {
        is_first_run: true,
        ..run("2024-09-17 16:06:00")
    };
    let got = batches(&c, &first).unwrap();
    assert_eq!(got.first().unwrap().start, ts("2024-09-14"));
    assert_eq!(got.last().unwrap().end, ts("2024-09-18"));
    assert_eq!(got.len(), 4);
    let full = BatchRun {
        full_refresh: true,
        ..run("2024-09-17 16:06:00")
    };
    assert_eq!(batches(&c, &full).unwrap(), got);
}

#[test]
fn event_time_start_and_end_are_truncated_and_ceiled() {
    let c = cfg(json!({}));
    let r = BatchRun {
        event_time_start: Some(ts("2024-09-10 12:00:00")),
        event_time_end: Some(ts("2024-09-12 01:00:00")),
        full_refresh: true, // --event-time-start wins over begin, even on a full refresh
        ..run("2024-09-17 16:06:00")
    };
    let got = batches(&c, &r).unwrap();
    assert_eq!(
        shown(&got),
        [
            "2024-09-10 00:00:00 .. 2024-09-11 00:00:00",
            "2024-09-11 00:00:00 .. 2024-09-12 00:00:00",
            "2024-09-12 00:00:00 .. 2024-09-13 00:00:00"
        ]
    );
    // only an end: the lookback counts back from it
    let r = BatchRun {
        event_time_end: Some(ts("2024-09-12")),
        ..run("2024-09-17 16:06:00")
    };
    let got = batches(&c, &r).unwrap();
    assert_eq!(got.first().unwrap().start, ts("2024-09-10"));
    assert_eq!(got.last().unwrap().end, ts("2024-09-12"));
}

#[test]
fn an_empty_or_reversed_window_is_refused_naming_its_origin() {
    let c = cfg(json!({"begin": "2025-01-01"}));
    let first = BatchRun {
        is_first_run: true,
        ..run("2024-09-17 16:06:00")
    };
    let e = batches(&c, &first).unwrap_err();
    assert!(e.to_string().contains("begin"), "{e}");
    let r = BatchRun {
        event_time_start: Some(ts("2024-09-12")),
        event_time_end: Some(ts("2024-09-12")),
        ..run("2024-09-17 16:06:00")
    };
    let e = batches(&c, &r).unwrap_err();
    assert!(e.to_string().contains("--event-time-start"), "{e}");
}

#[test]
fn batch_ids_follow_dbt() {
    let b = Batch {
        start: ts("2024-09-17 16:00:00"),
        end: ts("2024-09-17 17:00:00"),
    };
    assert_eq!(b.id(BatchSize::Hour), "20240917T16");
    assert_eq!(b.id(BatchSize::Day), "20240917");
    assert_eq!(b.id(BatchSize::Month), "202409");
    assert_eq!(b.id(BatchSize::Year), "2024");
}

fn size_of(i: u8) -> BatchSize {
    [BatchSize::Hour, BatchSize::Day, BatchSize::Month, BatchSize::Year][i as usize % 4]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn batches_are_contiguous_aligned_and_cover_the_window(
        size in 0u8..4,
        lookback in 0u32..5,
        begin_s in 0i64..(40 * 86_400),
        now_s in 0i64..(3 * 366 * 86_400),
        start_s in proptest::option::of(0i64..(366 * 86_400)),
        end_extra in proptest::option::of(1i64..(200 * 86_400)),
        first in any::<bool>(),
    ) {
        let size = size_of(size);
        let base = ts("2023-11-01").seconds();
        let begin = Timestamp::from_seconds(base + begin_s);
        let now = Timestamp::from_seconds(base + begin_s + now_s + 1);
        let event_time_start = start_s.map(|s| Timestamp::from_seconds(base + s));
        let event_time_end = match (event_time_start, end_extra) {
            (Some(s), Some(e)) => Some(Timestamp::from_seconds(s.seconds() + e)),
            _ => None,
        };
        let c = MicrobatchConfig {
            event_time: Ident::new("ts").unwrap(),
            batch_size: size,
            lookback,
            begin,
            concurrent_batches: None,
        };
        let r = BatchRun { now, event_time_start, event_time_end, full_refresh: false, is_first_run: first };
        let start = event_time_start.map(|s| size.truncate(s)).unwrap_or(if first {
            size.truncate(begin)
        } else {
            size.offset(size.ceiling(now), -(i64::from(lookback) + 1))
        });
        let end = size.ceiling(event_time_end.unwrap_or(now));
        if start >= end {
            // only --event-time-start, after now: nothing to run, said so
            prop_assert!(batches(&c, &r).is_err());
            return Ok(());
        }
        let got = batches(&c, &r).unwrap();
        prop_assert!(!got.is_empty());
        prop_assert_eq!(got[0].start, start);
        prop_assert_eq!(got.last().unwrap().end, end);
        for b in &got {
            prop_assert!(b.start < b.end);
            prop_assert_eq!(size.truncate(b.start), b.start);
            prop_assert_eq!(size.truncate(b.end), b.end);
            prop_assert_eq!(size.offset(b.start, 1), b.end);
        }
        for w in got.windows(2) {
            prop_assert_eq!(w[0].end, w[1].start);
        }
    }
}

// --- the write of one batch ------------------------------------------------------------------------------------

fn model(extra: Value) -> Model {
    let mut m = Model::new(
        "events",
        "analytics",
        "select 1",
        ModelConfig::from_json(&mb(extra)).unwrap(),
    );
    m.path = Some("models/events.sql".into());
    m
}

fn day() -> Batch {
    Batch {
        start: ts("2024-09-17"),
        end: ts("2024-09-18"),
    }
}

fn write_of(extra: Value) -> Result<(WindowWrite, Vec<String>), glue_materialize::PlanError> {
    let m = model(extra);
    let target = RelationName::new("analytics", "events").unwrap();
    let source = RelationName::temp_view("events_tmp__run_1").unwrap();
    window_write(&m, target, source, day())
}

fn golden(extra: Value) -> String {
    match write_of(extra) {
        Ok((w, warnings)) => {
            let cols = vec![Ident::new("id").unwrap(), Ident::new("event_ts").unwrap()];
            let mut out = format!("method: {:?}\n", w.method);
            for s in w.statements(&cols) {
                for setting in s.settings() {
                    out.push_str(&format!("--- with {}={}\n", setting.key(), setting.value()));
                }
                out.push_str(&format!("---\n{}\n", s.sql().unwrap_or_default()));
            }
            for warning in warnings {
                out.push_str(&format!("warning: {warning}\n"));
            }
            out
        }
        Err(e) => format!("error: {e}\n"),
    }
}

#[test]
fn window_writes_per_format() {
    let cases = [
        ("delta", json!({"file_format": "delta"})),
        (
            "iceberg_partitioned_by_day",
            json!({"file_format": "iceberg", "partition_by": ["days(event_ts)"]}),
        ),
        (
            "iceberg_partitioned_by_hour",
            json!({"file_format": "iceberg", "partition_by": ["hours(event_ts)"]}),
        ),
        (
            "iceberg_coarser_partitions",
            json!({"file_format": "iceberg", "partition_by": ["months(event_ts)"]}),
        ),
        ("iceberg_unpartitioned", json!({"file_format": "iceberg"})),
        (
            "s3tables_partitioned",
            json!({"file_format": "s3tables", "partition_by": ["days(event_ts)"]}),
        ),
        ("parquet_partitioned", json!({"partition_by": ["event_date"]})),
        (
            "parquet_partitioned_by_event_time",
            json!({"partition_by": ["event_ts"]}),
        ),
        ("parquet_unpartitioned", json!({})),
        ("hudi", json!({"file_format": "hudi", "unique_key": "id"})),
        (
            "quoted_names",
            json!({"file_format": "delta", "event_time": "event`ts"}),
        ),
    ];
    for (name, extra) in cases {
        insta::with_settings!({snapshot_path => "golden/microbatch", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(name, golden(extra));
        });
    }
}

#[test]
fn window_methods_per_format() {
    let method = |extra: Value| write_of(extra).map(|(w, _)| w.method);
    assert_eq!(
        method(json!({"file_format": "delta"})).unwrap(),
        WindowMethod::ReplaceWhere
    );
    assert_eq!(
        method(json!({"file_format": "iceberg", "partition_by": ["days(event_ts)"]})).unwrap(),
        WindowMethod::ReplaceWhere
    );
    assert_eq!(
        method(json!({"file_format": "iceberg"})).unwrap(),
        WindowMethod::DeleteInsert
    );
    assert_eq!(
        method(json!({"partition_by": ["event_date"]})).unwrap(),
        WindowMethod::DynamicPartitions(vec![Ident::new("event_date").unwrap()])
    );
    let e = method(json!({})).unwrap_err();
    assert_eq!(e.field, "partition_by");
    assert!(e.to_string().contains("models/events.sql"), "{e}");
    let e = method(json!({"file_format": "hudi", "unique_key": "id"})).unwrap_err();
    assert_eq!(e.field, "file_format");
    assert_eq!(FileFormat::Delta.as_str(), "delta");
}
