//! The Jinja environment of one project: every macro file as templates, the dbt globals, and rendering with file and
//! line in errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};

use crate::calls::invoke;
use crate::calls::{MacroRef, Namespace};
use crate::context::NodeCtx;
use crate::macros::{
    BUILTIN_MACROS, BUILTIN_PACKAGE, Dispatch, MATERIALIZATION, MacroFile, Macros, preprocess_macros, split_macros,
    template_file,
};

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
        crate::globals::register_globals(&mut env);
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
