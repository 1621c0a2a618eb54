//! One Glue Interactive Session (Livy statements): opening it by the reference's reuse rules, running statements
//! with a GetStatement back-off that starts fast, cancelling, stopping.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_glue::types::{SessionStatus, StatementState};

use crate::client::Clients;
use crate::create::CreateSessionSpec;
use crate::error::SessionError;
use crate::profile::GlueProfile;
use crate::request::{self, Answer, Request};

/// Counters of one run's Glue traffic, for the run summary and the benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// RunStatement calls.
    pub run_statements: AtomicU64,
    /// GetStatement calls.
    pub get_statements: AtomicU64,
    /// GetSession calls.
    pub get_sessions: AtomicU64,
    /// Delays between a statement completing (Glue's `CompletedOn`) and glue-rs noticing, in ms.
    pub notice_delays_ms: Mutex<Vec<u64>>,
}

impl Stats {
    /// The median notice delay in ms.
    pub fn median_notice_delay_ms(&self) -> Option<u64> {
        let mut v = self.notice_delays_ms.lock().ok()?.clone();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    }
}

/// How a session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This process created it (it stops it at the end unless sessions are reused).
    Created,
    /// It was READY (or starting) already and is reused.
    Reused,
}

/// An open, READY session.
#[derive(Debug)]
pub struct LivySession {
    clients: Clients,
    id: String,
    origin: Origin,
    poll_max: Duration,
    statement_timeout: Duration,
    runner_defined: AtomicBool,
    running: Mutex<Option<i32>>,
    cancelled: AtomicBool,
    /// The run's counters, shared by its sessions: every call this session makes is counted there.
    stats: Arc<Stats>,
}

fn status_of(s: Option<&SessionStatus>) -> String {
    s.map(|s| s.as_str().to_string()).unwrap_or_else(|| "UNKNOWN".into())
}

/// Looks a session up: None when Glue does not know it.
pub async fn session_status(clients: &Clients, id: &str) -> Result<Option<(SessionStatus, String)>, SessionError> {
    match clients.sessions.get_session().id(id).send().await {
        Ok(out) => Ok(out.session.map(|s| {
            (
                s.status.unwrap_or(SessionStatus::Failed),
                s.error_message.unwrap_or_default(),
            )
        })),
        Err(e) => {
            let err = SessionError::aws("GetSession", e);
            if err.code() == Some("EntityNotFoundException") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Ends a session this process created that was not READY in time, so that it does not become READY later and run,
/// billed, until its idle timeout: DeleteSession (it is still PROVISIONING, a state in which Glue refuses
/// StopSession), else StopSession. A failure is logged: the caller reports the readiness error.
async fn end_unready(clients: &Clients, id: &str) {
    let ended = match clients.sessions.delete_session().id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let deleting = SessionError::aws("DeleteSession", e);
            let stopped = clients.sessions.stop_session().id(id).send().await;
            stopped
                .map(|_| ())
                .map_err(|e| format!("{deleting}; {}", SessionError::aws("StopSession", e)))
        }
    };
    match ended {
        Ok(()) => tracing::info!(session = id, "ended the Glue session that was not READY in time"),
        Err(e) => tracing::warn!(
            session = id,
            "could not end the session that was not READY in time: {e}"
        ),
    }
}

impl LivySession {
    /// Opens session `id` by the reference's reuse rules: READY is reused; PROVISIONING is waited for; STOPPING is
    /// waited out, then recreated; STOPPED / TIMEOUT / FAILED is deleted and recreated; an unknown id is created (a
    /// concurrent creator's `AlreadyExistsException` means: wait for its session). `fresh` skips the lookup for ids
    /// that cannot exist yet (a new uuid). A session this call created that is not READY within the profile's
    /// `session_provisioning_timeout_in_seconds` is ended before the error returns; one it found is left alone.
    pub async fn open(
        clients: &Clients,
        profile: &GlueProfile,
        id: &str,
        fresh: bool,
        stats: &Arc<Stats>,
    ) -> Result<LivySession, SessionError> {
        let started = Instant::now();
        let deadline = started + profile.provisioning_timeout.max(Duration::from_secs(1));
        let mut origin = Origin::Reused;
        let mut lookup = !fresh;
        loop {
            let found = if lookup {
                stats.get_sessions.fetch_add(1, Ordering::Relaxed);
                session_status(clients, id).await?
            } else {
                None
            };
            lookup = true;
            match found.as_ref().map(|(s, _)| s) {
                None => {
                    let spec = CreateSessionSpec::new(profile, id.to_string());
                    match spec.request(&clients.sessions).send().await {
                        Ok(_) => {
                            origin = Origin::Created;
                            tracing::info!(session = id, "created Glue session");
                        }
                        Err(e) => {
                            let err = SessionError::aws("CreateSession", e);
                            if err.code() != Some("AlreadyExistsException") {
                                return Err(err);
                            }
                            tracing::info!(session = id, "another process is creating the session; waiting for it");
                        }
                    }
                    break;
                }
                Some(SessionStatus::Ready) | Some(SessionStatus::Provisioning) => break,
                Some(SessionStatus::Stopping) => {
                    if Instant::now() > deadline {
                        return Err(SessionError::NotReady {
                            id: id.into(),
                            status: "STOPPING".into(),
                            waited_s: started.elapsed().as_secs(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Some(_) => {
                    tracing::info!(session = id, status = %status_of(found.as_ref().map(|(s, _)| s)), "deleting the ended session to recreate it");
                    if let Err(e) = clients.sessions.delete_session().id(id).send().await {
                        let err = SessionError::aws("DeleteSession", e);
                        if err.code() != Some("EntityNotFoundException") {
                            return Err(err);
                        }
                    }
                    lookup = false;
                }
            }
        }
        // Wait for READY: short sleeps first (a reused session answers at once), then up to 2 s apart.
        let mut delay = Duration::from_millis(100);
        loop {
            stats.get_sessions.fetch_add(1, Ordering::Relaxed);
            let (status, reason) = session_status(clients, id)
                .await?
                .ok_or_else(|| SessionError::StartFailed {
                    id: id.into(),
                    status: "DELETED".into(),
                    reason: "the session disappeared while starting".into(),
                })?;
            match status {
                SessionStatus::Ready => break,
                SessionStatus::Provisioning => {}
                other => {
                    return Err(SessionError::StartFailed {
                        id: id.into(),
                        status: other.as_str().into(),
                        reason: if reason.is_empty() {
                            "no reason given".into()
                        } else {
                            reason
                        },
                    });
                }
            }
            if Instant::now() + delay > deadline {
                if origin == Origin::Created {
                    end_unready(clients, id).await;
                }
                return Err(SessionError::NotReady {
                    id: id.into(),
                    status: status.as_str().into(),
                    waited_s: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 3 / 2).min(Duration::from_secs(2));
        }
        tracing::info!(
            session = id,
            ?origin,
            waited_ms = started.elapsed().as_millis() as u64,
            "Glue session READY"
        );
        Ok(LivySession {
            clients: clients.clone(),
            id: id.to_string(),
            origin,
            poll_max: profile
                .statement_poll_max
                .clamp(Duration::from_millis(50), Duration::from_millis(500)),
            statement_timeout: Duration::from_secs(u64::from(profile.query_timeout_minutes.max(1)) * 60),
            runner_defined: AtomicBool::new(false),
            running: Mutex::new(None),
            cancelled: AtomicBool::new(false),
            stats: stats.clone(),
        })
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this process created the session.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Runs one request through the glue-rs runner (defining it first on this session), in as few statements as
    /// the Code limit allows (one, unless the request is larger).
    pub async fn run_request(&self, req: &Request) -> Result<Answer, SessionError> {
        self.run_request_commented(req, None).await
    }

    /// [`LivySession::run_request`] for a node: each statement starts with its query comment as a Python comment
    /// line ([`request::statements_commented`]).
    pub async fn run_request_commented(
        &self,
        req: &Request,
        comment: Option<&glue_materialize::QueryComment>,
    ) -> Result<Answer, SessionError> {
        if !self.runner_defined.load(Ordering::Acquire) {
            let out = self.run_code(request::RUNNER_SOURCE).await?;
            request::parse_answer(&out)?;
            self.runner_defined.store(true, Ordering::Release);
        }
        let key = format!("r{}", uuid::Uuid::new_v4().simple());
        let mut last = String::new();
        for code in request::statements_commented(req, &key, comment)? {
            last = self.run_code(&code).await?;
        }
        request::parse_answer(&last)
    }

    /// Runs Python code as one statement and returns what it printed.
    pub async fn run_code(&self, code: &str) -> Result<String, SessionError> {
        if self.cancelled.load(Ordering::Acquire) {
            return Err(SessionError::Cancelled);
        }
        self.stats.run_statements.fetch_add(1, Ordering::Relaxed);
        let sid = match self
            .clients
            .sessions
            .run_statement()
            .session_id(&self.id)
            .code(code)
            .send()
            .await
        {
            Ok(o) => o.id,
            Err(e) => {
                let err = SessionError::aws("RunStatement", e);
                return Err(self.lost_or(err).await);
            }
        };
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(sid);
        if self.cancelled.load(Ordering::Acquire) {
            // Interrupted between the check above and now: `cancel` saw no running statement.
            self.cancel_statement(sid).await;
        }
        let result = self.wait_statement(sid).await;
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
        result
    }

    async fn wait_statement(&self, sid: i32) -> Result<String, SessionError> {
        let started = Instant::now();
        // Polls start fast and back off (25 ms, ×1.5, up to the profile's statement_poll_interval, at most 0.5 s):
        // a short statement is noticed within a few tens of ms, a long one costs few calls.
        let mut delay = Duration::from_millis(25);
        loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 3 / 2).min(self.poll_max);
            self.stats.get_statements.fetch_add(1, Ordering::Relaxed);
            let out = match self
                .clients
                .sessions
                .get_statement()
                .session_id(&self.id)
                .id(sid)
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    let err = SessionError::aws("GetStatement", e);
                    return Err(self.lost_or(err).await);
                }
            };
            let Some(st) = out.statement else {
                return Err(SessionError::Protocol(format!(
                    "GetStatement {sid} returned no statement"
                )));
            };
            match st.state.clone().unwrap_or(StatementState::Waiting) {
                StatementState::Waiting | StatementState::Running | StatementState::Cancelling => {
                    if started.elapsed() > self.statement_timeout {
                        self.cancel_statement(sid).await;
                        return Err(SessionError::StatementTimeout {
                            id: self.id.clone(),
                            statement: sid,
                            limit_s: self.statement_timeout.as_secs(),
                        });
                    }
                }
                StatementState::Available => {
                    if st.completed_on > 0 {
                        let now_ms = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as i64);
                        if let Ok(mut v) = self.stats.notice_delays_ms.lock() {
                            v.push((now_ms - st.completed_on).max(0) as u64);
                        }
                    }
                    let output = st
                        .output
                        .unwrap_or_else(|| aws_sdk_glue::types::StatementOutput::builder().build());
                    let text = output.data.and_then(|d| d.text_plain).unwrap_or_default();
                    // Livy reports a failed statement as Output.Status `error` (lower case: not one of the SDK's
                    // statement states) with ErrorName / ErrorValue.
                    let failed = output
                        .status
                        .as_ref()
                        .is_some_and(|s| s.as_str().eq_ignore_ascii_case("error"))
                        || output.error_name.is_some();
                    if failed {
                        return Err(SessionError::Statement {
                            error_class: None,
                            name: output.error_name.unwrap_or_default(),
                            message: output.error_value.unwrap_or_default(),
                        });
                    }
                    return Ok(text);
                }
                StatementState::Cancelled => {
                    if self.cancelled.load(Ordering::Acquire) {
                        return Err(SessionError::Cancelled);
                    }
                    return Err(self
                        .lost_or(SessionError::Protocol(format!("statement {sid} was cancelled")))
                        .await);
                }
                StatementState::Error => {
                    return Err(self
                        .lost_or(SessionError::Protocol(format!("statement {sid} ended in ERROR")))
                        .await);
                }
                other => return Err(SessionError::Protocol(format!("statement {sid} is {}", other.as_str()))),
            }
        }
    }

    /// After a failed call: when the session itself ended, the error is `SessionLost` (retryable on a new session).
    async fn lost_or(&self, err: SessionError) -> SessionError {
        self.stats.get_sessions.fetch_add(1, Ordering::Relaxed);
        match session_status(&self.clients, &self.id).await {
            Ok(Some((SessionStatus::Ready, _))) => err,
            Ok(Some((status, _))) => SessionError::SessionLost {
                id: self.id.clone(),
                status: status.as_str().into(),
            },
            Ok(None) => SessionError::SessionLost {
                id: self.id.clone(),
                status: "DELETED".into(),
            },
            Err(_) => err,
        }
    }

    /// Cancels the running statement (Ctrl-C); later statements on this session are refused.
    pub async fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
        let running = *self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sid) = running {
            tracing::info!(session = %self.id, statement = sid, "cancelling the running statement");
            self.cancel_statement(sid).await;
        }
    }

    /// CancelStatement; a failure is logged (the statement may have ended meanwhile).
    async fn cancel_statement(&self, sid: i32) {
        if let Err(e) = self
            .clients
            .sessions
            .cancel_statement()
            .session_id(&self.id)
            .id(sid)
            .send()
            .await
        {
            tracing::warn!(session = %self.id, "CancelStatement: {}", SessionError::aws("CancelStatement", e));
        }
    }

    /// Stops the session (StopSession) and returns its DPU-seconds when Glue reports them.
    pub async fn stop(&self) -> Result<Option<f64>, SessionError> {
        let dpu = self.dpu_seconds().await;
        self.clients
            .sessions
            .stop_session()
            .id(&self.id)
            .send()
            .await
            .map_err(|e| SessionError::aws("StopSession", e))?;
        tracing::info!(session = %self.id, "stopped Glue session");
        Ok(dpu)
    }

    /// The session's DPU-seconds so far, as Glue reports them.
    pub async fn dpu_seconds(&self) -> Option<f64> {
        self.stats.get_sessions.fetch_add(1, Ordering::Relaxed);
        let out = self.clients.sessions.get_session().id(&self.id).send().await.ok()?;
        out.session.and_then(|s| s.dpu_seconds).filter(|d| *d > 0.0)
    }
}
