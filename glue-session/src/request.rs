//! What a statement asks of the session's runner (`runner.py`), how it is sent, and what comes back.
//!
//! A request is a list of [`Op`]s, serialised as JSON and sent base64-encoded inside a one-line Python call, so
//! nothing in a model's SQL can break the Python code. A request longer than Glue's `Code` limit is sent in pieces
//! (held by the runner) followed by one call that runs them.

use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::error::SessionError;

/// Glue's limit on a statement's `Code`, in characters.
pub const CODE_LIMIT: usize = 68_000;

/// The runner's Python source, defined once per session.
pub const RUNNER_SOURCE: &str = include_str!("runner.py");

/// The line prefix before the runner's JSON answer.
const MARK: &str = "__gluers_result__:";

/// One operation of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Run a statement, ignore its rows.
    Sql {
        /// The statement.
        sql: String,
    },
    /// Run a statement with Spark settings of its own: each is set just before it and put back to the session's
    /// own value (or unset) just after it, also when it fails.
    Scoped {
        /// The statement.
        sql: String,
        /// The settings, as (key, value).
        settings: Vec<(String, String)>,
    },
    /// Forget what the session cached about these relations (`spark.catalog.refreshTable`), so that the next read
    /// sees their current definition and files; a relation that is not a table (or not there) is skipped.
    Refresh {
        /// The relations, as Spark SQL names them.
        relations: Vec<String>,
    },
    /// Run a query and return its rows (Arrow IPC).
    Query {
        /// The query.
        sql: String,
    },
    /// Analyse a query and return its columns only (Arrow IPC with no rows).
    Schema {
        /// The query.
        sql: String,
    },
    /// The columns of a relation (name, Spark type), partition columns last as Spark lists them.
    Columns {
        /// The relation, as Spark SQL names it.
        relation: String,
    },
    /// The columns a query returns (name, Spark type), analysed without running it.
    QueryColumns {
        /// The query.
        sql: String,
    },
    /// Run a Python model's `model(dbt, spark)` (or `main`) and register the DataFrame it returns as a temporary view.
    PythonModel {
        /// The model's source.
        code: String,
        /// The view.
        view: String,
        /// What `dbt` answers (JSON object: refs, sources, this, is_incremental, config).
        context: serde_json::Value,
        /// The model's name (for tracebacks).
        name: String,
    },
    /// Write a query's rows as a Hudi table, as dbt-glue's `hudi_merge_table` does: each `<SUBSTITUTE_VARIABLE_i>` of
    /// the query replaced by the value of the Python expression `substitute_variables[i]` evaluated in the session;
    /// `dbt_unique_key` dropped; `update_hudi_ts` (the precombine field) set to the current timestamp; the shuffle
    /// parallelism options set to `spark.default.parallelism` unless given; written with `mode` to `path/` when there
    /// are rows; then `REFRESH TABLE` when the table exists.
    HudiWrite {
        /// The query.
        query: String,
        /// The table's base path.
        path: String,
        /// The write options (`hoodie.*`).
        options: std::collections::BTreeMap<String, String>,
        /// `overwrite` (first write) or `append`.
        mode: String,
        /// Python expressions for the query's placeholders.
        substitute_variables: Vec<String>,
        /// The table, as Spark SQL names it (quoted).
        table: String,
    },
    /// Register rows sent as an Arrow IPC stream (base64) as a temporary view.
    ArrowView {
        /// The view name.
        name: String,
        /// The rows.
        data: String,
    },
}

impl Op {
    /// A rendered statement as an operation ([`Op::Sql`], or [`Op::Scoped`] with its settings); None for a native
    /// action.
    pub fn rendered(r: glue_materialize::Rendered) -> Option<Op> {
        match r {
            glue_materialize::Rendered::Sql(sql) => Some(Op::Sql { sql }),
            glue_materialize::Rendered::Scoped { sql, settings } => Some(Op::Scoped {
                sql,
                settings: settings
                    .iter()
                    .map(|s| (s.key().to_string(), s.value().to_string()))
                    .collect(),
            }),
            glue_materialize::Rendered::Native { .. } => None,
        }
    }

    /// Arrow rows as an [`Op::ArrowView`].
    pub fn arrow_view(name: &str, batches: &[RecordBatch], schema: &SchemaRef) -> Result<Op, SessionError> {
        Ok(Op::ArrowView {
            name: name.to_string(),
            data: B64.encode(ipc_bytes(batches, schema)?),
        })
    }
}

/// A request: the operations, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Request {
    /// What to run.
    pub ops: Vec<Op>,
}

/// The Python statements that carry a request: one call when it fits in [`CODE_LIMIT`], else pieces then a call.
pub fn statements(request: &Request, key: &str) -> Result<Vec<String>, SessionError> {
    statements_commented(request, key, None)
}

/// [`statements`], each starting with the node's query comment as a Python comment line
/// ([`QueryComment::python_line`](glue_materialize::QueryComment::python_line): one line, so nothing after it is
/// code), so that the session's statement history says which node sent it. The SQL inside the request carries the
/// SQL comment itself (the caller adds it).
pub fn statements_commented(
    request: &Request,
    key: &str,
    comment: Option<&glue_materialize::QueryComment>,
) -> Result<Vec<String>, SessionError> {
    let json = serde_json::to_vec(request).map_err(|e| SessionError::Protocol(format!("encoding a request: {e}")))?;
    let payload = B64.encode(json);
    let head = comment.map(|c| format!("{}\n", c.python_line())).unwrap_or_default();
    let call = format!("{head}_gluers_run(\"{payload}\")");
    if call.len() <= CODE_LIMIT {
        return Ok(vec![call]);
    }
    // Base64 has no quotes or backslashes, and the key is glue-rs's own (hex), so both embed as plain literals.
    let overhead = head.len() + format!("_gluers_put(\"{key}\", \"\")").len();
    // A comment too long to leave room for the request goes (the statements are still sent whole).
    let (head, overhead) = if overhead + 1024 > CODE_LIMIT {
        (String::new(), overhead - head.len())
    } else {
        (head, overhead)
    };
    let piece = CODE_LIMIT - overhead - 16;
    let mut out: Vec<String> = payload
        .as_bytes()
        .chunks(piece)
        .map(|c| {
            format!(
                "{head}_gluers_put(\"{key}\", \"{}\")",
                std::str::from_utf8(c).unwrap_or_default()
            )
        })
        .collect();
    out.push(format!("{head}_gluers_run(key=\"{key}\")"));
    Ok(out)
}

/// The runner's answer to a request.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    /// Every operation ran.
    pub ok: bool,
    /// One result per operation run (null for statements).
    #[serde(default)]
    pub results: Vec<serde_json::Value>,
    /// The index of the operation that failed.
    #[serde(default)]
    pub failed_op: Option<usize>,
    /// Its error.
    #[serde(default)]
    pub error: Option<RunnerError>,
}

impl Answer {
    /// The results when every operation ran; else the index of the failed operation and its error.
    pub fn into_results(self) -> Result<Vec<serde_json::Value>, (Option<usize>, SessionError)> {
        if self.ok {
            return Ok(self.results);
        }
        let e = self.error.unwrap_or_else(|| RunnerError {
            name: "Error".into(),
            error_class: None,
            message: "the runner reported a failure without an error".into(),
        });
        Err((
            self.failed_op,
            SessionError::Statement {
                error_class: e.error_class,
                name: e.name,
                message: e.message,
            },
        ))
    }
}

/// A failure inside the runner: Spark's error class when it has one, the exception's type and message.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RunnerError {
    /// The Python exception type (`AnalysisException`, `ParseException`, …).
    pub name: String,
    /// Spark's error class (`TABLE_OR_VIEW_NOT_FOUND`, …).
    #[serde(default)]
    pub error_class: Option<String>,
    /// The message, without the JVM stack.
    pub message: String,
}

/// Finds the runner's answer in a statement's printed output.
pub fn parse_answer(text: &str) -> Result<Answer, SessionError> {
    let line =
        text.lines().rev().find_map(|l| l.strip_prefix(MARK)).ok_or_else(|| {
            SessionError::Protocol(format!("the statement printed no glue-rs answer: {}", tail(text)))
        })?;
    serde_json::from_str(line).map_err(|e| SessionError::Protocol(format!("a malformed glue-rs answer ({e})")))
}

fn tail(text: &str) -> String {
    let t = text.trim();
    let start = t.char_indices().rev().nth(500).map_or(0, |(i, _)| i);
    if t.is_empty() {
        "(no output)".into()
    } else {
        t[start..].to_string()
    }
}

/// Decodes a query result (an Arrow IPC stream in base64).
pub fn decode_batches(value: &serde_json::Value) -> Result<(SchemaRef, Vec<RecordBatch>), SessionError> {
    let text = value
        .as_str()
        .ok_or_else(|| SessionError::Protocol("a query result is not a string".into()))?;
    let bytes = B64
        .decode(text)
        .map_err(|e| SessionError::Protocol(format!("a query result is not base64: {e}")))?;
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(bytes), None)
        .map_err(|e| SessionError::Protocol(format!("a query result is not Arrow IPC: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SessionError::Protocol(format!("reading a query result: {e}")))?;
    Ok((schema, batches))
}

/// Encodes batches as an Arrow IPC stream.
pub fn ipc_bytes(batches: &[RecordBatch], schema: &SchemaRef) -> Result<Vec<u8>, SessionError> {
    let mut buf = Vec::new();
    {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut buf, schema)
            .map_err(|e| SessionError::Protocol(format!("encoding rows: {e}")))?;
        for b in batches {
            w.write(b)
                .map_err(|e| SessionError::Protocol(format!("encoding rows: {e}")))?;
        }
        w.finish()
            .map_err(|e| SessionError::Protocol(format!("encoding rows: {e}")))?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    #[test]
    fn sql_cannot_escape_the_python_call() {
        let r = Request {
            ops: vec![Op::Sql {
                sql: "select '\"); import os; os.system(\"rm -rf /\") #' as x\n\\".into(),
            }],
        };
        let s = statements(&r, "k1").unwrap();
        assert_eq!(s.len(), 1);
        let arg = s[0]
            .strip_prefix("_gluers_run(\"")
            .unwrap()
            .strip_suffix("\")")
            .unwrap();
        assert!(
            arg.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)),
            "{arg}"
        );
        let json: serde_json::Value = serde_json::from_slice(&B64.decode(arg).unwrap()).unwrap();
        assert_eq!(json["ops"][0]["op"], "sql");
        assert!(json["ops"][0]["sql"].as_str().unwrap().contains("os.system"));
    }

    #[test]
    fn a_request_over_the_code_limit_goes_in_pieces() {
        let big = "x".repeat(CODE_LIMIT * 2);
        let r = Request {
            ops: vec![Op::Sql { sql: big }],
        };
        let s = statements(&r, "abc").unwrap();
        assert!(s.len() >= 3, "{}", s.len());
        assert!(s.iter().all(|c| c.len() <= CODE_LIMIT));
        assert_eq!(s.last().unwrap(), "_gluers_run(key=\"abc\")");
        let joined: String = s[..s.len() - 1]
            .iter()
            .map(|c| {
                c.strip_prefix("_gluers_put(\"abc\", \"")
                    .unwrap()
                    .strip_suffix("\")")
                    .unwrap()
            })
            .collect();
        let json: serde_json::Value = serde_json::from_slice(&B64.decode(joined).unwrap()).unwrap();
        assert_eq!(json["ops"][0]["sql"].as_str().unwrap().len(), CODE_LIMIT * 2);
    }

    #[test]
    fn the_query_comment_is_a_python_line_on_every_piece_of_a_request() {
        let c = glue_materialize::QueryComment::new("node\nmodel.p.m", false)
            .unwrap()
            .unwrap();
        let small = Request {
            ops: vec![Op::Sql { sql: "select 1".into() }],
        };
        let s = statements_commented(&small, "k", Some(&c)).unwrap();
        assert_eq!(s.len(), 1);
        assert!(s[0].starts_with("# node model.p.m\n_gluers_run(\""), "{}", s[0]);
        assert_eq!(s[0].lines().count(), 2);
        let big = Request {
            ops: vec![Op::Sql {
                sql: "x".repeat(CODE_LIMIT * 2),
            }],
        };
        let s = statements_commented(&big, "abc", Some(&c)).unwrap();
        assert!(s.len() >= 3, "{}", s.len());
        for code in &s {
            assert!(code.len() <= CODE_LIMIT, "{}", code.len());
            assert!(code.starts_with("# node model.p.m\n_gluers_"), "{}", &code[..40]);
        }
        // Without a comment, the statements are those of `statements`.
        assert_eq!(
            statements_commented(&big, "abc", None).unwrap(),
            statements(&big, "abc").unwrap()
        );
    }

    #[test]
    fn answers_are_found_after_other_output_and_rows_round_trip() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![Some("a"), Some("b")])),
            ],
        )
        .unwrap();
        let data = B64.encode(ipc_bytes(std::slice::from_ref(&batch), &schema).unwrap());
        let text = format!("WARN something\n{MARK}{{\"ok\": true, \"results\": [null, \"{data}\"]}}\n");
        let a = parse_answer(&text).unwrap();
        assert!(a.ok);
        let (s, b) = decode_batches(&a.results[1]).unwrap();
        assert_eq!(s, schema);
        assert_eq!(b, vec![batch]);
        let e = parse_answer("Traceback: boom").unwrap_err().to_string();
        assert!(e.contains("no glue-rs answer") && e.contains("boom"), "{e}");
    }
}
