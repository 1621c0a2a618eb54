//! `modules.datetime` and `modules.re`, the parts dbt projects use, and `run_started_at`.

use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime, Timelike};
use minijinja::value::{Kwargs, Object, Value, from_args};
use minijinja::{Error, ErrorKind, State};

/// A Python-like datetime: renders as `str(datetime)`, with `strftime`, `isoformat` and the date fields.
#[derive(Debug)]
struct DateTime(NaiveDateTime);

/// A datetime value.
pub fn datetime_value(t: NaiveDateTime) -> Value {
    Value::from_object(DateTime(t))
}

impl Object for DateTime {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = self.0;
        Some(Value::from(match key.as_str()? {
            "year" => t.year() as i64,
            "month" => t.month() as i64,
            "day" => t.day() as i64,
            "hour" => t.hour() as i64,
            "minute" => t.minute() as i64,
            "second" => t.second() as i64,
            "microsecond" => (t.nanosecond() / 1000) as i64,
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (fmt,): (String,) = from_args(args)?;
                let mut out = String::new();
                use std::fmt::Write;
                write!(out, "{}", self.0.format(&fmt))
                    .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("bad strftime format `{fmt}`")))?;
                Ok(Value::from(out))
            }
            "isoformat" => Ok(Value::from(self.0.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())),
            "date" => Ok(Value::from(self.0.date().to_string())),
            "timestamp" => Ok(Value::from(self.0.and_utc().timestamp_micros() as f64 / 1e6)),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("datetime has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S%.6f"))
    }
}

#[derive(Debug)]
struct DatetimeModule;

impl Object for DatetimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(DatetimeClass)),
            "date" => Some(Value::from_object(DateClass)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct DatetimeClass;

impl Object for DatetimeClass {
    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "now" | "utcnow" => Ok(datetime_value(chrono::Utc::now().naive_utc())),
            "strptime" => {
                let (s, fmt): (String, String) = from_args(args)?;
                NaiveDateTime::parse_from_str(&s, &fmt)
                    .or_else(|_| {
                        chrono::NaiveDate::parse_from_str(&s, &fmt).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                    })
                    .map(datetime_value)
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("strptime({s:?}, {fmt:?}): {e}")))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("datetime.{method} is not available"),
            )),
        }
    }
}

/// A Python-like date: renders as `str(date)` (`2023-09-07`), with `strftime`, `isoformat` and the date fields.
#[derive(Debug)]
struct Date(chrono::NaiveDate);

impl Object for Date {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = self.0;
        Some(Value::from(match key.as_str()? {
            "year" => d.year() as i64,
            "month" => d.month() as i64,
            "day" => d.day() as i64,
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (fmt,): (String,) = from_args(args)?;
                let mut out = String::new();
                use std::fmt::Write;
                write!(out, "{}", self.0.format(&fmt))
                    .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("bad strftime format `{fmt}`")))?;
                Ok(Value::from(out))
            }
            "isoformat" => Ok(Value::from(self.0.to_string())),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("date has no method `{method}`"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug)]
struct DateClass;

impl Object for DateClass {
    /// `datetime.date(year, month, day)`; an impossible date is an error, as in Python.
    fn call(self: &Arc<Self>, _: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (year, month, day): (i32, u32, u32) = from_args(args)?;
        chrono::NaiveDate::from_ymd_opt(year, month, day)
            .map(|d| Value::from_object(Date(d)))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("datetime.date({year}, {month}, {day}): not a date"),
                )
            })
    }

    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, _: &[Value]) -> Result<Value, Error> {
        match method {
            "today" => Ok(Value::from(chrono::Utc::now().date_naive().to_string())),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("date.{method} is not available"),
            )),
        }
    }
}

/// `modules.re`: Python's `re` on the `regex` crate (no look-around or backreferences).
#[derive(Debug)]
struct ReModule;

fn compile(p: &str) -> Result<regex::Regex, Error> {
    regex::Regex::new(p).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("re: bad pattern `{p}`: {e}")))
}

fn match_value(c: regex::Captures<'_>) -> Value {
    let groups: Vec<Value> = c
        .iter()
        .map(|m| m.map(|m| Value::from(m.as_str())).unwrap_or(Value::from(())))
        .collect();
    Value::from_object(Match(groups))
}

#[derive(Debug)]
struct Match(Vec<Value>);

impl Object for Match {
    /// A match is true, as in Python (an object without items would be false in minijinja).
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "group" => {
                let (i,): (Option<usize>,) = from_args(args)?;
                Ok(self.0.get(i.unwrap_or(0)).cloned().unwrap_or_default())
            }
            "groups" => Ok(Value::from(self.0[1..].to_vec())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

impl Object for ReModule {
    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "search" | "match" | "fullmatch" => {
                let (p, s, _kw): (String, String, Kwargs) = from_args(args)?;
                let pattern = match method {
                    "match" => format!("^(?:{p})"),
                    "fullmatch" => format!("^(?:{p})$"),
                    _ => p,
                };
                Ok(compile(&pattern)?
                    .captures(&s)
                    .map(match_value)
                    .unwrap_or(Value::from(())))
            }
            "findall" => {
                let (p, s): (String, String) = from_args(args)?;
                let re = compile(&p)?;
                Ok(Value::from(
                    re.captures_iter(&s)
                        .map(|c| {
                            let m = c.get(1).or(c.get(0)).map(|m| m.as_str()).unwrap_or("");
                            Value::from(m)
                        })
                        .collect::<Vec<_>>(),
                ))
            }
            "sub" => {
                let (p, repl, s): (String, String, String) = from_args(args)?;
                let repl = regex::Regex::new(r"\\(\d)")
                    .unwrap()
                    .replace_all(&repl, "$${$1}")
                    .into_owned();
                Ok(Value::from(compile(&p)?.replace_all(&s, repl.as_str()).into_owned()))
            }
            "split" => {
                let (p, s): (String, String) = from_args(args)?;
                Ok(Value::from(compile(&p)?.split(&s).map(Value::from).collect::<Vec<_>>()))
            }
            "escape" => {
                let (s,): (String,) = from_args(args)?;
                Ok(Value::from(regex::escape(&s)))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("re.{method} is not available"),
            )),
        }
    }
}

#[derive(Debug)]
struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(DatetimeModule)),
            "re" => Some(Value::from_object(ReModule)),
            _ => None,
        }
    }
}

/// The `modules` global.
pub fn modules() -> Value {
    Value::from_object(Modules)
}

/// Hex MD5 (dbt's `local_md5`).
pub fn md5_hex(data: &[u8]) -> String {
    format!("{:x}", md5::compute(data))
}
