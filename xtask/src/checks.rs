//! The checks `cargo xtask ci` runs before the test world starts: the Rust tests, then the
//! checks against Spark itself (Spark 3.5 as Glue 5 runs it, with Iceberg's SQL extensions, ANSI mode off): every
//! golden statement must parse with Spark's parser, the quoting corpus must round-trip through Spark unchanged, every
//! query of the semantics corpus and every example of Spark's own function catalogue must give the embedded engine's
//! answer or its clear "unsupported" error. Then dbt's own adapter test scenarios (fixtures read from the pip package
//! dbt-tests-adapter) run through the `glue` binary, the installs users make are checked, and `glue compile` is
//! compared with `dbt compile`. Needs Java 17 and Python 3 with venv; the Python tool sets come from `venv.rs`.
//!
//! Each stage's wall time is printed when the next one starts (`-- <stage>: N s`). After the workspace test build,
//! a cargo call that compiles a crate from outside the workspace fails the run ([`crate::run_cargo`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{WORKSPACE_BUILT, cache, cargo, root, run, run_cargo, stage, target_dir, venv};

/// The Spark oracle scripts (xtask/oracle).
fn oracle(script: &str) -> PathBuf {
    root().join("xtask/oracle").join(script)
}

/// The dbt suites (xtask/dbt).
fn dbt(script: &str) -> PathBuf {
    root().join("xtask/dbt").join(script)
}

/// `cargo run --locked -p glue-local --example run_queries -- <queries> <answers>`: the embedded engine's answers.
fn run_queries(queries: &Path, answers: &Path) -> Result<(), String> {
    run_cargo(
        cargo(&[
            "run",
            "--quiet",
            "--locked",
            "-p",
            "glue-local",
            "--example",
            "run_queries",
            "--",
        ])
        .arg(queries)
        .arg(answers),
    )
}

/// A corpus of one oracle script: `gen` on Spark, the engine's answers, `compare` (in UTC).
fn corpus(python: &Path, work: &Path, script: &str, name: &str) -> Result<(), String> {
    let queries = work.join(format!("{name}.jsonl"));
    let answers = work.join(format!("{name}-engine.jsonl"));
    run(Command::new(python).arg(oracle(script)).arg("gen").arg(&queries))?;
    run_queries(&queries, &answers)?;
    run(Command::new(python)
        .arg(oracle(script))
        .arg("compare")
        .arg(&queries)
        .arg(&answers)
        .env("TZ", "UTC"))
}

/// A temporary directory, removed when dropped.
struct Work(PathBuf);

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run_all() -> Result<(), String> {
    let glue = target_dir().join("debug/glue");

    stage(Some("cargo test (workspace)"));
    run_cargo(&mut cargo(&["test", "--workspace", "--locked"]))?;
    // From here on every dependency exists with the workspace's one feature set.
    WORKSPACE_BUILT.store(true, std::sync::atomic::Ordering::SeqCst);

    stage(Some(&format!("Spark oracle: {}", cache().join("spark35").display())));
    if Command::new("java").arg("-version").output().is_err() {
        return Err("java not found: the Spark checks need Java 17".into());
    }
    let spark35 = venv::ensure("spark35")?;
    let python = spark35.join("python");
    let work = Work(std::env::temp_dir().join(format!("glue-rs-checks-{}", std::process::id())));
    std::fs::create_dir_all(&work.0).map_err(|e| format!("{}: {e}", work.0.display()))?;
    let w = work.0.as_path();
    let corpus_file = File::create(w.join("corpus.jsonl")).map_err(|e| e.to_string())?;
    run_cargo(cargo(&["run", "--locked", "-p", "glue-sql", "--example", "quoting_corpus"]).stdout(corpus_file))?;

    stage(Some("Spark parser on every golden statement"));
    run(Command::new(&python)
        .arg(oracle("parse_golden.py"))
        .arg("glue-materialize/tests/golden")
        .current_dir(root()))?;
    stage(Some("quoting round trip through Spark"));
    run(Command::new(&python)
        .arg(oracle("quoting_roundtrip.py"))
        .arg(w.join("corpus.jsonl")))?;
    stage(Some("Spark semantics corpus: the embedded engine against Spark"));
    run(Command::new(&python)
        .arg(oracle("semantics.py"))
        .arg("gen")
        .arg(w.join("queries.jsonl")))?;
    run_queries(&w.join("queries.jsonl"), &w.join("engine.jsonl"))?;
    run(Command::new(&python)
        .arg(oracle("semantics.py"))
        .arg("compare")
        .arg(w.join("queries.jsonl"))
        .arg(w.join("engine.jsonl"))
        .env("TZ", "UTC"))?;
    stage(Some(
        "Spark's Iceberg reads the Iceberg tables the embedded engine wrote (rows, partition spec, partition values)",
    ));
    let warehouse = w.join("iceberg-warehouse");
    std::fs::create_dir_all(&warehouse).map_err(|e| e.to_string())?;
    run_cargo(
        cargo(&[
            "run",
            "--locked",
            "-p",
            "glue-local",
            "--example",
            "iceberg_tables",
            "--",
        ])
        .arg(&warehouse)
        .arg(w.join("iceberg.jsonl")),
    )?;
    run(Command::new(&python)
        .arg(oracle("iceberg_read.py"))
        .arg(w.join("iceberg.jsonl"))
        .env("TZ", "UTC"))?;
    stage(Some(
        "Spark's function catalogue: every example, on Spark and on the embedded engine",
    ));
    run_cargo(&mut cargo(&[
        "build",
        "--locked",
        "-p",
        "glue-local",
        "--example",
        "run_queries",
    ]))?;
    run(Command::new(oracle("catalogue.sh")).env("GLUE_RS_SPARK_VENV", cache().join("spark35")))?;
    stage(Some(
        "Java datetime patterns: the generated corpus on Spark and on the embedded engine",
    ));
    corpus(&python, w, "datetime_corpus.py", "datetime")?;
    stage(Some(
        "decimal and mixed-type typing: the generated corpus on Spark and on the embedded engine",
    ));
    corpus(&python, w, "typing_corpus.py", "typing")?;
    stage(Some(
        "Spark SQL constructs: the corpus on Spark and on the embedded engine",
    ));
    corpus(&python, w, "constructs.py", "constructs")?;

    stage(Some(
        "dbt's adapter test scenarios (pip dbt-tests-adapter) through glue on the embedded engine",
    ));
    let dbt111 = venv::ensure("dbt111")?;
    run_cargo(&mut cargo(&["build", "--locked", "-p", "glue-cli"]))?;
    run(Command::new(dbt111.join("python"))
        .arg(dbt("adapter_suites.py"))
        .arg(&glue))?;
    stage(Some(
        "dbt's cross-database macro suites (dbt-tests-adapter utils) through glue on the embedded engine",
    ));
    run(Command::new(dbt111.join("python"))
        .arg(dbt("utils_suites.py"))
        .arg(&glue))?;
    stage(Some(
        "dbt reads glue's manifest.json (dbt ls --select state:... --state)",
    ));
    run(Command::new(dbt111.join("python"))
        .arg(dbt("state_check.py"))
        .arg(&glue)
        .arg(&dbt111))?;

    stage(Some(
        "installs users make: the pip wheel (maturin) and cargo install, from the debug build, each running the example",
    ));
    venv::ensure("maturin")?;
    run(Command::new(root().join("xtask/scripts/wheel_check.sh")).env("GLUE_RS_MATURIN_VENV", cache().join("maturin")))?;

    stage(Some(
        "glue compile against dbt compile (dbt-spark, session method on local Spark 3.5)",
    ));
    let dbtspark = venv::ensure("dbtspark")?;
    run(Command::new(dbtspark.join("python"))
        .arg(dbt("compile_fidelity.py"))
        .arg(&glue)
        .arg(&dbtspark))?;

    stage(None);
    eprintln!("== all checks passed");
    Ok(())
}
