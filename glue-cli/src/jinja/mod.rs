//! dbt's Jinja on minijinja: the macro registry (project, packages and glue's built-in macros), the per-node context
//! (`ref`, `source`, `config`, `this`, `is_incremental()`, `run_query`…), and rendering with file and line in errors.

mod context;
mod modules;
pub mod objects;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use minijinja::value::{Object, Value};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use regex::Regex;

pub use context::env_var as context_env_var;
pub use context::{LogFn, LogLevel, Mode, NodeCtx, Resolver, Shared};
pub use modules::md5_hex;
pub use objects::Relation;

use crate::project::Dispatch;

/// The package name of glue's built-in macros (dbt's own macros live in the `dbt` namespace).
pub const BUILTIN_PACKAGE: &str = "dbt";

/// The adapter prefixes `adapter.dispatch` tries, in order (glue inherits spark's macros).
pub const ADAPTER_PREFIXES: &[&str] = &["glue", "spark", "default"];

/// The built-in macros, shipped as Jinja that projects can override by defining a macro of the same name.
pub const BUILTIN_MACROS: &[(&str, &str)] = &[
    ("<builtin>/schema.sql", include_str!("../../macros/schema.sql")),
    ("<builtin>/tests.sql", include_str!("../../macros/tests.sql")),
    ("<builtin>/utils.sql", include_str!("../../macros/utils.sql")),
    (
        "<builtin>/spark_utils.sql",
        include_str!("../../macros/spark_utils.sql"),
    ),
];

/// A macro file to load.
#[derive(Debug, Clone)]
pub struct MacroFile {
    /// Its package.
    pub package: String,
    /// Its template name (the path shown in errors).
    pub name: String,
    /// Its source.
    pub source: String,
}

static TEST_OPEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{%(-?)\s*test\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(").unwrap());
static TEST_CLOSE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{%(-?)\s*endtest\s*(-?)%\}").unwrap());
static MATERIALIZATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{%-?\s*materialization\s+([A-Za-z_][A-Za-z0-9_]*)").unwrap());

/// dbt's `{% test name(...) %}` blocks are macros named `test_<name>`, as dbt defines them.
pub fn preprocess_macros(source: &str) -> String {
    let s = TEST_OPEN.replace_all(source, "{%${1} macro test_${2}(");
    TEST_CLOSE.replace_all(&s, "{%${1} endmacro ${2}%}").into_owned()
}

static BLOCK_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{%-?\s*(macro|endmacro)\b(?:\s+([A-Za-z_][A-Za-z0-9_]*))?").unwrap());
static COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)\{#.*?#\}").unwrap());

/// Splits a macro file into its top-level macros: (name, the macro's text preceded by as many newlines as lines
/// before it, so line numbers stay those of the file). Each macro becomes its own template, so every call between
/// macros goes through the registry (and `return()` applies to the right macro).
pub fn split_macros(source: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    // Comments may mention `macro`; blank them out (keeping offsets) before scanning.
    let mut scan = source.to_string();
    for m in COMMENT.find_iter(source) {
        let blank: String = source[m.range()]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        scan.replace_range(m.range(), &blank);
    }
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut name = String::new();
    for cap in BLOCK_TAG.captures_iter(&scan) {
        let m = cap.get(0).unwrap();
        let line = scan[..m.start()].matches('\n').count() + 1;
        match &cap[1] {
            "macro" => {
                if depth == 0 {
                    start = m.start();
                    name = cap
                        .get(2)
                        .map(|n| n.as_str().to_string())
                        .ok_or((line, "a macro without a name".to_string()))?;
                }
                depth += 1;
            }
            _ => {
                if depth == 0 {
                    return Err((line, "`endmacro` without `macro`".into()));
                }
                depth -= 1;
                if depth == 0 {
                    let end = scan[m.end()..]
                        .find("%}")
                        .map(|i| m.end() + i + 2)
                        .unwrap_or(scan.len());
                    let lines_before = source[..start].matches('\n').count();
                    out.push((
                        name.clone(),
                        format!("{}{}", "\n".repeat(lines_before), &source[start..end]),
                    ));
                }
            }
        }
    }
    if depth != 0 {
        return Err((
            source.lines().count(),
            format!("macro `{name}` is not closed with endmacro"),
        ));
    }
    Ok(out)
}

static ANY_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)\{%-?\s*(macro|test)\s+[A-Za-z_][A-Za-z0-9_]*.*?\{%-?\s*end(macro|test)\s*-?%\}").unwrap()
});

/// The top-level `{% macro %}` / `{% test %}` blocks of a file as written (for the manifest's `macro_sql`).
pub fn split_blocks(source: &str) -> Vec<String> {
    ANY_BLOCK.find_iter(source).map(|m| m.as_str().to_string()).collect()
}

/// The file part of a template name (`macros/x.sql#my_macro` → `macros/x.sql`).
pub fn template_file(name: &str) -> &str {
    name.split_once('#').map(|(f, _)| f).unwrap_or(name)
}

/// Where each macro is defined.
#[derive(Debug, Default)]
pub struct Macros {
    /// macro name → (package, template) in load order.
    by_name: HashMap<String, Vec<(String, String)>>,
    /// The root project.
    root: String,
    /// `dispatch:` of the root project.
    dispatch: Vec<Dispatch>,
}

impl Macros {
    /// The macro `name` as seen from `package`: the package's own, then the root project's, then any other package's,
    /// then the built-in one.
    pub fn resolve(&self, from_package: &str, name: &str) -> Option<(&str, &str)> {
        let defs = self.by_name.get(name)?;
        let find = |p: &str| {
            defs.iter()
                .find(|(pk, _)| pk == p)
                .map(|(p, t)| (p.as_str(), t.as_str()))
        };
        find(from_package)
            .or_else(|| find(&self.root))
            .or_else(|| {
                defs.iter()
                    .find(|(p, _)| p != BUILTIN_PACKAGE)
                    .map(|(p, t)| (p.as_str(), t.as_str()))
            })
            .or_else(|| find(BUILTIN_PACKAGE))
    }

    /// The macro `name` defined in exactly `package`.
    pub fn in_package(&self, package: &str, name: &str) -> Option<&str> {
        self.by_name
            .get(name)?
            .iter()
            .find(|(p, _)| p == package)
            .map(|(_, t)| t.as_str())
    }

    /// Whether a macro `name` exists anywhere.
    pub fn exists(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// `adapter.dispatch(name, namespace)` as dbt resolves it: with a namespace, each package of its search order
    /// (the root project's `dispatch:` entry, else the root project then the namespace), then glue's built-in macros,
    /// is searched for `glue__`, `spark__` then `default__<name>` (so a project's `default__x` overrides the built-in
    /// `spark__x`); without one, each prefix in turn is resolved as a plain macro name from the calling package.
    pub fn dispatch(&self, from_package: &str, name: &str, namespace: Option<&str>) -> Option<(String, String)> {
        let Some(ns) = namespace else {
            return ADAPTER_PREFIXES.iter().find_map(|prefix| {
                let full = format!("{prefix}__{name}");
                self.resolve(from_package, &full).map(|(p, _)| (p.to_string(), full))
            });
        };
        let order: Vec<String> = self
            .dispatch
            .iter()
            .find(|d| d.namespace == ns)
            .map(|d| d.search_order.clone())
            .unwrap_or_else(|| vec![self.root.clone(), ns.to_string()]);
        for p in order.iter().map(String::as_str).chain([BUILTIN_PACKAGE]) {
            for prefix in ADAPTER_PREFIXES {
                let full = format!("{prefix}__{name}");
                if self.in_package(p, &full).is_some() {
                    return Some((p.to_string(), full));
                }
            }
        }
        None
    }
}

/// A macro looked up by name (and package when bound); calling it renders the macro in its own file's template with
/// the caller's node context.
#[derive(Debug, Clone)]
pub struct MacroRef {
    /// Macro name.
    pub name: String,
    /// The package it is bound to (`pkg.macro()`, dispatch); `None` resolves from the caller's package.
    pub package: Option<String>,
}

impl Object for MacroRef {
    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let ctx = NodeCtx::of(state)?;
        let macros = &ctx.shared.macros;
        let template = match &self.package {
            Some(p) => macros.in_package(p, &self.name).map(str::to_string),
            None => macros.resolve(&ctx.package, &self.name).map(|(_, t)| t.to_string()),
        }
        .ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownFunction,
                format!(
                    "macro `{}` is not defined{}",
                    self.name,
                    self.package
                        .as_deref()
                        .map(|p| format!(" in package `{p}`"))
                        .unwrap_or_default()
                ),
            )
        })?;
        invoke(state, &ctx, &template, &self.name, args)
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "name").then(|| Value::from(self.name.clone()))
    }
}

/// A package namespace (`dbt.macro()`, `my_package.macro()`).
#[derive(Debug)]
struct Namespace(String);

impl Object for Namespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from_object(MacroRef {
            name: key.as_str()?.to_string(),
            package: Some(self.0.clone()),
        }))
    }
}

/// Calls macro `name` of `template` with the node context of `ctx`; `return(...)` inside it becomes the result.
#[allow(deprecated)]
pub(crate) fn invoke(
    state: &State<'_, '_>,
    ctx: &Arc<NodeCtx>,
    template: &str,
    name: &str,
    args: &[Value],
) -> Result<Value, Error> {
    let tmpl = state.env().get_template(template)?;
    let mstate = tmpl.eval_to_state(ctx.context())?;
    let m = mstate.lookup(name).ok_or_else(|| {
        Error::new(
            ErrorKind::UnknownFunction,
            format!("macro `{name}` not found in {template}"),
        )
    })?;
    ctx.push_return();
    let out = m.call(&mstate, args);
    // A value in the slot means the macro called return(), which ends it with an error of its own.
    match ctx.pop_return() {
        Some(ret) => Ok(ret),
        None => out,
    }
}

/// The Jinja environment of one project: templates of every macro file and the dbt globals.
pub struct Jinja {
    env: Environment<'static>,
    macros: Arc<Macros>,
}

impl std::fmt::Debug for Jinja {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jinja")
            .field("macros", &self.macros.by_name.len())
            .finish()
    }
}

/// A failed parse or render: the template and line, and the message.
#[derive(Debug, Clone)]
pub struct RenderError {
    /// The template (file) where it failed.
    pub file: Option<String>,
    /// The line.
    pub line: Option<usize>,
    /// The message.
    pub message: String,
}

impl RenderError {
    /// From a minijinja error, with its cause chain.
    pub fn from_minijinja(e: &Error) -> Self {
        let mut message = match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        };
        if e.kind() == ErrorKind::InvalidOperation
            && let Some(d) = e.detail()
        {
            message = d.to_string();
        }
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            if let Some(inner) = s.downcast_ref::<Error>() {
                message.push_str(&format!(
                    "\n  in {}:{}",
                    template_file(inner.name().unwrap_or("?")),
                    inner.line().unwrap_or(0)
                ));
            } else {
                message.push_str(&format!("\n  caused by: {s}"));
            }
            src = s.source();
        }
        Self {
            file: e.name().map(|n| template_file(n).to_string()),
            line: e.line(),
            message,
        }
    }
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(l)) => write!(f, "{file}:{l}: {}", self.message),
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl Jinja {
    /// Builds the environment from macro files (the built-in ones are added first, so project and package macros of
    /// the same name win).
    pub fn new(root: &str, files: Vec<MacroFile>, dispatch: Vec<Dispatch>) -> Result<Self, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        // SQL is never escaped, whatever the template's name (minijinja would JSON-escape `.yml` names: YAML-defined
        // snapshots and tests are rendered under their YAML file's name).
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // Python's str / dict / list methods (`.items()`, `.upper()`, `.split()` …) as dbt's Jinja has them.
        env.set_unknown_method_callback(|state, value, method, args| {
            match minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args) {
                Err(e)
                    if e.kind() == ErrorKind::UnknownMethod
                        && matches!(method, "append" | "extend" | "update" | "pop" | "insert" | "remove" | "clear") =>
                {
                    Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "`.{method}()` changes a list or mapping in place, which glue's Jinja (minijinja) does \
                             not do; build a new value instead: `{{% set items = items + [x] %}}`, or \
                             `{{% set ns = namespace(items=[]) %}}` … `{{% set ns.items = ns.items + [x] %}}` inside loops"
                        ),
                    ))
                }
                other => other,
            }
        });
        env.set_keep_trailing_newline(true);
        let mut macros = Macros {
            root: root.to_string(),
            dispatch,
            ..Default::default()
        };
        let builtin = BUILTIN_MACROS.iter().map(|(name, src)| MacroFile {
            package: BUILTIN_PACKAGE.into(),
            name: name.to_string(),
            source: src.to_string(),
        });
        let mut packages: Vec<String> = vec![BUILTIN_PACKAGE.to_string()];
        for f in builtin.chain(files) {
            if let Some(m) = MATERIALIZATION.captures(&f.source) {
                return Err(RenderError {
                    file: Some(f.name.clone()),
                    line: Some(f.source[..m.get(0).unwrap().start()].lines().count().max(1)),
                    message: format!(
                        "custom materialization `{}`: glue plans materializations itself and does not run \
                         `{{% materialization %}}` blocks",
                        &m[1]
                    ),
                });
            }
            let source = preprocess_macros(&f.source);
            let parts = split_macros(&source).map_err(|(line, message)| RenderError {
                file: Some(f.name.clone()),
                line: Some(line),
                message,
            })?;
            for (name, text) in parts {
                let template = format!("{}#{name}", f.name);
                macros
                    .by_name
                    .entry(name)
                    .or_default()
                    .push((f.package.clone(), template.clone()));
                env.add_template_owned(template, text)
                    .map_err(|e| RenderError::from_minijinja(&e))?;
            }
            if !packages.contains(&f.package) {
                packages.push(f.package.clone());
            }
        }
        for name in macros.by_name.keys() {
            env.add_global(
                name.clone(),
                Value::from_object(MacroRef {
                    name: name.clone(),
                    package: None,
                }),
            );
        }
        for p in packages {
            env.add_global(p.clone(), Value::from_object(Namespace(p)));
        }
        context::register_globals(&mut env);
        Ok(Self {
            env,
            macros: Arc::new(macros),
        })
    }

    /// The macro registry.
    pub fn macros(&self) -> &Arc<Macros> {
        &self.macros
    }

    /// Renders `source` (a node's raw code) under `name` (its file) with a node context.
    pub fn render(&self, name: &str, source: &str, ctx: &Arc<NodeCtx>) -> Result<String, RenderError> {
        self.env
            .render_named_str(name, source, ctx.context())
            .map_err(|e| RenderError::from_minijinja(&e))
    }

    /// Calls a macro by name (resolved from the node's package) with keyword arguments, as generic tests and
    /// `generate_schema_name` are called.
    #[allow(deprecated)]
    pub fn call_macro(
        &self,
        name: &str,
        args: Vec<Value>,
        kwargs: BTreeMap<String, Value>,
        ctx: &Arc<NodeCtx>,
    ) -> Result<Value, RenderError> {
        let (_, template) = self.macros.resolve(&ctx.package, name).ok_or_else(|| RenderError {
            file: None,
            line: None,
            message: format!("macro `{name}` is not defined"),
        })?;
        let tmpl = self
            .env
            .get_template(template)
            .map_err(|e| RenderError::from_minijinja(&e))?;
        let state = tmpl
            .eval_to_state(ctx.context())
            .map_err(|e| RenderError::from_minijinja(&e))?;
        let mut all = args;
        if !kwargs.is_empty() {
            all.push(Value::from(minijinja::value::Kwargs::from_iter(kwargs)));
        }
        invoke(&state, ctx, template, name, &all).map_err(|e| RenderError::from_minijinja(&e))
    }

    /// Renders a small expression or string (profile values, YAML fields) with the node context.
    pub fn render_str(&self, source: &str, ctx: &Arc<NodeCtx>) -> Result<String, RenderError> {
        self.render("<string>", source, ctx)
    }

    /// Evaluates an expression (`ref('x')` in a test argument) to a value.
    pub fn eval(&self, expr: &str, ctx: &Arc<NodeCtx>) -> Result<Value, RenderError> {
        let e = self
            .env
            .compile_expression(expr)
            .map_err(|e| RenderError::from_minijinja(&e))?;
        e.eval(ctx.context()).map_err(|e| RenderError::from_minijinja(&e))
    }
}
