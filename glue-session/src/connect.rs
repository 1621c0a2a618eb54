//! One Spark Connect session: a Glue 5.1+ `SPARK_CONNECT` session (endpoint and auth token from
//! GetSessionEndpoint, the token refreshed before it expires) or any `sc://` server. Statements are sent as gRPC
//! plans through the official client's async core (`apache-spark-connect-core`); results come back as Arrow batches,
//! decoded as they are.
//!
//! The Spark session is the client-chosen session id: a refreshed token opens a new channel with the same id, so
//! the server keeps the session's temporary views and settings.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use spark_connect::types::DataType;
use spark_connect_core::channel::ChannelBuilder;
use spark_connect_core::client::SparkConnectClient;
use spark_connect_core::error::SparkError;
use spark_connect_proto as proto;

use crate::client::Clients;
use crate::error::SessionError;

/// Refresh a Glue token this long before it expires (or at half its life when that is shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// gRPC status UNAUTHENTICATED.
const UNAUTHENTICATED: i32 = 16;

/// Where the endpoint and its token come from.
enum Auth {
    /// A fixed `sc://` URL (with its optional token).
    Fixed,
    /// A Glue session: GetSessionEndpoint again before the token expires.
    Glue(Box<GlueAuth>),
}

/// What refreshing a Glue session's token needs.
struct GlueAuth {
    clients: Clients,
    session: String,
    expires: Mutex<SystemTime>,
    issued: Mutex<SystemTime>,
    refreshing: tokio::sync::Mutex<()>,
}

/// Counters of one session's traffic.
#[derive(Debug, Default)]
pub struct ConnectStats {
    /// ExecutePlan calls.
    pub executes: AtomicU64,
    /// AnalyzePlan calls.
    pub analyzes: AtomicU64,
    /// GetSessionEndpoint calls (the first one and each token refresh).
    pub endpoint_calls: AtomicU64,
}

/// An open Spark Connect session.
pub struct ConnectSession {
    client: RwLock<Arc<SparkConnectClient>>,
    /// The Spark session id (a v4 UUID), kept across token refreshes.
    session_id: String,
    user_id: String,
    auth: Auth,
    interrupted: AtomicBool,
    stats: Arc<ConnectStats>,
}

impl std::fmt::Debug for ConnectSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL's token.
        f.debug_struct("ConnectSession")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

fn spark_err(e: SparkError) -> SessionError {
    let error_class = e.get_error_class();
    let mut message = e.get_message();
    // The server's message repeats its class (`[CLASS] [CLASS] text`): the class is kept once, in `error_class`.
    if let Some(c) = &error_class {
        let prefix = format!("[{c}]");
        while let Some(rest) = message.trim_start().strip_prefix(&prefix) {
            message = rest.trim_start().to_string();
        }
    }
    SessionError::Statement {
        error_class,
        name: String::new(),
        message,
    }
}

fn unauthenticated(e: &SparkError) -> bool {
    e.grpc_code() == Some(UNAUTHENTICATED)
}

/// The channel of `url` with `token` and the session id (TLS whenever a token goes to a host that is not local, as
/// the Spark Connect URL convention says; a URL that turns TLS off for one is refused). Errors never show a token.
fn channel(url: &str, token: Option<&str>, session_id: &str) -> Result<ChannelBuilder, SessionError> {
    let mut b = crate::connect_profile::connect_url(url, token)
        .map_err(|m| SessionError::Protocol(format!("Spark Connect URL: {m}")))?;
    if let Some(t) = token {
        b.set("token", t);
    }
    if b.token().is_some() && !b.is_loopback() && b.get("use_ssl").is_none() {
        b.set("use_ssl", "true");
    }
    b.set("session_id", session_id);
    Ok(b)
}

impl ConnectSession {
    /// A session on a plain Spark Connect server: `url` is `sc://host:port[/;param=value…]`, `token` (when given)
    /// is sent as a bearer token.
    pub async fn open_url(url: &str, token: Option<&str>) -> Result<ConnectSession, SessionError> {
        let session_id = uuid::Uuid::new_v4().to_string();
        let b = channel(url, token, &session_id)?;
        let client = SparkConnectClient::connect(&b)
            .await
            .map_err(|e| SessionError::Protocol(format!("connecting to {}: {}", b.endpoint(), e.get_message())))?;
        Ok(Self::new(client, session_id, Auth::Fixed, Arc::default()))
    }

    /// The Spark Connect session of the READY Glue session `glue_session` (GetSessionEndpoint).
    pub async fn open_glue(clients: &Clients, glue_session: &str) -> Result<ConnectSession, SessionError> {
        let session_id = uuid::Uuid::new_v4().to_string();
        let stats = Arc::new(ConnectStats::default());
        let (client, expires) = glue_client(clients, glue_session, &session_id, &stats).await?;
        Ok(Self::new(
            client,
            session_id,
            Auth::Glue(Box::new(GlueAuth {
                clients: clients.clone(),
                session: glue_session.to_string(),
                expires: Mutex::new(expires),
                issued: Mutex::new(SystemTime::now()),
                refreshing: tokio::sync::Mutex::new(()),
            })),
            stats,
        ))
    }

    fn new(client: SparkConnectClient, session_id: String, auth: Auth, stats: Arc<ConnectStats>) -> Self {
        ConnectSession {
            user_id: client.user_id().unwrap_or_default().to_string(),
            client: RwLock::new(Arc::new(client)),
            session_id,
            auth,
            interrupted: AtomicBool::new(false),
            stats,
        }
    }

    /// The Spark session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// This session's counters.
    pub fn stats(&self) -> &ConnectStats {
        &self.stats
    }

    /// The client to use now: on Glue, a fresh token first when the current one is about to expire.
    async fn client(&self, force_refresh: bool) -> Result<Arc<SparkConnectClient>, SessionError> {
        if let Auth::Glue(auth) = &self.auth {
            let GlueAuth {
                clients,
                session,
                expires,
                issued,
                refreshing,
            } = auth.as_ref();
            let due = |expires: SystemTime, issued: SystemTime| {
                let life = expires.duration_since(issued).unwrap_or_default();
                let margin = REFRESH_MARGIN.min(life / 2);
                SystemTime::now() + margin >= expires
            };
            let read = || {
                (
                    *expires.lock().unwrap_or_else(|e| e.into_inner()),
                    *issued.lock().unwrap_or_else(|e| e.into_inner()),
                )
            };
            let (e, i) = read();
            if force_refresh || due(e, i) {
                let _one = refreshing.lock().await;
                let (e2, i2) = read();
                // Another task refreshed while this one waited.
                if (e2, i2) == (e, i) || due(e2, i2) {
                    let (client, new_expiry) = glue_client(clients, session, &self.session_id, &self.stats).await?;
                    *self.client.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(client);
                    *expires.lock().unwrap_or_else(|e| e.into_inner()) = new_expiry;
                    *issued.lock().unwrap_or_else(|e| e.into_inner()) = SystemTime::now();
                    tracing::info!(session = %session, "refreshed the Spark Connect token");
                }
            }
        }
        Ok(self.client.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn user_context(&self) -> Option<proto::UserContext> {
        Some(proto::UserContext {
            user_id: self.user_id.clone(),
            ..Default::default()
        })
    }

    /// Runs a plan and collects its Arrow batches.
    async fn execute(&self, plan: proto::plan::OpType) -> Result<Vec<RecordBatch>, SessionError> {
        if self.interrupted.load(Ordering::Acquire) {
            return Err(SessionError::Cancelled);
        }
        let request = proto::ExecutePlanRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            plan: Some(proto::Plan { op_type: Some(plan) }),
            client_type: Some("glue-rs".into()),
            ..Default::default()
        };
        let mut stream = self
            .call(|client| {
                self.stats.executes.fetch_add(1, Ordering::Relaxed);
                let request = request.clone();
                async move { client.execute_plan(request).await }
            })
            .await?;
        let mut batches = Vec::new();
        let mut schema = None;
        loop {
            match stream.message().await {
                Ok(Some(resp)) => {
                    if let Some(proto::execute_plan_response::ResponseType::ArrowBatch(b)) = resp.response_type {
                        let (s, decoded) = decode_ipc(&b.data)?;
                        schema = schema.or(s);
                        batches.extend(decoded);
                    }
                }
                Ok(None) => break,
                Err(status) => return Err(self.failed(SparkError::from_grpc_status(status))),
            }
        }
        // No rows: the server still sends the result's schema (an empty batch), kept as an empty batch.
        if batches.is_empty()
            && let Some(schema) = schema
        {
            batches.push(RecordBatch::new_empty(schema));
        }
        Ok(batches)
    }

    /// One call with the current client; a call refused for an expired token is sent again once with a fresh token
    /// (the server never saw it).
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, SessionError>
    where
        F: Fn(Arc<SparkConnectClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, SparkError>>,
    {
        let mut force = false;
        loop {
            match f(self.client(force).await?).await {
                Ok(t) => return Ok(t),
                Err(e) if unauthenticated(&e) && !force && matches!(self.auth, Auth::Glue(_)) => force = true,
                Err(e) => return Err(self.failed(e)),
            }
        }
    }

    fn failed(&self, e: SparkError) -> SessionError {
        if self.interrupted.load(Ordering::Acquire) {
            SessionError::Cancelled
        } else {
            spark_err(e)
        }
    }

    /// Runs SQL (a query or a command) and returns its rows.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, SessionError> {
        self.execute(proto::plan::OpType::Root(sql_relation(sql))).await
    }

    /// The columns of a query (name and Spark SQL type), from the analyzer: nothing runs.
    pub async fn columns(&self, sql: &str) -> Result<Vec<(String, String)>, SessionError> {
        let request = proto::AnalyzePlanRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            client_type: Some("glue-rs".into()),
            analyze: Some(proto::analyze_plan_request::Analyze::Schema(
                proto::analyze_plan_request::Schema {
                    plan: Some(proto::Plan {
                        op_type: Some(proto::plan::OpType::Root(sql_relation(sql))),
                    }),
                },
            )),
            ..Default::default()
        };
        let response = self
            .call(|client| {
                self.stats.analyzes.fetch_add(1, Ordering::Relaxed);
                let request = request.clone();
                async move { client.analyze_plan(request).await }
            })
            .await?;
        let Some(proto::analyze_plan_response::Result::Schema(s)) = response.result else {
            return Err(SessionError::Protocol("AnalyzePlan returned no schema".into()));
        };
        let dt = s
            .schema
            .ok_or_else(|| SessionError::Protocol("AnalyzePlan returned no schema".into()))?;
        let dt = DataType::from_proto(&dt).map_err(|e| SessionError::Protocol(e.get_message()))?;
        let DataType::Struct { fields } = dt else {
            return Err(SessionError::Protocol("a query schema that is not a struct".into()));
        };
        Ok(fields
            .into_iter()
            .map(|f| (f.name, f.data_type.simple_string()))
            .collect())
    }

    /// Registers Arrow batches as the temporary view `name` (one LocalRelation plan: the rows travel as Arrow IPC,
    /// typed as they are).
    pub async fn create_view(
        &self,
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<(), SessionError> {
        let data = crate::request::ipc_bytes(batches, schema)?;
        let local = proto::LocalRelation {
            data: Some(data.into()),
            schema: None,
        };
        let command = proto::Command {
            command_type: Some(proto::command::CommandType::CreateDataframeView(
                proto::CreateDataFrameViewCommand {
                    input: Some(proto::Relation {
                        rel_type: Some(proto::relation::RelType::LocalRelation(local)),
                        ..Default::default()
                    }),
                    name: name.to_string(),
                    is_global: false,
                    replace: true,
                },
            )),
        };
        self.execute(proto::plan::OpType::Command(command)).await.map(|_| ())
    }

    /// Sets a Spark setting of this session (a runtime SQL conf).
    pub async fn set_conf(&self, key: &str, value: &str) -> Result<(), SessionError> {
        let client = self.client(false).await?;
        client.set_config(key, value).await.map_err(spark_err)
    }

    /// The value this session holds for a Spark setting when it was set explicitly (by `SET`, a `conf` of the
    /// profile or [`ConnectSession::set_conf`]); None when it holds the server's default.
    pub async fn explicit_conf(&self, key: &str) -> Result<Option<String>, SessionError> {
        let client = self.client(false).await?;
        let values = client
            .get_config_with_defaults(&[(key, None)])
            .await
            .map_err(spark_err)?;
        Ok(values.into_iter().next().flatten())
    }

    /// Puts a Spark setting back to the server's default.
    pub async fn unset_conf(&self, key: &str) -> Result<(), SessionError> {
        let client = self.client(false).await?;
        client.unset_config(key).await.map_err(spark_err)
    }

    /// Ctrl-C: interrupts every running operation of the session; later calls are refused.
    pub async fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Release);
        let client = self.client.read().unwrap_or_else(|e| e.into_inner()).clone();
        match client.interrupt_all().await {
            Ok(ids) => {
                tracing::info!(session = %self.session_id, operations = ids.len(), "interrupted Spark Connect operations")
            }
            Err(e) => tracing::warn!(session = %self.session_id, "interrupting: {}", e.get_message()),
        }
    }

    /// Releases the Spark session on the server (its temporary views and settings); a failure is logged.
    pub async fn release(&self) {
        let client = self.client.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Err(e) = client.release_session().await {
            tracing::debug!(session = %self.session_id, "releasing the Spark session: {}", e.get_message());
        }
    }
}

fn sql_relation(sql: &str) -> proto::Relation {
    proto::Relation {
        rel_type: Some(proto::relation::RelType::Sql(proto::Sql {
            query: sql.to_string(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The batches of one Arrow IPC stream, with its schema (present also when the stream holds no batch).
fn decode_ipc(data: &[u8]) -> Result<(Option<SchemaRef>, Vec<RecordBatch>), SessionError> {
    if data.is_empty() {
        return Ok((None, Vec::new()));
    }
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(data), None)
        .map_err(|e| SessionError::Protocol(format!("an Arrow batch: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SessionError::Protocol(format!("an Arrow batch: {e}")))?;
    Ok((Some(schema), batches))
}

/// GetSessionEndpoint, then a client on its URL with its token and the given Spark session id.
async fn glue_client(
    clients: &Clients,
    glue_session: &str,
    session_id: &str,
    stats: &ConnectStats,
) -> Result<(SparkConnectClient, SystemTime), SessionError> {
    stats.endpoint_calls.fetch_add(1, Ordering::Relaxed);
    let out = clients
        .sessions
        .get_session_endpoint()
        .session_id(glue_session)
        .send()
        .await
        .map_err(|e| SessionError::aws("GetSessionEndpoint", e))?;
    let sc = out.spark_connect.ok_or_else(|| {
        SessionError::Protocol(format!(
            "GetSessionEndpoint of session `{glue_session}` has no Spark Connect endpoint (is it a SPARK_CONNECT session?)"
        ))
    })?;
    let expires = SystemTime::UNIX_EPOCH
        + Duration::from_millis(sc.auth_token_expiration_time.to_millis().unwrap_or(0).max(0) as u64);
    let b = channel(&sc.url, Some(&sc.auth_token), session_id)?;
    let client = SparkConnectClient::connect(&b).await.map_err(|e| {
        SessionError::Protocol(format!(
            "connecting to the Spark Connect endpoint of session `{glue_session}`: {}",
            e.get_message()
        ))
    })?;
    Ok((client, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_to_a_remote_host_goes_over_tls_and_the_session_id_is_kept() {
        let b = channel(
            "sc://glue.example.com:443",
            Some("t0k"),
            "8f7e2b7a-3b1a-4c55-9f0e-0c5f1d2e3a4b",
        )
        .unwrap();
        assert!(b.use_ssl());
        assert_eq!(b.token().as_deref(), Some("t0k"));
        assert_eq!(
            b.session_id().unwrap().as_deref(),
            Some("8f7e2b7a-3b1a-4c55-9f0e-0c5f1d2e3a4b")
        );
        let local = channel(
            "sc://localhost:15002",
            Some("t0k"),
            "8f7e2b7a-3b1a-4c55-9f0e-0c5f1d2e3a4b",
        )
        .unwrap();
        assert!(!local.use_ssl(), "a local endpoint stays plaintext");
        let plain = channel(
            "sc://spark.internal:15002",
            None,
            "8f7e2b7a-3b1a-4c55-9f0e-0c5f1d2e3a4b",
        )
        .unwrap();
        assert!(!plain.use_ssl());
        assert!(channel("http://x", None, "8f7e2b7a-3b1a-4c55-9f0e-0c5f1d2e3a4b").is_err());
    }

    #[test]
    fn arrow_batches_round_trip_through_ipc() {
        use arrow_array::{Int64Array, StringArray};
        let schema: SchemaRef = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("id", arrow_schema::DataType::Int64, true),
            arrow_schema::Field::new("name", arrow_schema::DataType::Utf8, true),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
            ],
        )
        .unwrap();
        let data = crate::request::ipc_bytes(std::slice::from_ref(&b), &schema).unwrap();
        assert_eq!(decode_ipc(&data).unwrap(), (Some(schema.clone()), vec![b]));
        assert_eq!(decode_ipc(&[]).unwrap(), (None, vec![]));
        assert!(decode_ipc(b"not arrow").is_err());
        // A stream with a schema and no batch (an empty result) still gives its schema.
        let empty = crate::request::ipc_bytes(&[], &schema).unwrap();
        assert_eq!(decode_ipc(&empty).unwrap(), (Some(schema), vec![]));
    }
}
