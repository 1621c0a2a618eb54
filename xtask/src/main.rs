//! `cargo xtask`: glue-rs's task runner.
//!
//! - `cargo xtask bench compile [--models N] [--run-models M]`: `glue compile` of a generated N-model project beside
//!   `dbt parse` / `dbt compile`, and `glue run` of M models beside `dbt run` on dbt-duckdb (tools/bench/dbt_compare.py),
//!   in one script; ratios, wall time, user CPU and peak RSS.
//! - `cargo xtask bench local [--rows R]`: the embedded engine beside DuckDB on the same SQL
//!   (tools/bench/local_vs_duckdb.py).
//!
//! Python tools run in pinned venvs under `~/.cache/glue-rs/` (created here when missing); glue is built in release.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Benchmarks against peers, run in the same script.
    Bench {
        #[command(subcommand)]
        which: Bench,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// glue compile / run against dbt parse / compile / run (dbt-core 1.11 + dbt-duckdb).
    Compile {
        /// Models of the compile project.
        #[arg(long, default_value_t = 5000)]
        models: usize,
        /// Models of the run project.
        #[arg(long, default_value_t = 1000)]
        run_models: usize,
    },
    /// The embedded engine against DuckDB.
    Local {
        /// Rows per table.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cache() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/glue-rs")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Runs a command; a failure names it.
fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

/// A venv with a requirements file installed; returns its `bin` directory.
fn venv(name: &str, requirements: &[&str]) -> Result<PathBuf, String> {
    let dir = cache().join(name);
    if !dir.join("bin/python").exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
    }
    let mut pip = Command::new(dir.join("bin/pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check"]);
    for r in requirements {
        pip.arg(r);
    }
    run(&mut pip)?;
    Ok(dir.join("bin"))
}

fn release_glue() -> Result<PathBuf, String> {
    run(Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked", "-p", "glue-cli"])
        .current_dir(root()))?;
    Ok(target_dir().join("release/glue"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Bench {
            which: Bench::Compile { models, run_models },
        } => (|| {
            let req = root().join("tools/dbt/requirements.txt");
            let bin = venv("dbt111", &["-r", &req.display().to_string()])?;
            let glue = release_glue()?;
            run(Command::new(bin.join("python"))
                .arg(root().join("tools/bench/dbt_compare.py"))
                .arg(glue)
                .arg(&bin)
                .arg(models.to_string())
                .arg(run_models.to_string()))
        })(),
        Task::Bench {
            which: Bench::Local { rows },
        } => (|| {
            // The dbt venv pins duckdb (through dbt-duckdb) too.
            let req = root().join("tools/dbt/requirements.txt");
            let bin = venv("dbt111", &["-r", &req.display().to_string()])?;
            run(Command::new(bin.join("python"))
                .arg(root().join("tools/bench/local_vs_duckdb.py"))
                .arg(rows.to_string())
                .env("CARGO_TARGET_DIR", target_dir()))
        })(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
