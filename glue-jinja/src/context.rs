//! The per-node context: what `ref`, `source`, `config`, `var`, `run_query` and friends see.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use glue_materialize::Engine;
use minijinja::value::{Kwargs, Object, ObjectRepr, Rest, Value};
use minijinja::{Error, ErrorKind, State};
use serde_json::Map;

use crate::layering::{merge_layer, normalize_key};
use crate::macros::Macros;
use crate::objects::{Relation, Table};

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

impl Shared {
    /// What a root project `root_package` with these macros shares before anything else is known: no target,
    /// vars, flags, resolver or engine, `log` discarded, `run_started_at` now.
    pub fn new(macros: Arc<Macros>, root_package: impl Into<String>) -> Self {
        Self {
            macros,
            root_package: root_package.into(),
            target: Value::from(()),
            vars: HashMap::new(),
            invocation_id: String::new(),
            run_started_at: chrono::Utc::now(),
            flags: Value::from(()),
            graph: RwLock::new(Value::from(())),
            resolver: RwLock::new(None),
            engine: RwLock::new(None),
            handle: tokio::runtime::Handle::try_current().ok(),
            log: Arc::new(|_, _| {}),
        }
    }
}

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
    pub(crate) returns: Mutex<Vec<Option<Value>>>,
    pub(crate) results: Mutex<HashMap<String, Value>>,
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
                    crate::modules::datetime_value(s.run_started_at.naive_utc()),
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

    pub(crate) fn resolver(&self) -> Option<Arc<dyn Resolver>> {
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

    pub(crate) fn log(&self, level: LogLevel, msg: &str) {
        (self.shared.log)(level, msg);
    }

    pub(crate) fn engine(&self) -> Result<Arc<dyn Engine>, Error> {
        self.shared
            .engine
            .read()
            .unwrap()
            .clone()
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "no engine is open (compile-only command)"))
    }

    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output, Error> {
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

    pub(crate) fn var(&self, name: &str, default: Option<Value>) -> Result<Value, Error> {
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

pub(crate) fn to_json(v: &Value) -> Result<serde_json::Value, Error> {
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
            merge_layer(&mut ctx.config.lock().unwrap(), &layer);
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
        let found = cfg.get(&key).or_else(|| cfg.get(&normalize_key(&key)));
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
