//! Arrow types ↔ Spark type names, the way the Glue catalog and `DESCRIBE` show them.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, TimeUnit};

use crate::error::LocalError;

/// The Spark type name of an Arrow type (`bigint`, `string`, `decimal(10,2)`, `array<int>`, …).
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
            format!("array<{}>", spark_type(f.data_type())?)
        }
        DataType::Struct(fields) => {
            let parts: Result<Vec<String>, LocalError> = fields
                .iter()
                .map(|f| Ok(format!("{}:{}", f.name(), spark_type(f.data_type())?)))
                .collect();
            format!("struct<{}>", parts?.join(","))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!(
                    "map<{},{}>",
                    spark_type(kv[0].data_type())?,
                    spark_type(kv[1].data_type())?
                )
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
}
