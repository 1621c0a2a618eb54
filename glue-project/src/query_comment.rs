//! dbt's `query-comment` (dbt_project.yml of the root project): the comment put on every statement sent for a node.
//!
//! As dbt (`dbt.config.project._query_comment_from_cfg`, `dbt.adapters.base.query_headers`): the key absent is dbt's
//! default comment (a JSON object naming the app, dbt version, profile, target and node); `null` or `''` is no
//! comment; a string is the comment; a mapping sets `comment` (dbt's default when absent), `append` (after the
//! statement rather than before it) and `job-label` (BigQuery's job labels: no effect on Spark, a warning). The
//! comment is a Jinja template, the body of a macro `(connection_name, node)` that sees the project's macros, `target`,
//! `var`, `env_var`, `dbt_version`, …, rendered once per node just before the node runs; `return(...)` gives its
//! value. The rendered text is trimmed; one holding `*/` fails the node, as it fails dbt.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{ProjectError, Result};
use crate::load::{Manifest, node_context, node_value};
use crate::node::Node;
use crate::yaml;
use glue_jinja::{MacroFile, Mode};
use glue_materialize::QueryComment;

/// dbt's default comment (dbt-core's `DEFAULT_QUERY_COMMENT`), written without `.update()` (glue's Jinja builds
/// new mappings rather than changing them in place); it renders the same JSON.
pub const DEFAULT_COMMENT: &str = "\
{%- if node is not none and node.unique_id -%}
{{ return(tojson({'app': 'dbt', 'dbt_version': dbt_version, 'profile_name': target.get('profile_name'), \
'target_name': target.get('target_name'), 'node_id': node.unique_id})) }}
{%- else -%}
{{ return(tojson({'app': 'dbt', 'dbt_version': dbt_version, 'profile_name': target.get('profile_name'), \
'target_name': target.get('target_name'), 'connection_name': connection_name})) }}
{%- endif -%}";

/// The macro the comment template becomes (a name no project can define: it starts with `__glue`).
pub const MACRO: &str = "__glue_query_comment";

/// The file the comment's macro is reported in.
const FILE: &str = "dbt_project.yml (query-comment)";

/// The `query-comment` setting of the root project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryCommentConfig {
    /// The comment's Jinja template; None sends no comment.
    pub comment: Option<String>,
    /// After the statement rather than before it.
    pub append: bool,
    /// `job-label` (BigQuery's; glue warns that it has no effect).
    pub job_label: bool,
}

impl Default for QueryCommentConfig {
    fn default() -> Self {
        Self {
            comment: Some(DEFAULT_COMMENT.to_string()),
            append: false,
            job_label: false,
        }
    }
}

impl QueryCommentConfig {
    /// The setting as `dbt_project.yml` (`file`, whose text is `text`) gives it: `present` is false when the key is
    /// absent. Malformed values are errors naming the file and the field.
    pub(crate) fn parse(file: &Path, text: &str, present: bool, v: Option<&Value>) -> Result<Self> {
        let line = || yaml::line_of(text, "query-comment", 0);
        let err = |field: &str, message: String| ProjectError::project(file, line(), format!("{field}: {message}"));
        let template = |s: &str| (!s.is_empty()).then(|| s.to_string());
        match v {
            _ if !present => Ok(Self::default()),
            None | Some(Value::Null) => Ok(Self::none()),
            Some(Value::String(s)) => Ok(Self {
                comment: template(s),
                ..Self::default()
            }),
            Some(Value::Object(m)) => {
                let mut out = Self::default();
                for (k, v) in m {
                    match k.as_str() {
                        "comment" => {
                            out.comment = match v {
                                Value::Null => None,
                                Value::String(s) => template(s),
                                other => {
                                    return Err(err(
                                        "query-comment.comment",
                                        format!("expected a string (a Jinja template), got `{other}`"),
                                    ));
                                }
                            }
                        }
                        "append" | "job-label" | "job_label" => {
                            let b = flag(v).ok_or_else(|| {
                                err(
                                    &format!("query-comment.{k}"),
                                    format!("expected true or false, got `{v}`"),
                                )
                            })?;
                            if k == "append" {
                                out.append = b;
                            } else {
                                out.job_label = b;
                            }
                        }
                        other => {
                            return Err(err(
                                &format!("query-comment.{other}"),
                                "unknown key (expected `comment`, `append` or `job-label`)".into(),
                            ));
                        }
                    }
                }
                Ok(out)
            }
            Some(other) => Err(err(
                "query-comment",
                format!("expected a string, null or a mapping (`comment`, `append`, `job-label`), got `{other}`"),
            )),
        }
    }

    /// No comment.
    pub fn none() -> Self {
        Self {
            comment: None,
            append: false,
            job_label: false,
        }
    }

    /// The warnings the setting gives (`job-label`, which only BigQuery reads), once per load.
    pub(crate) fn warnings(&self, file: &Path) -> Vec<String> {
        if !self.job_label {
            return Vec::new();
        }
        vec![format!(
            "{}: `query-comment.job-label` has no effect in glue-rs: it labels BigQuery jobs with the comment's \
             values, and Glue and Spark have no job labels (the comment itself is sent)",
            file.display()
        )]
    }

    /// The comment's template as a macro file of the root project (none without a comment).
    pub(crate) fn macro_file(&self, package: &str) -> Option<MacroFile> {
        let body = self.comment.as_deref()?;
        Some(MacroFile {
            package: package.to_string(),
            name: FILE.to_string(),
            source: format!("{{%- macro {MACRO}(connection_name, node) -%}}\n{body}\n{{% endmacro %}}"),
        })
    }
}

fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Null => Some(false),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The query comment of `node` (rendered as dbt's query header context does: macros, `target`, `var`,
/// `dbt_version`…, no queries: `run_query` answers nothing), or None when the project sends none.
/// A template that fails to render, or renders a comment holding `*/`, is an error naming dbt_project.yml, the
/// setting and the node.
pub fn render(manifest: &Manifest, node: &Node, dbt_version: &str) -> Result<Option<QueryComment>> {
    let cfg = &manifest.project.query_comment;
    if cfg.comment.is_none() {
        return Ok(None);
    }
    let file = manifest.project.root.join("dbt_project.yml");
    let err = |message: String| {
        ProjectError::project(
            &file,
            None,
            format!(
                "query-comment of {} `{}` ({}): {message}",
                node.resource_type.as_str(),
                node.name,
                node.file.display()
            ),
        )
    };
    let mut extra = Map::new();
    extra.insert("dbt_version".into(), Value::String(dbt_version.to_string()));
    let ctx = node_context(&manifest.shared, Mode::Parse, node, false).with_extra(extra);
    // The macro is the root project's: resolved from there whatever the node's package.
    let ctx = if node.package == manifest.project.name {
        ctx
    } else {
        glue_jinja::NodeCtx::new(
            ctx.shared.clone(),
            Mode::Parse,
            manifest.project.name.clone(),
            node_value(node),
            ctx.this.clone(),
            node.config.clone(),
            false,
        )
        .with_extra(ctx.extra.clone())
    };
    let args = vec![
        minijinja::Value::from(node.unique_id.clone()),
        minijinja::Value::from_serialize(node_value(node)),
    ];
    let v = manifest
        .jinja
        .call_macro(MACRO, args, Default::default(), &ctx)
        .map_err(|e| err(e.message))?;
    let text = match v.as_str() {
        Some(s) => s.to_string(),
        None if v.is_none() || v.is_undefined() => String::new(),
        None => v.to_string(),
    };
    QueryComment::new(&text, cfg.append).map_err(err)
}
