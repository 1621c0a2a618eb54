//! # glue-jinja: dbt's Jinja on minijinja
//!
//! The macro registry (project, packages and glue's built-in macros), the per-node context (`ref`, `source`,
//! `config`, `this`, `is_incremental()`, `run_query`…), dbt's globals, and rendering with file and line in errors.
//! It knows the warehouse only through [`glue_materialize::Engine`] (for `run_query` and `adapter`) and the project
//! only through a [`Resolver`] (for `ref` and `source`).
//!
//! - [`environment`]: the [`Jinja`] environment of one project and [`RenderError`].
//! - [`macros`]: macro files, the built-in macros, name resolution and `adapter.dispatch`.
//! - [`context`]: the per-node context ([`NodeCtx`]) and what all nodes share ([`Shared`]).
//! - [`calls`]: calling a macro, `return(...)` included.
//! - [`globals`]: dbt's global functions and objects.
//! - [`objects`]: `Relation`, `Column` and agate-like `Table` values.
//! - [`modules`]: `modules.datetime`, `modules.re`, … as dbt exposes them.
//! - [`layering`]: dbt's config merge rules.
//! - [`pycompat`]: Python's `repr`, `json.dumps` and literals, as dbt spells them.

pub mod calls;
pub mod context;
pub mod environment;
pub mod globals;
pub mod layering;
pub mod macros;
pub mod modules;
pub mod objects;
pub mod pycompat;

pub use context::{LogFn, LogLevel, Mode, NodeCtx, Resolver, Shared};
pub use environment::{Jinja, RenderError};
pub use globals::env_var as context_env_var;
pub use layering::{merge_layer, normalize_key};
pub use macros::{BUILTIN_PACKAGE, Dispatch, MacroFile, Macros};
pub use modules::md5_hex;
pub use objects::Relation;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
