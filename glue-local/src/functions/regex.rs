//! Spark's regular-expression functions that DataFusion lacks: `split`, `regexp_extract`, `regexp_extract_all`.
//! Java's `java.util.regex` and Rust's `regex` crate read the common syntax alike; a pattern the crate cannot compile
//! (look-around, back-references, Java's `\p{Alpha}` names) is refused as unsupported.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, Field};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use regex::Regex;

/// Which function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegexKind {
    /// `split(str, regex[, limit])`: Java's `String.split(regex, limit)` (a limit of 0 or less keeps every piece,
    /// trailing empty ones too; an empty regex splits into characters).
    Split,
    /// `regexp_extract(str, regex[, group])`: the group of the first match, `''` without a match.
    Extract,
    /// `regexp_extract_all(str, regex[, group])`: the group of every match.
    ExtractAll,
}

/// One of the [`RegexKind`]s, as a scalar UDF under Spark's name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkRegex {
    kind: RegexKind,
    signature: Signature,
}

impl SparkRegex {
    /// The function of a kind.
    pub fn new(kind: RegexKind) -> Self {
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn compile(cache: &mut HashMap<String, Regex>, pattern: &str) -> Result<Regex> {
    if let Some(r) = cache.get(pattern) {
        return Ok(r.clone());
    }
    match Regex::new(pattern) {
        Ok(r) => {
            cache.insert(pattern.to_string(), r.clone());
            Ok(r)
        }
        Err(e) => exec_err!(
            "unsupported on the embedded engine: the regular expression `{pattern}` ({})",
            e.to_string().lines().last().unwrap_or_default()
        ),
    }
}

/// Java's `String.split(regex, limit)` with a limit of -1 or more than 0 (Spark never passes 0).
pub fn java_split<'a>(s: &'a str, re: &Regex, limit: i32) -> Vec<&'a str> {
    if re.as_str().is_empty() {
        // Spark splits on the empty string into characters, with no trailing empty piece.
        let mut out: Vec<&str> = s.char_indices().map(|(i, c)| &s[i..i + c.len_utf8()]).collect();
        if limit > 0 && out.len() > limit as usize {
            let start = out[..limit as usize - 1].iter().map(|p| p.len()).sum::<usize>();
            out.truncate(limit as usize - 1);
            out.push(&s[start..]);
        }
        if out.is_empty() {
            out.push("");
        }
        return out;
    }
    let mut out = Vec::new();
    let mut index = 0;
    for m in re.find_iter(s) {
        if limit > 0 && out.len() >= limit as usize - 1 {
            break;
        }
        if m.start() == 0 && m.end() == 0 {
            continue; // no leading empty piece for a zero-width match at the start (Java 8+)
        }
        out.push(&s[index..m.start()]);
        index = m.end();
    }
    if out.is_empty() && index == 0 {
        return vec![s];
    }
    out.push(&s[index..]);
    out
}

impl ScalarUDFImpl for SparkRegex {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        match self.kind {
            RegexKind::Split => "split",
            RegexKind::Extract => "regexp_extract",
            RegexKind::ExtractAll => "regexp_extract_all",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Utf8, DataType::Utf8]),
            3 => Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int32]),
            n => exec_err!("{} takes 2 or 3 arguments, got {n}", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            RegexKind::Extract => DataType::Utf8,
            _ => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = super::common::all_scalar(&args.args);
        let rows = args.number_rows.max(1);
        let arrays: Vec<ArrayRef> = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<_>>()?;
        let strings = arrays[0].as_string::<i32>();
        let patterns = arrays[1].as_string::<i32>();
        let third = arrays
            .get(2)
            .map(|a| a.as_primitive::<arrow_array::types::Int32Type>().clone());
        let default = if self.kind == RegexKind::Split { -1 } else { 1 };
        let mut cache = HashMap::new();
        let n = strings.len();
        let out: ArrayRef = match self.kind {
            RegexKind::Extract => {
                let mut out = Vec::with_capacity(n);
                for i in 0..n {
                    if strings.is_null(i) || patterns.is_null(i) || third.as_ref().is_some_and(|t| t.is_null(i)) {
                        out.push(None);
                        continue;
                    }
                    let re = compile(&mut cache, patterns.value(i))?;
                    let group = third.as_ref().map_or(default, |t| t.value(i));
                    check_group(&re, group)?;
                    let value = re
                        .captures(strings.value(i))
                        .and_then(|c| c.get(group as usize).map(|m| m.as_str().to_string()))
                        .unwrap_or_default();
                    out.push(Some(value));
                }
                Arc::new(StringArray::from(out))
            }
            _ => {
                let mut builder = ListBuilder::new(StringBuilder::new());
                for i in 0..n {
                    if strings.is_null(i) || patterns.is_null(i) || third.as_ref().is_some_and(|t| t.is_null(i)) {
                        builder.append_null();
                        continue;
                    }
                    let re = compile(&mut cache, patterns.value(i))?;
                    let arg = third.as_ref().map_or(default, |t| t.value(i));
                    if self.kind == RegexKind::Split {
                        for piece in java_split(strings.value(i), &re, if arg <= 0 { -1 } else { arg }) {
                            builder.values().append_value(piece);
                        }
                    } else {
                        check_group(&re, arg)?;
                        for c in re.captures_iter(strings.value(i)) {
                            builder
                                .values()
                                .append_value(c.get(arg as usize).map_or("", |m| m.as_str()));
                        }
                    }
                    builder.append(true);
                }
                Arc::new(builder.finish())
            }
        };
        super::common::columnar(out, scalar)
    }
}

fn check_group(re: &Regex, group: i32) -> Result<()> {
    let count = re.captures_len() as i32 - 1;
    if group < 0 || group > count {
        return exec_err!("Regex group count is {count}, but the specified group index is {group}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark 3.5's answers (pyspark 3.5.7), read when this was written.
    #[test]
    fn splits_as_spark() {
        fn split<'a>(s: &'a str, p: &str, limit: i32) -> Vec<&'a str> {
            java_split(s, &Regex::new(p).unwrap(), limit)
        }
        assert_eq!(split("abc", "", -1), ["a", "b", "c"]);
        assert_eq!(split("", ",", -1), [""]);
        assert_eq!(split("a,b,,", ",", -1), ["a", "b", "", ""]);
        assert_eq!(split(",a", ",", -1), ["", "a"]);
        assert_eq!(split("a,b,c", ",", 2), ["a", "b,c"]);
        assert_eq!(split("abc", "x", -1), ["abc"]);
        assert_eq!(split("a.b", ".", -1), ["", "", "", ""]);
    }
}
