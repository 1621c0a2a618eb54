//! What running a node came to: its status and its result line of `run_results.json`.

/// A node's outcome, as `run_results.json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Built.
    Success,
    /// Failed to build (or a test errored).
    Error,
    /// Not run because an upstream node failed.
    Skipped,
    /// Test passed.
    Pass,
    /// Test failed.
    Fail,
    /// Test warned.
    Warn,
}

impl Status {
    /// dbt's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
        }
    }

    /// Whether descendants may run.
    pub fn ok(self) -> bool {
        matches!(self, Self::Success | Self::Pass | Self::Warn)
    }
}

/// One node's result.
#[derive(Debug, Clone)]
pub struct NodeResult {
    /// Its id.
    pub unique_id: String,
    /// Status.
    pub status: Status,
    /// Message (error text, `OK`, `INSERT 4`…).
    pub message: String,
    /// Seconds.
    pub execution_time: f64,
    /// Compiled SQL.
    pub compiled_code: Option<String>,
    /// Test failures.
    pub failures: Option<u64>,
    /// Rows affected.
    pub rows_affected: Option<u64>,
    /// Relation built.
    pub relation_name: Option<String>,
    /// Start and end (RFC 3339).
    pub timing: (String, String),
    /// The worker that ran it.
    pub thread_id: String,
}
