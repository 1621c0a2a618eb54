//! The per-node context: what `ref`, `source`, `config`, `var`, `run_query` and friends see.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use glue_materialize::Engine;
use minijinja::value::{Kwargs, Object, ObjectRepr, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Map;

use super::Macros;
use super::objects::{Column, Relation, Table};

/// Parsing (dbt's `execute = False`: refs and configs are recorded, nothing runs) or executing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Discover refs, sources and `config()` calls.
    Parse,
    /// Render for real: `run_query` runs, `is_incremental()` answers.
    Execute,
}

/// Log levels of `log()` / `print()` / warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Shown in debug logs only.
    Debug,
    /// Shown on the terminal.
    Info,
    /// A warning.
    Warn,
}

/// Resolves `ref` and `source` at execution time.
pub trait Resolver: Send + Sync {
    /// `ref([package,] name)` from a node of `from_package`.
    fn resolve_ref(&self, from_package: &str, package: Option<&str>, name: &str) -> Result<Relation, String>;
    /// `source(source, table)`.
    fn resolve_source(&self, source: &str, table: &str) -> Result<Relation, String>;
}

/// What all nodes of one invocation share.
pub struct Shared {
    /// The macro registry.
    pub macros: Arc<Macros>,
    /// The root project's name.
    pub root_package: String,
    /// `target` as Jinja sees it (no secrets).
    pub target: Value,
    /// Vars per package (the root project's and `--vars` applied).
    pub vars: HashMap<String, Map<String, serde_json::Value>>,
    /// `invocation_id`.
    pub invocation_id: String,
    /// `run_started_at`.
    pub run_started_at: chrono::DateTime<chrono::Utc>,
    /// `flags`.
    pub flags: Value,
    /// `graph` (set once the project is parsed).
    pub graph: RwLock<Value>,
    /// Resolves refs and sources (set once the project is parsed).
    pub resolver: RwLock<Option<Arc<dyn Resolver>>>,
    /// The engine (`run_query`, `adapter.get_relation`…), when one is open.
    pub engine: RwLock<Option<Arc<dyn Engine>>>,
    /// The runtime used to block on engine calls from Jinja (rendering runs on blocking threads).
    pub handle: Option<tokio::runtime::Handle>,
    /// Where `log`, `print` and warnings go.
    pub log: LogFn,
}

/// A sink for `log()`, `print()` and warnings.
pub type LogFn = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("root_package", &self.root_package)
            .finish()
    }
}

/// One node's rendering context. Created per render; collects what the node's Jinja declared.
pub struct NodeCtx {
    /// Shared state.
    pub shared: Arc<Shared>,
    /// Parse or execute.
    pub mode: Mode,
    /// The node's package.
    pub package: String,
    /// `model` (the node as a mapping).
    pub node: Value,
    /// `this`.
    pub this: Option<Relation>,
    /// The node's merged config (updated by `config()` while parsing).
    pub config: Mutex<Map<String, serde_json::Value>>,
    /// `config()` calls seen while parsing, merged in call order.
    pub config_calls: Mutex<Vec<Map<String, serde_json::Value>>>,
    /// `ref()` calls: (package, name).
    pub refs: Mutex<Vec<(Option<String>, String)>>,
    /// `source()` calls.
    pub sources: Mutex<Vec<(String, String)>>,
    /// `is_incremental()`.
    pub is_incremental: bool,
    /// A resolver for this render only (unit test fixtures).
    pub resolver_override: OnceLock<Arc<dyn Resolver>>,
    /// Extra variables (`results` in on-run-end, test kwargs…).
    pub extra: Map<String, serde_json::Value>,
    returns: Mutex<Vec<Option<Value>>>,
    results: Mutex<HashMap<String, Value>>,
    context: OnceLock<Value>,
}

impl std::fmt::Debug for NodeCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCtx")
            .field("package", &self.package)
            .field("mode", &self.mode)
            .finish()
    }
}

impl Object for NodeCtx {}

impl NodeCtx {
    /// A context for one node.
    pub fn new(
        shared: Arc<Shared>,
        mode: Mode,
        package: impl Into<String>,
        node: serde_json::Value,
        this: Option<Relation>,
        config: Map<String, serde_json::Value>,
        is_incremental: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            shared,
            mode,
            package: package.into(),
            node: Value::from_serialize(&node),
            this,
            config: Mutex::new(config),
            config_calls: Mutex::new(Vec::new()),
            refs: Mutex::new(Vec::new()),
            sources: Mutex::new(Vec::new()),
            is_incremental,
            resolver_override: OnceLock::new(),
            extra: Map::new(),
            returns: Mutex::new(Vec::new()),
            results: Mutex::new(HashMap::new()),
            context: OnceLock::new(),
        })
    }

    /// A context that belongs to no node (hooks, `run-operation`, `--inline`, YAML values): `model` and `this` are
    /// none, the config is empty.
    pub fn project(shared: Arc<Shared>, mode: Mode, package: impl Into<String>) -> Arc<Self> {
        Self::new(shared, mode, package, serde_json::Value::Null, None, Map::new(), false)
    }

    /// The same with extra variables.
    pub fn with_extra(self: Arc<Self>, extra: Map<String, serde_json::Value>) -> Arc<Self> {
        let mut me = Arc::try_unwrap(self).unwrap_or_else(|a| a.clone_fresh());
        me.extra = extra;
        me.context = OnceLock::new();
        Arc::new(me)
    }

    fn clone_fresh(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            mode: self.mode,
            package: self.package.clone(),
            node: self.node.clone(),
            this: self.this.clone(),
            config: Mutex::new(self.config.lock().unwrap().clone()),
            config_calls: Mutex::new(Vec::new()),
            refs: Mutex::new(Vec::new()),
            sources: Mutex::new(Vec::new()),
            is_incremental: self.is_incremental,
            resolver_override: self.resolver_override.clone(),
            extra: self.extra.clone(),
            returns: Mutex::new(Vec::new()),
            results: Mutex::new(HashMap::new()),
            context: OnceLock::new(),
        }
    }

    /// The context of the current render.
    pub fn of(state: &State<'_, '_>) -> Result<Arc<Self>, Error> {
        state
            .lookup("__glue")
            .and_then(|v| v.downcast_object::<NodeCtx>())
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "no dbt context here"))
    }

    /// The variables a template sees.
    pub fn context(self: &Arc<Self>) -> Value {
        self.context
            .get_or_init(|| {
                let s = &self.shared;
                let mut m: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
                m.insert("__glue".into(), Value::from_dyn_object(self.clone()));
                m.insert("execute".into(), Value::from(self.mode == Mode::Execute));
                m.insert("target".into(), s.target.clone());
                m.insert("model".into(), self.node.clone());
                m.insert(
                    "this".into(),
                    self.this.clone().map(Relation::into_value).unwrap_or(Value::from(())),
                );
                m.insert(
                    "config".into(),
                    Value::from_object(ConfigObj {
                        ctx: Arc::downgrade(self),
                    }),
                );
                m.insert("project_name".into(), Value::from(s.root_package.clone()));
                m.insert("invocation_id".into(), Value::from(s.invocation_id.clone()));
                m.insert(
                    "run_started_at".into(),
                    super::modules::datetime_value(s.run_started_at.naive_utc()),
                );
                m.insert("flags".into(), s.flags.clone());
                m.insert("graph".into(), s.graph.read().unwrap().clone());
                m.insert("database".into(), s.target.get_attr("database").unwrap_or_default());
                m.insert("schema".into(), s.target.get_attr("schema").unwrap_or_default());
                for (k, v) in &self.extra {
                    m.insert(k.clone(), Value::from_serialize(v));
                }
                Value::from(m)
            })
            .clone()
    }

    fn resolver(&self) -> Option<Arc<dyn Resolver>> {
        self.resolver_override
            .get()
            .cloned()
            .or_else(|| self.shared.resolver.read().unwrap().clone())
    }

    pub(crate) fn push_return(&self) {
        self.returns.lock().unwrap().push(None);
    }

    pub(crate) fn pop_return(&self) -> Option<Value> {
        self.returns.lock().unwrap().pop().flatten()
    }

    fn log(&self, level: LogLevel, msg: &str) {
        (self.shared.log)(level, msg);
    }

    fn engine(&self) -> Result<Arc<dyn Engine>, Error> {
        self.shared
            .engine
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "no engine is open (compile-only command)"))
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output, Error> {
        let handle = self
            .shared
            .handle
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "no runtime to run queries on"))?;
        Ok(handle.block_on(f))
    }

    /// Runs a query on the engine (execute mode).
    pub fn run_query(&self, sql: &str) -> Result<Table, Error> {
        let engine = self.engine()?;
        let batches = self
            .block_on(async move { engine.query(sql).await })?
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("query failed: {e}")))?;
        Ok(Table::from_batches(&batches))
    }

    fn var(&self, name: &str, default: Option<Value>) -> Result<Value, Error> {
        let vars = self
            .shared
            .vars
            .get(&self.package)
            .or_else(|| self.shared.vars.get(&self.shared.root_package));
        match vars.and_then(|v| v.get(name)) {
            Some(v) => Ok(Value::from_serialize(v)),
            None => default.ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedError,
                    format!("required var `{name}` is not defined in dbt_project.yml or --vars, and has no default"),
                )
            }),
        }
    }
}

/// `config`: callable (`config(materialized='table')`) with `get`, `require`, `set` methods.
#[derive(Debug)]
struct ConfigObj {
    ctx: std::sync::Weak<NodeCtx>,
}

fn to_json(v: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

impl Object for ConfigObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let ctx = self
            .ctx
            .upgrade()
            .ok_or_else(|| Error::from(ErrorKind::InvalidOperation))?;
        let mut layer = Map::new();
        let (positional, kw): (Rest<Value>, Kwargs) = minijinja::value::from_args(args)?;
        for k in kw.args() {
            let v: Value = kw.get(k)?;
            layer.insert(k.to_string(), to_json(&v)?);
        }
        for a in positional.iter() {
            if let Ok(serde_json::Value::Object(m)) = to_json(a) {
                layer.extend(m);
            } else {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "config() takes keyword arguments or one mapping",
                ));
            }
        }
        if ctx.mode == Mode::Parse {
            crate::project::merge_layer(&mut ctx.config.lock().unwrap(), &layer);
            ctx.config_calls.lock().unwrap().push(layer);
        }
        Ok(Value::from(""))
    }

    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let ctx = self
            .ctx
            .upgrade()
            .ok_or_else(|| Error::from(ErrorKind::InvalidOperation))?;
        let (key, default): (String, Option<Value>) = minijinja::value::from_args(args)?;
        let cfg = ctx.config.lock().unwrap();
        let found = cfg.get(&key).or_else(|| cfg.get(&crate::project::normalize_key(&key)));
        match method {
            "get" => Ok(match found {
                Some(v) if !v.is_null() => Value::from_serialize(v),
                _ => default.unwrap_or(Value::from(())),
            }),
            "require" => match found {
                Some(v) if !v.is_null() => Ok(Value::from_serialize(v)),
                _ => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("config `{key}` is required here but not set"),
                )),
            },
            "set" => {
                drop(cfg);
                let v = default.unwrap_or_default();
                ctx.config.lock().unwrap().insert(key, to_json(&v)?);
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

fn ref_fn(state: &State, a: String, b: Option<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let ctx = NodeCtx::of(state)?;
    for k in ["version", "v"] {
        if kwargs.has(k) {
            let _: Value = kwargs.get(k)?;
        }
    }
    let (package, name) = match b {
        Some(n) => (Some(a), n),
        None => (None, a),
    };
    ctx.refs.lock().unwrap().push((package.clone(), name.clone()));
    let resolver = ctx.resolver();
    match (ctx.mode, resolver) {
        (Mode::Execute, Some(r)) => r
            .resolve_ref(&ctx.package, package.as_deref(), &name)
            .map(Relation::into_value)
            .map_err(|m| Error::new(ErrorKind::InvalidOperation, m)),
        _ => {
            let schema = ctx
                .shared
                .target
                .get_attr("schema")
                .ok()
                .and_then(|s| s.as_str().map(str::to_string));
            Ok(Relation::new(schema.unwrap_or_default(), name).into_value())
        }
    }
}

fn source_fn(state: &State, source: String, table: String) -> Result<Value, Error> {
    let ctx = NodeCtx::of(state)?;
    ctx.sources.lock().unwrap().push((source.clone(), table.clone()));
    let resolver = ctx.resolver();
    match (ctx.mode, resolver) {
        (Mode::Execute, Some(r)) => r
            .resolve_source(&source, &table)
            .map(Relation::into_value)
            .map_err(|m| Error::new(ErrorKind::InvalidOperation, m)),
        _ => Ok(Relation::new(source, table).into_value()),
    }
}

fn var_fn(state: &State, name: String, default: Option<Value>) -> Result<Value, Error> {
    NodeCtx::of(state)?.var(&name, default)
}

/// `env_var(name, default)`; a missing variable without default is an error naming it.
pub fn env_var(name: &str, default: Option<Value>) -> Result<Value, Error> {
    match std::env::var(name) {
        Ok(v) => Ok(Value::from(v)),
        Err(_) => default.ok_or_else(|| {
            Error::new(
                ErrorKind::UndefinedError,
                format!("environment variable `{name}` is required but not set, and has no default"),
            )
        }),
    }
}

fn env_var_fn(name: String, default: Option<Value>) -> Result<Value, Error> {
    env_var(&name, default)
}

fn is_incremental_fn(state: &State) -> Result<bool, Error> {
    let ctx = NodeCtx::of(state)?;
    Ok(ctx.mode == Mode::Execute && ctx.is_incremental)
}

fn log_fn(state: &State, msg: Value, info: Option<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let ctx = NodeCtx::of(state)?;
    let info = match info {
        Some(v) => v.is_true(),
        None => kwargs.get::<Option<Value>>("info")?.is_some_and(|v| v.is_true()),
    };
    let level = if info { LogLevel::Info } else { LogLevel::Debug };
    ctx.log(level, &msg.to_string());
    Ok(String::new())
}

fn print_fn(state: &State, msg: Value) -> Result<String, Error> {
    NodeCtx::of(state)?.log(LogLevel::Info, &msg.to_string());
    Ok(String::new())
}

/// dbt's `return(value)`: the macro ends here and its call gives `value` (the rest of the macro does not run, as in
/// dbt, where `return` raises an exception the macro call catches).
fn return_fn(state: &State, v: Value) -> Result<String, Error> {
    let ctx = NodeCtx::of(state)?;
    match ctx.returns.lock().unwrap().last_mut() {
        Some(slot) => *slot = Some(v),
        None => return Ok(String::new()),
    }
    // The error stops the macro; `invoke` finds the value in the slot and gives it instead.
    Err(Error::new(ErrorKind::InvalidOperation, "return() ended the macro"))
}

fn run_query_fn(state: &State, sql: String) -> Result<Value, Error> {
    let ctx = NodeCtx::of(state)?;
    if ctx.mode == Mode::Parse {
        return Ok(Value::from(()));
    }
    Ok(Value::from_object(ctx.run_query(&sql)?))
}

fn result_value(table: Table) -> Value {
    let rows = table.rows();
    let n = rows.len().unwrap_or(0);
    let mut m = std::collections::BTreeMap::new();
    m.insert(
        "response",
        Value::from_serialize(serde_json::json!({"_message": "OK", "code": "OK", "rows_affected": n})),
    );
    m.insert("data", rows);
    m.insert("table", Value::from_object(table));
    Value::from(m)
}

fn statement_fn(state: &State, name: Option<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let ctx = NodeCtx::of(state)?;
    let fetch: bool = kwargs.get::<Option<bool>>("fetch_result")?.unwrap_or(false);
    let _: Option<Value> = kwargs.get("auto_begin")?;
    let language: Option<String> = kwargs.get("language")?;
    let caller: Value = kwargs.get("caller")?;
    if ctx.mode == Mode::Parse {
        return Ok(String::new());
    }
    if language.as_deref().is_some_and(|l| l != "sql") {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "statement(): only language='sql' is supported",
        ));
    }
    let sql = caller.call(state, &[])?.to_string();
    let table = ctx.run_query(&sql)?;
    if let Some(n) = name.filter(|n| !n.is_none() && !n.is_undefined()) {
        let v = if fetch {
            result_value(table)
        } else {
            result_value(Table::from_batches(&[]))
        };
        ctx.results.lock().unwrap().insert(n.to_string(), v);
    }
    Ok(String::new())
}

fn store_result_fn(state: &State, name: String, kwargs: Kwargs) -> Result<String, Error> {
    let ctx = NodeCtx::of(state)?;
    let response: Option<Value> = kwargs.get("response")?;
    let table: Option<Value> = kwargs.get("agate_table")?;
    let mut m = std::collections::BTreeMap::new();
    m.insert("response", response.unwrap_or_default());
    m.insert(
        "data",
        table.as_ref().and_then(|t| t.get_attr("rows").ok()).unwrap_or_default(),
    );
    m.insert("table", table.unwrap_or_default());
    ctx.results.lock().unwrap().insert(name, Value::from(m));
    Ok(String::new())
}

fn load_result_fn(state: &State, name: String) -> Result<Value, Error> {
    let ctx = NodeCtx::of(state)?;
    Ok(ctx
        .results
        .lock()
        .unwrap()
        .get(&name)
        .cloned()
        .unwrap_or(Value::from(())))
}

/// Python's `json.dumps` layout (`{"a": 1, "b": [1, 2]}`, non-ASCII escaped), as dbt's `tojson` prints.
struct PyJson;

impl serde_json::ser::Formatter for PyJson {
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(&mut self, w: &mut W, fragment: &str) -> std::io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// dbt's `tojson(value, sort_keys=False)`: mappings keep their order.
pub fn to_py_json(v: &impl serde::Serialize) -> Result<String, Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyJson);
    v.serialize(&mut ser)
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    String::from_utf8(out).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

fn tojson_fn(v: Value, kwargs: Kwargs) -> Result<String, Error> {
    match kwargs.get::<Option<bool>>("sort_keys")? {
        Some(true) => to_py_json(&to_json(&v)?), // serde_json's maps sort their keys
        _ => to_py_json(&v),
    }
}

fn fromjson_fn(s: String, default: Option<Value>) -> Result<Value, Error> {
    match serde_json::from_str::<serde_json::Value>(&s) {
        Ok(v) => Ok(Value::from_serialize(v)),
        Err(e) => default.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("fromjson: {e}"))),
    }
}

fn fromyaml_fn(s: String, default: Option<Value>) -> Result<Value, Error> {
    match serde_saphyr::from_str::<serde_json::Value>(&s) {
        Ok(v) => Ok(Value::from_serialize(v)),
        Err(e) => default.ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("fromyaml: {e}"))),
    }
}

fn toyaml_fn(v: Value) -> Result<String, Error> {
    serde_saphyr::to_string(&v).map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))
}

fn zip_fn(lists: Rest<Value>) -> Result<Value, Error> {
    let lists: Vec<Vec<Value>> = lists
        .iter()
        .map(|l| l.try_iter().map(|i| i.collect()))
        .collect::<Result<_, _>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

fn set_fn(v: Value) -> Result<Value, Error> {
    let mut out: Vec<Value> = Vec::new();
    for i in v.try_iter()? {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(Value::from(out))
}

fn local_md5_fn(s: String) -> String {
    super::modules::md5_hex(s.as_bytes())
}

/// `exceptions`.
#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(self: &Arc<Self>, state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let msg = args.first().map(|v| v.to_string()).unwrap_or_default();
        match method {
            "raise_compiler_error" | "raise_not_implemented" | "raise_database_error" | "raise_fail_fast_error" => {
                Err(Error::new(ErrorKind::InvalidOperation, msg))
            }
            "warn" => {
                NodeCtx::of(state)?.log(LogLevel::Warn, &msg);
                Ok(Value::from(""))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("exceptions.{method} is not available"),
            )),
        }
    }
}

/// `adapter`.
#[derive(Debug)]
struct Adapter;

fn relation_arg(v: &Value) -> Result<Relation, Error> {
    if let Some(r) = v.downcast_object_ref::<Relation>() {
        return Ok(r.clone());
    }
    let s = v.to_string();
    let name = glue_sql::RelationName::parse(&s)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("not a relation `{s}`: {e}")))?;
    Ok(Relation::new(name.schema_str(), name.identifier.as_str()))
}

impl Object for Adapter {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "type").then(|| Value::from("glue"))
    }

    fn call_method(self: &Arc<Self>, state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let ctx = NodeCtx::of(state)?;
        match method {
            "quote" => {
                let (s,): (String,) = minijinja::value::from_args(args)?;
                Ok(Value::from(glue_sql::quote_ident(&s)))
            }
            "type" => Ok(Value::from("glue")),
            "dispatch" => {
                let (name, ns, kwargs): (String, Option<String>, Kwargs) = minijinja::value::from_args(args)?;
                let ns = ns.or(kwargs.get::<Option<String>>("macro_namespace")?);
                match ctx.shared.macros.dispatch(&ctx.package, &name, ns.as_deref()) {
                    Some((package, full)) => Ok(Value::from_object(super::MacroRef {
                        name: full,
                        package: Some(package),
                    })),
                    None => Err(Error::new(
                        ErrorKind::UnknownFunction,
                        format!(
                            "adapter.dispatch: no glue__{name}, spark__{name} or default__{name} macro{}",
                            ns.map(|n| format!(" in namespace `{n}`")).unwrap_or_default()
                        ),
                    )),
                }
            }
            "get_relation" | "load_relation" => {
                let (schema, identifier) = if method == "load_relation" {
                    let (r,): (Value,) = minijinja::value::from_args(args)?;
                    let r = relation_arg(&r)?;
                    (r.schema.unwrap_or_default(), r.identifier)
                } else {
                    let (db, schema, identifier, kw): (Option<Value>, Option<String>, Option<String>, Kwargs) =
                        minijinja::value::from_args(args)?;
                    let _ = db;
                    let _: Option<Value> = kw.get("database")?;
                    let schema = schema.or(kw.get("schema")?).unwrap_or_default();
                    let identifier = identifier.or(kw.get("identifier")?).unwrap_or_default();
                    (schema, identifier)
                };
                if ctx.mode == Mode::Parse {
                    return Ok(Value::from(()));
                }
                let engine = ctx.engine()?;
                let s2 = schema.clone();
                let list = ctx
                    .block_on(async move { engine.list_relations(&s2).await })?
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
                Ok(list
                    .into_iter()
                    .find(|r| r.name.identifier.as_str().eq_ignore_ascii_case(&identifier))
                    .map(|r| {
                        let mut rel = Relation::new(schema.clone(), r.name.identifier.as_str());
                        rel.kind = Some(
                            match r.existing {
                                glue_materialize::Existing::View => "view",
                                _ => "table",
                            }
                            .into(),
                        );
                        rel.into_value()
                    })
                    .unwrap_or(Value::from(())))
            }
            "get_columns_in_relation" => {
                let (r,): (Value,) = minijinja::value::from_args(args)?;
                if ctx.mode == Mode::Parse {
                    return Ok(Value::from(Vec::<Value>::new()));
                }
                let r = relation_arg(&r)?;
                let name = glue_sql::RelationName::new(r.schema.unwrap_or_default(), r.identifier)
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
                let engine = ctx.engine()?;
                let cols = ctx
                    .block_on(async move { engine.describe(&name).await })?
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
                Ok(Value::from(
                    cols.into_iter()
                        .map(|c| {
                            Value::from_object(Column {
                                name: c.name.as_str().to_string(),
                                data_type: c.data_type.to_string(),
                            })
                        })
                        .collect::<Vec<_>>(),
                ))
            }
            "execute" => {
                let (sql, kw): (String, Kwargs) = minijinja::value::from_args(args)?;
                let fetch: bool = kw.get::<Option<bool>>("fetch")?.unwrap_or(false);
                let _: Option<Value> = kw.get("auto_begin")?;
                if ctx.mode == Mode::Parse {
                    return Ok(Value::from(()));
                }
                let t = ctx.run_query(&sql)?;
                let t = if fetch { t } else { Table::from_batches(&[]) };
                let resp = Value::from_serialize(serde_json::json!({"_message": "OK", "code": "OK"}));
                Ok(Value::from(vec![resp, Value::from_object(t)]))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("adapter.{method} is not available in glue"),
            )),
        }
    }
}

/// `api` (`api.Relation.create(...)`, `api.Column.translate_type(...)`).
#[derive(Debug)]
struct Api;

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(RelationApi)),
            "Column" => Some(Value::from_object(ColumnApi)),
            _ => None,
        }
    }
}

/// `api.Column`: dbt-spark's column class methods (SparkColumn).
#[derive(Debug)]
struct ColumnApi;

impl Object for ColumnApi {
    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            // Spark's type names are taken as they are written.
            "translate_type" => {
                let (dtype,): (String,) = minijinja::value::from_args(args)?;
                Ok(Value::from(dtype))
            }
            // Spark has no `numeric`: always a decimal.
            "numeric_type" => {
                let (_, precision, scale): (Value, Option<Value>, Option<Value>) = minijinja::value::from_args(args)?;
                let given = |v: &Option<Value>| v.as_ref().filter(|v| !v.is_none() && !v.is_undefined()).cloned();
                Ok(Value::from(match (given(&precision), given(&scale)) {
                    (Some(p), Some(s)) => format!("decimal({p},{s})"),
                    _ => "decimal".to_string(),
                }))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("api.Column.{method} is not available in glue"),
            )),
        }
    }
}

#[derive(Debug)]
struct RelationApi;

impl Object for RelationApi {
    fn call_method(self: &Arc<Self>, _: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "create" => {
                let (kw,): (Kwargs,) = minijinja::value::from_args(args)?;
                let _: Option<Value> = kw.get("database")?;
                let schema: Option<String> = kw.get("schema")?;
                let identifier: Option<String> = kw.get("identifier")?;
                let kind: Option<String> = kw.get("type")?;
                let mut r = Relation::new(schema.unwrap_or_default(), identifier.unwrap_or_default());
                if r.schema.as_deref() == Some("") {
                    r.schema = None;
                }
                r.kind = kind;
                Ok(r.into_value())
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// Registers dbt's context functions and objects.
pub fn register_globals(env: &mut Environment<'static>) {
    env.add_function("ref", ref_fn);
    env.add_function("source", source_fn);
    env.add_function("var", var_fn);
    env.add_function("env_var", env_var_fn);
    env.add_function("is_incremental", is_incremental_fn);
    env.add_function("log", log_fn);
    env.add_function("print", print_fn);
    env.add_function("return", return_fn);
    env.add_function("run_query", run_query_fn);
    env.add_function("statement", statement_fn);
    env.add_function("store_result", store_result_fn);
    env.add_function("load_result", load_result_fn);
    env.add_function("tojson", tojson_fn);
    env.add_function("fromjson", fromjson_fn);
    env.add_function("fromyaml", fromyaml_fn);
    env.add_function("toyaml", toyaml_fn);
    env.add_function("zip", zip_fn);
    env.add_function("set", set_fn);
    env.add_function("local_md5", local_md5_fn);
    env.add_function("__glue_string_literal", |s: String| glue_sql::string_literal(&s));
    env.add_function("__glue_quote", |s: String| glue_sql::quote_ident(&s));
    env.add_global("exceptions", Value::from_object(Exceptions));
    env.add_global("adapter", Value::from_object(Adapter));
    env.add_global("api", Value::from_object(Api));
    env.add_global("modules", super::modules::modules());
}
