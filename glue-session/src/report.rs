//! What a run did on the remote side, for the run summary: sessions, calls, DPU-seconds.

use crate::livy::Origin;

/// What a run did on Glue, for the run summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    /// Sessions opened (created or reused).
    pub sessions: Vec<(String, Origin)>,
    /// RunStatement calls.
    pub run_statements: u64,
    /// GetStatement calls.
    pub get_statements: u64,
    /// GetSession calls.
    pub get_sessions: u64,
    /// Median delay between a statement completing and glue-rs noticing, in ms.
    pub median_notice_delay_ms: Option<u64>,
    /// DPU-seconds of the sessions, as Glue reports them.
    pub dpu_seconds: f64,
    /// Spark Connect ExecutePlan calls.
    pub spark_connect_executes: u64,
    /// Spark Connect AnalyzePlan calls.
    pub spark_connect_analyzes: u64,
    /// GetSessionEndpoint calls (the first and each token refresh).
    pub session_endpoint_calls: u64,
}
