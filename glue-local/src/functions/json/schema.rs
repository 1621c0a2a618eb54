//! `from_json`'s schema text (a DDL field list or a type) as an Arrow type.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields};

/// Spark's schema text: a DDL field list (`a INT, b ARRAY<STRING>`) or a type (`STRUCT<a: INT>`, `array<int>`,
/// `map<string,int>`); field names keep their case.
pub fn parse_schema(s: &str) -> std::result::Result<DataType, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if ["struct<", "array<", "map<"].iter().any(|p| lower.starts_with(p)) {
        return parse_type(t);
    }
    Ok(DataType::Struct(parse_fields(t, ' ')?))
}

fn parse_fields(list: &str, separator: char) -> std::result::Result<Fields, String> {
    let mut fields = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let (field, tail) = crate::types::split_top(rest, ',').unwrap_or((rest, ""));
        let field = field.trim();
        let split = field
            .find(|c: char| c == separator || c == ':' || c.is_whitespace())
            .ok_or_else(|| format!("the schema field `{field}` (name and type expected)"))?;
        let width = field[split..].chars().next().map_or(1, char::len_utf8);
        let (name, ty) = (
            field[..split].trim(),
            field[split + width..].trim().trim_start_matches(':').trim(),
        );
        let name = name.trim_matches('`');
        fields.push(Field::new(name, parse_type(ty)?, true));
        rest = tail.trim();
    }
    Ok(Fields::from(fields))
}

fn parse_type(t: &str) -> std::result::Result<DataType, String> {
    let t = t.trim();
    let lower = t.to_ascii_lowercase();
    let inner = |prefix: &str| t[prefix.len()..t.len() - 1].to_string();
    if lower.starts_with("struct<") && lower.ends_with('>') {
        return Ok(DataType::Struct(parse_fields(&inner("struct<"), ':')?));
    }
    if lower.starts_with("array<") && lower.ends_with('>') {
        return Ok(DataType::List(Arc::new(Field::new_list_field(
            parse_type(&inner("array<"))?,
            true,
        ))));
    }
    if lower.starts_with("map<") && lower.ends_with('>') {
        let body = inner("map<");
        let (k, v) = crate::types::split_top(&body, ',').ok_or_else(|| format!("the type {t}"))?;
        let entries = Fields::from(vec![
            Field::new("key", parse_type(k)?, false),
            Field::new("value", parse_type(v)?, true),
        ]);
        return Ok(DataType::Map(
            Arc::new(Field::new("entries", DataType::Struct(entries), false)),
            false,
        ));
    }
    if lower.contains(" not null") || lower.contains(" comment ") {
        return Err(format!("the type {t} (NOT NULL and COMMENT are not read)"));
    }
    crate::types::arrow_type(t).map_err(|e| e.to_string())
}
