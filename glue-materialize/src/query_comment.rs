//! dbt's `query-comment`: a comment put on every statement sent for a node, so that the warehouse's query history
//! says which dbt node (and project, target) sent it.
//!
//! The comment is rendered per node by the caller (glue-project, from `dbt_project.yml`) and travels with the node's
//! [`Plan`](crate::Plan) (`query_comment`). [`QueryComment::apply`] adds it to one SQL statement exactly as dbt's
//! `_QueryComment.add` does: `/* <comment> */\n<sql>`, or with `append: true` `<sql>\n/* <comment> */` (before a final
//! `;`), [`QueryComment::rendered`] to a rendered piece. Statements that are Python code (the Livy runner's requests) carry [`QueryComment::python_line`] instead.

/// A rendered query comment and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueryComment {
    /// The comment's text (trimmed, never empty, never holding `*/`; a `/*` inside is written `/ *`).
    text: String,
    /// After the statement (dbt's `append: true`) rather than before it.
    append: bool,
}

impl QueryComment {
    /// The comment for `rendered` (dbt's rendered `query-comment`): None when it is empty or blank (dbt sends no
    /// comment then). A comment holding `*/` is refused, as dbt refuses it: it would end the SQL comment and the
    /// rest would run as SQL. Spark nests bracketed comments, so a `/*` inside would leave the comment open and
    /// swallow the statement: it is written `/ *`.
    pub fn new(rendered: &str, append: bool) -> Result<Option<Self>, String> {
        let text = rendered.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.contains("*/") {
            return Err(format!("the query comment contains the illegal value \"*/\": {text}"));
        }
        Ok(Some(Self {
            text: text.replace("/*", "/ *"),
            append,
        }))
    }

    /// The comment's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it goes after the statement.
    pub fn append(&self) -> bool {
        self.append
    }

    /// `sql` with the comment, as dbt adds it.
    pub fn apply(&self, sql: &str) -> String {
        if !self.append {
            return format!("/* {} */\n{sql}", self.text);
        }
        let sql = sql.trim_end();
        match sql.strip_suffix(';') {
            Some(body) => format!("{body}\n/* {} */;", self.text),
            None => format!("{sql}\n/* {} */", self.text),
        }
    }

    /// The comment as one line of Python (`# …`), for a statement that is Python code: every control character
    /// (line breaks included) becomes a space, so the line cannot end early and nothing after it is code.
    pub fn python_line(&self) -> String {
        let text: String = self
            .text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("# {text}")
    }
}

/// `sql` with the comment when there is one.
pub fn commented(comment: Option<&QueryComment>, sql: &str) -> String {
    match comment {
        Some(c) => c.apply(sql),
        None => sql.to_string(),
    }
}
