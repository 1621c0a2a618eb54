//! dbt's globals: `ref`, `source`, `var`, `env_var`, `log`, `run_query`, `statement` blocks, `tojson` and friends,
//! `exceptions`, `adapter` and `api`, each reading the calling node's context.

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::calls::MacroRef;
use crate::context::{LogLevel, Mode, NodeCtx, to_json};
use crate::objects::{Column, Relation, Table};
use crate::pycompat::to_py_json;

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
    crate::modules::md5_hex(s.as_bytes())
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
                    Some((package, full)) => Ok(Value::from_object(MacroRef {
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
    env.add_global("modules", crate::modules::modules());
}
