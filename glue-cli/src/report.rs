//! Terminal output like dbt's: `N of M START …` / `OK created … [OK in 0.42s]` lines, a progress bar on a TTY,
//! the summary, and `--log-format json`.
//!
//! A command's data (the rows of `show`, the nodes of `ls`, a plan, a policy) is written by [`Reporter::raw`], always
//! to stdout; every other line (run lines, warnings, errors, Jinja `log` / `print`, the Glue traffic line) goes where
//! the reporter's [`Stdout`] says: to stdout beside the data as dbt prints it, or to stderr when the command's output
//! is machine-readable, so that stdout holds nothing but the data.
//!
//! Nothing leaves unmasked: lines, messages and JSON events go through [`glue_project::redact::redact`], data through
//! [`glue_project::redact::scrub`].

use glue_project::node::{Node, ResourceType};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// dbt's text lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What a command's stdout carries besides its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stdout {
    /// The run's lines as well as the data (dbt's text output: a `show` table, then the run's last lines).
    #[default]
    Shared,
    /// Only the data (machine-readable output such as `show --output csv`): every other line, errors included, goes
    /// to stderr.
    DataOnly,
}

/// Writes the run's lines.
pub struct Reporter {
    format: LogFormat,
    bar: Mutex<Option<ProgressBar>>,
    quiet: bool,
    stdout: Stdout,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("format", &self.format)
            .field("stdout", &self.stdout)
            .finish()
    }
}

fn now() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

/// Pads `left` with dots so `right` lands at dbt's column.
pub fn dotted(left: &str, right: &str) -> String {
    let width: usize = 80;
    let n = width
        .saturating_sub(left.chars().count() + right.chars().count() + 2)
        .max(1);
    format!("{left} {} {right}", ".".repeat(n))
}

impl Reporter {
    /// A reporter whose lines share stdout with the data ([`Stdout::Shared`]).
    pub fn new(format: LogFormat, quiet: bool) -> Self {
        Self {
            format,
            bar: Mutex::new(None),
            quiet,
            stdout: Stdout::Shared,
        }
    }

    /// The same reporter with its lines sent as `stdout` says ([`Stdout::DataOnly`]: to stderr).
    pub fn with_stdout(mut self, stdout: Stdout) -> Self {
        self.stdout = stdout;
        self
    }

    /// Starts the progress bar for `total` nodes (TTY and text format only).
    pub fn start_progress(&self, total: u64) {
        if self.format == LogFormat::Text && std::io::stderr().is_terminal() && total > 1 && !self.quiet {
            let pb = ProgressBar::new(total);
            pb.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            *self.bar.lock().unwrap() = Some(pb);
        }
    }

    /// Advances the progress bar.
    pub fn tick(&self, msg: &str) {
        if let Some(pb) = &*self.bar.lock().unwrap() {
            pb.inc(1);
            pb.set_message(msg.to_string());
        }
    }

    /// Ends the progress bar.
    pub fn finish_progress(&self) {
        if let Some(pb) = self.bar.lock().unwrap().take() {
            pb.finish_and_clear();
        }
    }

    /// An info line (`level` info) with an event name for JSON.
    pub fn line(&self, event: &str, text: &str) {
        self.emit("info", event, text, serde_json::Value::Null);
    }

    /// A line with structured data for JSON output.
    pub fn event(&self, level: &str, event: &str, text: &str, data: serde_json::Value) {
        self.emit(level, event, text, data);
    }

    /// A warning.
    pub fn warn(&self, text: &str) {
        self.emit(
            "warn",
            "Warning",
            &format!("[WARNING]: {text}"),
            serde_json::Value::Null,
        );
    }

    /// An error line.
    pub fn error(&self, text: &str) {
        self.emit("error", "Error", text, serde_json::Value::Null);
    }

    /// A debug line (JSON only).
    pub fn debug(&self, text: &str) {
        if self.format == LogFormat::Json {
            self.emit("debug", "Debug", text, serde_json::Value::Null);
        }
    }

    fn emit(&self, level: &str, event: &str, text: &str, mut data: serde_json::Value) {
        if self.quiet && level != "error" {
            return;
        }
        // Every line, message and event datum is masked: known secrets and credential shapes.
        let text = glue_project::redact::redact(text);
        glue_project::redact::redact_json(&mut data);
        let out = match self.format {
            LogFormat::Text => text
                .lines()
                .map(|l| format!("{}  {l}", now()))
                .collect::<Vec<_>>()
                .join("\n"),
            LogFormat::Json => serde_json::json!({
                "info": {"name": event, "level": level, "msg": text, "ts": chrono::Utc::now().to_rfc3339()},
                "data": data,
            })
            .to_string(),
        };
        match (&*self.bar.lock().unwrap(), self.stdout) {
            // The bar draws on stderr; its lines are printed above it.
            (Some(pb), _) => pb.println(out),
            (None, Stdout::Shared) => {
                let mut o = std::io::stdout().lock();
                let _ = writeln!(o, "{out}");
            }
            (None, Stdout::DataOnly) => {
                let mut o = std::io::stderr().lock();
                let _ = writeln!(o, "{out}");
            }
        }
    }

    /// Prints the command's data (tables or rows of `show`, `ls` lines, a plan, compiled SQL, a policy) to stdout,
    /// without timestamps, whatever [`Stdout`] says.
    pub fn raw(&self, text: &str) {
        // Data is written as it is, but for the known secret values (dbt's `*****`).
        let text = glue_project::redact::scrub(text);
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{text}");
    }
}

/// dbt's description of a node in run lines: `sql view model schema.name`.
pub fn describe(node: &Node) -> String {
    match node.resource_type {
        ResourceType::Model => format!("sql {} model {}", node.materialized(), node.relation_display()),
        ResourceType::Seed => format!("seed file {}", node.relation_display()),
        ResourceType::Snapshot => format!("snapshot {}", node.relation_display()),
        ResourceType::Test => format!("test {}", node.name),
        ResourceType::UnitTest => format!("unit_test {}", node.name),
        ResourceType::Source => format!("source {}", node.name),
    }
}
