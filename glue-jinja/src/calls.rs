//! Calling a macro: a macro looked up by name (or bound to a package) renders in its own file's template with the
//! caller's node context, and `return(...)` inside it becomes the call's value.

use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

use crate::context::NodeCtx;

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
pub(crate) struct Namespace(pub(crate) String);

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
