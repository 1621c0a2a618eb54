//! Python environments of the test world: one pinned requirements file per tool set, each in its own venv under
//! `~/.cache/glue-rs/<name>`, reinstalled only when its requirements file changes (a stamp holds its hash).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::process::Command;

use crate::{cache, root, run};

/// The tool sets: venv name and requirements file, `xtask/requirements/<name>.txt`.
pub const TOOL_SETS: &[(&str, &str)] = &[
    // pyspark 3.5 + Iceberg runtime jars: the Spark oracle of the SQL dialect (xtask/oracle), and the Glue simulator
    // (moto, boto3, pandas, pyarrow for statements).
    ("spark35", "xtask/requirements/spark35.txt"),
    // pyspark 4.0: the Spark Connect server and client, and Sail.
    ("spark4", "xtask/requirements/spark4.txt"),
    // dbt-core 1.11 + dbt-duckdb + dbt-tests-adapter: the dbt suites (xtask/dbt) and the benchmarks.
    ("dbt111", "xtask/requirements/dbt111.txt"),
    // dbt-core 1.11 + dbt-spark (session method on Spark 3.5).
    ("dbtspark", "xtask/requirements/dbtspark.txt"),
    // The reference adapter: dbt-glue 1.10.19 on dbt-core 1.10.
    ("dbtglue", "xtask/requirements/dbtglue.txt"),
    // maturin, which packs the `glue` binary into the glue-rs wheel (xtask/scripts/wheel_check.sh).
    ("maturin", "xtask/requirements/maturin.txt"),
];

/// The `bin` directory of the named venv, created or updated to its requirements file first.
pub fn ensure(name: &str) -> Result<PathBuf, String> {
    let (_, requirements) = TOOL_SETS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("no Python tool set named {name}"))?;
    let requirements = root().join(requirements);
    let text = std::fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let stamp_value = format!("{:016x}\n", hasher.finish());

    let dir = cache().join(name);
    let stamp = dir.join(".glue-rs-requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(stamp_value.as_str()) {
        return Ok(dir.join("bin"));
    }
    eprintln!(
        "xtask: preparing the Python tool set `{name}` ({})",
        requirements.display()
    );
    if !dir.join("bin/python").exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
    }
    run(Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(&stamp, stamp_value).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(dir.join("bin"))
}
