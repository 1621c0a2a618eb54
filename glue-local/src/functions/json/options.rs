//! The options of `to_json` and `from_json`: their date and timestamp formats.

use arrow_array::ArrayRef;
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};

use crate::datetime::JavaPattern;

/// The date and timestamp formats of `to_json`/`from_json`.
pub(super) struct Options {
    pub(super) timestamp: JavaPattern,
    /// Whether `timestamp` is the user's `timestampFormat` (without it, Spark reads what its pattern does not as a
    /// cast would).
    pub(super) timestamp_given: bool,
    pub(super) date: Option<JavaPattern>,
}

pub(super) const DEFAULT_TIMESTAMP_FORMAT: &str = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX";

pub(super) fn options(args: &[ArrayRef], first: usize, reading: bool) -> Result<Options> {
    let mut timestamp = None;
    let mut date = None;
    let mut i = first;
    while i + 1 < args.len() {
        let key = scalar_string(&args[i])?;
        let value = scalar_string(&args[i + 1])?;
        let pattern = JavaPattern::new(&value).map_err(|e| DataFusionError::Execution(e.to_string()))?;
        match key.to_ascii_lowercase().as_str() {
            "timestampformat" => timestamp = Some(pattern),
            "dateformat" => date = Some(pattern),
            other => {
                return exec_err!("unsupported on the embedded engine: the JSON option {other}");
            }
        }
        i += 2;
    }
    let default = if reading {
        "yyyy-MM-dd'T'HH:mm:ss[.SSS][XXX]"
    } else {
        DEFAULT_TIMESTAMP_FORMAT
    };
    Ok(Options {
        timestamp_given: timestamp.is_some(),
        timestamp: match timestamp {
            Some(t) => t,
            None => JavaPattern::new(default).map_err(|e| DataFusionError::Internal(e.to_string()))?,
        },
        date,
    })
}

pub(super) fn scalar_string(a: &ArrayRef) -> Result<String> {
    match ScalarValue::try_from_array(a, 0)? {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Ok(s),
        other => exec_err!("a JSON option must be a string literal, got {other}"),
    }
}
