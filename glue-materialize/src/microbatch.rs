//! dbt 1.9's `microbatch` incremental strategy, the planning half: the model's microbatch config, the batches of a
//! run (dbt's `MicrobatchBuilder` rules: alignment to `batch_size`, `lookback`, `begin`, `--event-time-start/end`).
//!
//! The write of one batch is [`crate::window`]. A run drives one plan per batch (see `docs/planner.md`,
//! "Microbatch"); this module is pure.

use glue_sql::dml::time_window;
use glue_sql::{Ident, SqlFragment};
use serde_json::Value;

pub use crate::choices::BatchSize;
use crate::error::{ConfigError, ConfigProblem};
use crate::fields::{Fields, wrong};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SECOND;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// A UTC instant, to the microsecond (Spark's timestamp precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Timestamp {
    micros: i64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Timestamp {
    /// The instant `seconds` after 1970-01-01 00:00:00 UTC.
    pub fn from_seconds(seconds: i64) -> Self {
        Self {
            micros: seconds.saturating_mul(MICROS_PER_SECOND),
        }
    }

    /// Seconds since 1970-01-01 00:00:00 UTC (rounded down).
    pub fn seconds(self) -> i64 {
        self.micros.div_euclid(MICROS_PER_SECOND)
    }

    /// The instant at this UTC date and time, if it is one.
    pub fn from_parts(y: i64, m: u32, d: u32, hour: u32, minute: u32, second: u32) -> Option<Self> {
        let valid = (1..=9999).contains(&y)
            && (1..=12).contains(&m)
            && d >= 1
            && d <= days_in_month(y, m)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then(|| Self {
            micros: days_from_civil(y, m, d) * MICROS_PER_DAY
                + i64::from(hour) * MICROS_PER_HOUR
                + i64::from(minute * 60 + second) * MICROS_PER_SECOND,
        })
    }

    fn parts(self) -> (i64, u32, u32, u32, u32, u32, i64) {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        let rest = self.micros.rem_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = rest / MICROS_PER_SECOND;
        (
            y,
            m,
            d,
            (secs / 3600) as u32,
            (secs / 60 % 60) as u32,
            (secs % 60) as u32,
            rest % MICROS_PER_SECOND,
        )
    }

    /// Parses a UTC timestamp as dbt configs and flags write it: `YYYY-MM-DD`, optionally followed by a space or
    /// `T` and `HH:MM`, `HH:MM:SS` or `HH:MM:SS.ffffff` (digits past the microsecond dropped), optionally ending
    /// with `Z`. Other time zones are not accepted (dbt reads these values as UTC).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let t = t.strip_suffix('Z').unwrap_or(t);
        let (date, time) = match t.find([' ', 'T']) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        let num = |s: &str, len: usize| -> Option<u32> {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let mut dp = date.split('-');
        let (y, m, d) = (num(dp.next()?, 4)?, num(dp.next()?, 2)?, num(dp.next()?, 2)?);
        if dp.next().is_some() {
            return None;
        }
        let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0i64);
        if let Some(time) = time {
            let (hms, fraction) = match time.split_once('.') {
                Some((hms, f)) => (hms, Some(f)),
                None => (time, None),
            };
            let mut tp = hms.split(':');
            hour = num(tp.next()?, 2)?;
            minute = num(tp.next()?, 2)?;
            if let Some(s) = tp.next() {
                second = num(s, 2)?;
            }
            if tp.next().is_some() {
                return None;
            }
            if let Some(f) = fraction {
                if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let six: String = f.chars().chain(std::iter::repeat('0')).take(6).collect();
                micros = six.parse().ok()?;
            }
        }
        let base = Self::from_parts(i64::from(y), m, d, hour, minute, second)?;
        Some(Self {
            micros: base.micros + micros,
        })
    }
}

impl std::fmt::Display for Timestamp {
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]`, as Spark reads a `TIMESTAMP '…'` literal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d, h, mi, s, us) = self.parts();
        write!(f, "{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")?;
        if us != 0 {
            write!(f, ".{us:06}")?;
        }
        Ok(())
    }
}

impl BatchSize {
    /// The start of the batch holding `t` (dbt's `truncate_timestamp`).
    pub fn truncate(self, t: Timestamp) -> Timestamp {
        let (y, m, d, h, ..) = t.parts();
        let (m, d, h) = match self {
            BatchSize::Hour => (m, d, h),
            BatchSize::Day => (m, d, 0),
            BatchSize::Month => (m, 1, 0),
            BatchSize::Year => (1, 1, 0),
        };
        Timestamp {
            micros: days_from_civil(y, m, d) * MICROS_PER_DAY + i64::from(h) * MICROS_PER_HOUR,
        }
    }

    /// The start of the batch `n` batches after (before, when negative) the one holding `t` (dbt's
    /// `offset_timestamp`: the offset applies to the truncated timestamp).
    pub fn offset(self, t: Timestamp, n: i64) -> Timestamp {
        let start = self.truncate(t);
        match self {
            BatchSize::Hour => Timestamp {
                micros: start.micros.saturating_add(n.saturating_mul(MICROS_PER_HOUR)),
            },
            BatchSize::Day => Timestamp {
                micros: start.micros.saturating_add(n.saturating_mul(MICROS_PER_DAY)),
            },
            BatchSize::Month | BatchSize::Year => {
                let (y, m, ..) = start.parts();
                let months = if self == BatchSize::Month {
                    n
                } else {
                    n.saturating_mul(12)
                };
                let index = (y * 12 + i64::from(m) - 1).saturating_add(months);
                let (y, m) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
                Timestamp {
                    micros: days_from_civil(y, m, 1) * MICROS_PER_DAY,
                }
            }
        }
    }

    /// `t` itself when it starts a batch, else the start of the next batch (dbt's `ceiling_timestamp`).
    pub fn ceiling(self, t: Timestamp) -> Timestamp {
        let start = self.truncate(t);
        if start == t { start } else { self.offset(start, 1) }
    }
}

/// A microbatch model's settings (`event_time`, `batch_size`, `lookback`, `begin`, `concurrent_batches`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MicrobatchConfig {
    /// `event_time`: the model's own timestamp column, the one each batch's window is on.
    pub event_time: Ident,
    /// `batch_size`: the grain batches are aligned to.
    pub batch_size: BatchSize,
    /// `lookback` (default 1): how many batches before the current one an incremental run rebuilds.
    pub lookback: u32,
    /// `begin`: where a first run or a full refresh starts.
    pub begin: Timestamp,
    /// `concurrent_batches`: `None` lets the runner decide (dbt: concurrently unless the model reads itself).
    pub concurrent_batches: Option<bool>,
}

/// Reads `event_time` (any model: upstream models declare theirs for `ref()` filtering).
pub(crate) fn event_time(f: &Fields<'_>) -> Result<Option<Ident>, ConfigError> {
    match f.get(&["event_time"]) {
        None => Ok(None),
        Some((k, Value::String(s))) => Ident::new(s.trim()).map(Some).map_err(|_| {
            ConfigError::new(
                k,
                ConfigProblem::Invalid("`` is not a column name: name the event time column".into()),
            )
        }),
        Some((k, v)) => Err(wrong(k, "a column name", v)),
    }
}

/// Reads the microbatch settings of an incremental model whose strategy is microbatch.
pub(crate) fn config(f: &Fields<'_>, event_time: Option<Ident>) -> Result<MicrobatchConfig, ConfigError> {
    const WHY: &str = "by the microbatch strategy";
    let event_time = event_time.ok_or_else(|| ConfigError::new("event_time", ConfigProblem::Required { why: WHY }))?;
    let batch_size = f
        .enum_value("batch_size", BatchSize::parse, BatchSize::NAMES)?
        .ok_or_else(|| ConfigError::new("batch_size", ConfigProblem::Required { why: WHY }))?;
    let lookback = match f.get(&["lookback"]) {
        None => 1,
        Some((_, Value::Number(n))) if n.as_u64().is_some_and(|l| l <= u64::from(u32::MAX)) => {
            n.as_u64().unwrap_or(1) as u32
        }
        Some((_, Value::String(s))) if s.trim().parse::<u32>().is_ok() => s.trim().parse().unwrap_or(1),
        Some((k, v)) => {
            return Err(ConfigError::new(
                k,
                ConfigProblem::Invalid(format!(
                    "`{}` is not a number of batches: lookback is a whole number, 0 or more (dbt's default is 1)",
                    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
                )),
            ));
        }
    };
    let begin = match f.get(&["begin"]) {
        None => return Err(ConfigError::new("begin", ConfigProblem::Required { why: WHY })),
        Some((k, Value::String(s))) => Timestamp::parse(s).ok_or_else(|| {
            ConfigError::new(
                k,
                ConfigProblem::Invalid(format!(
                    "`{s}` is not a timestamp: write YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)"
                )),
            )
        })?,
        Some((k, v)) => return Err(wrong(k, "a timestamp such as 2024-01-01", v)),
    };
    Ok(MicrobatchConfig {
        event_time,
        batch_size,
        lookback,
        begin,
        concurrent_batches: f.opt_bool("concurrent_batches")?,
    })
}

/// One batch: the window `[start, end)` of event times it rebuilds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Batch {
    /// First instant in the batch.
    pub start: Timestamp,
    /// First instant after it.
    pub end: Timestamp,
}

impl Batch {
    /// dbt's batch id (`batch_id`): the start at the grain of `size`, without dashes (`20240917T16`, `20240917`,
    /// `202409`, `2024`); run_results name batches by it.
    pub fn id(&self, size: BatchSize) -> String {
        let (y, m, d, h, ..) = self.start.parts();
        match size {
            BatchSize::Year => format!("{y:04}"),
            BatchSize::Month => format!("{y:04}{m:02}"),
            BatchSize::Day => format!("{y:04}{m:02}{d:02}"),
            BatchSize::Hour => format!("{y:04}{m:02}{d:02}T{h:02}"),
        }
    }

    /// The window as a predicate on `column`: `column >= TIMESTAMP 'start' AND column < TIMESTAMP 'end'`.
    pub fn predicate(&self, column: &Ident) -> SqlFragment {
        time_window(column, &self.start.to_string(), &self.end.to_string())
    }
}

/// What decides a run's window besides the model's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRun {
    /// The run's current time (UTC).
    pub now: Timestamp,
    /// `--event-time-start`.
    pub event_time_start: Option<Timestamp>,
    /// `--event-time-end`.
    pub event_time_end: Option<Timestamp>,
    /// `--full-refresh` (or the model's `full_refresh: true`).
    pub full_refresh: bool,
    /// The model's table does not exist yet (or is not a table).
    pub is_first_run: bool,
}

/// A run with no batch to build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no batch to run: the window starts at {start} (from {start_from}) and ends at {end} (from {end_from}, rounded up \
     to the batch size); the start must come before the end"
)]
pub struct EmptyWindow {
    /// The window's start.
    pub start: Timestamp,
    /// Where it comes from: `--event-time-start`, config `begin`, or `lookback`.
    pub start_from: &'static str,
    /// The window's end.
    pub end: Timestamp,
    /// Where it comes from: `--event-time-end` or the current time.
    pub end_from: &'static str,
}

/// The batches of a run, oldest first, as dbt 1.9 computes them: the end is `--event-time-end` (else now) rounded up
/// to `batch_size`; the start is `--event-time-start` truncated to `batch_size`, else on a first run or a full
/// refresh `begin` truncated, else `lookback` batches before the batch that ends at the end (dbt's checkpoint is
/// the end, always on a batch boundary, so `lookback + 1` batches before it).
pub fn batches(cfg: &MicrobatchConfig, run: &BatchRun) -> Result<Vec<Batch>, EmptyWindow> {
    let size = cfg.batch_size;
    let (end, end_from) = match run.event_time_end {
        Some(e) => (size.ceiling(e), "--event-time-end"),
        None => (size.ceiling(run.now), "the current time"),
    };
    let (start, start_from) = match run.event_time_start {
        Some(s) => (size.truncate(s), "--event-time-start"),
        None if run.full_refresh || run.is_first_run => (size.truncate(cfg.begin), "config `begin`"),
        None => (
            size.offset(end, -(i64::from(cfg.lookback) + 1)),
            "`lookback` before the end",
        ),
    };
    if start >= end {
        return Err(EmptyWindow {
            start,
            start_from,
            end,
            end_from,
        });
    }
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let next = size.offset(at, 1);
        out.push(Batch { start: at, end: next });
        at = next;
    }
    Ok(out)
}
