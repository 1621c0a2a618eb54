//! Arrow types ↔ Spark type names, the way the Glue catalog and `DESCRIBE` show them.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, TimeUnit};

use crate::error::LocalError;

/// The field metadata key under which the engine keeps a value's Spark type where its Arrow type cannot say it: an
/// ANSI interval, whose start and end fields (`interval month`, `interval day to second`) Arrow has no place for.
pub const SPARK_TYPE_KEY: &str = "glue_local.spark_type";

/// Spark's ANSI interval types: year-month (`interval year`, `interval year to month`, `interval month`; Arrow
/// `Interval(YearMonth)`) and day-time (`interval day` … `interval second`; Arrow `Duration(Microsecond)`), as Spark
/// maps them to Arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnsiInterval {
    /// Year-month (else day-time).
    pub year_month: bool,
    /// The start field: 0 year, 1 month; or 0 day, 1 hour, 2 minute, 3 second.
    pub start: u8,
    /// The end field, at or after the start.
    pub end: u8,
}

const YEAR_MONTH_FIELDS: [&str; 2] = ["year", "month"];
const DAY_TIME_FIELDS: [&str; 4] = ["day", "hour", "minute", "second"];

impl AnsiInterval {
    /// The type Spark names `name` (`interval month`, `interval day to second`).
    pub fn parse(name: &str) -> Option<Self> {
        let fields = name.strip_prefix("interval ")?;
        let (start, end) = fields.split_once(" to ").unwrap_or((fields, fields));
        let at = |names: &[&str], f: &str| names.iter().position(|n| *n == f).map(|i| i as u8);
        let (year_month, start, end) = match (at(&YEAR_MONTH_FIELDS, start), at(&YEAR_MONTH_FIELDS, end)) {
            (Some(s), Some(e)) => (true, s, e),
            _ => (false, at(&DAY_TIME_FIELDS, start)?, at(&DAY_TIME_FIELDS, end)?),
        };
        (start <= end).then_some(Self { year_month, start, end })
    }

    /// Spark's name of the type.
    pub fn name(&self) -> String {
        let names: &[&str] = if self.year_month {
            &YEAR_MONTH_FIELDS
        } else {
            &DAY_TIME_FIELDS
        };
        let (s, e) = (names[self.start as usize], names[self.end as usize]);
        if s == e {
            format!("interval {s}")
        } else {
            format!("interval {s} to {e}")
        }
    }

    /// Spark's wider type of both (from the earlier start to the later end); `None` for a year-month with a day-time
    /// interval, which Spark does not mix.
    pub fn wider(self, other: Self) -> Option<Self> {
        (self.year_month == other.year_month).then(|| Self {
            year_month: self.year_month,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        })
    }

    /// The Arrow type Spark gives it: `Interval(YearMonth)` (months) or `Duration(Microsecond)`.
    pub fn arrow_type(&self) -> DataType {
        if self.year_month {
            DataType::Interval(arrow_schema::IntervalUnit::YearMonth)
        } else {
            DataType::Duration(TimeUnit::Microsecond)
        }
    }

    /// The Spark interval type a field's metadata holds.
    pub fn of(field: &Field) -> Option<Self> {
        field.metadata().get(SPARK_TYPE_KEY).and_then(|n| Self::parse(n))
    }

    /// The field metadata that says this type.
    pub fn metadata(&self) -> std::collections::HashMap<String, String> {
        std::collections::HashMap::from([(SPARK_TYPE_KEY.to_string(), self.name())])
    }
}

/// The Spark type name of a column (or of a nested field): its Arrow type's, or the ANSI interval its metadata names
/// when its Arrow type is Spark's Arrow type of that interval.
pub fn spark_field_type(field: &Field) -> Result<String, LocalError> {
    match AnsiInterval::of(field) {
        Some(i) if &i.arrow_type() == field.data_type() => Ok(i.name()),
        _ => spark_type(field.data_type()),
    }
}

/// The Spark type name of an Arrow type (`bigint`, `string`, `decimal(10,2)`, `array<int>`, …). An ANSI interval
/// has a name only as a field ([`spark_field_type`]): its Arrow type does not hold its start and end fields.
pub fn spark_type(dt: &DataType) -> Result<String, LocalError> {
    Ok(match dt {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        // Spark has no unsigned types: widen.
        DataType::UInt8 => "smallint".into(),
        DataType::UInt16 => "int".into(),
        DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "decimal(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            "binary".into()
        }
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp".into(),
        DataType::Timestamp(_, None) => "timestamp_ntz".into(),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
            format!("decimal({p},{s})")
        }
        DataType::Decimal256(p, s) => format!("decimal({},{s})", (*p).min(38)),
        DataType::Null => "void".into(),
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) | DataType::FixedSizeList(f, _) => {
            format!("array<{}>", spark_field_type(f)?)
        }
        DataType::Struct(fields) => {
            let parts: Result<Vec<String>, LocalError> = fields
                .iter()
                .map(|f| Ok(format!("{}:{}", f.name(), spark_field_type(f)?)))
                .collect();
            format!("struct<{}>", parts?.join(","))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!("map<{},{}>", spark_field_type(&kv[0])?, spark_field_type(&kv[1])?)
            }
            other => {
                return Err(LocalError::Data(format!("map with entries {other} has no Spark type")));
            }
        },
        DataType::Dictionary(_, v) => spark_type(v)?,
        other => {
            return Err(LocalError::Unsupported(format!(
                "the Arrow type {other} has no Spark equivalent"
            )));
        }
    })
}

/// The Arrow type of a Spark type name (case-insensitive; `int`/`integer`, `string`/`varchar(n)`, …).
pub fn arrow_type(spark: &str) -> Result<DataType, LocalError> {
    let t = spark.trim().to_ascii_lowercase();
    let bad = || LocalError::Data(format!("unknown Spark type `{spark}`"));
    if let Some(inner) = t.strip_prefix("decimal(").or_else(|| t.strip_prefix("numeric(")) {
        let inner = inner.strip_suffix(')').ok_or_else(bad)?;
        let (p, s) = inner.split_once(',').unwrap_or((inner, "0"));
        let p: u8 = p.trim().parse().map_err(|_| bad())?;
        let s: i8 = s.trim().parse().map_err(|_| bad())?;
        return Ok(DataType::Decimal128(p, s));
    }
    if let Some(inner) = t.strip_prefix("array<").and_then(|r| r.strip_suffix('>')) {
        return Ok(DataType::List(Arc::new(Field::new(
            "element",
            arrow_type(inner)?,
            true,
        ))));
    }
    if let Some(inner) = t.strip_prefix("map<").and_then(|r| r.strip_suffix('>')) {
        let (k, v) = split_top(inner, ',').ok_or_else(bad)?;
        let entries = Fields::from(vec![
            Field::new("key", arrow_type(k)?, false),
            Field::new("value", arrow_type(v)?, true),
        ]);
        return Ok(DataType::Map(
            Arc::new(Field::new("entries", DataType::Struct(entries), false)),
            false,
        ));
    }
    if let Some(inner) = t.strip_prefix("struct<").and_then(|r| r.strip_suffix('>')) {
        let mut fields = Vec::new();
        let mut rest = inner;
        while !rest.is_empty() {
            let (field, tail) = split_top(rest, ',').unwrap_or((rest, ""));
            let (name, ty) = field.split_once(':').ok_or_else(bad)?;
            fields.push(Field::new(name.trim(), arrow_type(ty)?, true));
            rest = tail;
        }
        return Ok(DataType::Struct(Fields::from(fields)));
    }
    if t.starts_with("varchar(") || t.starts_with("char(") {
        return Ok(DataType::Utf8);
    }
    Ok(match t.as_str() {
        "boolean" | "bool" => DataType::Boolean,
        "tinyint" | "byte" => DataType::Int8,
        "smallint" | "short" => DataType::Int16,
        "int" | "integer" => DataType::Int32,
        "bigint" | "long" => DataType::Int64,
        "float" | "real" => DataType::Float32,
        "double" => DataType::Float64,
        "decimal" | "numeric" => DataType::Decimal128(10, 0),
        "string" | "varchar" | "char" => DataType::Utf8,
        "binary" => DataType::Binary,
        "date" => DataType::Date32,
        "timestamp" | "timestamp_ltz" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "void" => DataType::Null,
        _ => return Err(bad()),
    })
}

/// Splits at the first `sep` not nested in `<>` / `()`.
pub(crate) fn split_top(s: &str, sep: char) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            c if c == sep && depth == 0 => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in [
            "bigint",
            "int",
            "string",
            "double",
            "decimal(12,2)",
            "date",
            "timestamp",
            "boolean",
            "array<string>",
            "map<string,bigint>",
            "struct<a:int,b:array<string>>",
        ] {
            assert_eq!(spark_type(&arrow_type(t).unwrap()).unwrap(), t);
        }
        assert!(arrow_type("geometry").is_err());
    }

    #[test]
    fn ansi_intervals_are_named_from_their_field() {
        for name in [
            "interval year",
            "interval year to month",
            "interval month",
            "interval day",
            "interval day to second",
            "interval hour to minute",
            "interval second",
        ] {
            let i = AnsiInterval::parse(name).unwrap();
            assert_eq!(i.name(), name);
            let field = Field::new("x", i.arrow_type(), true).with_metadata(i.metadata());
            assert_eq!(spark_field_type(&field).unwrap(), name);
            let list = DataType::List(Arc::new(field.with_name("element")));
            assert_eq!(spark_type(&list).unwrap(), format!("array<{name}>"));
        }
        for bad in ["interval month to year", "interval year to second", "interval", "month"] {
            assert_eq!(AnsiInterval::parse(bad), None, "{bad}");
        }
        let month = AnsiInterval::parse("interval month").unwrap();
        let year = AnsiInterval::parse("interval year").unwrap();
        assert_eq!(month.wider(year).unwrap().name(), "interval year to month");
        assert_eq!(month.wider(AnsiInterval::parse("interval day").unwrap()), None);
        // Without its Spark type, or on another Arrow type than Spark's, an interval has no name.
        let untyped = Field::new("x", DataType::Duration(TimeUnit::Microsecond), true);
        assert!(spark_field_type(&untyped).is_err());
        let mislabelled = Field::new("x", DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano), true)
            .with_metadata(month.metadata());
        assert!(spark_field_type(&mislabelled).is_err());
    }
}
