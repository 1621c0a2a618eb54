//! The macro registry: glue's built-in macros, macro files split into templates, and how a name resolves (the
//! calling package, the root project, other packages, the built-ins; `adapter.dispatch` with `dispatch:` search
//! orders).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// One `dispatch:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// `macro_namespace`.
    pub namespace: String,
    /// `search_order`.
    pub search_order: Vec<String>,
}

/// The package name of glue's built-in macros (dbt's own macros live in the `dbt` namespace).
pub const BUILTIN_PACKAGE: &str = "dbt";

/// The adapter prefixes `adapter.dispatch` tries, in order (glue inherits spark's macros).
pub const ADAPTER_PREFIXES: &[&str] = &["glue", "spark", "default"];

/// The built-in macros, shipped as Jinja that projects can override by defining a macro of the same name.
pub const BUILTIN_MACROS: &[(&str, &str)] = &[
    ("<builtin>/schema.sql", include_str!("../macros/schema.sql")),
    ("<builtin>/tests.sql", include_str!("../macros/tests.sql")),
    ("<builtin>/utils.sql", include_str!("../macros/utils.sql")),
    ("<builtin>/spark_utils.sql", include_str!("../macros/spark_utils.sql")),
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
pub(crate) static MATERIALIZATION: LazyLock<Regex> =
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
    pub(crate) by_name: HashMap<String, Vec<(String, String)>>,
    /// The root project.
    pub(crate) root: String,
    /// `dispatch:` of the root project.
    pub(crate) dispatch: Vec<Dispatch>,
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
