//! The loaded project: every node, the macros, the Jinja environment and what its nodes share; and the options of a load.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::node::Node;
use crate::project::Project;
use glue_jinja::{Jinja, MacroFile, Shared};

/// The loaded project: every node by unique id, plus what rendering needs.
pub struct Manifest {
    /// The root project.
    pub project: Project,
    /// Installed packages.
    pub packages: Vec<Project>,
    /// Nodes (models, seeds, snapshots, tests, sources, unit tests) by unique id.
    pub nodes: BTreeMap<String, Node>,
    /// Disabled nodes by unique id.
    pub disabled: BTreeMap<String, Node>,
    /// The Jinja environment.
    pub jinja: Arc<Jinja>,
    /// Shared render state.
    pub shared: Arc<Shared>,
    /// Warnings collected while loading.
    pub warnings: Vec<String>,
    /// Macro files (for the manifest).
    pub macro_files: Vec<MacroFile>,
}

impl std::fmt::Debug for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manifest").field("nodes", &self.nodes.len()).finish()
    }
}

/// Where `log()`, `print()` and Jinja warnings go.
pub type LogSink = glue_jinja::LogFn;

/// Options of the load.
#[derive(Clone)]
pub struct LoadOptions {
    /// Where Jinja's `log` / `print` / warnings go.
    pub log: LogSink,
    /// `--vars` (already parsed).
    pub cli_vars: Map<String, Value>,
    /// The target (as Jinja sees it; no secrets).
    pub target: Value,
    /// invocation id.
    pub invocation_id: String,
    /// `flags` for Jinja.
    pub flags: Value,
}
